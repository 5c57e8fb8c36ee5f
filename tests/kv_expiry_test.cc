// Cluster time, key expiry and leases in the KV state machine (kv/kv_store.h, kv_store_time.cc):
// Redis's replies for SET's options, PTTL/TTL, PEXPIRE/EXPIRE and PERSIST; LEASE; expiry at the
// log position where the clock passes a deadline; snapshots that carry the clock, TTLs and leases;
// and old formats (commands without a time stamp, version-1 snapshots) that still load.
// Also the proposer's side of cluster time (common/cluster_clock.h).
#define BOOST_TEST_MODULE kv_expiry
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "common/cluster_clock.h"
#include "common/codec.h"
#include "common/command.h"
#include "kv/kv_commands.h"
#include "kv/kv_store.h"
#include "kv/resp.h"
#include "tests/support/kv_log.h"

using namespace ballot;
using namespace ballot::kv;
using test::Args;

namespace {

// Stamps start at 1000 ms of cluster time.
struct Log : test::KvLog {
    explicit Log(KvStore& store) : KvLog(store, 1000) {}
};
using test::payload;
using test::read;

const std::string kOk = "+OK\r\n";
const std::string kNil = "$-1\r\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(validation)

BOOST_AUTO_TEST_CASE(set_options_like_redis) {
    Validation px = validate({"SET", "k", "v", "px", "1500", "NX", "GET"});
    BOOST_REQUIRE(px.ok());
    BOOST_CHECK(px.command.op == Op::set_options);
    BOOST_CHECK(px.command.args == (Args{"k", "v", "NX", "GET", "1500", ""}));
    Validation ex = validate({"SET", "k", "v", "EX", "2"});
    BOOST_CHECK(ex.command.args == (Args{"k", "v", "", "", "2000", ""}));
    BOOST_CHECK(validate({"SET", "k", "v", "KEEPTTL", "XX"}).command.args ==
                (Args{"k", "v", "XX", "", "KEEPTTL", ""}));
    BOOST_CHECK(validate({"SET", "k", "v", "LEASE", "7"}).command.args == (Args{"k", "v", "", "", "", "7"}));
    BOOST_CHECK(validate({"SET", "k", "v"}).command.op == Op::set);  // plain SET: the version-1 entry
    // Redis's errors.
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "BOGUS"}).error, "ERR syntax error");
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "EX"}).error, "ERR syntax error");
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "NX", "XX"}).error, "ERR syntax error");
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "EX", "1", "PX", "1"}).error, "ERR syntax error");
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "KEEPTTL", "EX", "1"}).error, "ERR syntax error");
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "EX", "ten"}).error,
                      "ERR value is not an integer or out of range");
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "EX", "0"}).error,
                      "ERR invalid expire time in 'set' command");
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "PX", "-5"}).error,
                      "ERR invalid expire time in 'set' command");
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "EX", "9223372036854775807"}).error,
                      "ERR invalid expire time in 'set' command");
    // Unix times are not cluster time.
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "EXAT", "1700000000"}).error,
                      "ERR SET option 'EXAT' is not supported by Ballot");
    // LEASE ties the key to a lease instead of a TTL: not both.
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "LEASE", "1", "PX", "5"}).error, "ERR syntax error");
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "KEEPTTL", "LEASE", "1"}).error, "ERR syntax error");
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "LEASE", "x"}).error,
                      "ERR value is not an integer or out of range");
}

