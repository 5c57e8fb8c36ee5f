// The simulator's lock invariants (tests/sim/lock_invariants.h) can fail: a real store's log passes
// them, and each invariant reports a log or a state broken on purpose (a reply, a waiter event or
// the state machine's view doctored, as a buggy store would produce them). The last case breaks the
// store itself in a whole simulated run (fenced writes applied without their check).
#define BOOST_TEST_MODULE sim_locks
#include <boost/test/unit_test.hpp>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kv/kv_store.h"
#include "kv/resp.h"
#include "tests/sim/lock_invariants.h"
#include "tests/sim/simulator.h"
#include "tests/support/kv_log.h"

using namespace ballot;
using namespace ballot::sim;
using test::Args;

namespace {

// The real store's view, with parts overridden: what a store with a bug would show.
class DoctoredView final : public LockStateView {
public:
    explicit DoctoredView(const kv::KvStore& store) : real_(store) {}
    std::uint64_t clock_ms() const override { return real_.clock_ms(); }
    std::optional<std::uint64_t> holder_token(const std::string& name) const override {
        auto it = holders.find(name);
        return it == holders.end() ? real_.holder_token(name) : it->second;
    }
    std::optional<std::int64_t> lease_ttl_ms(std::uint64_t lease) const override {
        if (gone.contains(lease)) return std::nullopt;
        return real_.lease_ttl_ms(lease);
    }
    std::size_t lease_count() const override { return real_.lease_count() - gone.size(); }

    std::set<std::uint64_t> gone;                                 // leases the doctored store no longer has
    std::map<std::string, std::optional<std::uint64_t>> holders;  // LEADER's token, overridden

private:
    KvLockView real_;
};

// A store whose log is fed, index by index, to the checker, as the simulator does at each first
// application; `doctor` changes the reply the checker sees.
struct Log {
    kv::KvStore store;
    Violations violations;
    LockChecker checker{violations};
    DoctoredView view{store};
    std::vector<WaiterEvent> events;
    Index index = 0;
    std::uint64_t now_ms = 1000;
    std::uint64_t seq = 0;

    Log() {
        store.set_waiter_listener([this](Index w, const std::string& reply) {
            events.push_back({w, reply});
        });
    }

