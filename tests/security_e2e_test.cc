// End-to-end, on real ballot-server processes, for every engine: who may talk to the cluster
// (SPEC "Security: who may talk to the cluster", kv/auth.h): -NOAUTH before AUTH while PING still
// answers, -WRONGPASS logged with the client's address, -NOPERM for admin commands with the data
// password, the admin secret, HELLO AUTH, ballot-client --pass-file, a slow-loris client closed
// after the partial-request timeout, and --max-clients refusing one connection too many while the
// others go on being served (20 on every engine, and the default 10,000 on one). TLS is tested in tests/tls_e2e_test.cc.
#define BOOST_TEST_MODULE security_e2e
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "bench/local_cluster.h"
#include "engines/registry.h"
#include "kv/resp_client.h"
#include "tests/support/node_log.h"

using namespace ballot;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;
namespace fs = std::filesystem;
namespace asio = boost::asio;
using Type = kv::RespValue::Type;

namespace {

// Liveness bounds: they prove progress, not speed.
constexpr auto kElection = 15s;
constexpr auto kCloseBound = 15s;
constexpr int kMaxClients = 20;
const std::string kServer = std::string(BALLOT_BIN_DIR) + "/ballot-server";
const std::string kClient = std::string(BALLOT_BIN_DIR) + "/ballot-client";
const std::string kDataPassword = "data pw 1";  // a space: passwords are binary-safe
const std::string kAdminPassword = "admin-pw-2";

std::string write_secret(const std::string& name, const std::string& secret) {
    const fs::path path = fs::temp_directory_path() / ("ballot-security-e2e-" + name);
    std::ofstream(path) << secret << "\n";
    return path.string();
}

// A 3-node cluster with both secrets, --max-clients 20 and a 1 s partial-request timeout.
struct SecuredCluster {
    explicit SecuredCluster(const std::string& protocol)
        : c(kServer, protocol, 3,
            {"--requirepass-file", write_secret("data", kDataPassword), "--admin-pass-file",
             write_secret("admin", kAdminPassword), "--max-clients", std::to_string(kMaxClients),
             "--client-partial-request-timeout-ms", "1000"}) {
        c.set_password(kDataPassword);
        c.start_all();
        BOOST_REQUIRE_MESSAGE(c.write_until_ok(c.leader_or_first(kElection), "warm-up", "1", kElection),
                              c.log_tail(1));
    }
    LocalCluster c;
};

// A connection that has not authenticated.
std::unique_ptr<kv::RespClient> anonymous(LocalCluster& c, NodeId id) {
    auto client = std::make_unique<kv::RespClient>();
    client->connect("127.0.0.1", c.port(id), 5s);
    return client;
}

bool is_error(const kv::RespValue& v, const std::string& text) {
    return v.type == Type::error && v.str == text;
}

// A raw socket, for what a RESP client library would never send.
struct RawConnection {
    explicit RawConnection(std::uint16_t port) : socket(io) {
        socket.connect({asio::ip::make_address("127.0.0.1"), port});
    }
    // Waits up to `wait` for the peer to send something or close. Returns what arrived; sets
    // `closed` on end of stream or a reset.
    std::string receive(std::chrono::milliseconds wait) {
        pollfd p{socket.native_handle(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return {};
        char buffer[4096];
        boost::system::error_code ec;
        const std::size_t n = socket.read_some(asio::buffer(buffer), ec);
        if (ec) closed = true;
        return std::string(buffer, n);
    }
    // Everything until the peer closes (bounded by kCloseBound).
    std::string receive_until_closed() {
        std::string all;
        const auto deadline = std::chrono::steady_clock::now() + kCloseBound;
        while (!closed && std::chrono::steady_clock::now() < deadline) all += receive(100ms);
        return all;
    }
    bool send(const std::string& bytes) {
        boost::system::error_code ec;
        asio::write(socket, asio::buffer(bytes), ec);
        return !ec;
    }

    asio::io_context io;
    asio::ip::tcp::socket socket;
    bool closed = false;
};

// ballot-client's exit code and stdout+stderr for `args`.
std::pair<int, std::string> ballot_client(const std::string& args) {
    const std::string out = (fs::temp_directory_path() / "ballot-security-e2e-client.out").string();
    const int status = std::system(("timeout 60 " + kClient + " " + args + " >" + out + " 2>&1").c_str());
    std::ifstream in(out);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1,
            std::string(std::istreambuf_iterator<char>(in), {})};
}

}  // namespace

BOOST_DATA_TEST_CASE(passwords_gate_every_command_in_redis_words, bdata::make(engine_names()), protocol) {
    SecuredCluster s(protocol);
    LocalCluster& c = s.c;

    // Before AUTH: PING answers, everything else gets -NOAUTH.
    auto client = anonymous(c, 1);
    BOOST_TEST(client->command({"PING"}).str == "PONG");
    for (const std::vector<std::string>& command :
         {std::vector<std::string>{"GET", "warm-up"}, {"SET", "k", "v"}, {"BGSAVE"}, {"CLIENT", "LIST"}})
        BOOST_TEST(is_error(client->command(command), "NOAUTH Authentication required."), command[0]);

    // A wrong password: -WRONGPASS, and a log line naming the client's address.
    BOOST_TEST(is_error(client->command({"AUTH", "not the password"}),
                        "WRONGPASS invalid username-password pair or user is disabled."));
    BOOST_TEST(is_error(client->command({"GET", "warm-up"}), "NOAUTH Authentication required."));

    // The data password: data commands, not admin ones.
    BOOST_TEST(client->command({"AUTH", kDataPassword}).str == "OK");
    BOOST_TEST(client->command({"GET", "warm-up"}).str == "1");
    BOOST_TEST(client->command({"SET", "k", "v"}).str == "OK");
    BOOST_TEST(is_error(client->command({"BGSAVE"}),
                        "NOPERM this user has no permissions to run the 'bgsave' command"));
    const std::string info = client->command({"CLIENT", "INFO"}).str;
    const auto addr_at = info.find("addr=") + 5;
    const std::string addr = info.substr(addr_at, info.find(' ', addr_at) - addr_at);
    BOOST_TEST(log_shows(c, 1, "client " + addr + ": wrong password", kCloseBound), c.log_tail(1));

    // The admin secret: everything.
    BOOST_TEST(client->command({"AUTH", "admin", kAdminPassword}).str == "OK");
    const kv::RespValue saved = client->command({"BGSAVE"});
    BOOST_TEST(!saved.str.starts_with("NOPERM"), saved.str);
    BOOST_TEST(!saved.str.starts_with("NOAUTH"), saved.str);
    BOOST_TEST(client->command({"GET", "k"}).str == "v");

    // HELLO: refused before AUTH unless it authenticates itself.
    auto hello = anonymous(c, 2);
    BOOST_TEST(hello->command({"HELLO", "2"}).str.starts_with("NOAUTH HELLO must be called"));
    BOOST_TEST(is_error(hello->command({"HELLO", "2", "AUTH", "default", "wrong"}),
                        "WRONGPASS invalid username-password pair or user is disabled."));
    BOOST_TEST((hello->command({"HELLO", "2", "AUTH", "default", kDataPassword}).type == Type::array));
    BOOST_TEST(hello->command({"GET", "k"}).str == "v");

    // ballot-client --pass-file, right and wrong.
    const std::string node = " --node 127.0.0.1:" + std::to_string(c.port(1)) + ":1";
    auto [ok_code, ok_out] =
        ballot_client(node + " --pass-file " + write_secret("data", kDataPassword) + " get k");
    BOOST_TEST(ok_code == 0, ok_out);
    BOOST_TEST(ok_out == "v\n");
    auto [bad_code, bad_out] =
        ballot_client(node + " --pass-file " + write_secret("wrong", "nope") + " get k");
    BOOST_TEST(bad_code == 1, bad_out);
    BOOST_TEST(bad_out.find("WRONGPASS") != std::string::npos, bad_out);
    auto [none_code, none_out] = ballot_client(node + " get k");
    BOOST_TEST(none_code == 1, none_out);
    BOOST_TEST(none_out.find("NOAUTH") != std::string::npos, none_out);
}

BOOST_DATA_TEST_CASE(a_slow_loris_client_is_closed_and_the_node_serves_on, bdata::make(engine_names()),
                     protocol) {
    SecuredCluster s(protocol);
    LocalCluster& c = s.c;
    // One byte at a time, five a second, of a request that would take ~45 s to complete: the
    // node closes it once it has been incomplete for 1 s (--client-partial-request-timeout-ms).
    const std::string request = "*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$200\r\n" + std::string(200, 'x') + "\r\n";
    RawConnection loris(c.port(1));
    std::size_t sent = 0;
    while (!loris.closed && sent + 1 < request.size()) {
        if (!loris.send(request.substr(sent, 1))) break;  // the node reset it
        ++sent;
        loris.receive(200ms);  // the pace; notices the close as soon as it comes
    }
    BOOST_TEST(sent + 1 < request.size(), "the whole request was sent and the connection was never closed");
    BOOST_TEST(log_shows(c, 1, "a request incomplete for", kCloseBound), c.log_tail(1));
    BOOST_TEST(c.command(1, {"SET", "after", "1"}).str == "OK");
    BOOST_TEST((c.command(1, {"GET", "slow"}).type == Type::nil));
}

BOOST_DATA_TEST_CASE(max_clients_refuses_one_too_many_and_keeps_serving_the_rest, bdata::make(engine_names()),
                     protocol) {
    SecuredCluster s(protocol);
    LocalCluster& c = s.c;
    const NodeId node = 2;
    std::vector<std::unique_ptr<kv::RespClient>> clients;
    for (int i = 0; i < kMaxClients; ++i) {
        clients.push_back(std::make_unique<kv::RespClient>());
        clients.back()->set_password(kDataPassword);
        clients.back()->connect("127.0.0.1", c.port(node), 5s);  // AUTHs: the node has accepted it
    }
    // The harness's own short connections are gone once the node counts exactly our 20.
    const auto deadline = std::chrono::steady_clock::now() + kCloseBound;
    std::size_t listed = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        const std::string list = clients[0]->command({"CLIENT", "LIST"}).str;
        listed = static_cast<std::size_t>(std::count(list.begin(), list.end(), '\n'));
        if (listed == kMaxClients) break;
        std::this_thread::sleep_for(20ms);
    }
    BOOST_REQUIRE_EQUAL(listed, static_cast<std::size_t>(kMaxClients));