BOOST_AUTO_TEST_CASE(expire_and_lease_commands_like_redis) {
    BOOST_CHECK(find_command("PTTL")->kind == CommandKind::read);
    BOOST_CHECK(find_command("ttl")->kind == CommandKind::read);
    for (const char* name : {"PEXPIRE", "EXPIRE", "PERSIST", "LEASE"})
        BOOST_CHECK(find_command(name)->kind == CommandKind::write);
    BOOST_CHECK(validate({"EXPIRE", "k", "10", "gt"}).command.args == (Args{"k", "10", "GT"}));
    BOOST_CHECK_EQUAL(validate({"EXPIRE", "k"}).error, "ERR wrong number of arguments for 'expire' command");
    BOOST_CHECK_EQUAL(validate({"EXPIRE", "k", "x"}).error, "ERR value is not an integer or out of range");
    BOOST_CHECK_EQUAL(validate({"EXPIRE", "k", "x", "FOO"}).error, "ERR Unsupported option FOO");
    BOOST_CHECK_EQUAL(validate({"PEXPIRE", "k", "1", "NX", "XX"}).error,
                      "ERR NX and XX, GT or LT options at the same time are not compatible");
    BOOST_CHECK_EQUAL(validate({"PEXPIRE", "k", "1", "GT", "LT"}).error,
                      "ERR GT and LT options at the same time are not compatible");
    BOOST_CHECK_EQUAL(validate({"EXPIRE", "k", "9223372036854775807"}).error,
                      "ERR invalid expire time in 'expire' command");
    Validation grant = validate({"lease", "Grant", "5000"});
    BOOST_REQUIRE(grant.ok());
    BOOST_CHECK(grant.command.op == Op::lease_grant);
    BOOST_CHECK(grant.command.args == Args{"5000"});
    BOOST_CHECK(validate({"LEASE", "TTL", "3"}).command.kind() == CommandKind::read);
    BOOST_CHECK_EQUAL(validate({"LEASE"}).error, "ERR wrong number of arguments for 'lease' command");
    BOOST_CHECK_EQUAL(validate({"LEASE", "GRANT"}).error,
                      "ERR wrong number of arguments for 'lease|grant' command");
    BOOST_CHECK_EQUAL(validate({"LEASE", "FOO", "1"}).error,
                      "ERR unknown subcommand 'FOO'. LEASE takes GRANT, KEEPALIVE, TTL or REVOKE.");
    BOOST_CHECK_EQUAL(validate({"LEASE", "GRANT", "0"}).error,
                      "ERR invalid lease TTL: it must be a positive number of ms");
    BOOST_CHECK_EQUAL(validate({"LEASE", "REVOKE", "x"}).error,
                      "ERR value is not an integer or out of range");
}

BOOST_AUTO_TEST_CASE(new_payloads_round_trip_and_bad_ones_are_refused) {
    for (const Args& args : std::vector<Args>{{"SET", "k", "v", "PX", "10", "XX", "GET"},
                                              {"PEXPIRE", "k", "5", "LT"},
                                              {"EXPIRE", "k", "-1"},
                                              {"PERSIST", "k"},
                                              {"PTTL", "k"},
                                              {"TTL", "k"},
                                              {"LEASE", "GRANT", "100"},
                                              {"LEASE", "KEEPALIVE", "1"},
                                              {"LEASE", "TTL", "1"},
                                              {"LEASE", "REVOKE", "1"}}) {
        Validation v = validate(args);
        BOOST_REQUIRE_MESSAGE(v.ok(), v.error);
        const std::string bytes = encode_payload(v.command);
        BOOST_CHECK_EQUAL(static_cast<int>(bytes[0]), 3);  // payload version 3
        auto back = decode_payload(bytes);
        BOOST_REQUIRE(back);
        BOOST_CHECK(*back == v.command);
    }
    // A set_options entry that validate() could not have made.
    KvCommand bad{Op::set_options, {"k", "v", "MAYBE", "", "", ""}};
    BOOST_CHECK(!decode_payload(encode_payload(bad)));
    KvCommand both{Op::set_options, {"k", "v", "", "", "100", "3"}};
    BOOST_CHECK(!decode_payload(encode_payload(both)));
    KvCommand container{Op::lease, {"GRANT", "1"}};
    BOOST_CHECK(!decode_payload(encode_payload(container)));
}

