// ballot-server: one member of a replicated KV cluster, on any engine (SPEC "ballot-server").
//
// Exit codes (each failure one line on stderr naming the problem):
//   0 after SIGTERM/SIGINT;
//   1 when the node cannot start (a data dir that cannot be created, read or written, belongs to
//     another engine or format, is corrupt, or that the engine refuses; a port in use; a
//     --restore-from file that is missing or corrupt, with nothing created; a --requirepass-file
//     or --admin-pass-file that is missing, unreadable or empty; a TLS file that does not load),
//     or stops
//     on an unexpected error;
//   2 for bad arguments (nothing started, nothing created), and for --restore-from into a data
//     dir that exists and is not empty (kv/restore.h);
//   70 on a broken invariant (common/node.h).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/program_options.hpp>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <limits>
#include <optional>

#include "common/address_check.h"
#include "common/cluster_config.h"
#include "common/engine.h"
#include "common/link_delay.h"
#include "common/live_view.h"
#include "common/node.h"
#include "common/tls.h"
#include "common/transport.h"
#include "common/version.h"
#include "engines/registry.h"
#include "kv/kv_store.h"
#include "kv/resp_server.h"
#include "kv/restore.h"

namespace po = boost::program_options;
namespace asio = boost::asio;
using namespace ballot;

namespace {

struct UsageError {
    std::string message;
};

// The engines built in, from the registry: "raft|multipaxos|paxos".
std::string protocol_list(const std::string& separator) {
    std::string list;
    for (const std::string& name : engine_names()) list += (list.empty() ? "" : separator) + name;
    return list;
}

std::string usage() {
    return "usage: ballot-server --protocol " + protocol_list("|") +
           " --id ID\n"
           "                     --node HOST:PORT:ID --node HOST:PORT:ID --node HOST:PORT:ID [--join]\n"
           "                     [--data-dir DIR] [--log-level trace|debug|info|warn|error]\n"
           "                     [--trace] [--trace-heartbeats] [--unsafe-no-fsync] [--slow-disk-factor N]\n"
           "                     [--election-timeout-ms MIN-MAX] [--heartbeat-ms N] [--request-timeout-ms "
           "N]\n"
           "                     [--max-bulk-bytes N] [--snapshot-entries N] [--snapshot-trailing N]\n"
           "                     [--snapshot-rate MIB_PER_S]\n"
           "                     [--restore-from SNAPSHOT-FILE] [--link-delay MS[:JITTER_MS]] [--version]\n"
           "                     [--requirepass-file FILE] [--admin-pass-file FILE] [--max-clients N]\n"
           "                     [--client-idle-timeout-s S] [--client-partial-request-timeout-ms MS]\n"
           "                     [--http HOST:PORT [--http-admin]]\n"
           "                     [--tls-cert-file FILE --tls-key-file FILE --tls-ca-cert-file FILE]\n";
}

// A whole number for --OPTION (plain decimal digits, nothing else), at least `min`, at most what
// T holds.
template <typename T>
T parse_whole(const std::string& option, const std::string& text, T min) {
    T v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc::result_out_of_range && end == text.data() + text.size())
        throw UsageError{"--" + option + " " + text + ": out of range (at most " +
                         std::to_string(std::numeric_limits<T>::max()) + ")"};
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
        throw UsageError{"--" + option + " " + text + ": not a whole number"};
    if (v < min) throw UsageError{"--" + option + " " + text + ": must be at least " + std::to_string(min)};
    return v;
}

std::uint32_t parse_number(const std::string& option, const std::string& text, std::uint32_t min) {
    return parse_whole<std::uint32_t>(option, text, min);
}

struct ServerArgs {
    NodeOptions node;
    std::string log_level = "info";
    std::size_t max_bulk_bytes = 1 << 20;
    std::string restore_from;  // a snapshot file to build this node's data dir from (kv/restore.h)
    // The password files (kv/auth.h), read at start; empty: not given.
    std::string requirepass_file;
    std::string admin_pass_file;
    std::size_t max_clients = 10000;
    std::uint32_t client_idle_timeout_s = 0;
    std::uint32_t partial_request_timeout_ms = 10000;
    TlsFiles tls;  // all three or none (checked here); loaded at start
    std::uint32_t slow_disk_factor = 1;  // --slow-disk-factor (common/durability.h)
};