    RawConnection one_too_many(c.port(node));
    BOOST_TEST(one_too_many.receive_until_closed() == "-ERR max number of clients reached\r\n");
    BOOST_TEST(one_too_many.closed);
    BOOST_TEST(log_shows(c, node, "max number of clients reached", kCloseBound), c.log_tail(node));

    for (int i = 0; i < kMaxClients; ++i) {
        const std::string key = "client-" + std::to_string(i);
        BOOST_TEST(clients[i]->command({"SET", key, std::to_string(i)}).str == "OK");
        BOOST_TEST(clients[i]->command({"GET", key}).str == std::to_string(i));
    }
    // One closes: there is room again.
    clients.pop_back();
    const auto room_deadline = std::chrono::steady_clock::now() + kCloseBound;
    kv::RespValue pong;
    while (std::chrono::steady_clock::now() < room_deadline) {
        pong = c.command(node, {"PING"});
        if (pong.str == "PONG") break;
        std::this_thread::sleep_for(20ms);
    }
    BOOST_TEST(pong.str == "PONG");
}

BOOST_AUTO_TEST_CASE(an_idle_client_is_closed_after_the_idle_timeout) {
    LocalCluster c(kServer, "raft", 1, {"--client-idle-timeout-s", "1"});
    c.start_all();
    BOOST_REQUIRE(c.write_until_ok(1, "k", "v", kElection));
    RawConnection idle(c.port(1));
    BOOST_REQUIRE(idle.send("PING\r\n"));
    BOOST_TEST(idle.receive(5000ms) == "+PONG\r\n");
    BOOST_TEST(idle.receive_until_closed() == "");
    BOOST_TEST(idle.closed);
    BOOST_TEST(log_shows(c, 1, "idle for more than 1000 ms", kCloseBound), c.log_tail(1));
}