BOOST_AUTO_TEST_CASE(commands_carry_their_time_and_old_ones_decode) {
    Command c{7, 3, 2, "payload"};
    c.time_ms = 123456;
    auto back = decode_command(encode_command(c));
    BOOST_REQUIRE(back);
    BOOST_CHECK(*back == c);
    // Version 1, as written before cluster time: no stamp, read as time 0.
    Bytes v1;
    Writer w(v1);
    w.u8(1);
    w.u64(7);
    w.u64(3);
    w.u64(2);
    w.str("payload");
    auto old = decode_command(std::string(v1.begin(), v1.end()));
    BOOST_REQUIRE(old);
    BOOST_CHECK_EQUAL(old->time_ms, 0u);
    BOOST_CHECK_EQUAL(old->payload, "payload");
    BOOST_CHECK(!decode_command(std::string("\x03", 1) + std::string(40, '\0')));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(expiry)

// The heart of it: a key is there at every log position before the clock reaches its deadline,
// and gone at the position where it does, for every read.
BOOST_AUTO_TEST_CASE(a_key_expires_at_the_log_position_where_the_clock_passes_its_deadline) {
    KvStore store;
    Log log(store);
    log.now_ms = 1000;
    BOOST_CHECK_EQUAL(log.run({"SET", "k", "v", "PX", "500"}), kOk);  // deadline 1500
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "k"}), integer_reply(500));
    BOOST_CHECK(store.next_expiry_ms() == std::optional<std::uint64_t>(1500));
    log.tick(1499);
    BOOST_CHECK_EQUAL(read(store, {"GET", "k"}), bulk_reply("v"));
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "k"}), integer_reply(1));
    log.tick(1200);  // a lagging proposer's stamp: time never goes back
    BOOST_CHECK_EQUAL(store.cluster_time_ms(), 1499u);
    log.tick(1500);
    BOOST_CHECK_EQUAL(read(store, {"GET", "k"}), kNil);
    BOOST_CHECK_EQUAL(read(store, {"EXISTS", "k"}), integer_reply(0));
    BOOST_CHECK_EQUAL(read(store, {"DBSIZE"}), integer_reply(0));
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "k"}), integer_reply(-2));
    BOOST_CHECK(!store.next_expiry_ms());
}

BOOST_AUTO_TEST_CASE(expiry_runs_before_the_command_at_the_same_position) {
    KvStore store;
    Log log(store);
    log.run({"SET", "k", "1", "PX", "100"});
    log.now_ms = 1100;
    // INCR at the position where the key expires sees no key: it starts from 0.
    BOOST_CHECK_EQUAL(log.run({"INCR", "k"}), integer_reply(1));
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "k"}), integer_reply(-1));
}

BOOST_AUTO_TEST_CASE(ttl_and_pttl_answer_like_redis) {
    KvStore store;
    Log log(store);
    log.run({"SET", "p", "v"});
    log.run({"SET", "s", "v", "EX", "10"});
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "p"}), integer_reply(-1));
    BOOST_CHECK_EQUAL(read(store, {"TTL", "p"}), integer_reply(-1));
    BOOST_CHECK_EQUAL(read(store, {"TTL", "none"}), integer_reply(-2));
    BOOST_CHECK_EQUAL(read(store, {"TTL", "s"}), integer_reply(10));
    log.tick(1000 + 8400);  // 1600 ms left: Redis rounds to 2 s
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "s"}), integer_reply(1600));
    BOOST_CHECK_EQUAL(read(store, {"TTL", "s"}), integer_reply(2));
    log.tick(1000 + 8600);  // 1400 ms: 1 s
    BOOST_CHECK_EQUAL(read(store, {"TTL", "s"}), integer_reply(1));
}

BOOST_AUTO_TEST_CASE(which_writes_keep_a_ttl_as_in_redis) {
    KvStore store;
    Log log(store);
    for (const char* k : {"set", "keep", "append", "incr", "getset", "mset"})
        log.run({"SET", k, "1", "PX", "1000"});
    log.run({"SET", "set", "2"});
    log.run({"SET", "keep", "2", "KEEPTTL"});
    log.run({"APPEND", "append", "2"});
    log.run({"INCR", "incr"});
    log.run({"GETSET", "getset", "2"});
    log.run({"MSET", "mset", "2"});
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "set"}), integer_reply(-1));
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "keep"}), integer_reply(1000));
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "append"}), integer_reply(1000));
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "incr"}), integer_reply(1000));
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "getset"}), integer_reply(-1));
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "mset"}), integer_reply(-1));
    log.run({"DEL", "keep"});
    log.run({"SET", "keep", "3"});
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "keep"}), integer_reply(-1));  // a deleted key's TTL went with it
    log.tick(2000);
    BOOST_CHECK_EQUAL(read(store, {"KEYS", "*"}), read(store, {"KEYS", "[gkms]*"}));
    BOOST_CHECK_EQUAL(read(store, {"DBSIZE"}), integer_reply(4));  // set, keep, getset, mset
}