// "--node HOST:PORT:ID" as the operator wrote it.
std::string node_flag(const NodeAddress& m) {
    return "--node " + m.str() + ":" + std::to_string(m.id);
}

// Every HOST must resolve now, before anything is started or created; and no two members may
// share an address under two names (localhost and 127.0.0.1): that node would dial itself
// (common/address_check.h).
void check_addresses(const ClusterConfig& cluster) {
    asio::io_context probe;
    asio::ip::tcp::resolver resolver(probe);
    AddressClashes clashes;
    for (auto& m : cluster.members) {
        boost::system::error_code ec;
        auto results = resolver.resolve(m.host, std::to_string(m.client_port), ec);
        if (ec) throw UsageError{node_flag(m) + ": " + cannot_resolve(m.host, ec)};
        if (auto clash = clashes.add(node_flag(m), results))
            throw UsageError{*clash + ": give each member its own HOST:PORT"};
    }
}

ServerArgs parse_args(int argc, char** argv) {
    po::options_description desc("ballot-server options");
    desc.add_options()("help,h", "show this help")("protocol", po::value<std::string>(),
                                                   protocol_list(" | ").c_str())(
        "id", po::value<std::string>(), "this node's id (one of the --node ids)")(
        "node", po::value<std::vector<std::string>>(), "HOST:PORT:ID, once per member, self included")(
        "join", po::bool_switch(),
        "join a running cluster: --node names some of its members and this node; MEMBER ADD on the leader "
        "adds it")("data-dir", po::value<std::string>(), "data directory (default ./data/node-ID)")(
        "log-level", po::value<std::string>()->default_value("info"), "trace|debug|info|warn|error")(
        "trace", po::bool_switch(), "print every protocol message, sent and received, on one line")(
        "trace-heartbeats", po::bool_switch(),
        "--trace shows heartbeats and their acks too (implies --trace)")(
        "unsafe-no-fsync", po::bool_switch(),
        "UNSAFE, for benchmarks only: never fsync; a machine crash may lose acknowledged writes")(
        "slow-disk-factor", po::value<std::string>()->default_value("1"),
        "FAULT, for benchmarks only: every fsync takes N times as long as the disk took (1-1000; 1: off)")(
        "election-timeout-ms", po::value<std::string>()->default_value("300-600"), "MIN-MAX")(
        "heartbeat-ms", po::value<std::string>()->default_value("50"), "leader heartbeat interval")(
        "request-timeout-ms", po::value<std::string>()->default_value("3000"), "client request timeout")(
        "max-bulk-bytes", po::value<std::string>()->default_value("1048576"),
        "largest RESP bulk string accepted")(
        "snapshot-entries", po::value<std::string>()->default_value("100000"),
        "snapshot the state machine after this many entries applied (0: only on BGSAVE)")(
        "snapshot-trailing", po::value<std::string>()->default_value("10000"),
        "log entries kept below the latest snapshot for lagging peers")(
        "snapshot-rate", po::value<std::string>()->default_value(std::to_string(kDefaultSnapshotRateMib)),
        "MiB/s a snapshot is made at, at most, so that making one never holds up writes (0: no limit)")(
        "restore-from", po::value<std::string>(),
        "build a NEW data dir from this snapshot file (a backup), then start as usual")(
        "link-delay", po::value<std::string>(),
        "MS[:JITTER_MS]: WAN emulation, hold every frame to a peer MS ms (+- uniform jitter) before sending")(
        "requirepass-file", po::value<std::string>(),
        "clients must AUTH with the password in this file (Redis's requirepass; read once at start)")(
        "admin-pass-file", po::value<std::string>(),
        "admin commands (BGSAVE, ...) need AUTH admin with the password in this file")(
        "max-clients", po::value<std::string>()->default_value("10000"),
        "client connections beyond this get -ERR max number of clients reached")(
        "client-idle-timeout-s", po::value<std::string>()->default_value("0"),
        "close a client connection idle this long (0: never)")(
        "client-partial-request-timeout-ms", po::value<std::string>()->default_value("10000"),
        "close a client connection whose request stays incomplete this long (slow-loris; 0: never)")(
        "tls-cert-file", po::value<std::string>(),
        "this node's certificate (PEM): the client port speaks TLS only, and peers mutual TLS")(
        "tls-key-file", po::value<std::string>(), "the key of --tls-cert-file (PEM, unencrypted)")(
        "tls-ca-cert-file", po::value<std::string>(),
        "the cluster CA (PEM): peers must present a certificate it signed, naming node-ID")(
        "http", po::value<std::string>(),
        "HOST:PORT: serve the live view (a page, /status JSON, /events) here; off by default")(
        "http-admin", po::bool_switch(),
        "allow the live view's admin actions (crash, restart, partition this node); for local labs")(
        "version", "print the version and exit");
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        throw UsageError{e.what()};
    }
    if (vm.count("help")) {
        std::cout << usage() << "\n" << desc;
        std::exit(0);
    }
    if (vm.count("version")) {
        std::cout << version_line("ballot-server") << "\n";
        std::exit(0);
    }
    ServerArgs a;
    if (!vm.count("protocol")) throw UsageError{"missing --protocol (one of: " + protocol_list(", ") + ")"};
    a.node.protocol = vm["protocol"].as<std::string>();
    const EngineTraits* engine = find_engine(a.node.protocol);
    if (!engine) {
        throw UsageError{"unknown --protocol " + a.node.protocol +
                         " (expected one of: " + protocol_list(", ") + ")"};
    }
    a.node.engine = engine;
    if (!vm.count("id")) throw UsageError{"missing --id"};
    std::uint32_t id = parse_number("id", vm["id"].as<std::string>(), 1);
    std::string error;
    auto cluster = make_cluster_config(
        vm.count("node") ? vm["node"].as<std::vector<std::string>>() : std::vector<std::string>{}, id, error);
    if (!cluster) throw UsageError{error};
    a.node.cluster = *cluster;
    a.node.join = vm["join"].as<bool>();
    a.node.data_dir =
        vm.count("data-dir") ? vm["data-dir"].as<std::string>() : "./data/node-" + std::to_string(id);
    a.log_level = vm["log-level"].as<std::string>();
    if (spdlog::level::from_str(a.log_level) == spdlog::level::off && a.log_level != "off")
        throw UsageError{"--log-level " + a.log_level + ": expected trace, debug, info, warn or error"};
    a.node.trace_heartbeats = vm["trace-heartbeats"].as<bool>();
    a.node.trace = vm["trace"].as<bool>() || a.node.trace_heartbeats;
    if (vm["unsafe-no-fsync"].as<bool>()) a.node.durability = Durability::unsafe_no_fsync;
    a.slow_disk_factor = parse_number("slow-disk-factor", vm["slow-disk-factor"].as<std::string>(), 1);
    if (a.slow_disk_factor > kMaxSlowDiskFactor)
        throw UsageError{"--slow-disk-factor " + vm["slow-disk-factor"].as<std::string>() + ": must be at most " +
                         std::to_string(kMaxSlowDiskFactor)};

    std::string election = vm["election-timeout-ms"].as<std::string>();
    auto dash = election.find('-');
    if (dash == std::string::npos)
        throw UsageError{"--election-timeout-ms " + election + ": expected MIN-MAX, e.g. 300-600"};
    a.node.election_timeout_min_ms = parse_number("election-timeout-ms", election.substr(0, dash), 1);
    a.node.election_timeout_max_ms = parse_number("election-timeout-ms", election.substr(dash + 1), 1);
    if (a.node.election_timeout_max_ms < a.node.election_timeout_min_ms)
        throw UsageError{"--election-timeout-ms " + election + ": MAX is below MIN"};
    a.node.heartbeat_ms = parse_number("heartbeat-ms", vm["heartbeat-ms"].as<std::string>(), 1);
    if (a.node.heartbeat_ms >= a.node.election_timeout_min_ms)
        throw UsageError{"--heartbeat-ms must be below the minimum election timeout"};
    a.node.request_timeout_ms =
        parse_number("request-timeout-ms", vm["request-timeout-ms"].as<std::string>(), 1);
    a.node.tick_ms = std::max<std::uint32_t>(1, std::min<std::uint32_t>(10, a.node.heartbeat_ms / 2));
    a.max_bulk_bytes = parse_number("max-bulk-bytes", vm["max-bulk-bytes"].as<std::string>(), 1);
    a.node.snapshot_entries =
        parse_whole<std::uint64_t>("snapshot-entries", vm["snapshot-entries"].as<std::string>(), 0);
    a.node.snapshot_trailing =
        parse_whole<std::uint64_t>("snapshot-trailing", vm["snapshot-trailing"].as<std::string>(), 0);
    a.node.snapshot_rate_mib = parse_number("snapshot-rate", vm["snapshot-rate"].as<std::string>(), 0);
    if (vm.count("link-delay")) {
        auto delay = parse_link_delay(vm["link-delay"].as<std::string>(), error);
        if (!delay) throw UsageError{error};
        a.node.link_delay = *delay;
    }
    if (vm.count("http")) {
        auto http = parse_http_address(vm["http"].as<std::string>(), error);
        if (!http) throw UsageError{error};
        a.node.http_host = http->host;
        a.node.http_port = http->port;
    }
    if (vm.count("restore-from")) {
        a.restore_from = vm["restore-from"].as<std::string>();
        if (a.restore_from.empty()) throw UsageError{"--restore-from: expected a snapshot file"};
    }

    for (auto [option, file] :
         {std::pair{"requirepass-file", &a.requirepass_file}, {"admin-pass-file", &a.admin_pass_file}}) {
        if (!vm.count(option)) continue;
        *file = vm[option].as<std::string>();
        if (file->empty()) throw UsageError{"--" + std::string(option) + ": expected a file"};
    }
    a.node.http_admin = vm["http-admin"].as<bool>();
    if (a.node.http_admin && a.node.http_port == 0)
        throw UsageError{"--http-admin needs --http HOST:PORT: the admin actions are the live view's"};
    a.max_clients = parse_number("max-clients", vm["max-clients"].as<std::string>(), 1);
    a.client_idle_timeout_s =
        parse_number("client-idle-timeout-s", vm["client-idle-timeout-s"].as<std::string>(), 0);
    a.partial_request_timeout_ms = parse_number("client-partial-request-timeout-ms",
                                                vm["client-partial-request-timeout-ms"].as<std::string>(), 0);

    for (auto [option, file] : {std::pair{"tls-cert-file", &a.tls.cert_file},
                                {"tls-key-file", &a.tls.key_file},
                                {"tls-ca-cert-file", &a.tls.ca_file}}) {
        if (!vm.count(option)) continue;
        *file = vm[option].as<std::string>();
        if (file->empty()) throw UsageError{"--" + std::string(option) + ": expected a file"};
    }
    if (std::string missing = a.tls.incomplete(); !missing.empty()) throw UsageError{missing};

    check_addresses(a.node.cluster);
    return a;
}

