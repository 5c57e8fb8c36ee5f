// End-to-end: the Redis client libraries people already use, against a live 3-node cluster of
// every engine. Each library runs a checker of its own (tests/clients/): redis-py (Debian
// python3-redis), node-redis (Debian node-redis), hiredis (Debian libhiredis-dev, a small C++
// binary) and redis-cli --pipe. scripts/setup.sh installs them all; a checker that finds its
// library missing exits 77 and the case is skipped with that message, except under CI (CI set in
// the environment), where a missing library is a failure.
#define BOOST_TEST_MODULE client_libraries_e2e
#include <sys/wait.h>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "bench/local_cluster.h"
#include "engines/registry.h"
#include "kv/resp.h"
#include "kv/resp_client.h"

using namespace ballot;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;

namespace {

constexpr auto kElection = 15s;
const std::string kServer = std::string(BALLOT_BIN_DIR) + "/ballot-server";
const std::string kClients = std::string(BALLOT_SOURCE_DIR) + "/tests/clients";
constexpr int kMissingLibrary = 77;  // what a checker exits with when its library is absent

struct Run {
    int exit_code = -1;
    std::string output;
};

// Runs a shell command (bounded by `timeout`), stdout and stderr together.
Run run(const std::string& command) {
    Run r;
    FILE* pipe = ::popen(("timeout 120 " + command + " 2>&1").c_str(), "r");
    BOOST_REQUIRE_MESSAGE(pipe != nullptr, "popen failed for " << command);
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) r.output.append(buffer, n);
    const int status = ::pclose(pipe);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

// A running cluster with a leader (or, basic Paxos, a first write accepted).
struct Cluster {
    explicit Cluster(const std::string& protocol) : c(kServer, protocol, 3) {
        c.start_all();
        const NodeId first = c.leader_or_first(kElection);
        BOOST_REQUIRE_MESSAGE(c.write_until_ok(first, "warm-up", "1", kElection), c.log_tail(first));
    }
    std::string ports() const {
        std::string out;
        for (int n = 1; n <= c.size(); ++n) out += " " + std::to_string(c.port(static_cast<NodeId>(n)));
        return out;
    }
    LocalCluster c;
};

// Runs one library's checker and judges its exit code.
void expect_checker_passes(const std::string& protocol, const std::string& library,
                           const std::string& command) {
    Run r = run(command);
    if (r.exit_code == kMissingLibrary) {
        BOOST_REQUIRE_MESSAGE(std::getenv("CI") == nullptr,
                              library << " is missing under CI (scripts/setup.sh installs it): " << r.output);
        BOOST_TEST_MESSAGE("SKIPPED " << library << " on " << protocol << ": " << r.output);
        return;
    }
    if (r.exit_code == 0) BOOST_TEST_MESSAGE(protocol << " " << library << ":\n" << r.output);
    BOOST_TEST(r.exit_code == 0, protocol << ": " << library << " checker exited " << r.exit_code << ":\n"
                                          << r.output);
}

}  // namespace

BOOST_DATA_TEST_CASE(redis_py, bdata::make(engine_names()), protocol) {
    Cluster cluster(protocol);
    expect_checker_passes(protocol, "python3-redis",
                          "/usr/bin/python3 " + kClients + "/redis_py_check.py" + cluster.ports());
}

// A key's TTL across a leader kill (README "Keys that expire, and leases"): cluster time is in the
// log, so the key goes neither before its TTL nor later than one election timeout (the default
// maximum, 600 ms) after it, plus the clock-tick interval (100 ms) and slack for polling and a
// loaded machine. Basic Paxos has no leader: node 1 is the one that ticks the clock when idle,
// so it is the one killed, and node 2 must take the ticking over.
BOOST_DATA_TEST_CASE(redis_py_ttl_across_a_leader_kill, bdata::make(engine_names()), protocol) {
    Cluster cluster(protocol);
    const NodeId leader = cluster.c.leader_or_first(kElection);
    std::string survivors;
    for (int n = 1; n <= cluster.c.size(); ++n) {
        if (static_cast<NodeId>(n) != leader) survivors += " " + std::to_string(cluster.c.port(static_cast<NodeId>(n)));
    }
    constexpr int kTtlMs = 3000;
    constexpr int kMaxStretchMs = 600 + 100 + 800;
    expect_checker_passes(protocol, "python3-redis",
                          "/usr/bin/python3 " + kClients + "/redis_py_ttl_failover.py " + std::to_string(kTtlMs) +
                              " " + std::to_string(kMaxStretchMs) + " " + std::to_string(cluster.c.port(leader)) +
                              " " + std::to_string(cluster.c.pid(leader)) + survivors);
    cluster.c.reap(leader);
}

