#include "bench/options.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "bench/transfer.h"
#include "common/cluster_config.h"
#include "common/durability.h"
#include "engines/registry.h"
#include "kv/auth.h"

namespace ballot::bench {

namespace {

// Bounds. Clients: each is one socket and one coroutine in a single thread; thousands would
// measure the generator more than the cluster. Pipeline: requests in flight per connection.
// Value size: the servers' default bulk-string limit (SPEC: 1 MiB).
constexpr long long kMaxClients = 4096;
constexpr long long kMaxPipeline = 1024;
constexpr long long kMaxNodes = 7;
constexpr long long kMaxValueSizeBytes = 1024 * 1024;
constexpr double kMaxDurationS = 24 * 3600;
constexpr double kMaxRateOps = 10'000'000;
constexpr long long kMaxFollowerDownS = 3600;
// --slow-follower-disk: ballot-server's own bound on --slow-disk-factor.
constexpr long long kMaxSlowFollowerDisk = kMaxSlowDiskFactor;
// --transfer-leader-every: enough for a long soak, few enough to keep the report readable.
constexpr std::size_t kMaxLeaderChanges = 10000;
// --port-base: above the privileged ports; the peer port of the last node (10000 above its
// client port) must still be a port.
constexpr long long kMinPortBase = 1024;
// --sweep: a handful of points makes a curve; each is a whole run per engine.
constexpr std::size_t kMaxSweepPoints = 32;
// ballot-bench gives every spawned server these itself; a --server-arg may not override them.
constexpr const char* kBenchOwnedServerFlags[] = {"--protocol", "--id",         "--node",
                                                  "--data-dir", "--link-delay", "--unsafe-no-fsync"};

struct Spec {
    const char* name;  // without the leading "--"
    const char* arg;   // nullptr for a flag
    bool repeatable;
    const char* help;
};

static_assert(kFollowerKillAtS == 2 && kFollowerCatchupMinS == 3,
              "the --fail-follower-for help below says '2 s into the measured run' and 'SECONDS+5'");

// clang-format off
const Spec kSpecs[] = {
    {"protocol", "LIST", true, "engines to compare, comma separated or repeated "
                               "(default: every engine built in, in BALLOT_ENGINES order)"},
    {"nodes", "N", false, "cluster size of each spawned cluster, 1-7 (default: 3)"},
    {"clients", "N", false, "concurrent client connections (default: 64)"},
    {"pipeline", "N", false, "requests in flight per connection (default: 1)"},
    {"duration", "SECONDS", false, "measured seconds per engine (default: 10)"},
    {"warmup", "SECONDS", false, "seconds of the same load before measuring (default: 2)"},
    {"value-size", "BYTES", false, "bytes per SET value (default: 100)"},
    {"keys", "N", false, "size of the key space; keys are chosen uniformly (default: 10000)"},
    {"read-ratio", "R", false, "fraction of requests that are GET, 0-1 (default: 0)"},
    {"workload", "set|lock", false, "set: SET (GET with --read-ratio) on random keys; lock: each client takes "
                                    "a lease, then LOCKs and UNLOCKs a lock (one log write each) over and "
                                    "over, and the report gives acquire and release latency and lock "
                                    "throughput against SET throughput measured on the same cluster before "
                                    "and after, with one client per lock (default: set)"},
    {"lock-contention", "N", false, "with --workload lock: N clients share each lock (1: each client its own "
                                    "lock, uncontended); with more, the report gives the handoff latency from "
                                    "an UNLOCK to the next holder's LOCK reply (default: 1)"},
    {"rate", "OPS", false, "open loop at OPS requests per second in total; latency is measured from each "
                           "request's intended send time, so a stall is not hidden (default: closed loop)"},
    {"target", "all|leader", false, "all: clients spread over every node; leader: every client on the leader "
                                    "(default: all)"},
    {"node", "HOST:PORT:ID", true, "measure this existing cluster (or any RESP server) instead of spawning "
                                   "clusters; repeated once per member"},
    {"baseline", "redis|redis-nofsync", false, "add a local single-node redis-server as a reference row: "
                                               "redis with AOF fsync on every write, or with no persistence"},
    {"fail-leader-at", "SECONDS", false, "SIGKILL the leader this many seconds into the measured run "
                                         "(basic Paxos: node 1) and report the unavailability window"},
    {"fail-follower-for", "SECONDS", false, "SIGKILL a follower 2 s into the measured run (basic Paxos: "
                                            "the highest-numbered node), keep the load on for SECONDS, "
                                            "restart it on its data dir, and report its catch-up time, "
                                            "whether it took a snapshot, elections during the catch-up, "
                                            "write p99 before the kill and during the catch-up, and the "
                                            "leader's RSS; --duration must be at least SECONDS+5"},
    {"slow-follower-disk", "FACTOR", false, "with --fail-follower-for: restart the follower with "
                                            "--slow-disk-factor FACTOR, so that every fsync it makes takes "
                                            "FACTOR times as long (2-1000), and report how many snapshots "
                                            "it needed to catch up with a disk that slow (default: off)"},
    {"transfer-leader-at", "SECONDS[,SECONDS...]", false, "send MEMBER TRANSFER to the leader (found by INFO) "
                                                          "naming the next voter at these seconds into the "
                                                          "measured run, one after the other, and report each "
                                                          "one's unavailability (to the first success of a write "
                                                          "sent after it) and the write p99 during it; an engine "
                                                          "without transfer answers with its reason"},
    {"transfer-leader-every", "SECONDS", false, "the same, every SECONDS of the measured run"},
    {"remove-leader-at", "SECONDS", false, "send MEMBER REMOVE of the leader at SECONDS into the measured run "
                                           "and report the same figures; the removed node stays out"},
    {"link-delay", "MS[:JITTER_MS]", false, "WAN emulation: every spawned server holds each frame to a peer "
                                            "MS ms (plus uniform jitter in +-JITTER_MS, frames kept in "
                                            "order) before sending it (default: none)"},
    {"unsafe-no-fsync", nullptr, false, "UNSAFE: spawned servers never fsync (a machine crash may lose "
                                        "acknowledged writes); for comparing with in-memory systems only, "
                                        "and every row and the report say so (default: fsync)"},
    {"sweep", "clients=N,N,...|rate=OPS,OPS,...", false, "run once per value (in place of --clients, or of "
                                                         "--rate for open loop) for each engine, and draw "
                                                         "throughput-latency curves (default: no sweep)"},
    {"port-base", "N", false, "spawned clusters listen on client ports N..N+nodes-1 and peer ports 10000 "
                              "above them (default: random free ports in 16000-22767, below Linux's ephemeral ports)"},
    {"requirepass-file", "FILE", false, "start the servers with --requirepass-file FILE and AUTH every client "
                                        "with that password (with --node: just AUTH)"},
    {"tls", nullptr, false, "spawned clusters run TLS (clients and peers), with a throwaway CA and "
                            "certificates from scripts/make-certs.sh; every client talks TLS (default: "
                            "plaintext)"},
    {"server-arg", "ARG", true, "pass ARG to every ballot-server the bench starts, one argument each time "
                                "(e.g. --server-arg=--snapshot-entries=20000); nothing is passed by default"},
    {"out", "DIR", false, "directory for the JSON and HTML reports (default: bench-results)"},
    {"json", nullptr, false, "print the JSON report to stdout (the table then goes to stderr)"},
    {"server", "PATH", false, "the ballot-server binary (default: ballot-server next to ballot-bench)"},
    {"seed", "N", false, "seed of the key and read/write choices (default: 1)"},
    {"version", nullptr, false, "print the version and exit"},
    {"help", nullptr, false, "print this help and exit"},
};
// clang-format on

const Spec* find_spec(const std::string& name) {
    for (const auto& s : kSpecs)
        if (name == s.name) return &s;
    return nullptr;
}

std::vector<std::string> split_commas(const std::string& text) {
    std::vector<std::string> out;
    std::string item;
    std::istringstream in(text);
    while (std::getline(in, item, ',')) out.push_back(item);
    if (!text.empty() && text.back() == ',') out.emplace_back();
    return out;
}

std::string format_number(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

// Strict conversions: the whole text must be the number.
bool to_integer(const std::string& text, long long& out) {
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && ec == std::errc{} && p == text.data() + text.size();
}

bool to_unsigned(const std::string& text, unsigned long long& out) {
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && ec == std::errc{} && p == text.data() + text.size();
}

bool to_double(const std::string& text, double& out) {
    if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
    char* end = nullptr;
    errno = 0;
    out = std::strtod(text.c_str(), &end);
    return errno == 0 && end == text.c_str() + text.size() && std::isfinite(out);
}

// "clients=1,4,16" or "rate=1000,2000": increasing values, each valid for its option.
std::optional<Sweep> parse_sweep(const std::string& text, std::string& error) {
    const auto eq = text.find('=');
    const std::string name = text.substr(0, eq);
    Sweep sweep;
    if (name == "clients")
        sweep.parameter = Sweep::Parameter::clients;
    else if (name == "rate")
        sweep.parameter = Sweep::Parameter::rate;
    if (eq == std::string::npos || (name != "clients" && name != "rate")) {
        error = "--sweep '" + text + "': expected clients=N,N,... or rate=OPS,OPS,...";
        return std::nullopt;
    }
    const auto items = split_commas(text.substr(eq + 1));
    if (items.empty() || items.size() > kMaxSweepPoints) {
        error = "--sweep " + name + ": give 1 to " + std::to_string(kMaxSweepPoints) + " values";
        return std::nullopt;
    }
    for (const auto& item : items) {
        long long whole = 0;
        double v = 0;
        const bool ok = sweep.parameter == Sweep::Parameter::clients
                            ? to_integer(item, whole) && whole >= 1 && whole <= kMaxClients
                            : to_double(item, v) && v > 0 && v <= kMaxRateOps;
        if (!ok) {
            error = "--sweep " + name + ": '" + item + "' is not " +
                    (sweep.parameter == Sweep::Parameter::clients
                         ? "a client count in 1-" + std::to_string(kMaxClients)
                         : std::string("a rate above 0 and at most 10000000 requests per second"));
            return std::nullopt;
        }
        if (sweep.parameter == Sweep::Parameter::clients) v = static_cast<double>(whole);
        if (!sweep.values.empty() && v <= sweep.values.back()) {
            error = "--sweep " + name + ": the values must increase ('" + item + "' follows " +
                    format_number(sweep.values.back()) + ")";
            return std::nullopt;
        }
        sweep.values.push_back(v);
    }
    return sweep;
}

// A sweep against the options it would contradict; empty if none.
std::string check_sweep(const Options& o, bool clients_given, bool rate_given) {
    if (!o.sweep) return "";
    if (o.sweep->parameter == Sweep::Parameter::clients && clients_given)
        return "--sweep clients=... and --clients cannot be combined: the sweep sets the clients of each run";
    if (o.sweep->parameter == Sweep::Parameter::rate && rate_given)
        return "--sweep rate=... and --rate cannot be combined: the sweep sets the rate of each run";
    if (o.fail_leader_at_s || o.fail_follower_for_s || !o.change_leader_at_s.empty())
        return "--sweep cannot be combined with --fail-leader-at, --fail-follower-for or a leader change "
               "(--transfer-leader-at, --transfer-leader-every, --remove-leader-at): a curve needs runs "
               "without faults";
    return "";
}

// --transfer-leader-at, --transfer-leader-every, --remove-leader-at into o.change_leader_at_s and
// o.leader_action; `o` already holds --nodes, --duration and the other faults. An error, or empty.
std::string parse_leader_changes(const std::map<std::string, std::vector<std::string>>& given, Options& o) {
    std::vector<std::string> named;
    for (const char* name : {"transfer-leader-at", "transfer-leader-every", "remove-leader-at"})
        if (given.count(name)) named.push_back(std::string("--") + name);
    if (named.empty()) return "";
    if (named.size() > 1) return named[0] + " and " + named[1] + " cannot be combined: one fault per run";
    if (o.fail_leader_at_s || o.fail_follower_for_s)
        return named[0] + " cannot be combined with " +
               (o.fail_leader_at_s ? "--fail-leader-at" : "--fail-follower-for") + ": one fault per run";
    const std::string name = named[0].substr(2);
    const std::string& text = given.at(name).back();
    const std::string in_run = " must be after 0 and before the end of the " + format_number(o.duration_s) +
                               " s run (got " + text + ")";
    if (name == "transfer-leader-every") {
        double period = 0;
        if (!to_double(text, period)) return "--" + name + ": '" + text + "' is not a number";
        if (!(period > 0 && period < o.duration_s)) return "--" + name + in_run;
        if (o.duration_s / period > static_cast<double>(kMaxLeaderChanges) + 1)
            return "--" + name + " " + text + " asks for more than " + std::to_string(kMaxLeaderChanges) +
                   " transfers in the " + format_number(o.duration_s) + " s run";
        o.change_leader_at_s = every(period, o.duration_s);
    } else {
        const auto items = split_commas(text);
        if (name == "remove-leader-at" && items.size() != 1)
            return "--remove-leader-at takes one time: the removed node stays out (got " + text + ")";
        if (items.size() > kMaxLeaderChanges)
            return "--" + name + ": at most " + std::to_string(kMaxLeaderChanges) + " times";
        for (const auto& item : items) {
            double t = 0;
            if (!to_double(item, t)) return "--" + name + ": '" + item + "' is not a number";
            if (!(t > 0 && t < o.duration_s)) return "--" + name + in_run;
            if (!o.change_leader_at_s.empty() && t <= o.change_leader_at_s.back())
                return "--" + name + ": the times must increase ('" + item + "' follows " +
                       format_number(o.change_leader_at_s.back()) + ")";
            o.change_leader_at_s.push_back(t);
        }
    }
    o.leader_action = name == "remove-leader-at" ? LeaderAction::remove : LeaderAction::transfer;
    // A transfer needs another voter; a removal must leave a majority of what remains working.
    const int needed = o.leader_action == LeaderAction::transfer ? 2 : 3;
    if (o.nodes < needed)
        return "--" + name + " needs --nodes " + std::to_string(needed) + " or more (got " +
               std::to_string(o.nodes) + ")";
    return "";
}

std::string check_port_base(long long base, int nodes) {
    const long long max_base = static_cast<long long>(kMaxClientPort) - (nodes - 1);
    if (base < kMinPortBase || base > max_base)
        return "--port-base must be between " + std::to_string(kMinPortBase) + " and " +
               std::to_string(max_base) + " for " + std::to_string(nodes) +
               " nodes, so that every client port and its peer port (10000 above) is a port (got " +
               std::to_string(base) + ")";
    return "";
}

// What --workload lock cannot be combined with: each client runs LOCK then UNLOCK one after the
// other (the UNLOCK needs the token), in closed loop, on a cluster left alone. Empty if fine.
std::string check_lock_workload(const Options& o, const std::function<bool(const char*)>& has) {
    if (o.workload != WorkloadKind::lock) {
        return has("lock-contention") ? "--lock-contention applies to --workload lock only" : "";
    }
    for (const char* option : {"rate", "baseline", "fail-leader-at", "fail-follower-for",
                               "transfer-leader-at", "transfer-leader-every", "remove-leader-at"}) {
        if (has(option))
            return std::string("--") + option +
                   " cannot be used with --workload lock (closed loop, no faults, Ballot clusters only)";
    }
    if (o.pipeline > 1) return "--workload lock runs --pipeline 1 (an UNLOCK needs its LOCK's token)";
    if (o.read_ratio > 0) return "--read-ratio applies to --workload set only";
    if (o.sweep && o.sweep->parameter == Sweep::Parameter::rate)
        return "--sweep rate=... is open loop, and --workload lock runs closed loop (sweep clients instead)";
    if (o.lock_contention > o.clients)
        return "--lock-contention " + std::to_string(o.lock_contention) + " is more than --clients " +
               std::to_string(o.clients) + " (each lock is shared by that many clients)";
    return "";
}

}  // namespace

Options Options::at_sweep_point(double value) const {
    Options o = *this;
    if (sweep && sweep->parameter == Sweep::Parameter::clients)
        o.clients = static_cast<int>(value);
    else if (sweep)
        o.rate_ops = value;
    return o;
}

std::string usage() {
    std::ostringstream s;
    s << "Usage: ballot-bench [options]\n"
         "\n"
         "Compares the consensus engines under the same load. With no options: for each engine, start a\n"
         "local 3-node cluster of ballot-server processes (free loopback ports, fresh data dirs, log\n"
         "fsync'ed before every acknowledgement), warm up, run the workload, stop the cluster; then print\n"
         "one table and write bench-results/<timestamp>.json and .html. Ballot nodes are polled for\n"
         "INFO snapshot_in_progress every 10 ms, and write p99 is reported while some node was making a\n"
         "snapshot and while none was.\n"
         "\n"
         "Options:\n";
    for (const auto& spec : kSpecs) {
        std::string left = std::string("  --") + spec.name + (spec.arg ? std::string(" ") + spec.arg : "");
        s << left;
        if (left.size() < 32)
            s << std::string(32 - left.size(), ' ');
        else
            s << "\n" << std::string(32, ' ');
        // Wrap the help text at 100 columns.
        std::istringstream words(spec.help);
        std::string word;
        std::size_t column = 32;
        bool first = true;
        while (words >> word) {
            if (!first && column + 1 + word.size() > 100) {
                s << "\n" << std::string(32, ' ');
                column = 32;
                first = true;
            }
            if (!first) {
                s << ' ';
                ++column;
            }
            s << word;
            column += word.size();
            first = false;
        }
        s << "\n";
    }
    return s.str();
}

std::optional<Endpoint> parse_endpoint(const std::string& text, std::string& error) {
    const auto last = text.rfind(':');
    const auto mid = last == std::string::npos || last == 0 ? std::string::npos : text.rfind(':', last - 1);
    if (mid == std::string::npos || mid == 0) {
        error = "--node '" + text + "' is not HOST:PORT:ID";
        return std::nullopt;
    }
    Endpoint e;
    e.host = text.substr(0, mid);
    const std::string port = text.substr(mid + 1, last - mid - 1);
    const std::string id = text.substr(last + 1);
    unsigned long long port_value = 0;
    auto [pp, pe] = std::from_chars(port.data(), port.data() + port.size(), port_value);
    if (port.empty() || pe != std::errc{} || pp != port.data() + port.size() || port_value == 0 ||
        port_value > 65535) {
        error = "--node '" + text + "': port '" + port + "' is not a number in 1-65535";
        return std::nullopt;
    }
    unsigned long long id_value = 0;
    auto [ip, ie] = std::from_chars(id.data(), id.data() + id.size(), id_value);
    if (id.empty() || ie != std::errc{} || ip != id.data() + id.size() || id_value == 0) {
        error = "--node '" + text + "': id '" + id + "' is not a positive integer";
        return std::nullopt;
    }
    e.port = static_cast<std::uint16_t>(port_value);
    e.id = id_value;
    return e;
}

ParseResult parse_options(const std::vector<std::string>& args) {
    ParseResult result;
    auto fail = [&](std::string message) {
        result.error = std::move(message);
        return result;
    };

    // Collect NAME -> values ("--name value" or "--name=value"), then validate each.
    std::map<std::string, std::vector<std::string>> given;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "-h") {
            result.help = usage();
            return result;
        }
        if (arg.rfind("--", 0) != 0 || arg.size() == 2)
            return fail("unexpected argument '" + arg + "' (options start with --; see --help)");
        std::string name = arg.substr(2);
        std::optional<std::string> inline_value;
        if (const auto eq = name.find('='); eq != std::string::npos) {
            inline_value = name.substr(eq + 1);
            name.resize(eq);
        }
        const Spec* spec = find_spec(name);
        if (!spec) return fail("unknown option '--" + name + "' (see --help)");
        if (name == "help") {
            result.help = usage();
            return result;
        }
        if (name == "version") {
            result.version = true;
            return result;
        }
        if (!spec->repeatable && given.count(name)) return fail("--" + name + " given more than once");
        if (!spec->arg) {
            if (inline_value) return fail("--" + name + " takes no value");
            given[name].push_back("");
            continue;
        }
        if (!inline_value) {
            if (i + 1 >= args.size()) return fail("--" + name + " needs a value (" + spec->arg + ")");
            inline_value = args[++i];
        }
        given[name].push_back(*inline_value);
    }
    auto has = [&](const char* name) { return given.count(name) > 0; };
    auto text = [&](const char* name) { return given.at(name).back(); };
    // Typed readers: false (with the error set) when the text is not of the type.
    auto integer = [&](const char* name, long long& out) {
        if (to_integer(text(name), out)) return true;
        result.error = std::string("--") + name + ": '" + text(name) + "' is not an integer";
        return false;
    };
    auto number = [&](const char* name, double& out) {
        if (to_double(text(name), out)) return true;
        result.error = std::string("--") + name + ": '" + text(name) + "' is not a number";
        return false;
    };
    // One of two words, e.g. --target all|leader.
    auto one_of = [&]<typename Choice>(const char* name, const std::pair<const char*, Choice>(&words)[2],
                                       Choice& out) {
        for (const auto& [word, choice] : words) {
            if (text(name) != word) continue;
            out = choice;
            return true;
        }
        result.error = std::string("--") + name + " must be '" + words[0].first + "' or '" + words[1].first +
                       "' (got '" + text(name) + "')";
        return false;
    };

