// Locks, elections and fenced writes in the KV state machine (kv/kv_store_locks.cc): LOCK / UNLOCK
// with fencing tokens that strictly increase, FIFO waiters resolved inside apply (a release hands
// the lock to exactly one waiter), leases that end and take their locks and waiters with them,
// WAIT deadlines in cluster time, ELECT / LEADER / RESIGN, SET ... FENCE, and the snapshot that
// carries all of it. Replicas agree: two stores applying the same log give the same replies, the
// same waiter events and the same snapshot bytes.
#define BOOST_TEST_MODULE kv_locks
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kv/kv_commands.h"
#include "kv/kv_store.h"
#include "kv/resp.h"
#include "tests/support/kv_log.h"

using namespace ballot;
using namespace ballot::kv;
using test::Args;
using test::payload;
using test::read;

namespace {

const std::string kOk = "+OK\r\n";
const std::string kNil = "$-1\r\n";
const std::string kStale = error_reply(kStaleToken);
const std::string kNotHolder = error_reply("ERR lock not held with this token");

// A store with its log at cluster time 1000 ms, recording what it tells waiters.
struct Replica {
    KvStore store;
    test::KvLog log{store, 1000};
    std::vector<std::pair<Index, std::string>> woken;

    explicit Replica(KvStoreLimits limits = {}) : store(limits) {
        store.set_waiter_listener(
            [this](Index id, const std::string& reply) { woken.emplace_back(id, reply); });
    }
    std::string run(const Args& args) { return log.run(args); }
    // Grants a lease and answers its id as text.
    std::string lease(std::uint64_t ttl_ms) {
        const std::string reply = run({"LEASE", "GRANT", std::to_string(ttl_ms)});
        return reply.substr(1, reply.size() - 3);
    }
    // A LOCK (or ELECT) that was queued: its waiter id, which is its own log index.
    Index queue(const Args& args) {
        const std::string reply = run(args);
        auto id = KvStore::queued_waiter(reply);
        BOOST_REQUIRE_MESSAGE(id.has_value(), "not queued: " + reply);
        BOOST_CHECK_EQUAL(*id, log.index());
        return *id;
    }
};

std::int64_t token_of(const std::string& reply) {
    BOOST_REQUIRE_MESSAGE(reply.starts_with(":"), "not a token: " + reply);
    return *parse_redis_integer(reply.substr(1, reply.size() - 3));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(validation)

BOOST_AUTO_TEST_CASE(lock_and_elect_carry_the_wait_last) {
    Validation lock = validate({"lock", "job", "7"});
    BOOST_REQUIRE(lock.ok());
    BOOST_CHECK(lock.command.op == Op::lock);
    BOOST_CHECK(lock.command.args == (Args{"job", "7", ""}));
    BOOST_CHECK(validate({"LOCK", "job", "7", "wait", "250"}).command.args == (Args{"job", "7", "250"}));
    BOOST_CHECK(validate({"ELECT", "e", "7", "n1", "WAIT", "0"}).command.args == (Args{"e", "7", "n1", "0"}));
    BOOST_CHECK(validate({"ELECT", "e", "7", "n1"}).command.args == (Args{"e", "7", "n1", ""}));
    BOOST_CHECK_EQUAL(validate({"LOCK", "job", "7", "WAIT"}).error, "ERR syntax error");
    BOOST_CHECK_EQUAL(validate({"LOCK", "job", "7", "SOON", "5"}).error, "ERR syntax error");
    BOOST_CHECK_EQUAL(validate({"LOCK", "job", "7", "WAIT", "-1"}).error,
                      "ERR invalid WAIT: it must be a number of ms, 0 or more");
    BOOST_CHECK_EQUAL(validate({"LOCK", "job", "x"}).error,
                      "ERR invalid lease id: it must be a positive integer");
    BOOST_CHECK_EQUAL(validate({"LOCK", "job"}).error, "ERR wrong number of arguments for 'lock' command");
    BOOST_CHECK_EQUAL(validate({"UNLOCK", "job", "0"}).error,
                      "ERR invalid fencing token: it must be a positive integer");
    BOOST_CHECK(find_command("LEADER")->kind == CommandKind::read);
    for (const char* name : {"LOCK", "UNLOCK", "ELECT", "RESIGN"})
        BOOST_CHECK(find_command(name)->kind == CommandKind::write);
}

BOOST_AUTO_TEST_CASE(set_with_fence_is_its_own_op) {
    Validation v = validate({"SET", "k", "v", "fence", "job", "12"});
    BOOST_REQUIRE(v.ok());
    BOOST_CHECK(v.command.op == Op::set_fenced);
    BOOST_CHECK(v.command.args == (Args{"k", "v", "", "", "", "", "job", "12"}));
    BOOST_CHECK(validate({"SET", "k", "v", "PX", "5", "FENCE", "job", "3"}).command.args ==
                (Args{"k", "v", "", "", "5", "", "job", "3"}));
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "FENCE", "job"}).error, "ERR syntax error");
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "FENCE", "job", "x"}).error,
                      "ERR value is not an integer or out of range");
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "FENCE", "a", "1", "FENCE", "b", "2"}).error,
                      "ERR syntax error");
}

