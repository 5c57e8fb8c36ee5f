// End-to-end: ballot-client's one error style and one exit code convention (kv/client_main.cc,
// README "ballot-client"), one-shot and piped, against a live Raft cluster and a dead address.
#define BOOST_TEST_MODULE ballot_client_e2e
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "bench/local_cluster.h"

using namespace ballot;
using namespace std::chrono_literals;

namespace {

const std::string kServer = std::string(BALLOT_BIN_DIR) + "/ballot-server";
const std::string kClient = std::string(BALLOT_BIN_DIR) + "/ballot-client";

struct Run {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Runs ballot-client with `args` (shell words), `input` on its stdin.
Run client(const std::string& args, const std::string& input = "") {
    const auto dir = std::filesystem::temp_directory_path();
    const std::string in = dir / "ballot-client-e2e.in", out = dir / "ballot-client-e2e.out",
                      err = dir / "ballot-client-e2e.err";
    std::ofstream(in) << input;
    const int status =
        std::system(("timeout 60 " + kClient + " " + args + " <" + in + " >" + out + " 2>" + err).c_str());
    Run r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    auto slurp = [](const std::string& path) {
        std::ifstream f(path);
        return std::string(std::istreambuf_iterator<char>(f), {});
    };
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(errors_print_one_way_and_exit_codes_follow_one_convention) {
    LocalCluster c(kServer, "raft", 3);
    c.start_all();
    BOOST_REQUIRE(c.write_until_ok(c.leader_or_first(15s), "warm-up", "1", 15s));
    std::string nodes;
    for (NodeId n = 1; n <= 3; ++n)
        nodes += " --node 127.0.0.1:" + std::to_string(c.port(n)) + ":" + std::to_string(n);

    Run ok = client(nodes + " set k v");
    BOOST_TEST(ok.exit_code == 0);
    BOOST_TEST(ok.out == "OK\n");
    BOOST_TEST(ok.err == "");

    // An error reply of the cluster and a mistake caught before sending: the same style, exit 1.
    client(nodes + " set s abc");
    Run reply_error = client(nodes + " incr s");
    BOOST_TEST(reply_error.exit_code == 1);
    BOOST_TEST(reply_error.err == "(error) ERR value is not an integer or out of range\n");
    Run local_error = client(nodes + " get");
    BOOST_TEST(local_error.exit_code == 1);
    BOOST_TEST(local_error.err == "(error) ERR wrong number of arguments for 'get' command\n");

    // No reachable node: the same style, exit 1.
    Run dead = client("--node 127.0.0.1:1:1 --timeout-ms 200 get k");
    BOOST_TEST(dead.exit_code == 1);
    BOOST_TEST(dead.err.starts_with("(error) ERR no node answered within 200 ms"), dead.err);

    // A usage error: exit 2.
    Run usage = client("--bogus");
    BOOST_TEST(usage.exit_code == 2);
    BOOST_TEST(usage.err.starts_with("ballot-client: "), usage.err);

    // Piped (interactive without a terminal): every line runs; exit 1 because one failed.
    Run piped = client(nodes, "set a 1\nincr s\nmget a k missing\nlist\n");
    BOOST_TEST(piped.exit_code == 1);
    BOOST_TEST(piped.out == "OK\n1) 1\n2) v\n3) (nil)\n1) a\n2) k\n3) s\n4) warm-up\n");
    BOOST_TEST(piped.err == "(error) ERR value is not an integer or out of range\n");
    Run clean = client(nodes, "get a\nquit\nget never-run\n");
    BOOST_TEST(clean.exit_code == 0);
    BOOST_TEST(clean.out == "1\n");

    // --help documents list and --timeout-ms.
    Run help = client("--help");
    BOOST_TEST(help.exit_code == 0);
    BOOST_TEST(help.out.find("--timeout-ms N") != std::string::npos);
    BOOST_TEST(help.out.find("  list ") != std::string::npos);
}
