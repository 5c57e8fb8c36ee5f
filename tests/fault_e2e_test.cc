// Process-level fault tests, written once and run for every engine: SIGSTOP/SIGCONT of the
// leader, SIGKILL and restart of a minority, SIGKILL of everyone in the middle of a write burst,
// a member restarted with an empty data dir (refused), and hostile bytes on both ports.
// Nothing acknowledged may be lost, and every node keeps serving.
#define BOOST_TEST_MODULE fault_e2e
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "bench/local_cluster.h"
#include "common/engine.h"
#include "engines/registry.h"
#include "common/log_store.h"
#include "common/membership_guard.h"
#include "kv/resp_client.h"

using namespace ballot;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;
using Type = kv::RespValue::Type;

namespace {

constexpr auto kLiveness = 15s;  // a bound on progress, not a speed target
const std::string kServer = std::string(BALLOT_BIN_DIR) + "/ballot-server";

bool is_ok(const kv::RespValue& v) {
    return v.type == Type::simple && v.str == "OK";
}

void expect_all_present(LocalCluster& c, const std::map<std::string, std::string>& acked, NodeId via) {
    for (auto& [k, v] : acked) {
        auto got = c.read_eventually(via, k, kLiveness);
        BOOST_TEST((got.type == Type::bulk && got.str == v),
                   c.protocol() << ": acknowledged " << k << "=" << v << " read back as '" << got.str << "'");
    }
}

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

// Every file in `dir` with its bytes, for "nothing was touched" checks.
std::map<std::string, std::string> snapshot_dir(const std::string& dir) {
    std::map<std::string, std::string> files;
    for (const auto& item : std::filesystem::directory_iterator(dir)) {
        std::ifstream in(item.path(), std::ios::binary);
        std::stringstream bytes;
        bytes << in.rdbuf();
        files[item.path().filename().string()] = bytes.str();
    }
    return files;
}

}  // namespace

// README: the default data dir ./data/node-N is the same for every engine. A dir one engine wrote
// is refused by any other with one line naming both, before anything in it is touched.
BOOST_AUTO_TEST_CASE(a_data_dir_of_another_engine_is_refused_untouched) {
    LocalCluster c(kServer, "raft", 3);
    c.start_all();
    BOOST_REQUIRE(c.write_until_ok(c.leader_or_first(kLiveness), "raft", "wrote this", kLiveness));
    for (NodeId n = 1; n <= 3; ++n) BOOST_TEST(WEXITSTATUS(c.signal(n, SIGTERM)) == 0);
    auto before = snapshot_dir(c.data_dir(1));
    BOOST_REQUIRE(before.count("FORMAT") == 1u);
    std::vector<std::string> args = {"--protocol", "multipaxos", "--id", "1", "--data-dir", c.data_dir(1)};
    for (auto& a : c.node_args()) args.push_back(a);
    auto [status, err] = LocalCluster::run_server(kServer, args);
    BOOST_TEST_MESSAGE("stderr: " << err);
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 1);
    BOOST_TEST(err.find("engine raft") != std::string::npos, err);
    BOOST_TEST(err.find("engine multipaxos") != std::string::npos, err);
    BOOST_TEST(std::count(err.begin(), err.end(), '\n') == 1, "one line: " << err);
    BOOST_TEST((snapshot_dir(c.data_dir(1)) == before), "the data dir was changed");
    // Raft still starts on it and still has the write.
    c.start_all();
    auto v = c.read_eventually(1, "raft", kLiveness);
    BOOST_TEST((v.type == Type::bulk && v.str == "wrote this"));
}

