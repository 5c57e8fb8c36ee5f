// End-to-end, on real ballot-server processes of every engine: locks with fencing tokens (SPEC
// "Coordination: expiry, leases, locks, elections"). A client waiting for a lock is held by the
// node it is connected to and answered when the applied state grants it the lock, whichever node
// the release came through: by UNLOCK, and by the holder's lease expiring. A write fenced with the
// old holder's token is refused, and a WAIT runs out with nil.
#define BOOST_TEST_MODULE locks_e2e
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "bench/local_cluster.h"
#include "engines/registry.h"
#include "kv/resp_client.h"

using namespace ballot;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;
using Type = kv::RespValue::Type;

namespace {

constexpr auto kElection = 15s;
const std::string kServer = std::string(BALLOT_BIN_DIR) + "/ballot-server";

// A connection of its own to node `id`, retrying a command the cluster is not ready for yet.
struct Client {
    kv::RespClient resp;

    Client(LocalCluster& c, NodeId id) {
        resp.set_timeout(20s);
        resp.connect("127.0.0.1", c.port(id), 5s);
    }
    kv::RespValue run(const std::vector<std::string>& args) {
        const auto deadline = std::chrono::steady_clock::now() + kElection;
        for (;;) {
            kv::RespValue v = resp.command(args);
            const bool transient = v.error_code() == "TRYAGAIN" || v.error_code() == "CLUSTERDOWN";
            if (!transient || std::chrono::steady_clock::now() > deadline) return v;
            std::this_thread::sleep_for(100ms);
        }
    }
    std::int64_t integer(const std::vector<std::string>& args) {
        kv::RespValue v = run(args);
        BOOST_REQUIRE_MESSAGE(v.type == Type::integer, args[0] << ": " << v.str);
        return v.integer;
    }
};

// Polls node `id`'s INFO until `waiters` lock waiters are queued in its applied state: the LOCK
// sent before has been applied there and is waiting (a condition, not a timing guess).
void wait_for_waiters(LocalCluster& c, NodeId id, int waiters) {
    const auto deadline = std::chrono::steady_clock::now() + kElection;
    while (c.info(id)["lock_waiters"] != std::to_string(waiters)) {
        BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                              "n" << id << " never had " << waiters << " lock waiters");
        std::this_thread::sleep_for(20ms);
    }
}

}  // namespace

BOOST_DATA_TEST_CASE(waiters_are_woken_by_unlock_and_by_lease_expiry_and_old_tokens_are_fenced,
                     bdata::make(engine_names()), protocol) {
    LocalCluster c(kServer, protocol, 3);
    c.start_all();
    BOOST_REQUIRE(c.write_until_ok(c.leader_or_first(kElection), "warm-up", "1", kElection));
    // Two clients on different nodes: the release goes through node 1, the waiter sits on node 2.
    Client a(c, 1), b(c, 2);
    const std::string la = std::to_string(a.integer({"LEASE", "GRANT", "60000"}));
    const std::string lb = std::to_string(b.integer({"LEASE", "GRANT", "60000"}));

    const std::int64_t t1 = a.integer({"LOCK", "job", la});
    BOOST_TEST(a.run({"SET", "row", "a", "FENCE", "job", std::to_string(t1)}).str == "OK");
    b.resp.send({"LOCK", "job", lb});
    b.resp.flush();
    wait_for_waiters(c, 2, 1);
    BOOST_TEST(b.resp.outstanding() == 1u);
    BOOST_TEST(a.run({"UNLOCK", "job", std::to_string(t1)}).str == "OK");
    kv::RespValue granted = b.resp.receive();  // woken by the UNLOCK
    BOOST_REQUIRE(granted.type == Type::integer);
    const std::int64_t t2 = granted.integer;
    BOOST_TEST(t2 > t1);
    kv::RespValue stale = a.run({"SET", "row", "late", "FENCE", "job", std::to_string(t1)});
    BOOST_TEST(stale.str == "ERR fenced: stale token");
    BOOST_TEST(b.run({"SET", "row", "b", "FENCE", "job", std::to_string(t2)}).str == "OK");
    BOOST_TEST(b.run({"GET", "row"}).str == "b");

    // The holder's lease expires (nobody keeps it alive): the waiter gets the lock.
    BOOST_TEST(b.run({"UNLOCK", "job", std::to_string(t2)}).str == "OK");
    const std::string short_lease = std::to_string(a.integer({"LEASE", "GRANT", "1500"}));
    const std::int64_t t3 = a.integer({"LOCK", "job", short_lease});
    BOOST_TEST(t3 > t2);
    b.resp.send({"LOCK", "job", lb, "WAIT", "30000"});
    b.resp.flush();
    wait_for_waiters(c, 2, 1);
    const auto asked = std::chrono::steady_clock::now();
    kv::RespValue handed = b.resp.receive();
    BOOST_REQUIRE_MESSAGE(handed.type == Type::integer, handed.str);
    const std::int64_t t4 = handed.integer;
    BOOST_TEST(t4 > t3);
    BOOST_TEST_MESSAGE(protocol << ": handed over "
                                << std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - asked)
                                       .count()
                                << " ms after the LOCK was queued (lease TTL 1500 ms)");
    BOOST_TEST(a.run({"SET", "row", "late", "FENCE", "job", std::to_string(t3)}).str ==
               "ERR fenced: stale token");
    BOOST_TEST(a.run({"LEASE", "TTL", short_lease}).str == "ERR lease not found");

    // A WAIT that runs out answers nil; the holder is unchanged.
    Client w(c, 3);
    BOOST_TEST((w.run({"LOCK", "job", la, "WAIT", "300"}).type == Type::nil));
    kv::RespValue leader = w.run({"LEADER", "job"});
    BOOST_REQUIRE(leader.type == Type::array);
    BOOST_TEST(leader.elements.at(1).integer == t4);

    // Elections: the leader's value for anyone to read.
    const std::int64_t e = a.integer({"ELECT", "primary", la, "node-a"});
    BOOST_TEST(e > t4);
    kv::RespValue who = w.run({"LEADER", "primary"});
    BOOST_REQUIRE(who.type == Type::array);
    BOOST_TEST(who.elements.at(0).str == "node-a");
    BOOST_TEST(a.run({"RESIGN", "primary", std::to_string(e)}).str == "OK");
    BOOST_TEST((w.run({"LEADER", "primary"}).type == Type::nil));
}
