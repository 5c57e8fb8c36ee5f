// Status that tells the truth (issue 12, "Make status tell the truth"), run against real
// ballot-server processes for every engine, as an operator would meet each state:
// - a member restarted with a wiped data dir is refused by its peers: INFO says role:refused, by
//   whom and why, and its clients get a -CLUSTERDOWN that names the refusal, at once;
// - a new cluster with one member not started: the others say role:joining and whom they wait
//   for, and -TRYAGAIN names that member;
// - with a majority known down (connections closed), a request fails at once with -CLUSTERDOWN,
//   a request already waiting fails too, and requests work again once the peers are back.
// The time bounds below are behaviour bounds (well under the request timeout), not speed targets.
#define BOOST_TEST_MODULE status_e2e
#include <sys/wait.h>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <future>
#include <thread>

#include "bench/local_cluster.h"
#include "engines/registry.h"

using namespace ballot;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kLiveness = 15s;  // a bound on progress, not a speed target
// A request that must fail fast answers within this; the request timeout is 3 s.
constexpr auto kFailFast = 1500ms;
const std::string kServer = std::string(BALLOT_BIN_DIR) + "/ballot-server";

using Info = std::map<std::string, std::string>;

// Polls node `id`'s INFO until `holds` (then returns it) or kLiveness passes (returns the last).
Info wait_for_info(LocalCluster& c, NodeId id, const std::function<bool(const Info&)>& holds) {
    auto deadline = Clock::now() + kLiveness;
    Info info = c.info(id);
    while (!holds(info) && Clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
        info = c.info(id);
    }
    return info;
}

std::string show(const Info& info) {
    std::string out;
    for (auto& [k, v] : info) out += k + ":" + v + "\n";
    return out;
}

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.rfind(prefix, 0) == 0;
}

// The fields every node shows in every state.
void expect_identity_fields(LocalCluster& c, NodeId id, const Info& info) {
    BOOST_TEST(!info.at("version").empty());
    BOOST_TEST(info.at("data_dir") == c.data_dir(id));
    BOOST_TEST(info.at("uptime_in_seconds").find_first_not_of("0123456789") == std::string::npos);
}

// A request that had to fail fast answered within kFailFast (printed for the record).
void expect_fast(const std::string& protocol, Clock::duration took) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
    BOOST_TEST_MESSAGE(protocol << ": answered in " << ms << " ms");
    BOOST_TEST((took < kFailFast), "took " << ms << " ms");
}

}  // namespace

BOOST_DATA_TEST_CASE(a_wiped_member_reports_who_refuses_it_and_its_clients_are_told,
                     bdata::make(engine_names()), protocol) {
    LocalCluster c(kServer, protocol, 3);
    c.start_all();
    BOOST_REQUIRE(c.write_until_ok(3, "kept", "yes", kLiveness));  // node 3 took part
    c.signal(3, SIGKILL);
    std::filesystem::remove_all(c.data_dir(3));
    c.start(3);

    Info refused = wait_for_info(c, 3, [](const Info& i) {
        return i.count("role") && i.at("role") == "refused" &&
               i.at("refused_by").find("; ") != std::string::npos;
    });
    BOOST_TEST_MESSAGE(protocol << ": INFO of the refused node 3:\n" << show(refused));
    BOOST_REQUIRE_MESSAGE(refused.count("role") && refused.at("role") == "refused", show(refused)
                                                                                        << c.log_tail(3));
    const std::string why = "data dir identity differs from the one remembered";
    BOOST_TEST(refused.at("refused_by") == "1: " + why + "; 2: " + why);
    BOOST_TEST(refused.at("refused_by_1").find("lost or replaced its state") != std::string::npos);
    BOOST_TEST(refused.at("waiting_for") == "1,2");
    BOOST_TEST(refused.at("connected_peers") == "");
    BOOST_TEST(refused.at("unreachable_peers") == "1,2");
    expect_identity_fields(c, 3, refused);

    // Both peers refuse it, so no quorum can be reached: the client is told why, at once.
    auto started = Clock::now();
    auto v = c.command(3, {"SET", "via-wiped", "1"});
    auto took = Clock::now() - started;
    BOOST_TEST(starts_with(v.str, "CLUSTERDOWN this node is refused by peers 1,2 (" + why + "; see INFO)"),
               v.str);
    expect_fast(protocol, took);
    auto read = c.command(3, {"GET", "kept"});
    BOOST_TEST(starts_with(read.str, "CLUSTERDOWN this node is refused by peers 1,2"), read.str);

    // The healthy majority says whom it is connected to, and that it refuses nobody's view of it.
    BOOST_REQUIRE(c.write_until_ok(1, "still", "serving", kLiveness));
    Info healthy = wait_for_info(
        c, 1, [](const Info& i) { return i.count("connected_peers") && i.at("connected_peers") == "2"; });
    BOOST_TEST_MESSAGE(protocol << ": INFO of the healthy node 1:\n" << show(healthy));
    BOOST_TEST(healthy.at("connected_peers") == "2");
    BOOST_TEST(healthy.at("refused_by") == "");
    BOOST_TEST(healthy.at("waiting_for") == "");
    BOOST_TEST(healthy.at("role") != "refused");
    BOOST_TEST(healthy.at("role") != "joining");
    if (healthy.at("leader_id") != "0")
        BOOST_TEST(healthy.at("leader_address") ==
                   "127.0.0.1:" + std::to_string(c.port(std::stoul(healthy.at("leader_id")))));
    else
        BOOST_TEST(healthy.at("leader_address") == "");
    expect_identity_fields(c, 1, healthy);
}