    std::string run(const Args& args, const std::function<void(std::string&)>& doctor = {}) {
        ++seq;
        Command c{7, seq, seq, test::payload(args)};
        c.time_ms = now_ms;
        return apply(c, doctor);
    }
    void tick(std::uint64_t time_ms) {
        Command c;
        c.time_ms = now_ms = time_ms;
        apply(c, {});
    }
    std::string apply(const Command& c, const std::function<void(std::string&)>& doctor) {
        events.clear();
        std::string reply = store.apply(++index, c);
        std::string seen = reply;
        if (doctor) doctor(seen);
        checker.on_apply(index, c, seen, events, view);
        return reply;
    }
    std::string lease(std::uint64_t ttl_ms) {
        const std::string reply = run({"LEASE", "GRANT", std::to_string(ttl_ms)});
        return reply.substr(1, reply.size() - 3);
    }
    bool reported(const std::string& what) const {
        for (const std::string& v : violations.all())
            if (v.find(what) != std::string::npos) return true;
        return false;
    }
    std::string all() const {
        std::string out;
        for (const std::string& v : violations.all()) out += v + "\n";
        return out;
    }
};

std::function<void(std::string&)> answer(std::string reply) {
    return [reply](std::string& seen) { seen = reply; };
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_real_store_passes_every_lock_invariant) {
    Log log;
    const std::string a = log.lease(1000);
    const std::string b = log.lease(5000);
    const std::string c = log.lease(5000);
    BOOST_TEST(log.run({"LOCK", "job", a}) == ":1\r\n");
    BOOST_TEST(log.run({"SET", "fjob", "x", "FENCE", "job", "1"}) == "+OK\r\n");
    BOOST_TEST(kv::KvStore::queued_waiter(log.run({"LOCK", "job", b, "WAIT", "10000"})).has_value());
    BOOST_TEST(kv::KvStore::queued_waiter(log.run({"ELECT", "job", c, "v", "WAIT", "10000"})).has_value());
    BOOST_TEST(log.run({"LOCK", "job", b, "WAIT", "0"}) == "$-1\r\n");  // b is queued already
    log.tick(2000);  // a's lease ends: b is woken with token 2
    BOOST_TEST(log.run({"SET", "fjob", "late", "FENCE", "job", "1"}) == kv::error_reply(kv::kStaleToken));
    BOOST_TEST(log.run({"LEASE", "KEEPALIVE", a}) == kv::error_reply(kv::kLeaseNotFound));
    BOOST_TEST(log.run({"LEASE", "KEEPALIVE", b}) == ":5000\r\n");
    BOOST_TEST(log.run({"UNLOCK", "job", "2"}) == "+OK\r\n");  // c is woken with token 3
    BOOST_TEST(log.run({"LEASE", "REVOKE", c}) == "+OK\r\n");
    BOOST_TEST(!log.violations.any(), log.all());
    BOOST_TEST(log.checker.stats().grants == 3u);
    BOOST_TEST(log.checker.stats().handoffs == 2u);
    BOOST_TEST(log.checker.stats().fenced_refused == 1u);
    BOOST_TEST(log.checker.held_between("job", 2, 10, 12));
    BOOST_TEST(!log.checker.held_between("job", 1, 10, 12));
}

// One apply, two causes: the clock passes the holder's lease (the lock goes to the waiter), then the
// command revokes the waiter's own lease (it loses the lock again). The handoff came first; the
// checker once took it for the revoke's and reported a lock handed to an ended lease (seed 51768).
BOOST_AUTO_TEST_CASE(an_expiry_and_a_revoke_in_one_apply_are_told_apart) {
    Log log;
    const std::string holder = log.lease(500);
    const std::string waiter = log.lease(5000);
    log.run({"LOCK", "job", holder});  // token 1
    BOOST_TEST(kv::KvStore::queued_waiter(log.run({"LOCK", "job", waiter, "WAIT", "9000"})).has_value());
    log.now_ms = 1600;  // the holder's lease is due at this index, before the command
    BOOST_TEST(log.run({"LEASE", "REVOKE", waiter}) == "+OK\r\n");
    BOOST_TEST(!log.violations.any(), log.all());
    BOOST_TEST(log.checker.stats().handoffs == 1u);

    // The same events with the holder's lease still alive: only the revoke could have freed the
    // lock, so the waiter got it from the command that ended its lease, which the store never does.
    Log wrong;
    const std::string h = wrong.lease(5000);
    const std::string w = wrong.lease(5000);
    wrong.run({"LOCK", "job", h});  // token 1
    const Index queued = *kv::KvStore::queued_waiter(wrong.run({"LOCK", "job", w, "WAIT", "9000"}));
    ++wrong.seq;
    Command revoke{7, wrong.seq, wrong.seq, test::payload({"LEASE", "REVOKE", w})};
    revoke.time_ms = wrong.now_ms;
    wrong.events.clear();
    wrong.store.apply(++wrong.index, revoke);
    wrong.events = {{queued, ":2\r\n"}};
    wrong.checker.on_apply(wrong.index, revoke, "+OK\r\n", wrong.events, wrong.view);
    BOOST_TEST(wrong.reported("was handed the lock with lease " + w + " (ended)"), wrong.all());
}

BOOST_AUTO_TEST_CASE(a_token_that_does_not_increase_is_caught) {
    Log log;
    const std::string a = log.lease(5000);
    const std::string b = log.lease(5000);
    log.run({"LOCK", "job", a});  // token 1
    log.run({"UNLOCK", "job", "1"});
    log.run({"LOCK", "job", b}, answer(":1\r\n"));  // granted token 2; the buggy store answers 1 again
    BOOST_TEST(log.reported("not above the highest granted before (1)"), log.all());
}

BOOST_AUTO_TEST_CASE(a_stale_fenced_write_that_is_applied_is_caught) {
    Log log;
    const std::string a = log.lease(500);
    const std::string b = log.lease(5000);
    log.run({"LOCK", "job", a});  // token 1
    log.tick(1600);               // a paused past its TTL: its lease ended
    log.run({"LOCK", "job", b});  // token 2
    // The store refuses a's write with token 1; a store that skipped the check would apply it.
    log.run({"SET", "fjob", "late", "FENCE", "job", "1"}, answer("+OK\r\n"));
    BOOST_TEST(log.reported("a fenced write with stale token 1 was applied"), log.all());
}

BOOST_AUTO_TEST_CASE(two_holders_are_caught) {
    Log log;
    const std::string a = log.lease(5000);
    const std::string b = log.lease(5000);
    log.run({"LOCK", "job", a});                                 // token 1
    log.run({"LOCK", "job", b, "WAIT", "0"}, answer(":2\r\n"));  // nil, seen as granted
    BOOST_TEST(log.reported("two holders"), log.all());

    // A waiter woken while the holder still holds it.
    Log woken;
    const std::string x = woken.lease(5000);
    const std::string y = woken.lease(5000);
    woken.run({"LOCK", "job", x});  // token 1
    const Index waiter = *kv::KvStore::queued_waiter(woken.run({"LOCK", "job", y, "WAIT", "9000"}));
    woken.events = {{waiter, ":2\r\n"}};
    woken.checker.on_apply(++woken.index, Command{}, "", woken.events, woken.view);
    BOOST_TEST(woken.reported("two holders"), woken.all());
}

BOOST_AUTO_TEST_CASE(a_lease_that_expires_early_is_caught) {
    // The store drops a lease before its deadline (1000 + 1000 ms), seen in its state...
    Log log;
    const std::string a = log.lease(1000);
    log.tick(1500);
    log.view.gone.insert(std::stoull(a));
    log.tick(1600);
    BOOST_TEST(log.reported("it expired early"), log.all());
    BOOST_TEST(log.reported("TTL 1000 ms from 1000 ms"), log.all());

    // ... or in a KEEPALIVE's reply.
    Log keepalive;
    const std::string b = keepalive.lease(1000);
    keepalive.now_ms = 1999;
    keepalive.run({"LEASE", "KEEPALIVE", b}, answer(kv::error_reply(kv::kLeaseNotFound)));
    BOOST_TEST(keepalive.reported("it expired early"), keepalive.all());

    // A lease kept past its deadline is reported too.
    Log late;
    const std::string c = late.lease(1000);
    late.now_ms = 2000;
    late.run({"LEASE", "KEEPALIVE", c}, answer(":1000\r\n"));  // the real store says not found
    BOOST_TEST(late.reported("never granted or has ended"), late.all());
}

BOOST_AUTO_TEST_CASE(a_holder_the_log_does_not_explain_is_caught) {
    // The state machine reports a holder that no grant in the log made (a grant told no one).
    Log log;
    const std::string a = log.lease(5000);
    log.run({"LOCK", "job", a});  // token 1
    log.view.holders["job"] = 9;
    log.run({"LEASE", "KEEPALIVE", a});
    BOOST_TEST(log.reported("the state machine's holder of job has token 9"), log.all());

    // An UNLOCK by the holder refused, an UNLOCK by another accepted.
    Log unlock;
    const std::string b = unlock.lease(5000);
    unlock.run({"LOCK", "job", b});
    unlock.run({"UNLOCK", "job", "1"}, answer(kv::error_reply("ERR lock not held with this token")));
    BOOST_TEST(unlock.reported("by the holder was refused"), unlock.all());
    unlock.run({"UNLOCK", "job", "5"}, answer("+OK\r\n"));
    BOOST_TEST(unlock.reported("UNLOCK job 5 succeeded, but the holder is lease"), unlock.all());
}

BOOST_AUTO_TEST_CASE(a_leader_read_of_a_token_never_held_is_caught) {
    Log log;
    const std::string a = log.lease(5000);
    log.run({"LOCK", "job", a});      // index 2: token 1
    log.run({"UNLOCK", "job", "1"});  // index 3: free
    BOOST_TEST(log.checker.held_between("job", 1, 2, 2));
    BOOST_TEST(log.checker.held_between("job", 0, 2, 3));
    BOOST_TEST(!log.checker.held_between("job", 0, 2, 2));  // a read served at index 2 saw a holder
    BOOST_TEST(!log.checker.held_between("job", 7, 1, 3));
}

namespace {

// A cluster that takes the lock clients' commands and answers them only when the test says.
class HeldGateway final : public ClientGateway {
public:
    std::vector<NodeId> up_nodes() const override { return {1}; }
    void submit(NodeId, const Stamp& stamp, const std::string&, Completion done) override {
        stamps.push_back(stamp);
        pending.push_back(std::move(done));
    }
    void read(NodeId, const std::string&, std::function<void(const Outcome&, const std::string&)>) override {}
    void await_waiter(NodeId, Index, const std::string&,
                      std::function<void(const std::optional<std::string>&)>) override {}