// A startup failure: one line on stderr naming what is wrong, exit 1 (SPEC "ballot-server").
int fail_to_start(const std::string& why) {
    std::fprintf(stderr, "ballot-server: %s\n", why.c_str());
    return 1;
}

// The secrets of --requirepass-file and --admin-pass-file; throws std::runtime_error naming a
// file that is missing, unreadable or empty.
kv::AuthConfig read_secrets(const ServerArgs& args) {
    kv::AuthConfig auth;
    if (!args.requirepass_file.empty())
        auth.data_password = kv::read_secret_file("--requirepass-file", args.requirepass_file);
    if (!args.admin_pass_file.empty())
        auth.admin_password = kv::read_secret_file("--admin-pass-file", args.admin_pass_file);
    return auth;
}

// The TLS contexts of the client port and the peer port (common/tls.h), or none without the
// flags; throws std::runtime_error naming a file that does not load.
void load_tls(const ServerArgs& args, kv::RespServerOptions& resp_options, NodeOptions& node_options) {
    if (!args.tls.given()) return;
    resp_options.tls = client_port_tls(args.tls);
    node_options.peer_tls = peer_tls(args.tls);
}

// This node's ports, bound before anything is created on disk, so that a port in use leaves
// no new data dir or identity behind.
struct Listeners {
    asio::ip::tcp::acceptor clients;
    asio::ip::tcp::acceptor peers;
    std::optional<asio::ip::tcp::acceptor> http;  // --http
};

