// ballot-bench's command line: what to run (engines on spawned local clusters, or an existing
// cluster), the workload, and where the report goes. parse_options() validates everything a
// user can get wrong and returns one line naming the problem; main() prints it and exits 2.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/link_delay.h"
#include "common/types.h"

namespace ballot::bench {

// One member of an existing cluster (--node HOST:PORT:ID), or of a spawned one.
struct Endpoint {
    std::string host;
    std::uint16_t port = 0;
    NodeId id = kNoNode;

    std::string address() const { return host + ":" + std::to_string(port); }
};

enum class Target { all, leader };

// --workload: SET (and GET, --read-ratio) on random keys; or lock: each client takes a lease and
// LOCKs and UNLOCKs a lock again and again (bench/load.h says how it is measured).
enum class WorkloadKind { set, lock };

// --transfer-leader-at/--transfer-leader-every (MEMBER TRANSFER to the next voter) or
// --remove-leader-at (MEMBER REMOVE of the leader), bench/transfer.h.
enum class LeaderAction { transfer, remove };

// --fail-follower-for: the follower is killed this many seconds into the measured run, so the
// write latency before the fault is measured over these seconds...
inline constexpr double kFollowerKillAtS = 2;
// ...and the run must leave at least this much time after the restart for the catch-up to be
// seen under load (the bench keeps polling the follower after the load, up to a bound).
inline constexpr double kFollowerCatchupMinS = 3;

// --sweep NAME=V1,V2,...: the run repeated for each value, one row per engine and value, and a
// throughput-latency curve per engine in the HTML report.
struct Sweep {
    enum class Parameter { clients, rate };
    Parameter parameter = Parameter::clients;
    std::vector<double> values;  // increasing; whole numbers for clients

    // "clients" or "rate", as on the command line.
    std::string name() const { return parameter == Parameter::clients ? "clients" : "rate"; }
};

struct Options {
    std::vector<std::string> protocols;  // empty: every engine in the registry
    int nodes = 3;
    int clients = 64;
    int pipeline = 1;
    double duration_s = 10;
    double warmup_s = 2;
    std::size_t value_size_bytes = 100;
    std::uint64_t keys = 10000;
    double read_ratio = 0;
    WorkloadKind workload = WorkloadKind::set;
    // --lock-contention: clients per lock in the lock workload; 1 is uncontended (each client its
    // own lock), more measures the handoff from one holder to the next waiter.
    int lock_contention = 1;
    // Open loop at this many requests per second in total; closed loop when absent.
    std::optional<double> rate_ops = std::nullopt;
    Target target = Target::all;
    // An existing cluster to measure instead of spawning one per engine.
    std::vector<Endpoint> existing;
    // "redis" (AOF, fsync on every write, like Ballot's log) or "redis-nofsync" (no
    // persistence at all): a local single-node redis-server as a reference row.
    std::optional<std::string> baseline = std::nullopt;
    // Seconds into the measured run (after warmup) at which the leader is SIGKILLed.
    std::optional<double> fail_leader_at_s = std::nullopt;
    // --fail-follower-for: a follower is SIGKILLed kFollowerKillAtS into the measured run, kept
    // down this many seconds while the load goes on, then restarted on its data dir; the report
    // gives its catch-up (bench/follower.h).
    std::optional<int> fail_follower_for_s = std::nullopt;
    // --slow-follower-disk: with --fail-follower-for, the follower is restarted with
    // --slow-disk-factor this (every fsync this many times as long; common/durability.h). 1: off.
    std::uint32_t slow_follower_disk = 1;
    // Seconds into the measured run (increasing) at which the leader is asked to change
    // (`leader_action`); empty: never.
    std::vector<double> change_leader_at_s;
    LeaderAction leader_action = LeaderAction::transfer;
    // Extra arguments for every spawned ballot-server, one argv element each (--server-arg).
    std::vector<std::string> server_args;
    std::string out_dir = "bench-results";
    bool json_stdout = false;
    // The ballot-server binary; empty means "next to ballot-bench" (resolved by main).
    std::string server;
    std::uint64_t seed = 1;
    // --link-delay: passed to every spawned ballot-server (WAN emulation, common/link_delay.h).
    LinkDelay link_delay;
    // --unsafe-no-fsync: passed to every spawned ballot-server (common/durability.h), so the
    // bench can stand beside in-memory systems; every row and the report's title say UNSAFE.
    bool unsafe_no_fsync = false;
    // --port-base: spawned clusters use client ports N..N+nodes-1 (peer ports 10000 above);
    // random free ports when absent.
    std::optional<std::uint16_t> port_base = std::nullopt;
    // --requirepass-file: given to every spawned ballot-server (as an absolute path), and the
    // password every client (and every check of the bench) AUTHs with; also for --node.
    std::string requirepass_file;
    std::string password;
    // --tls: spawned clusters run TLS with throwaway certificates (bench/targets.cc), and every
    // client talks TLS.
    bool tls = false;
    std::optional<Sweep> sweep = std::nullopt;

    // The options of one run of a sweep: `value` in place of --clients or --rate.
    Options at_sweep_point(double value) const;
    bool closed_loop() const { return !rate_ops.has_value(); }
};

struct ParseResult {
    std::optional<Options> options;  // set when the arguments are valid and help was not asked
    std::string error;               // one line naming the problem, when they are not
    std::string help;                // set when --help was given
    bool version = false;            // --version was given
};

// `args` excludes the program name.
ParseResult parse_options(const std::vector<std::string>& args);

// The --help text, defaults included.
std::string usage();

// "HOST:PORT:ID" -> Endpoint, or nullopt with `error` set.
std::optional<Endpoint> parse_endpoint(const std::string& text, std::string& error);

}  // namespace ballot::bench