    std::vector<Stamp> stamps;
    std::vector<Completion> pending;
};

// One lock client's first command (its LEASE GRANT) answered `acknowledged`, after the log's first
// application of it answered `applied` (none if nullopt); what the client's check then says.
std::vector<std::string> acknowledged_against_log(const std::string& acknowledged,
                                                  const std::optional<std::string>& applied) {
    SimConfig config = SimConfig::from_seed(1);
    config.lock_clients = 1;
    config.lock_ttl_min_ms = config.lock_ttl_max_ms = 1000;
    EventQueue queue;
    Violations violations;
    LockChecker checker(violations);
    HeldGateway gateway;
    LockWorkload clients(config, queue, gateway, checker, violations);
    clients.start();
    while (gateway.pending.empty() && queue.run_next()) {
    }
    BOOST_REQUIRE(!gateway.pending.empty());
    const Stamp& s = gateway.stamps.front();
    if (applied) clients.on_first_apply(Command{s.client_id, s.seq, s.acked_below, "lease grant"}, *applied);
    gateway.pending.front()(Outcome{Outcome::Status::ok, acknowledged});
    clients.finish();
    return violations.all();
}

bool mentions(const std::vector<std::string>& violations, const std::string& what) {
    for (const std::string& v : violations)
        if (v.find(what) != std::string::npos) return true;
    return false;
}

}  // namespace

// The lock clients' side of linearizability: an acknowledged command got the reply of its first
// application, and was applied at all.
BOOST_AUTO_TEST_CASE(an_acknowledged_reply_the_log_did_not_give_is_caught) {
    BOOST_TEST(acknowledged_against_log(":1\r\n", ":1\r\n").empty());
    BOOST_TEST(
        mentions(acknowledged_against_log(":1\r\n", ":2\r\n"), "but its first application answered :2"));
    BOOST_TEST(mentions(acknowledged_against_log(":1\r\n", std::nullopt), "acknowledged but never applied"));
}

// The whole simulator catches a store that applies fenced writes without checking the token: a
// lock client paused past its TTL writes with its old token after another took the lock.
BOOST_AUTO_TEST_CASE(a_store_without_fencing_is_caught_by_the_simulation) {
    std::uint64_t caught_at = 0;
    for (std::uint64_t seed = 1; seed <= 40 && caught_at == 0; ++seed) {
        SimOptions o;
        o.engine = "raft";
        o.seed = seed;
        o.sabotage = Sabotage::unfenced_writes;
        if (SimConfig::from_seed(seed).lock_clients == 0) continue;
        SimReport r = run_simulation(o);
        if (r.ok()) continue;
        caught_at = seed;
        BOOST_TEST_MESSAGE("seed " << seed << ": " << r.failure.substr(0, r.failure.find('\n')));
        BOOST_TEST(r.failure.find("with stale token") != std::string::npos, r.summary());
    }
    BOOST_TEST(caught_at != 0, "fenced writes applied without their check went unnoticed in 40 seeds");
}
