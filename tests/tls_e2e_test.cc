// End-to-end, on real ballot-server processes: TLS for clients and mutual TLS between peers (SPEC
// "Security: who may talk to the cluster", common/tls.h). Certificates come from
// scripts/make-certs.sh. redis-cli --tls and ballot-client --tls talk to a TLS cluster, a
// plaintext client is dropped with a log line; on every engine a TLS cluster serves writes and
// reads, and a node whose certificate comes from another CA, or names another node id, is
// refused at the handshake while the other two keep serving.
#define BOOST_TEST_MODULE tls_e2e
#include <poll.h>
#include <sys/wait.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "bench/local_cluster.h"
#include "common/tls.h"
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
constexpr auto kLogBound = 15s;
const std::string kServer = std::string(BALLOT_BIN_DIR) + "/ballot-server";
const std::string kClient = std::string(BALLOT_BIN_DIR) + "/ballot-client";
const std::string kMakeCerts = std::string(BALLOT_SOURCE_DIR) + "/scripts/make-certs.sh";

// stdout+stderr and exit code of a shell command, bounded by `timeout 60`.
std::pair<int, std::string> run(const std::string& command) {
    const std::string out = (fs::temp_directory_path() / "ballot-tls-e2e.out").string();
    const int status = std::system(("timeout 60 " + command + " >" + out + " 2>&1").c_str());
    std::ifstream in(out);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1,
            std::string(std::istreambuf_iterator<char>(in), {})};
}

// A certificate directory made by scripts/make-certs.sh for nodes 1-3, removed at the end.
struct Certs {
    explicit Certs(const std::string& name)
        : dir((fs::temp_directory_path() / ("ballot-tls-e2e-" + name + "-" + std::to_string(::getpid())))
                  .string()) {
        fs::remove_all(dir);
        auto [code, out] = run(kMakeCerts + " " + dir + " 1 2 3");
        BOOST_REQUIRE_MESSAGE(code == 0, out);
    }
    ~Certs() { fs::remove_all(dir); }
    std::string ca() const { return dir + "/ca.crt"; }
    // The three TLS flags of a node presenting node-`as`'s certificate.
    std::vector<std::string> flags(NodeId as) const {
        const std::string name = dir + "/node-" + std::to_string(as);
        return {"--tls-cert-file", name + ".crt",        "--tls-key-file",
                name + ".key",     "--tls-ca-cert-file", ca()};
    }
    std::string dir;
};

// A 3-node cluster on `protocol` with TLS, each node with its own certificate from `certs`, and
// command() talking TLS; started, with a leader (where the engine has one).
struct TlsCluster {
    TlsCluster(const std::string& protocol, const Certs& certs) : c(kServer, protocol, 3) {
        for (NodeId id = 1; id <= 3; ++id) c.set_node_extra_args(id, certs.flags(id));
        c.set_tls(client_tls(certs.ca()));
        c.start_all();
        BOOST_REQUIRE_MESSAGE(c.write_until_ok(c.leader_or_first(kElection), "warm-up", "1", kElection),
                              c.log_tail(1));
    }
    LocalCluster c;
};

bool redis_cli_has_tls() {
    return run("redis-cli --help").second.find("--tls") != std::string::npos;
}

// What a plaintext client gets from a TLS port after sending PING: everything until the node
// closes the connection (bounded by kLogBound), and whether it did close it.
std::pair<std::string, bool> plaintext_ping(std::uint16_t port) {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), port});
    asio::write(socket, asio::buffer(std::string("PING\r\n")));
    std::string received;
    const auto deadline = std::chrono::steady_clock::now() + kLogBound;
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{socket.native_handle(), POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        char buffer[4096];
        boost::system::error_code ec;
        const std::size_t n = socket.read_some(asio::buffer(buffer), ec);
        if (ec) return {received, true};
        received.append(buffer, n);
    }
    return {received, false};
}

