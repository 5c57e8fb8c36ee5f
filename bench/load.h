// The load generator: `clients` RESP connections driven by C++20 coroutines on one io_context in
// the calling thread (the machine is shared with the servers under test, so the generator must
// be cheap), a warmup, then the measured seconds.
//
// Closed loop (default): each client keeps `pipeline` requests in flight and sends the next as
// soon as one is answered; latency is answer time minus send time.
//
// Open loop (--rate): each client has a fixed schedule of intended send times at rate/clients
// per second, and latency is answer time minus *intended* time. A request the client could not
// send on time (its pipeline window was full, or it was reconnecting) is sent late, and the
// wait is in its latency: a stall shows as the stall it is instead of as one slow request
// (the "coordinated omission" that Gil Tene describes in "How NOT to Measure Latency").
//
// --workload lock: each client grants itself one lease (LEASE GRANT, not measured), then loops
// LOCK name lease -> token, UNLOCK name token, each one a log write, closed loop, one at a time.
// With --lock-contention N, clients i*N..i*N+N-1 share lock i, so a LOCK waits in the lock's
// queue and is answered when a release hands the lock over. A handoff is timed from the UNLOCK
// (sent, and acknowledged) to the token of a waiter whose LOCK was sent before that UNLOCK. The
// SET workload is run on the same nodes before and after it, for the same seconds with one
// client per lock (as many writes in flight as the lock run has), for the ratios.
// A LOCK still queued when the run ends is not "unfinished": in a contended run one always is.
//
// Errors (-ERR, -TRYAGAIN, -CLUSTERDOWN, ..., lost connections) are counted by kind; the client
// then moves to the next node after a short backoff.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/follower.h"
#include "bench/options.h"
#include "bench/result.h"
#include "bench/transfer.h"

namespace boost::asio::ssl {
class context;
}

namespace ballot::bench {

struct Workload {
    int clients = 64;
    int pipeline = 1;
    std::optional<double> rate_ops;
    std::size_t value_size_bytes = 100;
    std::uint64_t keys = 10000;
    double read_ratio = 0;
    WorkloadKind kind = WorkloadKind::set;
    int lock_contention = 1;
    double warmup_s = 2;
    double duration_s = 10;
    std::uint64_t seed = 1;
    Target target = Target::all;
    std::string password;  // AUTH on every connection when not empty
    // TLS on every connection (common/tls.h, client_tls); null: plaintext.
    std::shared_ptr<boost::asio::ssl::context> tls;
    // Poll every node's INFO for snapshot_in_progress and file write latency by it
    // (bench/snapshot_windows.h): set for Ballot nodes, not for a redis baseline.
    bool watch_snapshots = false;

    static Workload from(const Options& o);
};

// One report a second while the load runs.
struct Progress {
    std::string label;
    bool warming_up = false;
    double elapsed_s = 0;  // into the warmup, or into the measured run
    double total_s = 0;    // length of that phase
    double ops_last_second = 0;
    std::uint64_t errors = 0;  // so far, measured run only
};

// What the fault injector did: whom it killed, how it chose, and when.
struct KillReport {
    NodeId killed = kNoNode;
    std::string how;
    std::chrono::steady_clock::time_point at;
};

// One fault per run: exactly one of the functions is set.
struct FaultPlan {
    double at_s = 0;  // seconds into the measured run
    // Called on a separate thread at that time (it may block on INFO and waitpid); returns what it
    // did. Nothing else touches what it uses while the load runs.
    std::function<KillReport()> kill_leader;
    // Likewise, for --fail-follower-for (bench/follower.h): it marks in `marks` when each phase
    // begins, and the load files each write's latency under the phase it was sent in. It may
    // outlast the load (it follows the catch-up to its end, within kCatchupBound).
    std::function<FollowerCatchup(FaultMarks& marks)> fail_follower;
    // Likewise, for --transfer-leader-at/-every and --remove-leader-at (bench/transfer.h), called
    // at `at_s` (0) with the start of measurement, from which its own times count. The load keeps
    // every successful write's send and answer times for analyse_leader_changes.
    std::function<LeaderChanges(std::chrono::steady_clock::time_point measure_start)> change_leader;
};

// Runs the workload against `nodes` and returns the row for `label` (--workload lock: SET, the
// locks, SET again, in one row). Never throws for what the
// servers do; a target that cannot be resolved comes back with completed = false. When
// `*interrupted` becomes true (a signal handler sets it) the run stops within 100 ms and comes
// back with completed = false.
EngineResult run_load(const std::string& label, const Workload& workload, const std::vector<Endpoint>& nodes,
                      const std::function<void(const Progress&)>& progress,
                      const std::optional<FaultPlan>& fault, const std::atomic<bool>* interrupted = nullptr);

// INFO's "key:value" lines as a map ('#' header lines and blanks skipped).
std::map<std::string, std::string> parse_info(const std::string& text);

}  // namespace ballot::bench
