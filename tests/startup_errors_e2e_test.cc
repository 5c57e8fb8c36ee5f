// Every way ballot-server can fail to start, one table row each, run against the real binary:
// the process exits with the code SPEC "ballot-server" gives (2 for bad arguments, with nothing
// created on disk; 1 for a node that cannot start) and says why in exactly one line on stderr,
// never an abort, a stack trace or a run of log lines.
#define BOOST_TEST_MODULE startup_errors_e2e
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <thread>

#include "bench/local_cluster.h"
#include "common/log_store.h"
#include "common/snapshot_file.h"
#include "kv/kv_commands.h"
#include "kv/kv_store.h"
#include "tests/support/temp_dir.h"

using namespace ballot;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace bdata = boost::unit_test::data;
namespace asio = boost::asio;

namespace {

const std::string kServer = std::string(BALLOT_BIN_DIR) + "/ballot-server";
constexpr auto kExitBound = 15s;  // a bound on a hung process, not a speed target

struct Exit {
    int code = -1;  // -1: did not exit by itself within kExitBound (killed)
    std::string stderr_text;
};

// Runs ballot-server with `args` in `cwd`, stdout discarded and stderr captured, and waits for it
// to exit. A process still running after kExitBound is killed by its PID.
Exit run_server(const std::vector<std::string>& args, const fs::path& cwd) {
    fs::path err = cwd / "stderr.txt";
    pid_t pid = ::fork();
    if (pid == 0) {
        if (::chdir(cwd.c_str()) != 0) ::_exit(127);
        int out = ::open("/dev/null", O_WRONLY);
        int errfd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(out, 1);
        ::dup2(errfd, 2);
        std::vector<char*> argv{const_cast<char*>(kServer.c_str())};
        for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(kServer.c_str(), argv.data());
        ::_exit(127);
    }
    Exit result;
    auto deadline = std::chrono::steady_clock::now() + kExitBound;
    int status = 0;
    for (;;) {
        pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) {
            if (WIFEXITED(status))
                result.code = WEXITSTATUS(status);
            else
                result.code = 128 + WTERMSIG(status);  // an abort shows as 134
            break;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(10ms);
    }
    std::ifstream in(err);
    result.stderr_text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return result;
}

// What a case may prepare before the server starts: files in its data dir, a port held open.
struct Setup {
    fs::path root;                     // the case's own temp dir, the server's working dir
    std::vector<std::uint16_t> ports;  // three client ports, free (peers on port + 10000)
    std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> held;  // ports kept busy
    std::unique_ptr<LogStore> locked;                            // a data dir kept in use

    std::string node(int i) const {
        return "127.0.0.1:" + std::to_string(ports[i - 1]) + ":" + std::to_string(i);
    }
    std::vector<std::string> nodes() const {
        return {"--node", node(1), "--node", node(2), "--node", node(3)};
    }
    std::string dir(const std::string& name) const { return (root / name).string(); }

    void hold_port(std::uint16_t port) {
        static asio::io_context io;
        auto a = std::make_unique<asio::ip::tcp::acceptor>(io);
        a->open(asio::ip::tcp::v4());
        a->bind({asio::ip::make_address("127.0.0.1"), port});
        a->listen();
        held.push_back(std::move(a));
    }
    // A data dir written by `engine` (FORMAT and an empty first segment), as a real node leaves it.
    void make_store(const std::string& name, const std::string& engine) const {
        LogStoreOptions o;
        o.engine = engine;
        OpenResult opened = LogStore::open(dir(name), o);
        BOOST_REQUIRE_MESSAGE(opened.ok(), "cannot prepare " << dir(name));
    }
    void write_file(const std::string& path, const std::string& bytes) const {
        std::ofstream(root / path, std::ios::binary | std::ios::trunc) << bytes;
    }
    // A valid snapshot file `root/name`, as a node writes it: one SET applied at index 1.
    void make_snapshot(const std::string& name) const {
        kv::KvStore store;
        store.apply(1, Command{0, 0, 0, kv::encode_payload(kv::KvCommand{kv::Op::set, {"k", "v"}})});
        PosixSnapshotDir dir(root.string());
        std::string error;
        auto writer = SnapshotWriter::start(dir, SnapshotMeta{1, {}}, error);
        BOOST_REQUIRE_MESSAGE(writer, error);
        BOOST_REQUIRE(writer->append(store.snapshot()).empty());
        BOOST_REQUIRE(writer->commit().empty());
        fs::rename(root / snapshot_file_name(1), root / name);
    }
};

struct Case {
    std::string name;
    std::function<std::vector<std::string>(Setup&)> args;  // prepares, then gives the arguments
    int exit_code;
    std::vector<std::string> words;  // each must appear in the one line on stderr
    // Exit 1, yet the data dir must not have been created (checked for every exit-2 row anyway).
    bool creates_nothing = false;
};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& more) {
    a.insert(a.end(), more.begin(), more.end());
    return a;
}