// Binds --http's HOST:PORT; on failure, `error` names it.
std::optional<asio::ip::tcp::acceptor> bind_http(asio::io_context& io, const NodeOptions& o,
                                                 std::string& error) {
    const std::string where = o.http_host + ":" + std::to_string(o.http_port);
    try {
        asio::ip::tcp::resolver resolver(io);
        return listen_on(io, resolver.resolve(o.http_host, std::to_string(o.http_port)).begin()->endpoint());
    } catch (const boost::system::system_error& e) {
        error = "cannot serve the live view on " + where + " (--http " + where + "): " + e.code().message();
        return std::nullopt;
    }
}

// Binds both ports of `me`, and --http's if given; on failure, `error` names the port and the
// flag it comes from.
std::optional<Listeners> bind_ports(asio::io_context& io, const NodeOptions& o, std::string& error) {
    const NodeAddress& me = o.cluster.self_address();
    asio::ip::tcp::resolver resolver(io);
    auto endpoint = [&](std::uint16_t port) {
        return resolver.resolve(me.host, std::to_string(port)).begin()->endpoint();
    };
    std::optional<asio::ip::tcp::acceptor> clients;
    try {
        clients.emplace(listen_on(io, endpoint(me.client_port)));
    } catch (const boost::system::system_error& e) {
        error =
            "cannot listen for clients on " + me.str() + " (" + node_flag(me) + "): " + e.code().message();
        return std::nullopt;
    }
    std::optional<asio::ip::tcp::acceptor> peers;
    try {
        peers.emplace(listen_on(io, endpoint(me.peer_port())));
    } catch (const boost::system::system_error& e) {
        error = "cannot listen for peers on " + me.host + ":" + std::to_string(me.peer_port()) + " (" +
                node_flag(me) + ": client port + " + std::to_string(kPeerPortOffset) +
                "): " + e.code().message();
        return std::nullopt;
    }
    Listeners listeners{std::move(*clients), std::move(*peers), std::nullopt};
    if (o.http_port == 0) return listeners;
    listeners.http = bind_http(io, o, error);
    if (!listeners.http) return std::nullopt;
    return listeners;
}

}  // namespace

