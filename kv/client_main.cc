// ballot-client: talk to a Ballot cluster from a shell (SPEC "ballot-client").
//
//   ballot-client --node HOST:PORT:ID [--node ...]            interactive
//   ballot-client --node HOST:PORT:ID [--node ...] set k v    one shot
//
// The nodes are tried in order; a connection failure, a timeout or a -TRYAGAIN / -CLUSTERDOWN /
// -LOADING reply moves on to the next node, for at most --timeout-ms in total. Writes carry an
// exactly-once stamp (client id, seq, acked_below; Raft dissertation §6.3) so that a write
// retried on another node is applied once: the wire form is
//
//   BALLOT.STAMPED <client_id> <seq> <acked_below> <COMMAND> <args...>
//
// which the server front end unwraps.
//
// One error style: every error about a command (the cluster's error reply, a command the table
// refuses before sending it, no node reachable) is printed as redis-cli prints an error reply,
// `(error) CODE message`, on stderr; replies go to stdout. Usage errors (bad options) print
// `ballot-client: message` and the usage on stderr.
// One exit code convention, the same for a one-shot command and for a whole interactive session
// (or a script piped into it): 0 when every command succeeded, 1 when any command ended in an
// error, 2 for a usage error.
//
// Interactive mode on a terminal has line editing, command-name completion (Tab) and history
// (libedit; ~/.ballot_client_history, as redis-cli keeps ~/.rediscli_history).
//
//   ballot-client --node ... lock NAME [--ttl-ms N] -- CMD ARGS...
//   ballot-client --node ... elect NAME VALUE [--ttl-ms N] -- CMD ARGS...
//
// run CMD while holding the lock (or leading the election) NAME (SPEC "Coordination"): see
// run_holding(). The `--` tells them from the LOCK and ELECT commands of the cluster.
#include <editline/readline.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/tls.h"
#include "common/version.h"
#include "kv/auth.h"
#include "kv/kv_commands.h"
#include "kv/kv_store.h"
#include "kv/resp.h"
#include "kv/resp_client.h"

namespace po = boost::program_options;
using namespace ballot::kv;
using ballot::client_tls;
using ballot::TlsContext;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

// One connect attempt may not take longer than this, so a dead node does not eat the budget.
constexpr milliseconds kConnectTimeout{1000};
// One request may wait this long for its reply before the next node is tried. Longer than the
// server's default request timeout (3000 ms), after which the node itself answers -TRYAGAIN.
constexpr milliseconds kReplyTimeout{4000};
// Pause after every node failed once, doubling up to the maximum.
constexpr milliseconds kBackoffMin{50};
constexpr milliseconds kBackoffMax{1000};

const char* const kUsage =
    "usage: ballot-client --node HOST:PORT:ID [--node ...] [--timeout-ms N] [--pass-file FILE]\n"
    "                     [--tls --cacert FILE] [COMMAND [ARG ...]]\n"
    "       ballot-client --node ... lock NAME [--ttl-ms N] -- CMD [ARG ...]\n"
    "       ballot-client --node ... elect NAME VALUE [--ttl-ms N] -- CMD [ARG ...]\n"
    "  with a COMMAND: run it once and exit; without: interactive (line editing, history)\n"
    "  lock / elect: take a lease of N ms (default 10000), wait for the lock (or leadership) NAME,\n"
    "                run CMD with BALLOT_FENCING_TOKEN in its environment while keeping the lease\n"
    "                alive every N/3 ms, stop CMD (SIGTERM, SIGKILL 5 s later) if the lease is\n"
    "                lost, release at the end; the exit code is CMD's (128 + signal if killed)\n"
    "  --node HOST:PORT:ID  a cluster member's client address and id; repeat for each member.\n"
    "                       Nodes are tried in order; a failed or busy node moves on to the next.\n"
    "  --timeout-ms N       give up on a command after N ms in total, across every node and\n"
    "                       retry (default 10000)\n"
    "  --pass-file FILE     AUTH with the password in FILE on every connection (a cluster\n"
    "                       started with --requirepass-file; a file keeps it out of `ps`)\n"
    "  --tls --cacert FILE  talk TLS (a cluster started with --tls-cert-file), verifying the\n"
    "                       nodes' certificates against the CA in FILE (as redis-cli does)\n"
    "  exit code: 0 every command succeeded, 1 a command ended in an error (an error reply or no\n"
    "  reachable node), 2 a usage error";

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct NodeAddress {
    std::string host;
    std::uint16_t port = 0;
    std::uint64_t id = 0;
};

