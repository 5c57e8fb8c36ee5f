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
#include <editline/readline.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/tls.h"
#include "common/version.h"
#include "kv/auth.h"
#include "kv/kv_commands.h"
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
    "  with a COMMAND: run it once and exit; without: interactive (line editing, history)\n"
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
    RespValue run(const KvCommand& command, const std::vector<std::string>& args) {
        std::vector<std::string> wire;
        if (command.kind() == CommandKind::write) {
            // §6.3: every reply below `seq` has been received (this client runs one command at a
            // time), so the cluster may forget them. A retry of this command keeps its stamp.
            const std::uint64_t seq = next_seq_++;
            wire = {"BALLOT.STAMPED", std::to_string(client_id_), std::to_string(seq), std::to_string(seq)};
        }
        wire.insert(wire.end(), args.begin(), args.end());
        return run_with_retries(wire);
    }

private:
    RespValue run_with_retries(const std::vector<std::string>& wire) {
        const auto deadline = Clock::now() + total_timeout_;
        std::string last_error = "no attempt finished";
        milliseconds backoff = kBackoffMin;
        std::size_t failures_this_round = 0;
        for (;;) {
            const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
            if (left <= milliseconds(0)) break;
            const NodeAddress& node = nodes_[current_];
            try {
                if (!client_.connected())
                    client_.connect(node.host, node.port, std::min(left, kConnectTimeout));
                client_.set_timeout(std::max(milliseconds(1), std::min(left, kReplyTimeout)));
                RespValue reply = client_.command(wire);
                if (!retryable(reply)) return reply;
                last_error = node.host + ":" + std::to_string(node.port) + " answered -" + reply.str;
            } catch (const RespAuthError& e) {
                throw NoReachableNode(std::string("ERR ") + e.what());  // every node has the same password
            } catch (const RespClientError& e) {
                last_error = e.what();
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
           "  list                 every key, sorted (the same as keys *)\n"
           "  keys <pattern> | dbsize | ping [message] | echo <message> | info | bgsave | lastsave\n"
           "  help | quit | exit   (interactive only)\n";
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
        return print_outcome(cluster.run(v.command, args));
    } catch (const NoReachableNode& e) {
        print_error(e.what());
        return false;
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

    ClusterClient cluster(std::move(nodes), milliseconds(timeout_ms));
    if (!password.empty()) cluster.set_password(std::move(password));
    if (tls) cluster.set_tls(std::move(tls));
    if (command.empty()) return interactive(cluster);
    return run_words(cluster, command) ? kExitOk : kExitError;
}