// SPEC "Security": at the default --max-clients (10,000), connection 10,001 gets the max-clients
// error while the first 10,000 are still served. It needs about 10,100 file descriptors on each
// side: the test raises its soft limit to the hard one (the server inherits it) and, where the
// hard limit is lower, says so and checks nothing (the 20-client case above still runs). A
// one-node cluster of each engine: the limit is the RESP server's, but each engine's node serves.
BOOST_DATA_TEST_CASE(ten_thousand_and_one_connections_at_the_default_limit, bdata::make(engine_names()),
                     protocol) {
    constexpr std::size_t kDefaultMaxClients = 10000;
    rlimit files{};
    BOOST_REQUIRE(::getrlimit(RLIMIT_NOFILE, &files) == 0);
    if (files.rlim_max < kDefaultMaxClients + 200) {
        BOOST_TEST_MESSAGE("skipped: the hard limit on open files is " << files.rlim_max << ", below 10,200");
        return;
    }
    files.rlim_cur = files.rlim_max;
    BOOST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &files) == 0);

    LocalCluster c(kServer, protocol, 1);
    c.start_all();
    BOOST_REQUIRE_MESSAGE(c.write_until_ok(1, "warm-up", "1", kElection), c.log_tail(1));
    const sockaddr_in to{AF_INET, htons(c.port(1)), {htonl(INADDR_LOOPBACK)}, {}};
    auto open_one = [&] {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        BOOST_REQUIRE(fd >= 0);
        BOOST_REQUIRE_MESSAGE(::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0,
                              "connect: " << std::strerror(errno));
        timeval wait{10, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
        return fd;
    };
    // One PING each, answered: the node has accepted the connection and serves it.
    const std::string ping = "*1\r\n$4\r\nPING\r\n";
    auto answers_ping = [&](int fd) {
        if (::write(fd, ping.data(), ping.size()) != static_cast<ssize_t>(ping.size())) return false;
        char reply[16];
        const ssize_t n = ::read(fd, reply, sizeof reply);
        return n == 7 && std::string(reply, 7) == "+PONG\r\n";
    };
    std::vector<int> fds;
    fds.reserve(kDefaultMaxClients);
    std::size_t served = 0;
    for (std::size_t i = 0; i < kDefaultMaxClients; ++i) {
        fds.push_back(open_one());
        served += answers_ping(fds.back());
    }
    BOOST_TEST(served == kDefaultMaxClients);

    const int extra = open_one();
    std::string refused;
    char buffer[256];
    for (ssize_t n; (n = ::read(extra, buffer, sizeof buffer)) > 0;) refused.append(buffer, static_cast<std::size_t>(n));
    ::close(extra);
    BOOST_TEST(refused == "-ERR max number of clients reached\r\n");

    served = 0;
    for (int fd : fds) served += answers_ping(fd);
    BOOST_TEST(served == kDefaultMaxClients);
    for (int fd : fds) ::close(fd);
}