std::optional<std::uint64_t> parse_number(const std::string& s) {
    if (s.empty() || s.size() > 19 ||
        !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    return std::stoull(s);
}

// HOST:PORT:ID; HOST may be a name, an IPv4 address or a bracketed IPv6 address ([::1]).
NodeAddress parse_node(const std::string& text) {
    const auto bad = [&](const std::string& why) {
        return UsageError("bad --node '" + text + "': " + why + " (expected HOST:PORT:ID)");
    };
    const auto id_colon = text.rfind(':');
    if (id_colon == std::string::npos || id_colon == 0) throw bad("missing port and id");
    const auto port_colon = text.rfind(':', id_colon - 1);
    if (port_colon == std::string::npos) throw bad("missing port or id");
    NodeAddress node;
    node.host = text.substr(0, port_colon);
    if (node.host.size() >= 2 && node.host.front() == '[' && node.host.back() == ']') {
        node.host = node.host.substr(1, node.host.size() - 2);
    }
    if (node.host.empty()) throw bad("empty host");
    const auto port = parse_number(text.substr(port_colon + 1, id_colon - port_colon - 1));
    if (!port || *port < 1 || *port > 65535) throw bad("port must be a number from 1 to 65535");
    node.port = static_cast<std::uint16_t>(*port);
    const auto id = parse_number(text.substr(id_colon + 1));
    if (!id || *id < 1) throw bad("id must be a number >= 1");
    node.id = *id;
    return node;
}

// Prints a reply the way redis-cli does on a terminal (bulk strings unquoted).
void print_reply(std::ostream& out, const RespValue& v, const std::string& first = "",
                 const std::string& rest = "") {
    switch (v.type) {
        case RespValue::Type::simple:
            out << first << v.str << '\n';
            return;
        case RespValue::Type::error:
            out << first << "(error) " << v.str << '\n';
            return;
        case RespValue::Type::integer:
            out << first << "(integer) " << v.integer << '\n';
            return;
        case RespValue::Type::bulk:
            out << first << v.str << '\n';
            return;
        case RespValue::Type::nil:
            out << first << "(nil)" << '\n';
            return;
        case RespValue::Type::array: {
            if (v.elements.empty()) {
                out << first << "(empty array)" << '\n';
                return;
            }
            const std::size_t width = std::to_string(v.elements.size()).size();
            for (std::size_t i = 0; i < v.elements.size(); ++i) {
                std::string label = std::to_string(i + 1);
                label = std::string(width - label.size(), ' ') + label + ") ";
                print_reply(out, v.elements[i], (i == 0 ? first : rest) + label,
                            rest + std::string(label.size(), ' '));
            }
            return;
        }
    }
}

// Every error about a command, one way (see the top of this file): `text` is CODE message.
void print_error(std::string_view text) {
    std::cout << std::flush;
    std::cerr << "(error) " << text << '\n';
}

// A reply: errors as print_error, everything else on stdout. True if it was not an error.
bool print_outcome(const RespValue& reply) {
    if (reply.is_error()) {
        print_error(reply.str);
        return false;
    }
    print_reply(std::cout, reply);
    return true;
}

std::uint64_t random_client_id() {
    std::random_device device;
    std::uint64_t id = 0;
    while (id == 0) id = (std::uint64_t{device()} << 32) ^ device();
    return id;
}

bool retryable(const RespValue& reply) {
    const std::string_view code = reply.error_code();
    return code == "TRYAGAIN" || code == "CLUSTERDOWN" || code == "LOADING";
}

class NoReachableNode : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The client's view of the cluster: which node it talks to, and its exactly-once session.
class ClusterClient {
public:
    ClusterClient(std::vector<NodeAddress> nodes, milliseconds total_timeout)
        : nodes_(std::move(nodes)), total_timeout_(total_timeout), client_id_(random_client_id()) {}

    const NodeAddress& current() const { return nodes_[current_]; }
    void set_password(std::string password) { client_.set_password(std::move(password)); }
    void set_tls(TlsContext tls) { client_.set_tls(std::move(tls)); }

    // Runs one validated command (`args` as the user typed them), retrying across nodes.
    // `blocking`: a command that may wait in the cluster (LOCK, ELECT): this long for a reply
    // before it is asked again (with the same stamp) on the next node; a node that kept it
    // waiting that long was up, so the total timeout starts again.
    RespValue run(const KvCommand& command, const std::vector<std::string>& args,
                  std::optional<milliseconds> blocking = std::nullopt) {
        std::vector<std::string> wire;
        if (command.kind() == CommandKind::write) {
            // §6.3: every reply below `seq` has been received (this client runs one command at a
            // time), so the cluster may forget them. A retry of this command keeps its stamp.
            const std::uint64_t seq = next_seq_++;
            wire = {"BALLOT.STAMPED", std::to_string(client_id_), std::to_string(seq), std::to_string(seq)};
        }
        wire.insert(wire.end(), args.begin(), args.end());
        return run_with_retries(wire, blocking);
    }

private:
    RespValue run_with_retries(const std::vector<std::string>& wire, std::optional<milliseconds> blocking) {
        auto deadline = Clock::now() + total_timeout_;
        std::string last_error = "no attempt finished";
        milliseconds backoff = kBackoffMin;
        std::size_t failures_this_round = 0;
        for (;;) {
            const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
            if (left <= milliseconds(0)) break;
            const NodeAddress& node = nodes_[current_];
            auto asked = Clock::now();
            try {
                if (!client_.connected())
                    client_.connect(node.host, node.port, std::min(left, kConnectTimeout));
                asked = Clock::now();
                client_.set_timeout(blocking ? *blocking
                                             : std::max(milliseconds(1), std::min(left, kReplyTimeout)));
                RespValue reply = client_.command(wire);
                if (!retryable(reply)) return reply;
                last_error = node.host + ":" + std::to_string(node.port) + " answered -" + reply.str;
            } catch (const RespAuthError& e) {
                throw NoReachableNode(std::string("ERR ") + e.what());  // every node has the same password
            } catch (const RespClientError& e) {
                last_error = e.what();
                if (blocking && Clock::now() - asked >= *blocking) deadline = Clock::now() + total_timeout_;
                client_.close();
            }
            // Move on to the next node; after a full round of failures, pause before the next.
            client_.close();
            current_ = (current_ + 1) % nodes_.size();
            if (++failures_this_round == nodes_.size()) {
                failures_this_round = 0;
                const auto pause =
                    std::min(backoff, std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
                if (pause > milliseconds(0)) std::this_thread::sleep_for(pause);
                backoff = std::min(backoff * 2, kBackoffMax);
            }
        }
        throw NoReachableNode("ERR no node answered within " + std::to_string(total_timeout_.count()) +
                              " ms (last error: " + last_error + ")");
    }

    std::vector<NodeAddress> nodes_;
    milliseconds total_timeout_;
    std::size_t current_ = 0;
    RespClient client_;
    std::uint64_t client_id_;
    std::uint64_t next_seq_ = 1;
};

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// Turns what the user typed into the command to send (`list` is KEYS *) and checks it with the
// server's own table, so a mistake is reported in Redis's words without a round trip.
Validation prepare(const std::vector<std::string>& words, std::vector<std::string>& args) {
    args = words;
    if (!words.empty() && lower(words[0]) == "list") {
        if (words.size() != 1) return Validation{{}, "ERR wrong number of arguments for 'list' command"};
        args = {"KEYS", "*"};
    }
    return validate(args);
}

void print_help(std::ostream& out) {
    out << "commands (any case; a value with spaces in \"double quotes\"):\n"
           "  set <key> <value> | get <key> | del <key> [key ...] | append <key> <value> | incr <key>\n"
           "  mset <key> <value> [key value ...] | mget <key> [key ...] | exists <key> [key ...]\n"
           "  strlen <key> | getset <key> <value> | getdel <key> | setnx <key> <value>\n"
           "  incrby <key> <n> | decr <key> | decrby <key> <n>\n"
           "  pttl|ttl <key> | pexpire|expire <key> <n> | persist <key> | lease grant <ttl_ms>\n"
           "  lease keepalive|ttl|revoke <id>\n"
           "  lock <name> <lease> [wait <ms>] | unlock <name> <token> | leader <name>\n"
           "  elect <name> <lease> <value> [wait <ms>] | resign <name> <token>\n"
           "  set <key> <value> ... fence <name> <token>   only while <token> holds <name>\n"
           "  list                 every key, sorted (the same as keys *)\n"
           "  keys <pattern> | dbsize | ping [message] | echo <message> | info | bgsave | lastsave\n"
           "  help | quit | exit   (interactive only)\n";
}

// LOCK and ELECT may wait in the cluster for as long as their WAIT (for ever without one): their
// reply is awaited this long before they are asked again (the same stamp, so applied once, and the
// same place in the queue) on the next node.
std::optional<milliseconds> blocking_reply_timeout(const KvCommand& command) {
    constexpr milliseconds kLongWait{30000};
    if (command.op != Op::lock && command.op != Op::elect) return std::nullopt;
    const std::string& wait = command.args.back();  // validated: "" or a number of ms
    return wait.empty() ? kLongWait : std::min(milliseconds(std::stoll(wait)), kLongWait) + kReplyTimeout;
}

// Runs one command as typed; prints its reply or its error. True if it succeeded.
bool run_words(ClusterClient& cluster, const std::vector<std::string>& words) {
    std::vector<std::string> args;
    Validation v = prepare(words, args);
    if (!v.ok()) {
        print_error(v.error);  // the error the cluster would give, without the round trip
        return false;
    }
    try {
        return print_outcome(cluster.run(v.command, args, blocking_reply_timeout(v.command)));
    } catch (const NoReachableNode& e) {
        print_error(e.what());
        return false;
    }
}

// ---- lock / elect: run a command while holding a lock or leading an election -----------------

constexpr std::int64_t kDefaultHoldTtlMs = 10000;
// SIGTERM first, then SIGKILL this much later: time for CMD to stop cleanly, as systemd's
// TimeoutStopSec (shorter: a fenced CMD has already lost its right to write).
constexpr milliseconds kStopGrace{5000};
constexpr milliseconds kChildPoll{20};
// A shell's exit code for a command that could not be started.
constexpr int kExitCannotRun = 127;

// `lock NAME [--ttl-ms N] -- CMD...` / `elect NAME VALUE [--ttl-ms N] -- CMD...`.
struct HoldRequest {
    bool elect = false;
    std::string name;
    std::string value;
    std::int64_t ttl_ms = kDefaultHoldTtlMs;
    std::vector<std::string> command;
};

// nullopt if `words` is not that form (no `--`: the LOCK / ELECT commands themselves);
// throws UsageError if it is, but malformed.
std::optional<HoldRequest> parse_hold(const std::vector<std::string>& words) {
    if (words.empty()) return std::nullopt;
    HoldRequest r;
    const std::string verb = lower(words[0]);
    r.elect = verb == "elect";
    auto dashes = std::find(words.begin(), words.end(), "--");
    if ((verb != "lock" && !r.elect) || dashes == words.end()) return std::nullopt;
    const std::string usage = r.elect ? "elect NAME VALUE [--ttl-ms N] -- CMD [ARG ...]"
                                      : "lock NAME [--ttl-ms N] -- CMD [ARG ...]";
    std::vector<std::string> positional;
    for (auto it = words.begin() + 1; it != dashes; ++it) {
        if (*it != "--ttl-ms") {
            positional.push_back(*it);
            continue;
        }
        auto ttl = ++it == dashes ? std::nullopt : parse_number(*it);
        if (!ttl || *ttl < 3 || *ttl > 86400000)
            throw UsageError("--ttl-ms takes a number of ms, 3 to 86400000");
        r.ttl_ms = static_cast<std::int64_t>(*ttl);
    }
    r.command.assign(dashes + 1, words.end());
    if (positional.size() != (r.elect ? 2u : 1u) || r.command.empty()) throw UsageError("usage: " + usage);
    r.name = positional[0];
    if (r.elect) r.value = positional[1];
    return r;
}

// Keeps a lease alive from its own thread and connection (the main one may be blocked in LOCK):
// LEASE KEEPALIVE every TTL/3. The lease counts as lost once the cluster says it is gone, or once
// no keep-alive has succeeded for a whole TTL since the last good one was sent (it may be gone,
// and a holder that cannot tell must stop, or its writes may race the next holder's).
class LeaseKeeper {
public:
    LeaseKeeper(ClusterClient& cluster, std::string lease, milliseconds ttl)
        : cluster_(cluster), lease_(std::move(lease)), ttl_(ttl), thread_([this] { keep(); }) {}
    ~LeaseKeeper() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        thread_.join();
    }
    bool lost() const { return lost_; }
    const std::string& why() const { return why_; }

private:
    void keep() {
        Validation keepalive = validate({"LEASE", "KEEPALIVE", lease_});
        auto last_ok = Clock::now();
        std::unique_lock lock(mutex_);
        while (!wake_.wait_for(lock, ttl_ / 3, [this] { return stop_; })) {
            lock.unlock();
            const auto sent = Clock::now();
            try {
                RespValue reply = cluster_.run(keepalive.command, {"LEASE", "KEEPALIVE", lease_});
                if (reply.type == RespValue::Type::integer) last_ok = sent;
                if (reply.is_error()) why_ = reply.str;
            } catch (const NoReachableNode& e) {
                why_ = e.what();
            }
            lock.lock();
            if (why_ == kLeaseNotFound || Clock::now() - last_ok >= ttl_) {
                lost_ = true;
                return;
            }
        }
    }

    ClusterClient& cluster_;
    std::string lease_;
    milliseconds ttl_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::atomic<bool> lost_{false};
    std::string why_;  // written by the thread before lost_ is set
    std::thread thread_;
};

// SIGTERM, SIGINT or SIGHUP to ballot-client while CMD runs: passed on to CMD (as SIGTERM), so
// that stopping the client stops the command instead of leaving it running without the lock.
volatile std::sig_atomic_t g_stop_requested = 0;

void request_stop(int) {
    g_stop_requested = 1;
}

void forward_stop_signals() {
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigemptyset(&action.sa_mask);
    for (int signal : {SIGTERM, SIGINT, SIGHUP}) ::sigaction(signal, &action, nullptr);
}

// A waitpid status as a shell reports it: the exit code, or 128 + the signal.
int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : kExitError;
}

