// End-to-end: real ballot-server processes on loopback, real RESP clients, real signals.
// Written once and run for every engine (SPEC "Behaviour under faults"); hostile input and
// more faults are in fault_e2e_test.cc.
#define BOOST_TEST_MODULE cluster_e2e
#include <sys/wait.h>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "bench/local_cluster.h"
#include "common/engine.h"
#include "engines/registry.h"

using namespace ballot;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;
using Type = kv::RespValue::Type;

namespace {

// Generous liveness bounds: these prove progress, not speed (speed is ballot-bench's job).
constexpr auto kElection = 15s;
const std::string kServer = std::string(BALLOT_BIN_DIR) + "/ballot-server";

bool is_ok(const kv::RespValue& v) {
    return v.type == Type::simple && v.str == "OK";
}

}  // namespace

BOOST_DATA_TEST_CASE(acknowledged_writes_survive_leader_kill_and_full_restart, bdata::make(engine_names()),
                     protocol) {
    LocalCluster c(kServer, protocol, 3);
    c.start_all();
    NodeId leader = c.leader_or_first(kElection);
    NodeId follower = c.another_running(leader);
    BOOST_TEST_MESSAGE(protocol << ": leader/victim n" << leader << ", writing through n" << follower);

    std::map<std::string, std::string> acknowledged;
    // Writes through a non-leader: the node forwards (or, basic Paxos, proposes itself).
    BOOST_REQUIRE_MESSAGE(c.write_until_ok(follower, "k0", "v0", kElection), c.log_tail(follower));
    acknowledged["k0"] = "v0";
    for (int i = 1; i < 50; ++i) {
        auto v = c.command(follower, {"SET", "k" + std::to_string(i), "v" + std::to_string(i)});
        if (is_ok(v)) acknowledged["k" + std::to_string(i)] = "v" + std::to_string(i);
    }
    BOOST_TEST(acknowledged.size() == 50u);
    // Every node reads every write (linearizable reads through any node).
    for (int n = 1; n <= 3; ++n) {
        auto v = c.command(n, {"GET", "k49"});
        BOOST_TEST((v.type == Type::bulk && v.str == "v49"), "n" << n << " GET k49");
    }

    // SIGKILL the leader; survivors keep accepting writes.
    c.signal(leader, SIGKILL);
    NodeId survivor = c.another_running(leader);
    auto killed_at = std::chrono::steady_clock::now();
    BOOST_REQUIRE_MESSAGE(c.write_until_ok(survivor, "after-kill", "1", kElection), c.log_tail(survivor));
    auto failover =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed_at);
    BOOST_TEST_MESSAGE(protocol << ": first acknowledged write " << failover.count()
                                << " ms after SIGKILL of n" << leader);
    acknowledged["after-kill"] = "1";
    for (int i = 50; i < 100; ++i) {
        auto v = c.command(survivor, {"SET", "k" + std::to_string(i), "w" + std::to_string(i)});
        if (is_ok(v)) acknowledged["k" + std::to_string(i)] = "w" + std::to_string(i);
    }

    // The killed node comes back and catches up.
    c.start(leader);
    // SIGKILL everyone, restart everyone: nothing acknowledged may be lost.
    for (int n = 1; n <= 3; ++n) c.signal(n, SIGKILL);
    c.start_all();
    c.leader_or_first(kElection);
    for (auto& [key, value] : acknowledged) {
        kv::RespValue v = c.read_eventually(1 + (key.size() % 3), key, kElection);
        BOOST_TEST((v.type == Type::bulk && v.str == value),
                   protocol << " lost acknowledged write " << key << ": got '" << v.str << "'");
    }
    // A node restarted after a full stop catches up and serves up-to-date reads.
    for (int n = 1; n <= 3; ++n) {
        auto v = c.read_eventually(n, "after-kill", kElection);
        BOOST_TEST((v.type == Type::bulk && v.str == "1"), "n" << n << " after restart: " << v.str);
    }
}

// --link-delay 30 holds every peer frame 30 ms in the sender: a write through the leader of a
// 3-node Raft cluster needs its entry to reach a follower and the acknowledgement to come back,
// so no SET can be acknowledged in under 60 ms. A lower bound, so not a speed target: it holds
// however slow the machine is, and fails only if some frame skipped the delay.
BOOST_AUTO_TEST_CASE(link_delay_puts_a_round_trip_under_every_write) {
    constexpr auto kRoundTrip = 60ms;
    LocalCluster c(kServer, "raft", 3, {"--link-delay", "30"});
    c.start_all();
    const NodeId leader = c.wait_for_leader(kElection);
    BOOST_REQUIRE_MESSAGE(leader != kNoNode, c.log_tail(1));
    BOOST_REQUIRE_MESSAGE(c.write_until_ok(leader, "warm", "1", kElection), c.log_tail(leader));
    int measured = 0;
    for (int i = 0; i < 5; ++i) {
        const auto sent = std::chrono::steady_clock::now();
        const auto reply = c.command(leader, {"SET", "k" + std::to_string(i), "v"});
        const auto took = std::chrono::steady_clock::now() - sent;
        if (!is_ok(reply)) continue;  // a leader change meanwhile: not what is measured here
        ++measured;
        const double took_ms = std::chrono::duration<double, std::milli>(took).count();
        BOOST_TEST((took >= kRoundTrip), "SET " << i << " acknowledged after " << took_ms << " ms");
    }
    BOOST_TEST(measured > 0);
    BOOST_TEST(c.log_tail(leader, 1000).find("WAN emulation (--link-delay)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_binary_prints_its_version_and_exits_0) {
    for (const std::string binary : {"ballot-server", "ballot-client", "ballot-bench"}) {
        const std::string command = std::string(BALLOT_BIN_DIR) + "/" + binary + " --version";
        FILE* out = ::popen(command.c_str(), "r");
        BOOST_REQUIRE(out);
        char line[256] = {};
        const bool read = std::fgets(line, sizeof line, out) != nullptr;
        const int status = ::pclose(out);
        BOOST_TEST(read, binary);
        BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0), binary);
        // "<binary> <version> (<commit>)"
        const std::string text = line;
        BOOST_TEST(text.rfind(binary + " ", 0) == 0u, text);
        BOOST_TEST(text.find(" (") != std::string::npos, text);
        BOOST_TEST(text.find(")\n") != std::string::npos, text);
    }
}

