// End-to-end: real ballot-server processes on loopback, real RESP clients, real signals.
// Written once and run for every engine (SPEC "Behaviour under faults").
#define BOOST_TEST_MODULE cluster_e2e
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "common/engine.h"
#include "bench/local_cluster.h"

using namespace ballot;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;
using Type = kv::RespValue::Type;

namespace {

// Generous liveness bounds: these prove progress, not speed (speed is ballot-bench's job).
constexpr auto kElection = 15s;
const std::string kServer = std::string(BALLOT_BIN_DIR) + "/ballot-server";

bool is_ok(const kv::RespValue& v) { return v.type == Type::simple && v.str == "OK"; }

// The node to fail: the leader where there is one, else node 1 (basic Paxos has no leader).
NodeId victim(LocalCluster& c) {
    NodeId leader = c.wait_for_leader(c.protocol() == "paxos" ? 1ms : kElection);
    return leader != kNoNode ? leader : 1;
}

NodeId other_than(LocalCluster& c, NodeId not_this) {
    for (int i = 1; i <= c.size(); ++i)
        if (static_cast<NodeId>(i) != not_this && c.running(i)) return i;
    return kNoNode;
}

// Sends raw bytes to a client port and returns what comes back before the server closes.
std::string raw_exchange(std::uint16_t port, const std::string& bytes) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return "connect failed";
    }
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)!::write(fd, bytes.data(), bytes.size());
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

}  // namespace

BOOST_DATA_TEST_CASE(acknowledged_writes_survive_leader_kill_and_full_restart, bdata::make(engine_names()), protocol) {
    LocalCluster c(kServer, protocol, 3);
    c.start_all();
    NodeId leader = victim(c);
    NodeId follower = other_than(c, leader);
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
    NodeId survivor = other_than(c, leader);
    auto killed_at = std::chrono::steady_clock::now();
    BOOST_REQUIRE_MESSAGE(c.write_until_ok(survivor, "after-kill", "1", kElection), c.log_tail(survivor));
    auto failover = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed_at);
    BOOST_TEST_MESSAGE(protocol << ": first acknowledged write " << failover.count() << " ms after SIGKILL of n" << leader);
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
    c.wait_for_leader(protocol == "paxos" ? 1ms : kElection);
    for (auto& [key, value] : acknowledged) {
        kv::RespValue v;
        auto deadline = std::chrono::steady_clock::now() + kElection;
        do {
            v = c.command(1 + (key.size() % 3), {"GET", key});
        } while (v.type == Type::error && std::chrono::steady_clock::now() < deadline);
        BOOST_TEST((v.type == Type::bulk && v.str == value), protocol << " lost acknowledged write " << key << ": got '"
                                                                       << v.str << "'");
    }
    // A node restarted after a full stop catches up and serves up-to-date reads.
    for (int n = 1; n <= 3; ++n) {
        auto v = c.command(n, {"GET", "after-kill"});
        BOOST_TEST((v.type == Type::bulk && v.str == "1"), "n" << n << " after restart: " << v.str);
    }
}

BOOST_DATA_TEST_CASE(garbage_on_client_port_gets_an_error_and_node_keeps_serving, bdata::make(engine_names()),
                     protocol) {
    LocalCluster c(kServer, protocol, 3);
    c.start_all();
    victim(c);
    BOOST_REQUIRE(c.write_until_ok(1, "x", "1", kElection));
    std::string reply = raw_exchange(c.port(2), "*2\r\n$3\r\nGET\r\n$-7\r\nzzz\r\n");
    BOOST_TEST(reply.rfind("-ERR Protocol error", 0) == 0, "reply: " << reply);
    reply = raw_exchange(c.port(2), "*99999999999\r\n");
    BOOST_TEST(reply.rfind("-ERR Protocol error", 0) == 0, "reply: " << reply);
    reply = raw_exchange(c.port(2), "$5\r\nhello\r\n");
    BOOST_TEST(reply.rfind("-ERR", 0) == 0, "reply: " << reply);
    // Peer port garbage: the connection is dropped, the node keeps serving.
    reply = raw_exchange(static_cast<std::uint16_t>(c.port(2) + 10000), std::string(64, '\xff'));
    BOOST_TEST(reply.empty());
    auto v = c.command(2, {"GET", "x"});
    BOOST_TEST((v.type == Type::bulk && v.str == "1"));
    BOOST_TEST(is_ok(c.command(2, {"SET", "y", "2"})));
    v = c.command(2, {"PING"});
    BOOST_TEST((v.type == Type::simple && v.str == "PONG"));
}

BOOST_AUTO_TEST_CASE(bad_arguments_exit_2_with_one_line_and_create_nothing) {
    const std::string dir = "/tmp/ballot-args-never-created";
    std::filesystem::remove_all(dir);
    const std::vector<std::string> nodes = {"--node", "127.0.0.1:7001:1", "--node", "127.0.0.1:7002:2", "--node",
                                            "127.0.0.1:7003:3"};
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
    };
    for (auto& k : cases) {
        auto [status, err] = LocalCluster::run_server(kServer, k.args);
        BOOST_TEST(WIFEXITED(status));
        BOOST_TEST(WEXITSTATUS(status) == 2, "args mentioning " << k.mentions << ": exit " << WEXITSTATUS(status));
        BOOST_TEST(err.find(k.mentions) != std::string::npos, "stderr should name '" << k.mentions << "': " << err);
        BOOST_TEST(std::count(err.begin(), err.end(), '\n') == 1, "one line: " << err);
    }
    BOOST_TEST(!std::filesystem::exists(dir));
}

BOOST_DATA_TEST_CASE(sigterm_exits_0_and_corrupt_log_refuses_to_start, bdata::make(engine_names()), protocol) {
    LocalCluster c(kServer, protocol, 3);
    c.start_all();
    victim(c);
    BOOST_REQUIRE(c.write_until_ok(1, "a", "1", kElection));
    for (int i = 0; i < 20; ++i) c.command(1, {"SET", "k" + std::to_string(i), std::string(100, 'v')});
    int status = c.signal(3, SIGTERM);
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);

    // Flip a byte in the middle of node 3's first segment: not a torn tail, so it must refuse.
    std::string segment = c.data_dir(3) + "/log-0000000001.seg";
    auto size = std::filesystem::file_size(segment);
    BOOST_REQUIRE(size > 200);
    {
        std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(size / 2));
        char byte = 0;
        f.read(&byte, 1);
        f.seekp(static_cast<std::streamoff>(size / 2));
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