BOOST_DATA_TEST_CASE(a_new_cluster_with_a_member_missing_says_whom_it_waits_for, bdata::make(engine_names()),
                     protocol) {
    // A short request timeout keeps the test short; the reply's text is what is checked.
    LocalCluster c(kServer, protocol, 3, {"--request-timeout-ms", "1000"});
    c.start(1);
    c.start(2);
    Info joining = wait_for_info(c, 1, [](const Info& i) {
        return i.count("connected_peers") && i.at("connected_peers") == "2" &&
               i.at("unreachable_peers") == "3";
    });
    BOOST_TEST_MESSAGE(protocol << ": INFO of node 1, node 3 never started:\n" << show(joining));
    BOOST_TEST(joining.at("role") == "joining");
    BOOST_TEST(joining.at("waiting_for") == "3");
    BOOST_TEST(joining.at("connected_peers") == "2");
    BOOST_TEST(joining.at("refused_by") == "");
    expect_identity_fields(c, 1, joining);

    auto v = c.command(1, {"SET", "k", "v"});
    BOOST_TEST(starts_with(v.str, "TRYAGAIN this node is joining: waiting for peers 3 to start"), v.str);

    c.start(3);
    BOOST_REQUIRE_MESSAGE(c.write_until_ok(1, "k", "v", kLiveness), c.log_tail(1));
    Info joined =
        wait_for_info(c, 1, [](const Info& i) { return i.count("role") && i.at("role") != "joining"; });
    BOOST_TEST(joined.at("waiting_for") == "");
    BOOST_TEST(joined.at("role") != "joining");
}

BOOST_DATA_TEST_CASE(with_a_majority_down_requests_fail_fast_and_work_again_when_it_returns,
                     bdata::make(engine_names()), protocol) {
    LocalCluster c(kServer, protocol, 3);
    c.start_all();
    const NodeId survivor = 2;  // it dials node 3 and is dialed by node 1: both sides of the transport
    BOOST_REQUIRE(c.write_until_ok(survivor, "before", "1", kLiveness));

    // Stopped peers keep their connections open: a write through the survivor waits...
    c.signal(1, SIGSTOP);
    c.signal(3, SIGSTOP);
    auto waiting = std::async(std::launch::async, [&] {
        return c.command(survivor, {"SET", "waiting", "1"}, 10000ms);
    });
    Info pending = wait_for_info(c, survivor, [](const Info& i) {
        return i.count("pending_writes") && i.at("pending_writes") != "0";
    });
    BOOST_REQUIRE_MESSAGE(pending.count("pending_writes") && pending.at("pending_writes") != "0",
                          show(pending));
    // ...until their connections close: then it fails at once, not after the request timeout.
    auto killed = Clock::now();
    c.signal(1, SIGKILL);
    c.signal(3, SIGKILL);
    auto v = waiting.get();
    auto took = Clock::now() - killed;
    BOOST_TEST(starts_with(v.str, "CLUSTERDOWN no quorum reachable"), v.str);
    expect_fast(protocol, took);

    // A new request fails at once too, and names what the node knows.
    Info down = wait_for_info(c, survivor, [](const Info& i) {
        return i.count("unreachable_peers") && i.at("unreachable_peers") == "1,3";
    });
    BOOST_TEST(down.at("unreachable_peers") == "1,3");
    BOOST_TEST(down.at("connected_peers") == "");
    auto started = Clock::now();
    v = c.command(survivor, {"GET", "before"});
    took = Clock::now() - started;
    BOOST_TEST(v.str ==
               "CLUSTERDOWN no quorum reachable (peers connected: none; known down: 1,3); a write may or may "
               "not have been applied");
    expect_fast(protocol, took);

    if (protocol == "raft") {
        // §6.2 check-quorum then PreVote (§9.6) that never wins: INFO says so, as its own role.
        Info alone = wait_for_info(
            c, survivor, [](const Info& i) { return i.count("role") && i.at("role") == "pre-candidate"; });
        BOOST_TEST(alone.at("role") == "pre-candidate");
        BOOST_TEST(alone.at("leader_address") == "");
    }

    // The peers come back: requests work again.
    c.start(1);
    c.start(3);
    BOOST_TEST(c.write_until_ok(survivor, "after", "2", kLiveness), c.log_tail(survivor));
    auto read = c.read_eventually(survivor, "before", kLiveness);
    BOOST_TEST(read.str == "1");
}