// Whether writes through node `id` keep being answered (a write and the read of it).
void check_serving(LocalCluster& c, NodeId id, const std::string& key) {
    BOOST_TEST(c.write_until_ok(id, key, "v", kElection), c.log_tail(id));
    BOOST_TEST(c.read_eventually(id, key, kElection).str == "v");
}

}  // namespace

BOOST_DATA_TEST_CASE(clients_talk_tls_and_a_plaintext_client_is_dropped, bdata::make(engine_names()), protocol) {
    Certs certs("clients-" + protocol);
    TlsCluster t(protocol, certs);
    LocalCluster& c = t.c;
    const std::string port = std::to_string(c.port(1));

    if (redis_cli_has_tls()) {
        const std::string cli = "redis-cli --tls --cacert " + certs.ca() + " -p " + port;
        auto [set_code, set_out] = run(cli + " SET greeting hello");
        BOOST_TEST(set_code == 0, set_out);
        BOOST_TEST(set_out == "OK\n");
        auto [get_code, get_out] = run(cli + " GET greeting");
        BOOST_TEST(get_out == "hello\n");
    } else {
        BOOST_TEST_MESSAGE("redis-cli has no --tls: skipping its part");
        BOOST_TEST(c.command(1, {"SET", "greeting", "hello"}).str == "OK");
    }

    // ballot-client --tls --cacert; without them it gets nowhere.
    const std::string node = " --node 127.0.0.1:" + port + ":1 --timeout-ms 3000";
    auto [ok_code, ok_out] = run(kClient + node + " --tls --cacert " + certs.ca() + " get greeting");
    BOOST_TEST(ok_code == 0, ok_out);
    BOOST_TEST(ok_out == "hello\n");
    auto [plain_code, plain_out] = run(kClient + node + " get greeting");
    BOOST_TEST(plain_code == 1, plain_out);

    // A plaintext client: no answer, the connection dropped, its address logged.
    auto [received, closed] = plaintext_ping(c.port(1));
    BOOST_TEST(received.find("PONG") == std::string::npos, received);
    BOOST_TEST(closed);
    BOOST_TEST(log_shows(c, 1, "TLS handshake failed", kLogBound), c.log_tail(1));
    BOOST_TEST(c.command(1, {"GET", "greeting"}).str == "hello");
}

BOOST_AUTO_TEST_CASE(one_client_too_many_gets_the_max_clients_error_inside_tls) {
    Certs certs("max-clients");
    LocalCluster c(kServer, "raft", 1, {"--max-clients", "2"});
    c.set_node_extra_args(1, certs.flags(1));
    const TlsContext tls = client_tls(certs.ca());
    c.set_tls(tls);
    c.start_all();
    BOOST_REQUIRE_MESSAGE(c.write_until_ok(1, "k", "v", kElection), c.log_tail(1));
    std::vector<std::unique_ptr<kv::RespClient>> clients;
    for (int i = 0; i < 2; ++i) {
        clients.push_back(std::make_unique<kv::RespClient>());
        clients.back()->set_tls(tls);
        clients.back()->connect("127.0.0.1", c.port(1), 5s);
    }
    // The harness's own short connections are gone once the node counts exactly our two.
    const auto deadline = std::chrono::steady_clock::now() + kLogBound;
    std::string list;
    while (std::chrono::steady_clock::now() < deadline) {
        list = clients[0]->command({"CLIENT", "LIST"}).str;
        if (std::count(list.begin(), list.end(), '\n') == 2) break;
        std::this_thread::sleep_for(20ms);
    }
    BOOST_REQUIRE_EQUAL(std::count(list.begin(), list.end(), '\n'), 2);
    kv::RespClient third;
    third.set_tls(tls);
    third.connect("127.0.0.1", c.port(1), 5s);  // the TLS handshake completes, then the error
    kv::RespValue refused;
    try {
        refused = third.receive();
    } catch (const kv::RespClientError& e) {
        BOOST_FAIL(std::string("no error reply over TLS: ") + e.what());
    }
    BOOST_TEST(refused.str == "ERR max number of clients reached");
    BOOST_TEST(clients[1]->command({"GET", "k"}).str == "v");
}