int main(int argc, char** argv) {
    ServerArgs args;
    try {
        args = parse_args(argc, argv);
    } catch (const UsageError& e) {
        std::fprintf(stderr, "ballot-server: %s\n", e.message.c_str());
        return 2;
    }

    auto logger = spdlog::stderr_color_mt("ballot");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(args.log_level));
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e [n" + std::to_string(args.node.cluster.self) + "] %^%-5l%$ %v");

    kv::RespServerOptions resp_options;
    try {
        resp_options.auth = read_secrets(args);
        load_tls(args, resp_options, args.node);
    } catch (const std::runtime_error& e) {
        return fail_to_start(e.what());
    }
    resp_options.limits.max_bulk_bytes = args.max_bulk_bytes;
    resp_options.max_clients = args.max_clients;
    resp_options.idle_timeout = std::chrono::seconds(args.client_idle_timeout_s);
    resp_options.partial_request_timeout = std::chrono::milliseconds(args.partial_request_timeout_ms);
    if (args.node.durability == Durability::unsafe_no_fsync)
        spdlog::warn(
            "UNSAFE: --unsafe-no-fsync: nothing is fsync'ed; a crash of this machine may lose "
            "acknowledged writes and votes, and break consensus safety. For benchmarks only.");
    set_slow_disk_factor(args.slow_disk_factor);
    if (args.slow_disk_factor > 1)
        spdlog::warn("FAULT: --slow-disk-factor {}: every fsync is held {} times as long as the disk took. For "
                     "benchmarks only.",
                     args.slow_disk_factor, args.slow_disk_factor);

    asio::io_context io(1);
    const NodeAddress& me = args.node.cluster.self_address();
    std::string bind_error;
    std::optional<Listeners> listeners = bind_ports(io, args.node, bind_error);
    if (!listeners) return fail_to_start(bind_error);

    // Before the node opens the dir: it then finds the snapshot like any other and loads it.
    if (!args.restore_from.empty()) {
        // The backup's engine metadata may name the old cluster's configuration: the new one is
        // the --node list (EngineTraits::metadata_for_new_cluster).
        std::function<Bytes(const SnapshotMeta&)> rebase;
        if (args.node.engine->metadata_for_new_cluster) {
            std::vector<Member> members;
            for (const NodeAddress& m : args.node.cluster.members)
                members.push_back(Member{m.id, m.str(), MemberRole::voter, false});
            rebase = [engine = args.node.engine, config = Configuration(std::move(members))](
                         const SnapshotMeta& meta) { return engine->metadata_for_new_cluster(meta, config); };
        }
        kv::RestoreResult restored = kv::restore_data_dir(args.restore_from, args.node.data_dir, rebase);
        if (restored.status == kv::RestoreResult::Status::data_dir_not_empty) {
            std::fprintf(stderr, "ballot-server: %s\n", restored.error.c_str());
            return 2;
        }
        if (!restored.ok()) return fail_to_start(restored.error);
        spdlog::info("restored snapshot {} (index {}, {} bytes of state) from {} into {}",
                     restored.written.name, restored.written.meta.last_included_index,
                     restored.written.payload_bytes, args.restore_from, args.node.data_dir);
    }

    kv::KvStore store;
    std::unique_ptr<Node> node;
    try {
        node = std::make_unique<Node>(io, args.node, store);
    } catch (const NodeOpenError& e) {
        return fail_to_start(e.message);
    } catch (const std::exception& e) {
        return fail_to_start("cannot open the data dir " + args.node.data_dir + ": " + e.what());
    }

    kv::RespServer server(io, *node, store, resp_options);
    server.start(std::move(listeners->clients));
    node->start(std::move(listeners->peers));
    LiveViewServer live_view(io, *node, {resp_options.auth.data_password, resp_options.auth.admin_password});
    // The live view's crash and restart (--http-admin): clients lose their connections as they
    // would if the process died, and the restarted node starts from an empty store, as a new
    // process does, before it recovers the data dir.
    node->set_crash_hooks([&server] { server.close_connections(); },
                          [&store] { store.restore(kv::KvStore().snapshot()); });
    if (listeners->http) {
        live_view.start(std::move(*listeners->http));
        spdlog::info("live view on http://{}:{}/ (/status, /events){}{}", args.node.http_host,
                     args.node.http_port, resp_options.auth.data_password ? ", password required" : "",
                     args.node.http_admin ? ", admin actions ON (--http-admin)" : "");
    }

    asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](boost::system::error_code ec, int signal) {
        if (ec) return;
        spdlog::info("signal {}: stopping", signal);
        server.stop();
        live_view.stop();
        node->stop();  // fails waiting requests, finishes the fsync in flight
        io.stop();
    });
    std::signal(SIGPIPE, SIG_IGN);
    spdlog::info("ballot-server {} node {} serving clients on {} (peers on port {}), data dir {}",
                 args.node.protocol, me.id, me.str(), me.peer_port(), args.node.data_dir);
    spdlog::info(
        "clients: password {}, admin secret {}, at most {} connections, {}",
        resp_options.auth.data_password ? "required" : "not required",
        resp_options.auth.admin_password ? "set" : "not set", resp_options.max_clients,
        resp_options.tls ? "TLS only (no client certificate asked); peers: mutual TLS" : "plaintext");
    try {
        io.run();
    } catch (const InvariantViolation& e) {
        stop_on_broken_invariant(e);  // one that escaped the node's own guards (a storage callback)
    } catch (const std::exception& e) {
        // From a coroutine the node cannot run without (common/spawn.h): stop rather than go on
        // deaf. Destructors still finish the fsync in flight.
        spdlog::critical("stopping: unexpected error: {}", e.what());
        spdlog::default_logger()->flush();
        return 1;
    }
    node.reset();
    spdlog::info("stopped");
    return 0;
}