std::vector<std::string> raft(Setup& s, int id, const std::string& data_dir) {
    return with({"--protocol", "raft", "--id", std::to_string(id), "--data-dir", s.dir(data_dir)}, s.nodes());
}

// Kept as a table so that a new failure mode is one more row.
const std::vector<Case> kCases = {
    // Bad arguments: exit 2, nothing created (checked below for every exit-2 row).
    {"unknown_protocol",
     [](Setup& s) {
         return with({"--protocol", "zab", "--id", "1"}, s.nodes());
     },
     2,
     {"unknown --protocol zab", "raft"}},
    {"missing_protocol",
     [](Setup& s) {
         return with({"--id", "1"}, s.nodes());
     },
     2,
     {"missing --protocol"}},
    {"id_not_a_member",
     [](Setup& s) {
         return with({"--protocol", "raft", "--id", "4"}, s.nodes());
     },
     2,
     {"--id 4", "not among the --node ids"}},
    {"id_not_a_number",
     [](Setup& s) {
         return with({"--protocol", "raft", "--id", "one"}, s.nodes());
     },
     2,
     {"--id one", "not a whole number"}},
    {"malformed_node",
     [](Setup& s) {
         return with({"--protocol", "raft", "--id", "1", "--node", "nohost"}, s.nodes());
     },
     2,
     {"--node nohost", "HOST:PORT:ID"}},
    {"port_out_of_range",
     [](Setup&) {
         return std::vector<std::string>{"--protocol", "raft", "--id", "1", "--node", "127.0.0.1:60000:1"};
     },
     2,
     {"60000", "out of range"}},
    {"duplicate_id",
     [](Setup& s) {
         return std::vector<std::string>{
             "--protocol", "raft",    "--id",   "1",
             "--node",     s.node(1), "--node", "127.0.0.1:" + std::to_string(s.ports[1]) + ":1"};
     },
     2,
     {"duplicate", "1"}},
    {"one_address_under_two_names",
     // localhost is 127.0.0.1: node 2 would be node 1 talking to itself.
     [](Setup& s) {
         std::string port = std::to_string(s.ports[0]);
         return std::vector<std::string>{"--protocol", "raft",
                                         "--id",       "1",
                                         "--node",     "localhost:" + port + ":1",
                                         "--node",     "127.0.0.1:" + port + ":2",
                                         "--node",     s.node(3)};
     },
     2,
     {"--node localhost:", ":1 and --node 127.0.0.1:", ":2 are one address"}},
    {"unknown_option",
     [](Setup& s) {
         return with({"--protocol", "raft", "--id", "1", "--bogus"}, s.nodes());
     },
     2,
     {"bogus"}},
    {"bad_election_timeout",
     [](Setup& s) {
         return with({"--protocol", "raft", "--id", "1", "--election-timeout-ms", "600-300"}, s.nodes());
     },
     2,
     {"--election-timeout-ms", "MAX is below MIN"}},
    {"negative_snapshot_entries",
     [](Setup& s) {
         return with({"--protocol", "raft", "--id", "1", "--snapshot-entries", "-1"}, s.nodes());
     },
     2,
     {"--snapshot-entries -1", "not a whole number"}},
    {"snapshot_entries_with_junk",
     [](Setup& s) {
         return with({"--protocol", "raft", "--id", "1", "--snapshot-entries", "100k"}, s.nodes());
     },
     2,
     {"--snapshot-entries 100k", "not a whole number"}},
    {"snapshot_trailing_out_of_range",
     [](Setup& s) {
         return with({"--protocol", "raft", "--id", "1", "--snapshot-trailing", "18446744073709551616"},
                     s.nodes());
     },
     2,
     {"--snapshot-trailing 18446744073709551616", "out of range"}},
    {"restore_over_an_existing_data_dir",
     // A good backup, but the data dir already holds a member's data: refused, untouched.
     [](Setup& s) {
         s.make_snapshot("backup.snap");
         s.make_store("old", "raft");
         return with(raft(s, 1, "old"), {"--restore-from", s.dir("backup.snap")});
     },
     2,
     {"--restore-from", "old", "not empty", "membership guard", "new, empty data dir"}},

    // The node cannot start: exit 1.
    {"data_dir_cannot_be_created",
     [](Setup& s) { return raft(s, 1, "file/node-1"); },
     1,
     {"file/node-1", "cannot create the data dir"}},
    {"data_dir_is_a_file", [](Setup& s) { return raft(s, 1, "file"); }, 1, {"file", "Not a directory"}},
    {"data_dir_of_another_engine",
     [](Setup& s) {
         s.make_store("d", "paxos");
         return raft(s, 1, "d");
     },
     1,
     {"written by engine paxos", "runs engine raft"}},
    {"data_dir_of_another_format",
     [](Setup& s) {
         fs::create_directories(s.root / "d");
         s.write_file("d/FORMAT", "BALLOTFM but from the future");
         return raft(s, 1, "d");
     },
     1,
     {"d/FORMAT"}},
    {"corrupt_log",
     [](Setup& s) {
         s.make_store("d", "raft");
         std::fstream f(s.root / "d/log-0000000001.seg", std::ios::in | std::ios::out | std::ios::binary);
         f.put('X');  // the segment header's magic
         return raft(s, 1, "d");
     },
     1,
     {"log-0000000001.seg", "byte offset 0", "refusing to start"}},
    {"log_lost_after_taking_part",
     [](Setup& s) {
         s.make_store("d", "raft");
         fs::remove(s.root / "d/log-0000000001.seg");
         s.write_file("d/JOINED", "");
         return raft(s, 1, "d");
     },
     1,
     {"log is missing", "replace this member"}},
    {"membership_identity_corrupt",
     [](Setup& s) {
         fs::create_directories(s.root / "d");
         s.write_file("d/IDENTITY", "not an identity");
         return raft(s, 1, "d");
     },
     1,
     {"d/IDENTITY", "not a Ballot file"}},
    {"membership_peers_corrupt",
     [](Setup& s) {
         fs::create_directories(s.root / "d");
         s.write_file("d/PEERS", "BLID....");
         return raft(s, 1, "d");
     },
     1,
     {"d/PEERS"}},
    {"data_dir_in_use",
     [](Setup& s) {
         // This test process holds the dir's LOCK, as a server already running on it would.
         LogStoreOptions o;
         o.engine = "raft";
         s.locked = std::move(LogStore::open(s.dir("d"), o).store);
         return raft(s, 1, "d");
     },
     1,
     {"d", "LOCK"}},
    {"engine_refuses_its_configuration",
     // Both checks of the command line pass (9 ms < 10 ms), but in whole ticks of 4 ms the
     // heartbeat (3 ticks) is not shorter than the election timeout (3 ticks): Raft's
     // constructor throws std::invalid_argument.
     [](Setup& s) {
         return with(raft(s, 1, "d"), {"--heartbeat-ms", "9", "--election-timeout-ms", "10-20"});
     },
     1,
     {"cannot start the raft engine", "heartbeat"}},
    {"restore_from_a_corrupt_file",
     [](Setup& s) {
         s.make_snapshot("backup.snap");
         std::fstream f(s.root / "backup.snap", std::ios::in | std::ios::out | std::ios::binary);
         f.seekp(40);  // in the payload
         f.put('X');
         return with(raft(s, 1, "d"), {"--restore-from", s.dir("backup.snap")});
     },
     1,
     {"--restore-from", "backup.snap", "checksum mismatch"}},
    {"restore_from_a_missing_file",
     [](Setup& s) {
         return with(raft(s, 1, "d"), {"--restore-from", s.dir("no-such.snap")});
     },
     1,
     {"--restore-from", "no-such.snap", "no such file"}},
    // SPEC "Security": the password files are read at start, before anything is created.
    {"requirepass_file_missing",
     [](Setup& s) {
         return with(raft(s, 1, "d"), {"--requirepass-file", s.dir("no-such-password")});
     },
     1,
     {"--requirepass-file", "no-such-password", "cannot read the file"},
     true},
    {"admin_pass_file_empty",
     [](Setup& s) {
         s.write_file("admin-password", "\n");
         return with(raft(s, 1, "d"), {"--admin-pass-file", s.dir("admin-password")});
     },
     1,
     {"--admin-pass-file", "admin-password", "the file is empty"},
     true},
    {"max_clients_zero",
     [](Setup& s) {
         return with(raft(s, 1, "d"), {"--max-clients", "0"});
     },
     2,
     {"--max-clients 0", "must be at least 1"}},
    {"slow_disk_factor_zero",
     [](Setup& s) {
         return with(raft(s, 1, "d"), {"--slow-disk-factor", "0"});
     },
     2,
     {"--slow-disk-factor 0", "must be at least 1"}},
    {"slow_disk_factor_too_large",
     [](Setup& s) {
         return with(raft(s, 1, "d"), {"--slow-disk-factor", "1001"});
     },
     2,
     {"--slow-disk-factor 1001", "must be at most 1000"}},
    {"client_port_in_use",
     [](Setup& s) {
         s.hold_port(s.ports[0]);
         return raft(s, 1, "d");
     },
     1,
     {"cannot listen for clients on 127.0.0.1:", "(--node 127.0.0.1:", std::string("Address already in use")},
     true},
    {"peer_port_in_use",
     [](Setup& s) {
         s.hold_port(static_cast<std::uint16_t>(s.ports[0] + 10000));
         return raft(s, 1, "d");
     },
     1,
     {"cannot listen for peers on 127.0.0.1:", "(--node 127.0.0.1:", "client port + 10000",
      "Address already in use"},
     true},
};