BOOST_AUTO_TEST_CASE(tls_flags_are_all_three_or_none_and_must_load) {
    Certs certs("flags");
    std::vector<std::string> base = {
        "--protocol", "raft",          "--id",       "1",
        "--node",     "127.0.0.1:1:1", "--data-dir", certs.dir + "/never-created"};
    auto only_cert = base;
    only_cert.insert(only_cert.end(), {"--tls-cert-file", certs.dir + "/node-1.crt"});
    auto [status, err] = LocalCluster::run_server(kServer, only_cert);
    BOOST_TEST(WEXITSTATUS(status) == 2, err);
    BOOST_TEST(err.find("missing --tls-key-file, --tls-ca-cert-file") != std::string::npos, err);

    auto wrong_key = base;
    const auto flags = certs.flags(1);
    wrong_key.insert(wrong_key.end(), flags.begin(), flags.end());
    wrong_key[wrong_key.size() - 3] = certs.dir + "/node-2.key";  // --tls-key-file's value
    auto [key_status, key_err] = LocalCluster::run_server(kServer, wrong_key);
    BOOST_TEST(WEXITSTATUS(key_status) == 1, key_err);
    BOOST_TEST(key_err.find("--tls-key-file " + certs.dir +
                            "/node-2.key: cannot load it (key values mismatch") != std::string::npos,
               key_err);

    auto missing_ca = base;
    missing_ca.insert(missing_ca.end(), flags.begin(), flags.end());
    missing_ca.back() = certs.dir + "/no-such-ca.crt";
    auto [ca_status, ca_err] = LocalCluster::run_server(kServer, missing_ca);
    BOOST_TEST(WEXITSTATUS(ca_status) == 1, ca_err);
    BOOST_TEST(ca_err.find("--tls-ca-cert-file " + certs.dir + "/no-such-ca.crt: cannot load it") !=
                   std::string::npos,
               ca_err);
    BOOST_TEST(!fs::exists(certs.dir + "/never-created"));
}

BOOST_DATA_TEST_CASE(a_tls_cluster_serves_and_refuses_peers_it_cannot_trust, bdata::make(engine_names()),
                     protocol) {
    Certs certs("peers-" + protocol);
    Certs other("other-ca-" + protocol);  // another cluster's CA
    TlsCluster t(protocol, certs);
    LocalCluster& c = t.c;
    check_serving(c, 1, "before");
    check_serving(c, 3, "before-3");

    // Node 3 comes back with a certificate (and CA) of another cluster: nodes 1 and 2 dial it and
    // refuse it at the TLS handshake; they keep serving.
    c.signal(3, SIGTERM);
    c.set_node_extra_args(3, other.flags(3));
    c.start(3);
    BOOST_TEST(log_shows(c, 1, "peer TLS handshake with node 3 at", kLogBound), c.log_tail(1));
    BOOST_TEST(log_shows(c, 1, "certificate verify failed", kLogBound), c.log_tail(1));
    check_serving(c, 1, "other-ca");
    check_serving(c, 2, "other-ca-2");

    // Node 3 with node 2's certificate, from the right CA: refused, as it does not name node-3.
    c.signal(3, SIGTERM);
    c.set_node_extra_args(3, certs.flags(2));
    c.start(3);
    BOOST_TEST(log_shows(c, 1, "claims to be node 3, but its certificate (/CN=node-2) does not name node-3",
                         kLogBound),
               c.log_tail(1));
    check_serving(c, 2, "wrong-id");

    // With its own certificate it is admitted again and catches up.
    c.signal(3, SIGTERM);
    c.set_node_extra_args(3, certs.flags(3));
    c.start(3);
    BOOST_TEST(c.read_eventually(3, "wrong-id", kElection).str == "v", c.log_tail(3));
}