BOOST_DATA_TEST_CASE(stopped_leader_is_replaced_then_rejoins, bdata::make(engine_names()), protocol) {
    LocalCluster c(kServer, protocol, 3);
    c.start_all();
    NodeId stopped = c.leader_or_first(kLiveness);
    BOOST_REQUIRE(c.write_until_ok(stopped, "before", "1", kLiveness));
    c.signal(stopped, SIGSTOP);
    NodeId survivor = c.another_running(stopped);
    BOOST_REQUIRE_MESSAGE(c.write_until_ok(survivor, "during", "2", kLiveness), c.log_tail(survivor));
    c.signal(stopped, SIGCONT);
    // The old leader learns it was replaced and serves the new state, writes included.
    BOOST_REQUIRE_MESSAGE(c.write_until_ok(stopped, "after", "3", kLiveness), c.log_tail(stopped));
    expect_all_present(c, {{"before", "1"}, {"during", "2"}, {"after", "3"}}, stopped);
    expect_all_present(c, {{"before", "1"}, {"during", "2"}, {"after", "3"}}, survivor);
}

BOOST_DATA_TEST_CASE(killed_minority_restarts_and_catches_up, bdata::make(engine_names()), protocol) {
    LocalCluster c(kServer, protocol, 3);
    c.start_all();
    NodeId leader = c.leader_or_first(kLiveness);
    NodeId victim = c.another_running(leader);
    BOOST_REQUIRE(c.write_until_ok(leader, "k0", "v0", kLiveness));
    c.signal(victim, SIGKILL);
    std::map<std::string, std::string> acked{{"k0", "v0"}};
    for (int i = 1; i < 200; ++i) {
        std::string k = "k" + std::to_string(i), v = "v" + std::to_string(i);
        if (is_ok(c.command(leader, {"SET", k, v}))) acked[k] = v;
    }
    BOOST_TEST(acked.size() == 200u);
    c.start(victim);
    // The restarted node catches up and serves up-to-date (linearizable) reads.
    expect_all_present(c, acked, victim);
}

BOOST_DATA_TEST_CASE(everyone_killed_during_a_write_burst_loses_nothing_acknowledged,
                     bdata::make(engine_names()), protocol) {
    LocalCluster c(kServer, protocol, 3);
    c.start_all();
    c.leader_or_first(kLiveness);
    BOOST_REQUIRE(c.write_until_ok(1, "warm", "up", kLiveness));
    std::mutex mu;
    std::map<std::string, std::string> acked;
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w) {
        writers.emplace_back([&, w] {
            NodeId via = 1 + w % 3;
            for (int i = 0; !stop && i < 100000; ++i) {
                try {
                    kv::RespClient client;
                    client.connect("127.0.0.1", c.port(via), 2000ms);
                    client.set_timeout(2000ms);
                    for (; !stop; ++i) {
                        std::string k = "w" + std::to_string(w) + "-" + std::to_string(i);
                        if (is_ok(client.command({"SET", k, "x" + std::to_string(i)}))) {
                            std::lock_guard lock(mu);
                            acked[k] = "x" + std::to_string(i);
                        }
                    }
                } catch (const std::exception&) {
                    std::this_thread::sleep_for(10ms);
                }
            }
        });
    }
    // Kill everyone once the burst is well under way.
    auto deadline = std::chrono::steady_clock::now() + kLiveness;
    while (std::chrono::steady_clock::now() < deadline) {
        {
            std::lock_guard lock(mu);
            if (acked.size() >= 300) break;
        }
        std::this_thread::sleep_for(5ms);
    }
    for (NodeId n = 1; n <= 3; ++n) c.signal(n, SIGKILL);
    stop = true;
    for (auto& t : writers) t.join();
    BOOST_TEST_MESSAGE(protocol << ": " << acked.size() << " writes acknowledged before SIGKILL of all");
    BOOST_REQUIRE(acked.size() >= 300u);
    c.start_all();
    expect_all_present(c, acked, 2);
}

