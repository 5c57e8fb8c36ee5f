// End-to-end, on real ballot-server processes of every engine: locks with fencing tokens (SPEC
// "Coordination: expiry, leases, locks, elections"). A client waiting for a lock is held by the
// node it is connected to and answered when the applied state grants it the lock, whichever node
// the release came through: by UNLOCK, and by the holder's lease expiring. A write fenced with the
// old holder's token is refused, and a WAIT runs out with nil. And ballot-client lock / elect.
#define BOOST_TEST_MODULE locks_e2e
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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
    // A write pipelined behind the waiting LOCK runs only once the lock is granted.
    b.resp.send({"LOCK", "job", lb});
    b.resp.send({"SET", "after-lock", "1"});
    b.resp.flush();
    wait_for_waiters(c, 2, 1);
    BOOST_TEST(b.resp.outstanding() == 2u);
    BOOST_TEST(a.run({"EXISTS", "after-lock"}).integer == 0);
    BOOST_TEST(a.run({"UNLOCK", "job", std::to_string(t1)}).str == "OK");
    kv::RespValue granted = b.resp.receive();  // woken by the UNLOCK
    BOOST_TEST(b.resp.receive().str == "OK");
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

// ---- ballot-client lock / elect

namespace {

const std::string kClient = std::string(BALLOT_BIN_DIR) + "/ballot-client";

std::string client_nodes(LocalCluster& c) {
    std::string nodes;
    for (NodeId n = 1; n <= static_cast<NodeId>(c.size()); ++n)
        nodes += " --node 127.0.0.1:" + std::to_string(c.port(n)) + ":" + std::to_string(n);
    return nodes;
}

std::string slurp(const std::filesystem::path& path) {
    std::ifstream f(path);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

// Starts a shell command line (the client's, with its output redirected) as a child: its pid is
// the client's (exec).
pid_t spawn_shell(const std::string& line) {
    const std::string exec_line = "exec " + line;
    const char* argv[] = {"sh", "-c", exec_line.c_str(), nullptr};
    pid_t pid = 0;
    BOOST_REQUIRE(::posix_spawnp(&pid, "sh", nullptr, nullptr, const_cast<char**>(argv), environ) == 0);
    return pid;
}

// Waits for `pid` to exit (at most `timeout`); its exit code (128 + signal if killed), -1 on timeout.
int wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return -1;
        }
        std::this_thread::sleep_for(20ms);
    }
}

// Polls until `path` holds something (the command under the lock wrote it), at most `timeout`.
std::string wait_for_file(const std::filesystem::path& path, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string text;
    while ((text = slurp(path)).empty() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    return text;
}

// A Raft cluster for ballot-client, its --node flags, and a scratch folder for what commands write.
struct ClientCluster {
    LocalCluster c{kServer, "raft", 3};
    std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("ballot-locks-e2e-" + std::to_string(::getpid()));
    std::string nodes;

    ClientCluster() {
        c.start_all();
        BOOST_REQUIRE(c.write_until_ok(c.leader_or_first(kElection), "warm-up", "1", kElection));
        std::filesystem::create_directories(dir);
        nodes = client_nodes(c);
    }
    ~ClientCluster() {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }
    std::string file(const char* name) const { return (dir / name).string(); }
};

}  // namespace

// The lock is held while CMD runs (CMD itself sees its token as the holder's, through LEADER), CMD's
// exit code is the client's, and the lock and lease are released after.
BOOST_FIXTURE_TEST_CASE(ballot_client_lock_runs_a_command_while_holding_the_lock, ClientCluster) {
    const std::string inside = kClient + nodes + " leader job > " + file("leader") +
                               "; echo $BALLOT_FENCING_TOKEN > " + file("token") + "; exit 3";
    const int code = std::system(("timeout 60 " + kClient + nodes + " lock job --ttl-ms 3000 -- sh -c '" +
                                  inside + "' 2>" + file("err"))
                                     .c_str());
    BOOST_TEST(WEXITSTATUS(code) == 3, slurp(dir / "err"));
    const std::string token = slurp(dir / "token");
    BOOST_REQUIRE(!token.empty());
    BOOST_TEST(slurp(dir / "leader") == "1) \n2) (integer) " + token);  // held while CMD ran
    BOOST_TEST((c.command(1, {"LEADER", "job"}).type == Type::nil));    // released after
    BOOST_TEST(c.info(1)["leases"] == "0");

    // elect: the same, with the value published.
    const int elected = std::system(("timeout 60 " + kClient + nodes + " elect primary node-a -- sh -c '" +
                                     kClient + nodes + " leader primary > " + file("primary") + "'")
                                        .c_str());
    BOOST_TEST(WEXITSTATUS(elected) == 0);
    BOOST_TEST(slurp(dir / "primary").starts_with("1) node-a\n2) (integer) "));
}

// A client paused past its TTL (SIGSTOP) loses the lock: its token is refused once the lease is
// gone, and after SIGCONT it stops its command (SIGTERM) and exits with the command's code.
BOOST_FIXTURE_TEST_CASE(ballot_client_lock_stops_the_command_when_the_lease_is_lost, ClientCluster) {
    const pid_t pid =
        spawn_shell(kClient + nodes + " lock job --ttl-ms 1500 -- sh -c 'echo $BALLOT_FENCING_TOKEN > " +
                    file("token") + "; exec sleep 60' 2>" + file("err"));
    const std::string token = wait_for_file(dir / "token", kElection);
    BOOST_REQUIRE_MESSAGE(!token.empty(), slurp(dir / "err"));
    const std::string t = token.substr(0, token.find('\n'));
    BOOST_TEST(c.command(1, {"SET", "row", "a", "FENCE", "job", t}).str == "OK");

    ::kill(pid, SIGSTOP);
    const auto deadline = std::chrono::steady_clock::now() + kElection;
    while (c.command(1, {"LEADER", "job"}).type != Type::nil && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(50ms);
    BOOST_TEST(c.command(1, {"SET", "row", "late", "FENCE", "job", t}).str == "ERR fenced: stale token");
    ::kill(pid, SIGCONT);
    BOOST_TEST(wait_exit(pid, 20s) == 128 + SIGTERM);  // sleep, stopped by SIGTERM
    BOOST_TEST(
        slurp(dir / "err").find("lost (ERR lease not found): stopping the command") != std::string::npos,
        slurp(dir / "err"));
}