BOOST_DATA_TEST_CASE(node_redis, bdata::make(engine_names()), protocol) {
    Cluster cluster(protocol);
    // Debian installs node modules under /usr/share/nodejs, which Debian's node searches by
    // default; a node from elsewhere (NodeSource) needs NODE_PATH.
    expect_checker_passes(protocol, "node-redis",
                          "env NODE_PATH=/usr/share/nodejs:/usr/lib/nodejs node " + kClients +
                              "/node_redis_check.js" + cluster.ports());
}

BOOST_DATA_TEST_CASE(hiredis, bdata::make(engine_names()), protocol) {
    const std::string checker = BALLOT_HIREDIS_CHECK;  // empty when CMake found no hiredis
    if (checker.empty()) {
        BOOST_REQUIRE_MESSAGE(std::getenv("CI") == nullptr,
                              "libhiredis-dev is missing under CI (scripts/setup.sh installs it)");
        BOOST_TEST_MESSAGE("SKIPPED hiredis: libhiredis-dev was not found when the tests were configured");
        return;
    }
    Cluster cluster(protocol);
    // Through a follower where there is a leader: the node forwards.
    const NodeId leader = cluster.c.leader_or_first(kElection);
    expect_checker_passes(protocol, "hiredis",
                          checker + " " + std::to_string(cluster.c.port(cluster.c.another_running(leader))));
}

// redis-cli --pipe sends the file, then ECHO with a 20-byte marker, and exits 0 once the marker
// comes back with every reply counted.
BOOST_DATA_TEST_CASE(redis_cli_pipe, bdata::make(engine_names()), protocol) {
    Cluster cluster(protocol);
    constexpr int kCommands = 1000;
    const std::string file = std::filesystem::temp_directory_path() / ("ballot-pipe-" + protocol + ".resp");
    {
        std::ofstream out(file, std::ios::binary);
        std::string bytes;
        for (int i = 0; i < kCommands; ++i)
            kv::append_command(bytes, {"SET", "pipe:" + std::to_string(i), std::to_string(i)});
        out << bytes;
    }
    Run r = run("redis-cli -p " + std::to_string(cluster.c.port(1)) + " --pipe < " + file);
    std::filesystem::remove(file);
    BOOST_TEST_MESSAGE(protocol << " redis-cli --pipe: " << r.output);
    BOOST_TEST(r.exit_code == 0, protocol << ": redis-cli --pipe exited " << r.exit_code << ": " << r.output);
    BOOST_TEST(r.output.find("errors: 0, replies: " + std::to_string(kCommands)) != std::string::npos,
               r.output);
    kv::RespValue last = cluster.c.command(2, {"GET", "pipe:" + std::to_string(kCommands - 1)});
    BOOST_TEST(last.str == std::to_string(kCommands - 1));
}

// What every client library assumes of a pipeline: a connection's commands take effect in the
// order sent, so a GET sees the SET pipelined just before it and not the one just after it,
// through a node that forwards, on every engine (kv/resp_server.cc, may_start).
BOOST_DATA_TEST_CASE(pipelined_commands_take_effect_in_order, bdata::make(engine_names()), protocol) {
    Cluster cluster(protocol);
    const NodeId leader = cluster.c.leader_or_first(kElection);
    kv::RespClient client;
    client.connect("127.0.0.1", cluster.c.port(cluster.c.another_running(leader)), 5s);
    client.set_timeout(30s);
    constexpr int kRounds = 200;
    // First a read on the read path, which the SET after it must not overtake.
    std::vector<std::vector<std::string>> commands = {{"GET", "order"}};
    for (int i = 0; i < kRounds; ++i) {
        commands.push_back({"SET", "order", std::to_string(i)});
        commands.push_back({"GET", "order"});
        commands.push_back({"INCR", "order"});
    }
    std::vector<kv::RespValue> replies = client.pipeline(commands);
    BOOST_REQUIRE_EQUAL(replies.size(), commands.size());
    BOOST_TEST((replies[0].type == kv::RespValue::Type::nil), protocol << ": the first GET saw a later SET");
    int out_of_order = 0;
    for (int i = 0; i < kRounds; ++i) {
        const kv::RespValue& get = replies[1 + 3 * i + 1];
        const kv::RespValue& incr = replies[1 + 3 * i + 2];
        if (get.str != std::to_string(i) || incr.integer != i + 1) ++out_of_order;
    }
    BOOST_TEST(out_of_order == 0, protocol << ": " << out_of_order << " of " << kRounds
                                           << " rounds saw another order than the pipeline's");
}