    Options o;
    long long v = 0;
    double d = 0;
    o.protocols = engine_names();
    if (has("protocol")) {
        o.protocols.clear();
        for (const auto& item : given.at("protocol")) {
            for (const auto& p : split_commas(item)) {
                if (!find_engine(p)) {
                    std::string known;
                    for (const auto& name : engine_names()) known += (known.empty() ? "" : ", ") + name;
                    return fail("--protocol: unknown protocol '" + p + "' (known: " + known + ")");
                }
                if (std::find(o.protocols.begin(), o.protocols.end(), p) == o.protocols.end())
                    o.protocols.push_back(p);
            }
        }
    }
    if (has("nodes")) {
        if (!integer("nodes", v)) return result;
        if (v < 1 || v > kMaxNodes)
            return fail("--nodes must be between 1 and " + std::to_string(kMaxNodes) + " (got " +
                        text("nodes") + ")");
        o.nodes = static_cast<int>(v);
    }
    if (has("clients")) {
        if (!integer("clients", v)) return result;
        if (v < 1 || v > kMaxClients)
            return fail("--clients must be between 1 and " + std::to_string(kMaxClients) + " (got " +
                        text("clients") + ")");
        o.clients = static_cast<int>(v);
    }
    if (has("pipeline")) {
        if (!integer("pipeline", v)) return result;
        if (v < 1 || v > kMaxPipeline)
            return fail("--pipeline must be between 1 and " + std::to_string(kMaxPipeline) + " (got " +
                        text("pipeline") + ")");
        o.pipeline = static_cast<int>(v);
    }
    if (has("duration")) {
        if (!number("duration", d)) return result;
        if (!(d > 0 && d <= kMaxDurationS))
            return fail("--duration must be more than 0 and at most 86400 seconds (got " + text("duration") +
                        ")");
        o.duration_s = d;
    }
    if (has("warmup")) {
        if (!number("warmup", d)) return result;
        if (!(d >= 0 && d <= kMaxDurationS))
            return fail("--warmup must be between 0 and 86400 seconds (got " + text("warmup") + ")");
        o.warmup_s = d;
    }
    if (has("value-size")) {
        if (!integer("value-size", v)) return result;
        if (v < 0 || v > kMaxValueSizeBytes)
            return fail(
                "--value-size must be between 0 and 1048576 bytes, the servers' bulk-string limit (got " +
                text("value-size") + ")");
        o.value_size_bytes = static_cast<std::size_t>(v);
    }
    if (has("keys")) {
        if (!integer("keys", v)) return result;
        if (v < 1) return fail("--keys must be at least 1 (got " + text("keys") + ")");
        o.keys = static_cast<std::uint64_t>(v);
    }
    if (has("read-ratio")) {
        if (!number("read-ratio", d)) return result;
        if (!(d >= 0 && d <= 1))
            return fail("--read-ratio must be between 0 and 1 (got " + text("read-ratio") + ")");
        o.read_ratio = d;
    }
    if (has("workload") &&
        !one_of("workload", {{"set", WorkloadKind::set}, {"lock", WorkloadKind::lock}}, o.workload))
        return result;
    if (has("lock-contention")) {
        if (!integer("lock-contention", v)) return result;
        if (v < 1 || v > kMaxClients)
            return fail("--lock-contention must be between 1 and " + std::to_string(kMaxClients) + " (got " +
                        text("lock-contention") + ")");
        o.lock_contention = static_cast<int>(v);
    }
    if (has("rate")) {
        if (!number("rate", d)) return result;
        if (!(d > 0 && d <= kMaxRateOps))
            return fail("--rate must be more than 0 and at most 10000000 requests per second (got " +
                        text("rate") + ")");
        o.rate_ops = d;
    }
    if (has("target") && !one_of("target", {{"all", Target::all}, {"leader", Target::leader}}, o.target))
        return result;
    if (has("node")) {
        std::set<NodeId> ids;
        std::set<std::string> addresses;
        for (const auto& node : given.at("node")) {
            std::string error;
            auto e = parse_endpoint(node, error);
            if (!e) return fail(error);
            if (!ids.insert(e->id).second)
                return fail("--node: id " + std::to_string(e->id) + " given twice");
            if (!addresses.insert(e->address()).second)
                return fail("--node: " + e->address() + " given twice");
            o.existing.push_back(*e);
        }
        // An existing cluster is what it is: options that describe spawned clusters make no sense.
        for (const char* spawn_only : {"protocol", "nodes", "server", "fail-leader-at", "fail-follower-for",
                                       "transfer-leader-at", "transfer-leader-every", "remove-leader-at",
                                       "server-arg", "link-delay", "port-base", "unsafe-no-fsync", "tls"}) {
            if (has(spawn_only))
                return fail(
                    std::string("--") + spawn_only +
                    " applies to clusters ballot-bench starts itself, not to --node (an existing cluster)");
        }
    }
    if (has("baseline")) {
        const auto b = text("baseline");
        if (b != "redis" && b != "redis-nofsync")
            return fail("--baseline must be 'redis' or 'redis-nofsync' (got '" + b + "')");
        o.baseline = b;
    }
    if (has("fail-leader-at")) {
        if (!number("fail-leader-at", d)) return result;
        if (!(d > 0 && d < o.duration_s))
            return fail("--fail-leader-at must be after 0 and before the end of the " +
                        format_number(o.duration_s) + " s run (got " + text("fail-leader-at") + ")");
        o.fail_leader_at_s = d;
    }
    if (has("fail-follower-for")) {
        if (!integer("fail-follower-for", v)) return result;
        if (v < 1 || v > kMaxFollowerDownS)
            return fail("--fail-follower-for must be a whole number of seconds between 1 and " +
                        std::to_string(kMaxFollowerDownS) + " (got " + text("fail-follower-for") + ")");
        if (o.fail_leader_at_s)
            return fail("--fail-follower-for and --fail-leader-at cannot be combined: one fault per run");
        // A 2-node cluster has no majority without the follower; a 1-node cluster has no follower.
        if (o.nodes < 3)
            return fail(
                "--fail-follower-for needs --nodes 3 or more, so that the others keep a majority (got " +
                std::to_string(o.nodes) + ")");
        const double needed_s = kFollowerKillAtS + static_cast<double>(v) + kFollowerCatchupMinS;
        if (o.duration_s < needed_s)
            return fail("--fail-follower-for " + text("fail-follower-for") + " needs --duration " +
                        format_number(needed_s) + " or more (" + format_number(kFollowerKillAtS) +
                        " s before the kill, " + text("fail-follower-for") + " s down, " +
                        format_number(kFollowerCatchupMinS) + " s of catch-up under load; got " +
                        format_number(o.duration_s) + ")");
        o.fail_follower_for_s = static_cast<int>(v);
    }
    if (has("slow-follower-disk")) {
        if (!o.fail_follower_for_s)
            return fail("--slow-follower-disk needs --fail-follower-for: it is the restarted follower's disk");
        if (!integer("slow-follower-disk", v)) return result;
        if (v < 2 || v > kMaxSlowFollowerDisk)
            return fail("--slow-follower-disk must be a whole number between 2 and " +
                        std::to_string(kMaxSlowFollowerDisk) + " (got " + text("slow-follower-disk") + ")");
        o.slow_follower_disk = static_cast<std::uint32_t>(v);
    }
    if (auto error = parse_leader_changes(given, o); !error.empty()) return fail(error);
    if (has("server-arg")) {
        for (const auto& arg : given.at("server-arg")) {
            if (arg.empty()) return fail("--server-arg must not be empty");
            for (const char* owned : kBenchOwnedServerFlags) {
                const std::string flag = owned;
                if (arg == flag || arg.rfind(flag + "=", 0) == 0)
                    return fail("--server-arg " + arg + ": ballot-bench sets " + flag +
                                " of the servers it starts itself");
            }
            // The restarted follower would get the flag twice, which ballot-server refuses.
            if (o.slow_follower_disk > 1 &&
                (arg == "--slow-disk-factor" || arg.rfind("--slow-disk-factor=", 0) == 0))
                return fail("--server-arg " + arg +
                            " cannot be combined with --slow-follower-disk, which sets the follower's");
            o.server_args.push_back(arg);
        }
    }
    if (has("out")) {
        o.out_dir = text("out");
        if (o.out_dir.empty()) return fail("--out must name a directory");
    }
    o.json_stdout = has("json");
    o.unsafe_no_fsync = has("unsafe-no-fsync");
    o.tls = has("tls");
    if (o.tls && has("baseline"))
        return fail("--tls cannot be used with --baseline (the Redis baseline runs plaintext)");
    if (has("server")) {
        o.server = text("server");
        if (o.server.empty()) return fail("--server must name the ballot-server binary");
    }
    if (has("seed")) {
        unsigned long long seed = 0;
        if (!to_unsigned(text("seed"), seed))
            return fail("--seed: '" + text("seed") + "' is not an unsigned integer");
        o.seed = seed;
    }

    if (has("link-delay")) {
        std::string error;
        auto delay = parse_link_delay(text("link-delay"), error);
        if (!delay) return fail(error);
        o.link_delay = *delay;
    }
    if (has("requirepass-file")) {
        try {
            o.password = kv::read_secret_file("--requirepass-file", text("requirepass-file"));
        } catch (const std::runtime_error& e) {
            return fail(e.what());
        }
        o.requirepass_file = std::filesystem::absolute(text("requirepass-file")).string();
    }
    if (has("port-base")) {
        if (!integer("port-base", v)) return result;
        if (auto error = check_port_base(v, o.nodes); !error.empty()) return fail(error);
        o.port_base = static_cast<std::uint16_t>(v);
    }
    if (has("sweep")) {
        std::string error;
        o.sweep = parse_sweep(text("sweep"), error);
        if (!o.sweep) return fail(error);
        if (auto conflict = check_sweep(o, has("clients"), has("rate")); !conflict.empty())
            return fail(conflict);
    }
    if (auto error = check_lock_workload(o, has); !error.empty()) return fail(error);

    result.options = std::move(o);
    return result;
}

}  // namespace ballot::bench