BOOST_AUTO_TEST_CASE(set_nx_xx_get) {
    KvStore store;
    Log log(store);
    BOOST_CHECK_EQUAL(log.run({"SET", "k", "1", "XX"}), kNil);
    BOOST_CHECK_EQUAL(log.run({"SET", "k", "1", "XX", "GET"}), kNil);
    BOOST_CHECK_EQUAL(log.run({"SET", "k", "1", "NX", "PX", "100"}), kOk);
    BOOST_CHECK_EQUAL(log.run({"SET", "k", "2", "NX"}), kNil);
    BOOST_CHECK_EQUAL(log.run({"SET", "k", "2", "NX", "GET"}), bulk_reply("1"));  // unmet: the old value
    BOOST_CHECK_EQUAL(log.run({"SET", "k", "3", "XX", "GET"}), bulk_reply("1"));
    BOOST_CHECK_EQUAL(log.run({"SET", "n", "3", "GET"}), kNil);
    BOOST_CHECK_EQUAL(read(store, {"GET", "k"}), bulk_reply("3"));
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "k"}), integer_reply(-1));
    // A lock as Redis users write it: NX with a TTL, free again once the TTL passes.
    BOOST_CHECK_EQUAL(log.run({"SET", "lock", "a", "NX", "PX", "300"}), kOk);
    BOOST_CHECK_EQUAL(log.run({"SET", "lock", "b", "NX", "PX", "300"}), kNil);
    log.tick(1300);
    BOOST_CHECK_EQUAL(log.run({"SET", "lock", "b", "NX", "PX", "300"}), kOk);
}

BOOST_AUTO_TEST_CASE(pexpire_expire_persist_like_redis) {
    KvStore store;
    Log log(store);
    BOOST_CHECK_EQUAL(log.run({"PEXPIRE", "none", "100"}), integer_reply(0));
    log.run({"SET", "k", "v"});
    BOOST_CHECK_EQUAL(log.run({"PERSIST", "k"}), integer_reply(0));
    BOOST_CHECK_EQUAL(log.run({"PEXPIRE", "k", "100", "XX"}), integer_reply(0));
    BOOST_CHECK_EQUAL(log.run({"PEXPIRE", "k", "100", "GT"}), integer_reply(0));  // none counts as infinite
    BOOST_CHECK_EQUAL(log.run({"PEXPIRE", "k", "100", "LT"}), integer_reply(1));
    BOOST_CHECK_EQUAL(log.run({"PEXPIRE", "k", "50", "NX"}), integer_reply(0));
    BOOST_CHECK_EQUAL(log.run({"PEXPIRE", "k", "50", "GT"}), integer_reply(0));
    BOOST_CHECK_EQUAL(log.run({"EXPIRE", "k", "2", "GT"}), integer_reply(1));
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "k"}), integer_reply(2000));
    BOOST_CHECK_EQUAL(log.run({"PERSIST", "k"}), integer_reply(1));
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "k"}), integer_reply(-1));
    // A deadline at or before now deletes the key, and says 1.
    BOOST_CHECK_EQUAL(log.run({"EXPIRE", "k", "0"}), integer_reply(1));
    BOOST_CHECK_EQUAL(read(store, {"EXISTS", "k"}), integer_reply(0));
    log.run({"SET", "k", "v"});
    BOOST_CHECK_EQUAL(log.run({"PEXPIRE", "k", "-5"}), integer_reply(1));
    BOOST_CHECK_EQUAL(read(store, {"EXISTS", "k"}), integer_reply(0));
    log.run({"SET", "k", "v"});
    BOOST_CHECK_EQUAL(log.run({"PEXPIRE", "k", "9223372036854775807"}),
                      error_reply("ERR invalid expire time in 'pexpire' command"));
}