// Waits for CMD to exit; if the lease is lost first (or ballot-client is asked to stop), stops
// it: SIGTERM, then SIGKILL after the grace. Its exit code either way.
int supervise(pid_t pid, const LeaseKeeper& keeper, const std::string& lease) {
    int status = 0;
    std::optional<Clock::time_point> terminated_at;
    for (;;) {
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) return exit_code_of(status);
        if (done < 0) return kExitError;
        if ((keeper.lost() || g_stop_requested) && !terminated_at) {
            if (keeper.lost())
                print_error("ERR lease " + lease + " lost (" + keeper.why() +
                            "): stopping the command (SIGTERM)");
            ::kill(pid, SIGTERM);
            terminated_at = Clock::now();
        }
        if (terminated_at && Clock::now() - *terminated_at >= kStopGrace) {
            print_error("ERR the command did not stop within " + std::to_string(kStopGrace.count()) +
                        " ms: SIGKILL");
            ::kill(pid, SIGKILL);
            terminated_at = Clock::time_point::max() - kStopGrace;  // once
        }
        std::this_thread::sleep_for(kChildPoll);
    }
}

// Starts CMD with BALLOT_FENCING_TOKEN=token in its environment; nullopt if it cannot start.
std::optional<pid_t> start_command(const std::vector<std::string>& command, std::int64_t token) {
    ::setenv("BALLOT_FENCING_TOKEN", std::to_string(token).c_str(), 1);
    std::vector<char*> argv;
    for (const std::string& word : command) argv.push_back(const_cast<char*>(word.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int error = ::posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
    if (error != 0) {
        print_error("ERR cannot run " + command[0] + ": " + std::strerror(error));
        return std::nullopt;
    }
    return pid;
}

// One command of the hold sequence; prints and throws the error if the reply is one.
RespValue must(ClusterClient& cluster, const std::vector<std::string>& args,
               std::optional<milliseconds> blocking = std::nullopt) {
    Validation v = validate(args);
    if (!v.ok()) throw NoReachableNode(v.error);
    RespValue reply = cluster.run(v.command, args, blocking);
    if (reply.is_error()) throw NoReachableNode(reply.str);
    return reply;
}

// lock / elect (see the usage): a lease, the lock with a fencing token, CMD while it is held,
// and LEASE REVOKE at the end, which releases the lock (and wakes the next waiter) in one write.
int run_holding(ClusterClient& cluster, ClusterClient& keepalive_cluster, const HoldRequest& r) {
    try {
        const milliseconds ttl(r.ttl_ms);
        const std::string lease =
            std::to_string(must(cluster, {"LEASE", "GRANT", std::to_string(r.ttl_ms)}).integer);
        int code = kExitError;
        {
            LeaseKeeper keeper(keepalive_cluster, lease, ttl);
            std::vector<std::string> acquire = {r.elect ? "ELECT" : "LOCK", r.name, lease};
            if (r.elect) acquire.push_back(r.value);
            // Waits as long as it takes; asked again (same stamp, applied once) after a TTL of silence.
            RespValue token = must(cluster, acquire, std::max(ttl, kReplyTimeout));
            if (token.type != RespValue::Type::integer)
                throw NoReachableNode("ERR unexpected reply to " + acquire[0]);
            forward_stop_signals();
            if (auto pid = start_command(r.command, token.integer))
                code = supervise(*pid, keeper, lease);
            else
                code = kExitCannotRun;
        }
        try {
            must(cluster, {"LEASE", "REVOKE", lease});
        } catch (const NoReachableNode& e) {
            // Already gone (lost), or the cluster is away: it then expires by its TTL.
            if (e.what() != kLeaseNotFound) print_error(std::string("ERR release: ") + e.what());
        }
        return code;
    } catch (const NoReachableNode& e) {
        print_error(e.what());
        return kExitError;
    }
}

// ---- Line editing (libedit's readline interface) ----------------------------------------------

// Tab completes a command name (the first word) from the server's own table, plus `list`.
char* complete_command_name(const char* text, int state) {
    static std::vector<std::string> names;
    static std::size_t next = 0;
    if (state == 0) {
        names = {"list", "help", "quit"};
        for (const CommandSpec& spec : command_table()) names.emplace_back(spec.name);
        next = 0;
    }
    const std::string prefix = lower(text);
    while (next < names.size()) {
        const std::string& name = names[next++];
        if (name.compare(0, prefix.size(), prefix) == 0) return ::strdup(name.c_str());
    }
    return nullptr;
}

char** complete(const char* text, int start, int /*end*/) {
    if (start != 0) return nullptr;
    return rl_completion_matches(text, complete_command_name);
}

std::string history_path() {
    const char* home = std::getenv("HOME");
    return home == nullptr ? std::string() : std::string(home) + "/.ballot_client_history";
}

// The next line the user typed; nullopt at end of input. On a terminal through libedit (editing,
// history), else a plain read, so scripts piped in work the same.
std::optional<std::string> read_line(bool tty, const std::string& prompt) {
    if (!tty) {
        std::string line;
        if (!std::getline(std::cin, line)) return std::nullopt;
        return line;
    }
    char* raw = ::readline(prompt.c_str());
    if (raw == nullptr) return std::nullopt;
    std::string line(raw);
    std::free(raw);
    if (line.find_first_not_of(" \t") != std::string::npos) {
        ::add_history(line.c_str());
        if (const std::string path = history_path(); !path.empty())
            ::write_history(path.c_str());  // libedit's append_history duplicates entries
    }
    return line;
}

int interactive(ClusterClient& cluster) {
    const bool tty = isatty(STDIN_FILENO) != 0;
    if (tty) {
        rl_attempted_completion_function = complete;
        if (const std::string path = history_path(); !path.empty()) {
            ::stifle_history(1000);
            ::read_history(path.c_str());  // absent the first time: nothing to load
        }
    }
    bool all_ok = true;
    for (;;) {
        const std::string prompt =
            cluster.current().host + ":" + std::to_string(cluster.current().port) + "> ";
        std::optional<std::string> line = read_line(tty, prompt);
        if (!line) break;
        auto words = split_inline_args(*line);
        if (!words) {
            print_error("ERR Invalid argument(s): unbalanced quotes");
            all_ok = false;
            continue;
        }
        if (words->empty()) continue;
        const std::string name = lower((*words)[0]);
        if (name == "quit" || name == "exit") break;
        if (name == "help") {
            print_help(std::cout);
            continue;
        }
        all_ok &= run_words(cluster, *words);
    }
    return all_ok ? kExitOk : kExitError;
}

// Splits argv into options (given to program_options) and the command that follows them, so a
// command argument that starts with '-' (`set k -5`) is never mistaken for an option.
void split_argv(int argc, char** argv, std::vector<std::string>& options, std::vector<std::string>& command) {
    int i = 1;
    while (i < argc) {
        const std::string a = argv[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (a.empty() || a[0] != '-') break;
        options.push_back(a);
        ++i;
        if ((a == "--node" || a == "--timeout-ms" || a == "--pass-file" || a == "--cacert") && i < argc)
            options.push_back(argv[i++]);
    }
    for (; i < argc; ++i) command.emplace_back(argv[i]);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> option_words, command;
    split_argv(argc, argv, option_words, command);

    std::vector<NodeAddress> nodes;
    std::int64_t timeout_ms = 10000;
    std::string password;
    TlsContext tls;
    try {
        po::options_description desc("options");
        desc.add_options()("help,h", "show usage")("version", "print the version and exit")(
            "node", po::value<std::vector<std::string>>(),
            "a cluster member, HOST:PORT:ID (repeat for each)")(
            "timeout-ms", po::value<std::int64_t>(&timeout_ms), "give up after this long (default 10000)")(
            "pass-file", po::value<std::string>(), "AUTH with the password in this file")("tls", "talk TLS")(
            "cacert", po::value<std::string>(), "the CA that signed the nodes' certificates");
        po::variables_map vm;
        po::store(po::command_line_parser(option_words).options(desc).run(), vm);
        po::notify(vm);
        if (vm.count("help")) {
            std::cout << kUsage << "\n\n";
            print_help(std::cout);
            return kExitOk;
        }
        if (vm.count("version")) {
            std::cout << ballot::version_line("ballot-client") << '\n';
            return kExitOk;
        }
        if (!vm.count("node")) throw UsageError("at least one --node HOST:PORT:ID is required");
        for (const std::string& text : vm["node"].as<std::vector<std::string>>()) {
            NodeAddress node = parse_node(text);
            for (const NodeAddress& other : nodes) {
                if (other.id == node.id) throw UsageError("duplicate node id " + std::to_string(node.id));
            }
            nodes.push_back(std::move(node));
        }
        if (timeout_ms < 1) throw UsageError("--timeout-ms must be at least 1");
        if (vm.count("pass-file"))
            password = read_secret_file("--pass-file", vm["pass-file"].as<std::string>());
        if (vm.count("tls") != vm.count("cacert")) throw UsageError("--tls and --cacert FILE go together");
        if (vm.count("tls")) tls = client_tls(vm["cacert"].as<std::string>());
    } catch (const std::runtime_error& e) {  // UsageError, an unreadable --pass-file or --cacert
        std::cerr << "ballot-client: " << e.what() << '\n';
        return kExitUsage;
    } catch (const po::error& e) {
        std::cerr << "ballot-client: " << e.what() << "; " << kUsage << '\n';
        return kExitUsage;
    }

    std::optional<HoldRequest> hold;
    try {
        hold = parse_hold(command);
    } catch (const UsageError& e) {
        std::cerr << "ballot-client: " << e.what() << '\n';
        return kExitUsage;
    }
    ClusterClient cluster(nodes, milliseconds(timeout_ms));
    if (!password.empty()) cluster.set_password(password);
    if (tls) cluster.set_tls(tls);
    if (hold) {
        ClusterClient keepalive_cluster(nodes, milliseconds(hold->ttl_ms / 3));
        if (!password.empty()) keepalive_cluster.set_password(password);
        if (tls) keepalive_cluster.set_tls(tls);
        return run_holding(cluster, keepalive_cluster, *hold);
    }
    if (command.empty()) return interactive(cluster);
    return run_words(cluster, command) ? kExitOk : kExitError;
}