std::vector<std::string> case_names() {
    std::vector<std::string> names;
    for (auto& c : kCases) names.push_back(c.name);
    return names;
}

const Case& find_case(const std::string& name) {
    for (auto& c : kCases)
        if (c.name == name) return c;
    throw std::logic_error("no case " + name);
}

}  // namespace

BOOST_DATA_TEST_CASE(a_startup_failure_is_one_line_and_an_exit_code, bdata::make(case_names()), name) {
    const Case& c = find_case(name);
    test::TempDir tmp("ballot-startup");
    Setup s{tmp.path, pick_free_ports(3), {}, {}};
    s.write_file("file", "a file where a directory should be");
    std::vector<std::string> args = c.args(s);

    Exit e = run_server(args, s.root);
    s.held.clear();
    s.locked.reset();

    BOOST_TEST(e.code == c.exit_code, name << ": exit " << e.code << ", stderr:\n" << e.stderr_text);
    // One line: it ends with the only newline in it.
    BOOST_TEST((!e.stderr_text.empty() && e.stderr_text.find('\n') == e.stderr_text.size() - 1),
               name << ": expected one line on stderr, got:\n"
                    << e.stderr_text);
    BOOST_TEST(e.stderr_text.rfind("ballot-server: ", 0) == 0, name << ": " << e.stderr_text);
    for (auto& word : c.words)
        BOOST_TEST(e.stderr_text.find(word) != std::string::npos,
                   name << ": '" << word << "' not in: " << e.stderr_text);
    if (c.exit_code == 2 || c.creates_nothing) {  // nothing created on disk
        BOOST_TEST(!fs::exists(s.root / "data"), name << ": created ./data");
        BOOST_TEST(!fs::exists(s.root / "d"), name << ": created the data dir");
    }
    if (std::find(args.begin(), args.end(), "--restore-from") != args.end()) {  // a failed restore
        BOOST_TEST(!fs::exists(s.root / "d"), name << ": created the data dir");
        if (fs::exists(s.root / "old"))
            BOOST_TEST(!fs::exists(s.root / "old" / "snapshots"), name << ": wrote into the existing dir");
    }
}