BOOST_AUTO_TEST_CASE(bad_arguments_exit_2_with_one_line_and_create_nothing) {
    const std::string dir = "/tmp/ballot-args-never-created";
    std::filesystem::remove_all(dir);
    const std::vector<std::string> nodes = {"--node",           "127.0.0.1:7001:1", "--node",
                                            "127.0.0.1:7002:2", "--node",           "127.0.0.1:7003:3"};
    auto with = [&](std::vector<std::string> a) {
        a.insert(a.end(), nodes.begin(), nodes.end());
        a.push_back("--data-dir");
        a.push_back(dir);
        return a;
    };
    struct Case {
        std::vector<std::string> args;
        std::string mentions;
    };
    std::vector<Case> cases = {
        {with({"--id", "1"}), "--protocol"},
        {with({"--protocol", "zab", "--id", "1"}), "zab"},
        {with({"--protocol", "raft", "--id", "9"}), "--id 9"},
        {with({"--protocol", "raft", "--id", "1", "--node", "127.0.0.1:7004:1"}), "duplicate node id 1"},
        {with({"--protocol", "raft", "--id", "1", "--node", "127.0.0.1:7001:4"}), "duplicate address"},
        {with({"--protocol", "raft", "--id", "1", "--node", "127.0.0.1:60000:4"}), "out of range"},
        {with({"--protocol", "raft", "--id", "1", "--node", "127.0.0.1-7009-4"}), "HOST:PORT:ID"},
        {with({"--protocol", "raft", "--id", "1", "--bogus"}), "bogus"},
        {with({"--protocol", "raft", "--id", "1", "--election-timeout-ms", "600-300"}), "election-timeout"},
        {{"--protocol", "raft", "--id", "1", "--data-dir", dir}, "--node"},
        {with({"--protocol", "raft", "--id", "1", "--link-delay", "-5"}), "--link-delay -5"},
        {with({"--protocol", "raft", "--id", "1", "--link-delay", "slow"}), "--link-delay slow"},
        {with({"--protocol", "raft", "--id", "1", "--link-delay", "99999999999"}), "more than 10000 ms"},
        {with({"--protocol", "raft", "--id", "1", "--link-delay", "10:20"}), "larger than the delay"},
    };
    for (auto& k : cases) {
        auto [status, err] = LocalCluster::run_server(kServer, k.args);
        BOOST_TEST(WIFEXITED(status));
        BOOST_TEST(WEXITSTATUS(status) == 2,
                   "args mentioning " << k.mentions << ": exit " << WEXITSTATUS(status));
        BOOST_TEST(err.find(k.mentions) != std::string::npos,
                   "stderr should name '" << k.mentions << "': " << err);
        BOOST_TEST(std::count(err.begin(), err.end(), '\n') == 1, "one line: " << err);
    }
    BOOST_TEST(!std::filesystem::exists(dir));
}

BOOST_DATA_TEST_CASE(sigterm_exits_0_and_corrupt_log_refuses_to_start, bdata::make(engine_names()),
                     protocol) {
    LocalCluster c(kServer, protocol, 3);
    c.start_all();
    c.leader_or_first(kElection);
    BOOST_REQUIRE(c.write_until_ok(1, "a", "1", kElection));
    for (int i = 0; i < 20; ++i) c.command(1, {"SET", "k" + std::to_string(i), std::string(100, 'v')});
    int status = c.signal(3, SIGTERM);
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);

    // Flip a byte in the middle of node 3's first segment's records (the zeros preallocated after
    // them are not records): not a torn tail, so it must refuse.
    std::string segment = c.data_dir(3) + "/log-0000000001.seg";
    std::string bytes;
    {
        std::ifstream in(segment, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    const auto records_end = bytes.find_last_not_of('\0') + 1;
    BOOST_REQUIRE(records_end > 200);
    {
        std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(records_end / 2));
        char byte = 0;
        f.read(&byte, 1);
        f.seekp(static_cast<std::streamoff>(records_end / 2));
        byte = static_cast<char>(byte ^ 0x5a);
        f.write(&byte, 1);
    }
    c.start(3);
    auto exited = c.wait_exit(3, 10s);
    BOOST_REQUIRE(exited.has_value());
    BOOST_TEST(WEXITSTATUS(*exited) == 1);
    std::string log = c.log_tail(3);
    BOOST_TEST(log.find("log-0000000001.seg") != std::string::npos, log);
    BOOST_TEST(log.find("offset") != std::string::npos, log);
}