BOOST_AUTO_TEST_CASE(keys_expire_in_deadline_then_name_order) {
    KvStore store;
    Log log(store);
    log.run({"SET", "b", "v", "PX", "100"});
    log.run({"SET", "a", "v", "PX", "100"});
    log.run({"SET", "c", "v", "PX", "50"});
    log.run({"SET", "d", "v", "PX", "500"});
    log.tick(1100);
    BOOST_CHECK_EQUAL(read(store, {"KEYS", "*"}), read(store, {"KEYS", "d"}));
    BOOST_CHECK_EQUAL(store.volatile_keys(), 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(leases)

BOOST_AUTO_TEST_CASE(grant_keepalive_ttl_revoke) {
    KvStore store;
    Log log(store);
    BOOST_CHECK_EQUAL(log.run({"LEASE", "GRANT", "1000"}), integer_reply(1));
    BOOST_CHECK_EQUAL(log.run({"LEASE", "GRANT", "5000"}), integer_reply(2));
    log.tick(1400);
    BOOST_CHECK_EQUAL(read(store, {"LEASE", "TTL", "1"}), integer_reply(600));
    log.now_ms = 1500;
    BOOST_CHECK_EQUAL(log.run({"LEASE", "KEEPALIVE", "1"}), integer_reply(1000));
    BOOST_CHECK_EQUAL(read(store, {"LEASE", "TTL", "1"}), integer_reply(1000));
    log.tick(2499);
    BOOST_CHECK_EQUAL(read(store, {"LEASE", "TTL", "1"}), integer_reply(1));
    log.tick(2500);
    BOOST_CHECK_EQUAL(read(store, {"LEASE", "TTL", "1"}), error_reply("ERR lease not found"));
    log.now_ms = 2500;
    BOOST_CHECK_EQUAL(log.run({"LEASE", "KEEPALIVE", "1"}), error_reply("ERR lease not found"));
    BOOST_CHECK_EQUAL(log.run({"LEASE", "REVOKE", "2"}), kOk);
    BOOST_CHECK_EQUAL(log.run({"LEASE", "REVOKE", "2"}), error_reply("ERR lease not found"));
    BOOST_CHECK_EQUAL(log.run({"LEASE", "TTL", "99"}), error_reply("ERR lease not found"));
    BOOST_CHECK_EQUAL(log.run({"LEASE", "GRANT", "10"}), integer_reply(3));  // ids are never reused
}

BOOST_AUTO_TEST_CASE(keys_tied_to_a_lease_go_with_it) {
    KvStore store;
    Log log(store);
    log.run({"LEASE", "GRANT", "1000"});
    BOOST_CHECK_EQUAL(log.run({"SET", "a", "1", "LEASE", "1"}), kOk);
    BOOST_CHECK_EQUAL(log.run({"SET", "b", "1", "LEASE", "1"}), kOk);
    BOOST_CHECK_EQUAL(log.run({"SET", "c", "1", "LEASE", "1"}), kOk);
    BOOST_CHECK_EQUAL(log.run({"SET", "x", "1", "LEASE", "9"}), error_reply("ERR lease not found"));
    BOOST_CHECK_EQUAL(read(store, {"EXISTS", "x"}), integer_reply(0));
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "a"}), integer_reply(1000));     // the lease's time
    BOOST_CHECK_EQUAL(log.run({"PEXPIRE", "a", "200"}), integer_reply(1));  // its own deadline is earlier
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "a"}), integer_reply(200));
    log.run({"SET", "b", "2"});  // a plain SET unties the key
    log.now_ms = 1500;
    BOOST_CHECK_EQUAL(log.run({"LEASE", "KEEPALIVE", "1"}), integer_reply(1000));  // a expired at 1200
    BOOST_CHECK_EQUAL(read(store, {"KEYS", "*"}), read(store, {"KEYS", "[bc]"}));
    log.tick(2500);
    BOOST_CHECK_EQUAL(read(store, {"KEYS", "*"}), read(store, {"KEYS", "b"}));
    BOOST_CHECK_EQUAL(store.lease_count(), 0u);
    log.run({"LEASE", "GRANT", "1000"});
    log.run({"SET", "d", "1", "LEASE", "2"});
    BOOST_CHECK_EQUAL(log.run({"LEASE", "REVOKE", "2"}), kOk);
    BOOST_CHECK_EQUAL(read(store, {"EXISTS", "d"}), integer_reply(0));
    BOOST_CHECK_EQUAL(store.volatile_keys(), 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(snapshots)

// A state with a clock, TTLs (one saved by copy-on-write while the snapshot is open) and leases.
void build_timed_state(KvStore& store, Log& log) {
    log.run({"LEASE", "GRANT", "3000"});
    log.run({"SET", "a", "1", "PX", "2000"});
    log.run({"SET", "b", "2", "LEASE", "1"});
    log.run({"SET", "c", "3"});
    log.run({"SET", "d", "4", "EX", "7"}, 42, 1);
    log.tick(1500);
    BOOST_CHECK_EQUAL(store.cluster_time_ms(), 1500u);
}

BOOST_AUTO_TEST_CASE(round_trip_keeps_the_clock_ttls_and_leases) {
    KvStore store;
    Log log(store);
    build_timed_state(store, log);
    const std::string bytes = store.snapshot();
    BOOST_CHECK_EQUAL(static_cast<int>(bytes[0]), 3);
    KvStore copy;
    BOOST_REQUIRE(copy.restore(bytes));
    BOOST_CHECK(copy.snapshot() == bytes);
    BOOST_CHECK_EQUAL(copy.cluster_time_ms(), 1500u);
    BOOST_CHECK_EQUAL(read(copy, {"PTTL", "a"}), integer_reply(1500));
    BOOST_CHECK_EQUAL(read(copy, {"PTTL", "b"}), integer_reply(2500));
    BOOST_CHECK_EQUAL(read(copy, {"LEASE", "TTL", "1"}), integer_reply(2500));
    // The restored copy expires the same things at the same positions as the original.
    Log again(copy);
    for (std::uint64_t t : {2999u, 3000u, 4000u, 8000u}) {
        log.tick(t);
        again.tick(t);
        BOOST_CHECK(store.snapshot().substr(9) == copy.snapshot().substr(9));  // all but the index
    }
    BOOST_CHECK_EQUAL(read(copy, {"KEYS", "*"}), read(copy, {"KEYS", "c"}));
    BOOST_CHECK_EQUAL(copy.apply(100, Command{0, 0, 0, payload({"LEASE", "GRANT", "1"})}), integer_reply(2));
}

BOOST_AUTO_TEST_CASE(chunked_snapshot_equals_the_whole_one_with_ttls_changing_meanwhile) {
    KvStore store;
    Log log(store);
    build_timed_state(store, log);
    const std::string expected = store.snapshot();
    store.begin_snapshot();
    std::string streamed = store.snapshot_chunk(20).bytes;  // past "a" only
    // Meanwhile: TTLs change, a lease and its key go, keys expire.
    log.run({"PERSIST", "d"});
    log.run({"PEXPIRE", "c", "10"});
    log.run({"LEASE", "REVOKE", "1"});
    log.tick(1600);
    BOOST_CHECK_GT(store.snapshot_saved_keys(), 0u);
    for (;;) {
        SnapshotChunk chunk = store.snapshot_chunk(7);
        streamed += chunk.bytes;
        if (chunk.last) break;
    }
    BOOST_CHECK(streamed == expected);
}

// Version 1, written before cluster time: keys without TTLs, no time section. It loads, with the
// clock at 0, and the next stamp moves the clock on.
BOOST_AUTO_TEST_CASE(a_version_1_snapshot_still_loads) {
    const std::string v1 = std::string("\x01", 1) + std::string("\x02\0\0\0\0\0\0\0", 8) +
                           std::string("\x01\0\0\0", 4) + std::string("\x01\0\0\0", 4) + "a" +
                           std::string("\x01\0\0\0", 4) + "1" + std::string("\x01", 1) + std::string(4, '\0');
    BOOST_CHECK(KvStore::snapshot_index(v1) == std::optional<Index>(2));
    KvStore store;
    BOOST_REQUIRE(store.restore(v1));
    BOOST_CHECK_EQUAL(read(store, {"GET", "a"}), bulk_reply("1"));
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "a"}), integer_reply(-1));
    BOOST_CHECK_EQUAL(store.cluster_time_ms(), 0u);
    Command c{0, 0, 0, payload({"SET", "b", "2", "PX", "10"})};
    c.time_ms = 50;
    store.apply(3, c);
    BOOST_CHECK_EQUAL(store.cluster_time_ms(), 50u);
    BOOST_CHECK_EQUAL(read(store, {"PTTL", "b"}), integer_reply(10));
    BOOST_CHECK_EQUAL(static_cast<int>(store.snapshot()[0]), 3);  // written in the current version
}