BOOST_DATA_TEST_CASE(member_restarted_with_empty_data_dir_is_refused, bdata::make(engine_names()), protocol) {
    LocalCluster c(kServer, protocol, 3);
    c.start_all();
    c.leader_or_first(kLiveness);
    // A write through node 3 proves it took part, so every peer has met its data dir.
    BOOST_REQUIRE(c.write_until_ok(3, "kept", "yes", kLiveness));
    c.signal(3, SIGKILL);
    std::filesystem::remove_all(c.data_dir(3));
    c.start(3);
    // The others refuse it: it forgot its votes/promises and must not take part.
    auto deadline = std::chrono::steady_clock::now() + kLiveness;
    bool refused = false;
    while (!refused && std::chrono::steady_clock::now() < deadline) {
        std::string logs = c.log_tail(1, 200) + c.log_tail(2, 200) + c.log_tail(3, 200);
        refused = logs.find("lost or replaced its state") != std::string::npos;
        if (!refused) std::this_thread::sleep_for(50ms);
    }
    BOOST_TEST(refused, "no node logged the refusal:\n" << c.log_tail(1) << c.log_tail(3));
    auto v = c.command(3, {"SET", "via-empty", "1"}, 10000ms);
    BOOST_TEST(v.is_error(), "a refused node must not acknowledge writes: " << v.str);
    // The majority keeps serving.
    BOOST_TEST(c.write_until_ok(1, "still", "serving", kLiveness));
    expect_all_present(c, {{"kept", "yes"}, {"still", "serving"}}, 2);
}

// A dir that has taken part (IDENTITY, JOINED) but whose log is gone must not start as empty.
BOOST_AUTO_TEST_CASE(member_whose_log_was_deleted_refuses_to_start) {
    LocalCluster c(kServer, "raft", 3);
    c.start_all();
    BOOST_REQUIRE(c.write_until_ok(3, "kept", "yes", kLiveness));
    c.signal(3, SIGTERM);
    for (const auto& item : std::filesystem::directory_iterator(c.data_dir(3)))
        if (item.path().extension() == ".seg") std::filesystem::remove(item.path());
    std::vector<std::string> args = {"--protocol", "raft", "--id", "3", "--data-dir", c.data_dir(3)};
    for (auto& a : c.node_args()) args.push_back(a);
    for (int attempt = 0; attempt < 2; ++attempt) {  // and again: the refusal created nothing
        auto [status, err] = LocalCluster::run_server(kServer, args);
        BOOST_TEST(WEXITSTATUS(status) == 1);
        BOOST_TEST(err.find("the log is missing") != std::string::npos, err);
    }
}

// `cp -a` of a running node's dir: a file the node replaces while it is copied (PEERS is
// written to a temporary name and renamed) can vanish under the copy, so a failed copy is
// started again, as an operator would.
void copy_running_dir(const std::string& from, const std::string& to) {
    for (int attempt = 0;; ++attempt) {
        try {
            std::filesystem::remove_all(to);
            std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
            return;
        } catch (const std::filesystem::filesystem_error&) {
            if (attempt >= 100) throw;
        }
    }
}