BOOST_AUTO_TEST_CASE(payloads_round_trip_and_malformed_ones_are_refused) {
    for (const Args& args :
         {Args{"LOCK", "a", "1", "WAIT", "9"}, Args{"UNLOCK", "a", "3"}, Args{"ELECT", "e", "1", "v"},
          Args{"LEADER", "e"}, Args{"RESIGN", "e", "2"}, Args{"SET", "k", "v", "FENCE", "a", "3"}}) {
        Validation v = validate(args);
        BOOST_REQUIRE(v.ok());
        const std::string bytes = encode_payload(v.command);
        BOOST_CHECK_EQUAL(static_cast<int>(bytes[0]), 4);  // payload version 4
        BOOST_CHECK(decode_payload(bytes) == v.command);
    }
    // Shapes validate() never makes.
    BOOST_CHECK(!decode_payload(encode_payload(KvCommand{Op::lock, {"a", "1"}})));
    BOOST_CHECK(!decode_payload(encode_payload(KvCommand{Op::lock, {"a", "0", ""}})));
    BOOST_CHECK(!decode_payload(encode_payload(KvCommand{Op::lock, {"a", "1", "-4"}})));
    BOOST_CHECK(!decode_payload(encode_payload(KvCommand{Op::set_fenced, {"k", "v", "", "", "", "", "a"}})));
    BOOST_CHECK(
        !decode_payload(encode_payload(KvCommand{Op::set_fenced, {"k", "v", "", "", "", "", "a", "0"}})));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(locks)

BOOST_AUTO_TEST_CASE(an_uncontended_acquire_and_release_are_one_command_each) {
    Replica r;
    const std::string lease = r.lease(10000);
    const std::int64_t first = token_of(r.run({"LOCK", "job", lease}));
    BOOST_CHECK_EQUAL(r.run({"UNLOCK", "job", std::to_string(first)}), kOk);
    BOOST_CHECK_EQUAL(r.store.lock_count(), 0u);  // nothing left behind
    const std::int64_t second = token_of(r.run({"LOCK", "job", lease}));
    BOOST_CHECK_GT(second, first);
    // The holder's lease asking again holds it already: the same token (etcd's Mutex).
    BOOST_CHECK_EQUAL(token_of(r.run({"LOCK", "job", lease})), second);
    BOOST_CHECK(r.woken.empty());
}

BOOST_AUTO_TEST_CASE(tokens_strictly_increase_across_locks) {
    Replica r;
    const std::string lease = r.lease(10000);
    std::int64_t last = 0;
    for (int i = 0; i < 20; ++i) {
        const std::string name = "l" + std::to_string(i % 3);
        const std::int64_t token = token_of(r.run({"LOCK", name, lease}));
        BOOST_CHECK_GT(token, last);
        last = token;
        BOOST_CHECK_EQUAL(r.run({"UNLOCK", name, std::to_string(token)}), kOk);
    }
}

BOOST_AUTO_TEST_CASE(unlock_needs_the_holders_token) {
    Replica r;
    const std::string lease = r.lease(10000);
    const std::int64_t token = token_of(r.run({"LOCK", "job", lease}));
    BOOST_CHECK_EQUAL(r.run({"UNLOCK", "job", std::to_string(token + 1)}), kNotHolder);
    BOOST_CHECK_EQUAL(r.run({"UNLOCK", "other", std::to_string(token)}), kNotHolder);
    BOOST_CHECK_EQUAL(r.run({"LOCK", "job", "99"}), error_reply(kLeaseNotFound));
    BOOST_CHECK_EQUAL(r.store.lock_count(), 1u);
}

BOOST_AUTO_TEST_CASE(waiters_are_served_first_come_first_served_one_per_release) {
    Replica r;
    const std::string a = r.lease(10000), b = r.lease(10000), c = r.lease(10000);
    const std::int64_t ta = token_of(r.run({"LOCK", "job", a}));
    const Index wb = r.queue({"LOCK", "job", b});
    const Index wc = r.queue({"LOCK", "job", c});
    // b asking again (a retry whose exactly-once session was evicted) keeps its place.
    BOOST_CHECK(KvStore::queued_waiter(r.run({"LOCK", "job", b})) == std::optional<Index>(wb));
    BOOST_CHECK_EQUAL(r.store.lock_waiter_count(), 2u);
    BOOST_CHECK(r.woken.empty());
    BOOST_CHECK_EQUAL(r.run({"UNLOCK", "job", std::to_string(ta)}), kOk);
    BOOST_REQUIRE_EQUAL(r.woken.size(), 1u);  // exactly one woken
    BOOST_CHECK_EQUAL(r.woken[0].first, wb);
    const std::int64_t tb = token_of(r.woken[0].second);
    BOOST_CHECK_GT(tb, ta);
    BOOST_CHECK_EQUAL(read(r.store, {"LEADER", "job"}), "*2\r\n$0\r\n\r\n:" + std::to_string(tb) + "\r\n");
    BOOST_CHECK_EQUAL(r.run({"UNLOCK", "job", std::to_string(tb)}), kOk);
    BOOST_REQUIRE_EQUAL(r.woken.size(), 2u);
    BOOST_CHECK_EQUAL(r.woken[1].first, wc);
    BOOST_CHECK_GT(token_of(r.woken[1].second), tb);
    BOOST_CHECK(r.store.waiter_outcome(wc, "job") == std::optional<std::string>(r.woken[1].second));
    BOOST_CHECK_EQUAL(r.store.lock_waiter_count(), 0u);
}

// The scale: 1,000 waiters on one lock, each release wakes exactly the next one.
BOOST_AUTO_TEST_CASE(a_thousand_waiters_are_woken_one_per_release_in_order) {
    Replica r;
    std::vector<std::string> leases;
    for (int i = 0; i <= 1000; ++i) leases.push_back(r.lease(600000));
    std::int64_t token = token_of(r.run({"LOCK", "job", leases[0]}));
    std::vector<Index> waiters;
    for (int i = 1; i <= 1000; ++i) waiters.push_back(r.queue({"LOCK", "job", leases[i]}));
    for (std::size_t i = 0; i < waiters.size(); ++i) {
        BOOST_REQUIRE_EQUAL(r.run({"UNLOCK", "job", std::to_string(token)}), kOk);
        BOOST_REQUIRE_EQUAL(r.woken.size(), i + 1);
        BOOST_REQUIRE_EQUAL(r.woken[i].first, waiters[i]);
        const std::int64_t next = token_of(r.woken[i].second);
        BOOST_REQUIRE_GT(next, token);
        token = next;
    }
    BOOST_CHECK_EQUAL(r.store.lock_waiter_count(), 0u);
}

BOOST_AUTO_TEST_CASE(wait_zero_tries_once_and_wait_runs_out_in_cluster_time) {
    Replica r;
    const std::string a = r.lease(100000), b = r.lease(100000);
    token_of(r.run({"LOCK", "job", a}));
    BOOST_CHECK_EQUAL(r.run({"LOCK", "job", b, "WAIT", "0"}), kNil);
    const Index waiter = r.queue({"LOCK", "job", b, "WAIT", "500"});
    BOOST_CHECK(r.store.next_expiry_ms() == std::optional<std::uint64_t>(1500));
    BOOST_CHECK(!r.store.waiter_outcome(waiter, "job"));
    r.log.tick(1499);
    BOOST_CHECK(r.woken.empty());
    r.log.tick(1500);
    BOOST_REQUIRE_EQUAL(r.woken.size(), 1u);
    BOOST_CHECK(r.woken[0] == std::make_pair(waiter, kNil));
    BOOST_CHECK(r.store.waiter_outcome(waiter, "job") == std::optional<std::string>(kNil));
}

BOOST_AUTO_TEST_CASE(a_lease_that_expires_hands_its_lock_to_the_next_waiter) {
    Replica r;
    const std::string a = r.lease(1000), b = r.lease(60000);
    const std::int64_t ta = token_of(r.run({"LOCK", "job", a}));
    const Index wb = r.queue({"LOCK", "job", b});
    r.log.tick(1999);
    BOOST_CHECK(r.woken.empty());
    r.log.tick(2000);  // a's lease ends at 1000 + 1000
    BOOST_REQUIRE_EQUAL(r.woken.size(), 1u);
    BOOST_CHECK_EQUAL(r.woken[0].first, wb);
    const std::int64_t tb = token_of(r.woken[0].second);
    BOOST_CHECK_GT(tb, ta);
    // The old holder, back from a pause: its token is refused everywhere.
    r.log.now_ms = 2000;
    BOOST_CHECK_EQUAL(r.run({"SET", "row", "late", "FENCE", "job", std::to_string(ta)}), kStale);
    BOOST_CHECK_EQUAL(r.run({"UNLOCK", "job", std::to_string(ta)}), kNotHolder);
    BOOST_CHECK_EQUAL(r.run({"SET", "row", "new", "FENCE", "job", std::to_string(tb)}), kOk);
    BOOST_CHECK_EQUAL(read(r.store, {"GET", "row"}), bulk_reply("new"));
}

BOOST_AUTO_TEST_CASE(revoking_a_lease_releases_its_locks_and_drops_its_waits) {
    Replica r;
    const std::string a = r.lease(60000), b = r.lease(60000), c = r.lease(60000);
    token_of(r.run({"LOCK", "x", a}));
    token_of(r.run({"LOCK", "y", b}));
    const Index b_waits_x = r.queue({"LOCK", "x", b});
    const Index a_waits_y = r.queue({"LOCK", "y", a});
    const Index c_waits_x = r.queue({"LOCK", "x", c});
    // a goes: its wait for y is dropped (not granted y later), and x goes to b, not c.
    BOOST_CHECK_EQUAL(r.run({"LEASE", "REVOKE", a}), kOk);
    BOOST_REQUIRE_EQUAL(r.woken.size(), 2u);
    BOOST_CHECK(r.woken[0] == std::make_pair(a_waits_y, error_reply(kLeaseNotFound)));
    BOOST_CHECK_EQUAL(r.woken[1].first, b_waits_x);
    token_of(r.woken[1].second);
    BOOST_CHECK(!r.store.waiter_outcome(c_waits_x, "x"));
    // b goes: it held both; x goes to c, y to no one.
    BOOST_CHECK_EQUAL(r.run({"LEASE", "REVOKE", b}), kOk);
    BOOST_REQUIRE_EQUAL(r.woken.size(), 3u);
    BOOST_CHECK_EQUAL(r.woken[2].first, c_waits_x);
    BOOST_CHECK_EQUAL(read(r.store, {"LEADER", "y"}), kNil);
    BOOST_CHECK_EQUAL(r.store.lock_count(), 1u);
}

// A waiter whose own lease ends at the same moment as the holder's is not granted a lock it could
// not keep: the next live one is.
BOOST_AUTO_TEST_CASE(a_release_passes_over_waiters_due_at_the_same_time) {
    Replica r;
    const std::string a = r.lease(1000), b = r.lease(1000), c = r.lease(60000);
    token_of(r.run({"LOCK", "job", a}));
    const Index wb = r.queue({"LOCK", "job", b});
    const Index wc = r.queue({"LOCK", "job", c});
    r.log.tick(2000);
    BOOST_REQUIRE_EQUAL(r.woken.size(), 2u);
    BOOST_CHECK_EQUAL(r.woken[0].first, wc);
    token_of(r.woken[0].second);
    BOOST_CHECK(r.woken[1] == std::make_pair(wb, error_reply(kLeaseNotFound)));
}

BOOST_AUTO_TEST_CASE(waiters_are_bounded) {
    KvStoreLimits limits;
    limits.max_lock_waiters = 2;
    Replica r(limits);
    const std::string a = r.lease(60000);
    token_of(r.run({"LOCK", "job", a}));
    for (int i = 0; i < 2; ++i) r.queue({"LOCK", "job", r.lease(60000)});
    BOOST_CHECK_EQUAL(r.run({"LOCK", "job", r.lease(60000)}),
                      error_reply("ERR too many lock waiters (2 on this cluster); try again later"));
}

BOOST_AUTO_TEST_CASE(fenced_writes_need_the_current_holder) {
    Replica r;
    const std::string a = r.lease(60000);
    BOOST_CHECK_EQUAL(r.run({"SET", "k", "v", "FENCE", "job", "1"}), kStale);  // no holder
    const std::int64_t t = token_of(r.run({"LOCK", "job", a}));
    BOOST_CHECK_EQUAL(r.run({"SET", "k", "v1", "PX", "5000", "FENCE", "job", std::to_string(t)}), kOk);
    BOOST_CHECK_EQUAL(read(r.store, {"PTTL", "k"}), integer_reply(5000));
    BOOST_CHECK_EQUAL(r.run({"SET", "k", "v2", "FENCE", "job", std::to_string(t + 1)}), kStale);
    BOOST_CHECK_EQUAL(read(r.store, {"GET", "k"}), bulk_reply("v1"));
    BOOST_CHECK_EQUAL(r.run({"UNLOCK", "job", std::to_string(t)}), kOk);
    BOOST_CHECK_EQUAL(r.run({"SET", "k", "v3", "FENCE", "job", std::to_string(t)}), kStale);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(elections)

BOOST_AUTO_TEST_CASE(elect_leader_resign) {
    Replica r;
    const std::string a = r.lease(60000), b = r.lease(60000);
    BOOST_CHECK_EQUAL(read(r.store, {"LEADER", "primary"}), kNil);
    const std::int64_t ta = token_of(r.run({"ELECT", "primary", a, "node-a"}));
    BOOST_CHECK_EQUAL(read(r.store, {"LEADER", "primary"}),
                      "*2\r\n$6\r\nnode-a\r\n:" + std::to_string(ta) + "\r\n");
    // The leader campaigning again proclaims a new value under the same token (etcd's Proclaim).
    BOOST_CHECK_EQUAL(token_of(r.run({"ELECT", "primary", a, "node-a2"})), ta);
    const Index wb = r.queue({"ELECT", "primary", b, "node-b"});
    BOOST_CHECK_EQUAL(r.run({"RESIGN", "primary", std::to_string(ta + 7)}), kNotHolder);
    BOOST_CHECK_EQUAL(r.run({"RESIGN", "primary", std::to_string(ta)}), kOk);
    BOOST_REQUIRE_EQUAL(r.woken.size(), 1u);
    BOOST_CHECK_EQUAL(r.woken[0].first, wb);
    const std::int64_t tb = token_of(r.woken[0].second);
    BOOST_CHECK_EQUAL(read(r.store, {"LEADER", "primary"}),
                      "*2\r\n$6\r\nnode-b\r\n:" + std::to_string(tb) + "\r\n");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(replicas)

// A log mixing everything, stamped with advancing cluster time.
void play(Replica& r) {
    const std::string a = r.lease(800), b = r.lease(5000), c = r.lease(5000);
    r.run({"LOCK", "job", a});
    r.run({"LOCK", "job", b});
    r.run({"LOCK", "job", c, "WAIT", "3000"});
    r.run({"ELECT", "e", c, "v-c"});
    r.run({"ELECT", "e", b, "v-b", "WAIT", "100"});
    r.run({"SET", "k", "1", "FENCE", "job", "1"});
    r.log.tick(1900);  // a's lease ends: job goes to b
    r.log.now_ms = 1900;
    r.run({"SET", "k", "2", "FENCE", "job", "1"});  // stale
    r.run({"LEASE", "KEEPALIVE", b});
}

BOOST_AUTO_TEST_CASE(two_stores_applying_the_same_log_agree) {
    Replica one, two;
    play(one);
    play(two);
    BOOST_CHECK(one.woken == two.woken);
    BOOST_CHECK(!one.woken.empty());
    BOOST_CHECK(one.store.snapshot() == two.store.snapshot());
    BOOST_CHECK_GT(one.store.lock_waiter_count(), 0u);
}

BOOST_AUTO_TEST_CASE(the_snapshot_carries_locks_waiters_and_the_token_counter) {
    Replica one;
    play(one);
    const std::string bytes = one.store.snapshot();
    BOOST_CHECK_EQUAL(static_cast<int>(bytes[0]), 3);
    Replica two;
    BOOST_REQUIRE(two.store.restore(bytes));
    BOOST_CHECK(two.store.snapshot() == bytes);
    // Both go on the same way: c's lease ends first and drops its wait, then b's releases the lock.
    for (Replica* r : {&one, &two}) {
        r->woken.clear();
        r->log.tick(10000);
    }
    BOOST_CHECK(one.woken == two.woken);
    BOOST_CHECK_EQUAL(one.woken.size(), 1u);
    for (const char* name : {"job", "e"})
        BOOST_CHECK_EQUAL(read(one.store, {"LEADER", name}), read(two.store, {"LEADER", name}));
    BOOST_CHECK_EQUAL(one.store.lock_count(), two.store.lock_count());
    // Chunked, with the locks in the tail.
    one.store.begin_snapshot();
    std::string streamed;
    for (;;) {
        SnapshotChunk chunk = one.store.snapshot_chunk(5);
        streamed += chunk.bytes;
        if (chunk.last) break;
    }
    BOOST_CHECK(streamed == one.store.snapshot());
}

BOOST_AUTO_TEST_CASE(malformed_lock_sections_are_refused) {
    Replica one;
    play(one);
    const std::string good = one.store.snapshot();
    KvStore copy;
    for (std::size_t n = 0; n < good.size(); n += 2) BOOST_CHECK(!copy.restore(good.substr(0, n)));
    std::string extra = good + std::string(1, '\0');
    BOOST_CHECK(!copy.restore(extra));
    BOOST_CHECK(copy.restore(good));
}

BOOST_AUTO_TEST_SUITE_END()