BOOST_AUTO_TEST_CASE(inconsistent_time_sections_are_refused) {
    KvStore store;
    Log log(store);
    build_timed_state(store, log);
    const std::string good = store.snapshot();
    KvStore copy;
    BOOST_REQUIRE(copy.restore(good));
    // Every truncation is refused, and the state stays.
    for (std::size_t n = 0; n < good.size(); n += 3) BOOST_CHECK(!copy.restore(good.substr(0, n)));
    // The clock (8 bytes before next id, lease count and one 24-byte lease, then the empty lock
    // section: next token and lock count) pushed past every deadline: what is left would be
    // expired, so the file is refused.
    std::string late = good;
    const std::size_t clock_at = late.size() - (8 + 8 + 4 + 24) - (8 + 4);
    late.replace(clock_at, 8, std::string("\xff\xff\xff\xff\xff\xff\xff\x0f", 8));
    BOOST_CHECK(!copy.restore(late));
    BOOST_CHECK(copy.snapshot() == good);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cluster_clock)

BOOST_AUTO_TEST_CASE(the_estimate_never_falls_below_what_was_applied) {
    ClusterClock clock;
    clock.restart(5000, 100);  // a snapshot's clock, at local time 100
    BOOST_CHECK_EQUAL(clock.estimate(100), 5000u);
    BOOST_CHECK_EQUAL(clock.estimate(350), 5250u);
    clock.on_applied(9000, 400);  // another proposer is ahead: catch up
    BOOST_CHECK_EQUAL(clock.estimate(400), 9000u);
    clock.on_applied(8000, 500);  // behind: no news
    BOOST_CHECK_EQUAL(clock.estimate(500), 9100u);
}