// A backup copied from a running node, restored after the node went on writing: its peers know
// a higher mark and refuse it, and both sides say why (common/membership_guard.h).
BOOST_DATA_TEST_CASE(member_restored_from_a_stale_backup_is_refused, bdata::make(engine_names()), protocol) {
    LocalCluster c(kServer, protocol, 3);
    c.start_all();
    c.leader_or_first(kLiveness);
    BOOST_REQUIRE(c.write_until_ok(3, "before", "backup", kLiveness));
    const std::string backup = c.data_dir(3) + "-backup";
    copy_running_dir(c.data_dir(3), backup);  // cp -a
    for (int i = 0; i < 20; ++i) BOOST_REQUIRE(c.write_until_ok(3, "k" + std::to_string(i), "v", kLiveness));
    // The copy's mark: what its log holds, read from a scratch copy (opening repairs a torn tail).
    const std::string scratch = c.data_dir(3) + "-scratch";
    std::filesystem::copy(backup, scratch, std::filesystem::copy_options::recursive);
    LogStoreOptions store_options;
    store_options.engine = protocol;
    OpenResult opened = LogStore::open(scratch, store_options);
    BOOST_REQUIRE_MESSAGE(opened.ok(), (opened.error ? opened.error->message() : ""));
    std::uint64_t backup_mark = opened.store->durable_sequence();
    opened.store.reset();
    // Wait until a peer has learned, and written to PEERS, a mark of node 3 above the copy's.
    auto deadline = std::chrono::steady_clock::now() + kLiveness;
    std::uint64_t learned = 0;
    while (learned <= backup_mark && std::chrono::steady_clock::now() < deadline) {
        copy_running_dir(c.data_dir(1), scratch);
        std::filesystem::remove(scratch + "/LOCK");
        try {
            learned = MembershipGuard(scratch, 1).remembered_mark(3);
        } catch (const std::runtime_error&) {
        }
        if (learned <= backup_mark) std::this_thread::sleep_for(50ms);
    }
    BOOST_REQUIRE_MESSAGE(learned > backup_mark, "node 1 never learned a mark above " << backup_mark);
    c.signal(3, SIGKILL);
    std::filesystem::remove_all(c.data_dir(3));
    std::filesystem::rename(backup, c.data_dir(3));
    c.start(3);
    deadline = std::chrono::steady_clock::now() + kLiveness;
    bool refuser_said = false, refused_said = false;
    while (!(refuser_said && refused_said) && std::chrono::steady_clock::now() < deadline) {
        std::string peers = c.log_tail(1, 200) + c.log_tail(2, 200), self = c.log_tail(3, 200);
        refuser_said = peers.find("refusing node 3") != std::string::npos &&
                       peers.find("stale copy") != std::string::npos;
        refused_said = self.find("refuses this node") != std::string::npos &&
                       self.find("stale copy") != std::string::npos;
        if (!(refuser_said && refused_said)) std::this_thread::sleep_for(50ms);
    }
    BOOST_TEST(refuser_said, "no peer logged the refusal:\n" << c.log_tail(1) << c.log_tail(2));
    BOOST_TEST(refused_said, "node 3 did not log the refusal:\n" << c.log_tail(3));
    auto v = c.command(3, {"SET", "via-stale", "1"}, 5000ms);
    BOOST_TEST(v.is_error(), "a refused node must not acknowledge writes: " << v.str);
    BOOST_TEST(c.write_until_ok(1, "still", "serving", kLiveness));
    std::filesystem::remove_all(scratch);
}

BOOST_DATA_TEST_CASE(hostile_bytes_on_client_and_peer_ports, bdata::make(engine_names()), protocol) {
    LocalCluster c(kServer, protocol, 3);
    c.start_all();
    c.leader_or_first(kLiveness);
    BOOST_REQUIRE(c.write_until_ok(1, "x", "1", kLiveness));
    // A negative bulk length, an absurd array, a bare bulk string, an oversized bulk string (over
    // the 1 MiB limit), an array one element over the limit: each gets one protocol error.
    std::string reply = raw_exchange(c.port(2), "*2\r\n$3\r\nGET\r\n$-7\r\nzzz\r\n");
    BOOST_TEST(reply.rfind("-ERR Protocol error", 0) == 0, "reply: " << reply);
    reply = raw_exchange(c.port(2), "*99999999999\r\n");
    BOOST_TEST(reply.rfind("-ERR Protocol error", 0) == 0, "reply: " << reply);
    reply = raw_exchange(c.port(2), "$5\r\nhello\r\n");
    BOOST_TEST(reply.rfind("-ERR", 0) == 0, "reply: " << reply);
    reply = raw_exchange(c.port(1), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n");
    BOOST_TEST(reply.rfind("-ERR Protocol error", 0) == 0, reply);
    reply = raw_exchange(c.port(1), "*1048577\r\n");
    BOOST_TEST(reply.rfind("-ERR Protocol error", 0) == 0, reply);
    // Peer port: an oversized frame header, a valid-looking hello from a non-member, and noise.
    std::string big_frame("\xff\xff\xff\x7f\x01", 5);
    BOOST_TEST(raw_exchange(static_cast<std::uint16_t>(c.port(2) + 10000), big_frame).empty());
    std::string junk(100000, '\x07');
    BOOST_TEST(raw_exchange(static_cast<std::uint16_t>(c.port(3) + 10000), junk).empty());
    // Every node still serves, and the cluster still replicates.
    for (NodeId n = 1; n <= 3; ++n) {
        BOOST_TEST(c.write_until_ok(n, "after" + std::to_string(n), "ok", kLiveness));
        auto v = c.read_eventually(n, "x", kLiveness);
        BOOST_TEST((v.type == Type::bulk && v.str == "1"));
    }
}
