// ballot-server's study and benchmark flags, run as a user runs them, for every engine:
// - --trace prints each protocol message once where it leaves ("n1 -> n2 ...") and once where it
//   arrives ("n2 <- n1 ..."), ballots as ROUND.NODE and never a raw 64-bit number, and leaves
//   heartbeats out unless --trace-heartbeats asks for them (issue 14);
// - --unsafe-no-fsync warns loudly at start and INFO says unsafe_no_fsync:1 (issue 15).
// - --slow-disk-factor (the fault ballot-bench --slow-follower-disk gives a follower) warns at
//   start, shows in INFO, and leaves a node that is slower but otherwise a member like any other.
// The time bounds are behaviour bounds, not speed targets.
#define BOOST_TEST_MODULE server_flags_e2e
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <csignal>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/local_cluster.h"
#include "engines/registry.h"
#include "tests/support/trace_text.h"

using namespace ballot;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kLiveness = 15s;  // a bound on progress, not a speed target
const std::string kServer = std::string(BALLOT_BIN_DIR) + "/ballot-server";

std::vector<std::string> log_lines(const LocalCluster& c, NodeId id) {
    std::ifstream in(c.log_path(id));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// --trace lines only: "... n1 -> n2 ..." or "... n1 <- n2 ...".
std::vector<std::string> trace_lines(const LocalCluster& c, NodeId id) {
    std::vector<std::string> out;
    const std::string self = " n" + std::to_string(id);
    for (const std::string& line : log_lines(c, id))
        if (line.find(self + " -> n") != std::string::npos || line.find(self + " <- n") != std::string::npos)
            out.push_back(line);
    return out;
}

// Polls node `id`'s log until some line holds `needle`, or kLiveness passes.
bool log_shows(const LocalCluster& c, NodeId id, const std::string& needle) {
    const auto deadline = Clock::now() + kLiveness;
    while (Clock::now() < deadline) {
        for (const std::string& line : log_lines(c, id))
            if (line.find(needle) != std::string::npos) return true;
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

// Text only a heartbeat's line holds, in each engine that has heartbeats (Engine::is_heartbeat):
// Raft's AppendEntries without entries, Multi-Paxos's Heartbeat (and HeartbeatAck).
std::string heartbeat_text(const std::string& protocol) {
    if (protocol == "raft") return "entries=[]";
    if (protocol == "multipaxos") return " Heartbeat";
    return "";  // basic Paxos has none
}

// Waits until node `id` has been up `seconds` more than now, by its own INFO uptime: a quiet
// stretch long enough for many heartbeats (default interval 50 ms).
void wait_uptime_grows(LocalCluster& c, NodeId id, int seconds) {
    auto uptime = [&] { return std::stoi("0" + c.info(id)["uptime_in_seconds"]); };
    const int until = uptime() + seconds;
    const auto deadline = Clock::now() + kLiveness;
    while (uptime() < until && Clock::now() < deadline) std::this_thread::sleep_for(100ms);
}

}  // namespace

BOOST_DATA_TEST_CASE(trace_shows_both_directions_readably_and_no_heartbeats_by_default,
                     bdata::make(engine_names()), protocol) {
    LocalCluster c(kServer, protocol, 3, {"--trace"});
    c.start_all();
    BOOST_REQUIRE(c.write_until_ok(1, "traced", "yes", kLiveness));
    BOOST_TEST(log_shows(c, 1, " n1 -> n"), c.log_tail(1));
    BOOST_TEST(log_shows(c, 1, " n1 <- n"), c.log_tail(1));
    wait_uptime_grows(c, 1, 3);  // over 2 s idle: 40 heartbeat intervals and more
    BOOST_TEST(c.info(1)["unsafe_no_fsync"] == "0");

    const std::string beat = heartbeat_text(protocol);
    for (NodeId id = 1; id <= 3; ++id) {
        const auto lines = trace_lines(c, id);
        BOOST_TEST(!lines.empty(), "node " << id);
        for (const std::string& line : lines) {
            BOOST_TEST(!test::shows_raw_64_bit_number(line.substr(line.find(" n"))), line);
            if (!beat.empty()) BOOST_TEST(line.find(beat) == std::string::npos, line);
        }
    }
}

BOOST_DATA_TEST_CASE(trace_heartbeats_shows_them, bdata::make(engine_names()), protocol) {
    const std::string beat = heartbeat_text(protocol);
    if (beat.empty()) return;                                      // basic Paxos has no heartbeats to show
    LocalCluster c(kServer, protocol, 3, {"--trace-heartbeats"});  // implies --trace
    c.start_all();
    BOOST_REQUIRE(c.write_until_ok(1, "traced", "yes", kLiveness));
    const NodeId leader = c.wait_for_leader(kLiveness);
    BOOST_REQUIRE(leader != kNoNode);
    const NodeId follower = leader == 1 ? 2 : 1;
    BOOST_TEST(log_shows(c, leader, " n" + std::to_string(leader) + " -> n" + std::to_string(follower) + " "),
               c.log_tail(leader));
    BOOST_TEST(log_shows(c, follower, beat), c.log_tail(follower));
    BOOST_TEST(log_shows(c, follower, " n" + std::to_string(follower) + " <- n" + std::to_string(leader)),
               c.log_tail(follower));
}

BOOST_DATA_TEST_CASE(unsafe_no_fsync_warns_and_info_says_so, bdata::make(engine_names()), protocol) {
    LocalCluster c(kServer, protocol, 3, {"--unsafe-no-fsync"});
    c.start_all();
    BOOST_REQUIRE(c.write_until_ok(1, "fast", "unsafe", kLiveness));
    for (NodeId id = 1; id <= 3; ++id) {
        BOOST_TEST(c.info(id)["unsafe_no_fsync"] == "1", "node " << id);
        BOOST_TEST(log_shows(c, id, "UNSAFE: --unsafe-no-fsync"), c.log_tail(id));
    }
    // Everything else works as usual: a clean restart keeps what was written.
    BOOST_TEST(c.signal(1, SIGTERM) == 0);
    c.start(1);
    const kv::RespValue v = c.read_eventually(1, "fast", kLiveness);
    BOOST_TEST(v.str == "unsafe");
}

BOOST_DATA_TEST_CASE(slow_disk_factor_warns_shows_in_info_and_the_node_keeps_up,
                     bdata::make(engine_names()), protocol) {
    LocalCluster c(kServer, protocol, 3);
    c.set_node_extra_args(3, {"--slow-disk-factor", "40"});
    c.start_all();
    BOOST_REQUIRE(c.write_until_ok(1, "slow", "disk", kLiveness));
    BOOST_TEST(c.info(1)["slow_disk_factor"] == "1");
    BOOST_TEST(c.info(3)["slow_disk_factor"] == "40");
    BOOST_TEST(log_shows(c, 3, "FAULT: --slow-disk-factor 40"), c.log_tail(3));
    // Slower, not broken: node 3 applies what the cluster committed, and serves it.
    const std::string committed = c.info(1)["commit_index"];
    BOOST_REQUIRE(!committed.empty());
    const auto deadline = std::chrono::steady_clock::now() + kLiveness;
    std::uint64_t applied = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        const std::string a = c.info(3)["applied_index"];
        applied = a.empty() ? 0 : std::stoull(a);
        if (applied >= std::stoull(committed)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    BOOST_TEST(applied >= std::stoull(committed), "node 3 applied " << applied << " of " << committed);
    const kv::RespValue v = c.read_eventually(3, "slow", kLiveness);
    BOOST_TEST(v.str == "disk");
}