// A leader keeps counting through its term, so the commit latency of its own stamps is not lost.
BOOST_AUTO_TEST_CASE(a_leader_does_not_lose_the_time_its_stamps_spend_in_the_log) {
    ClusterClock clock;
    clock.restart(0, 0);
    std::uint64_t now = 0;
    for (int i = 0; i < 10; ++i) {
        const std::uint64_t stamp = clock.estimate(now);
        now += 30;  // commit latency
        clock.on_applied(stamp, now);
        now += 100;
    }
    BOOST_CHECK_EQUAL(clock.estimate(now), now);
}

// At a leadership change the count restarts from the last stamp applied: a node that kept
// counting while cut off does not carry its own count into the new leader's time.
BOOST_AUTO_TEST_CASE(a_leadership_change_restarts_from_the_applied_stamps) {
    ClusterClock clock;
    clock.restart(1000, 0);
    clock.on_applied(1200, 250);  // applied 50 ms after it was stamped (at local 200)
    BOOST_CHECK_EQUAL(clock.estimate(5000), 1000u + 5000u);  // its own count
    clock.on_leadership_change();
    BOOST_CHECK_EQUAL(clock.estimate(5000), 1200u + 4750u);  // from the stamp it applied
}

BOOST_AUTO_TEST_SUITE_END()
