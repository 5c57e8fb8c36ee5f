// What one measured run produced (one row of the table), and the analysis of its timeline.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench/histogram.h"
#include "common/types.h"

namespace ballot::bench {

// Successful completions per millisecond of the measured run, counted by completion time from
// the start of measurement. Millisecond resolution is what the unavailability window is
// measured with; the per-second throughput line is summed from it.
struct Timeline {
    std::vector<std::uint32_t> ok_per_ms;

    // Requests completed successfully in second `s` (0-based) of the run, for each whole or
    // partial second of `duration_s`.
    std::vector<std::uint64_t> ok_per_second(double duration_s) const;
    // The same in bins of `bin_ms`, as a rate (requests per second) so that bins of any width
    // read on one axis; a partial last bin is scaled by its own length.
    std::vector<double> ops_per_bin(double duration_s, std::uint32_t bin_ms) const;
};

// One successful write of the measured run: when it was sent and answered, in milliseconds from
// the start of measurement (kept for the analyses that file writes by when they were sent:
// bench/transfer.h, bench/snapshot_windows.h).
struct WriteSample {
    double sent_ms = 0;
    double done_ms = 0;
};

// The gap in service around a leader crash.
struct UnavailabilityWindow {
    // Milliseconds from the start of measurement.
    double kill_ms = 0;
    // End of the last millisecond with a success before the gap (0 if none before it).
    double last_ok_before_ms = 0;
    // Start of the first millisecond with a success after the gap; nullopt if service never
    // came back before the run ended.
    std::optional<double> first_ok_after_ms;

    std::optional<double> length_ms() const {
        if (!first_ok_after_ms) return std::nullopt;
        return *first_ok_after_ms - last_ok_before_ms;
    }
};

// The unavailability window caused by a kill at `kill_ms`: the longest run of milliseconds
// without a single success that ends after the kill and begins at or after the last success
// before it, and no later than `settle_ms` after the kill. Successes can complete just after
// the kill (replies already on their way), so the gap is not assumed to start at the kill
// itself; and the longest such gap is taken, because stragglers answered by surviving nodes can
// split the outage into short runs before the real one.
UnavailabilityWindow find_unavailability(const Timeline& timeline, double kill_ms, double settle_ms = 1000);

// Where the leader crash hit, and what it cost.
struct Failover {
    double kill_at_s = 0;  // seconds into the measured run, as actually performed
    NodeId killed = kNoNode;
    std::string how;  // e.g. "leader n2 (INFO role:leader)" or "node 1: basic Paxos has no leader"
    UnavailabilityWindow window;
};

// Whether the restarted follower caught up through a snapshot transfer, and what says so.
enum class SnapshotSeen { yes, no, unknown };

// What --fail-follower-for saw (bench/follower.h): a follower killed, kept down while the load
// went on, restarted on its data dir, and followed over INFO until it had applied what the
// cluster had committed at the moment of its restart.
struct FollowerCatchup {
    NodeId killed = kNoNode;
    std::string how;  // e.g. "follower n3 (leader n1 by INFO role:leader)"
    // Seconds into the measured run, as performed (restart_at_s: 0 if it never happened).
    double kill_at_s = 0;
    double restart_at_s = 0;
    double down_s = 0;  // as asked
    // --slow-follower-disk: the follower was restarted with --slow-disk-factor this (1: no).
    std::uint32_t slow_disk_factor = 1;
    // Empty when the follower was restarted and followed; else what went wrong (it did not
    // start again, the run was interrupted, ...).
    std::string problem;
    std::string log_tail;  // the restarted node's last log lines, when it exited

    // The highest commit_index among the survivors just before the restart: the catch-up target.
    Index target_index = 0;
    // From the restart until the follower's INFO applied_index reached target_index; nullopt if
    // it did not within catchup_bound_s (INFO polled every ~20 ms, so to within that).
    std::optional<double> catch_up_ms;
    double catchup_bound_s = 0;
    Index applied_index_last = 0;  // the follower's applied_index at the last poll

    SnapshotSeen snapshot = SnapshotSeen::unknown;
    std::string snapshot_evidence;  // e.g. "INFO snapshots_installed:1"
    // How long its installs were still watched after the catch-up, until the run ended (the
    // evidence above covers that time too).
    double watched_after_catch_up_s = 0;

    // Terms (Raft) or ballot rounds (Multi-Paxos) started on the survivors from the kill until
    // the catch-up, and changes of the leader they report; nullopt for an engine with no leader.
    std::optional<std::uint64_t> elections;
    std::uint64_t leader_changes = 0;

    // The node the snapshot and the log come from: the leader at the kill (basic Paxos: node 1).
    NodeId rss_node = kNoNode;
    std::optional<std::uint64_t> rss_before_bytes;      // VmRSS just before the kill
    std::optional<std::uint64_t> rss_at_restart_bytes;  // VmRSS just before the restart: what
                                                        // the catch-up's rise is measured from
    std::optional<std::uint64_t> rss_max_bytes;         // the largest VmRSS seen during the catch-up

    // Write (SET) latencies by the phase their request was sent in (measured seconds only).
    LatencyHistogram write_before_ns;   // before the kill
    LatencyHistogram write_down_ns;     // while the follower was down
    LatencyHistogram write_catchup_ns;  // from the restart until the follower caught up
};

// Write latency while some node was making a snapshot, and while none was (bench/snapshot_windows.h
// says how the windows are found). Issue 11's target: p99 inside within 2x of p99 outside.
struct SnapshotLatency {
    std::size_t nodes_watched = 0;   // nodes whose INFO reported snapshot_in_progress
    std::uint64_t windows = 0;       // snapshots seen being made, over all nodes
    double inside_ms = 0;            // how much of the measured run some node spent making one
    LatencyHistogram write_inside_ns;   // writes sent while some node was making a snapshot
    LatencyHistogram write_outside_ns;  // writes sent while none was

    // p99 inside over p99 outside; nullopt without writes on both sides.
    std::optional<double> p99_ratio() const;
};

// One leadership change the bench asked for (bench/transfer.h says how each figure is measured).
struct LeaderChange {
    double at_s = 0;                       // the command sent, seconds into the measured run
    NodeId from = kNoNode;                 // the leader it was sent to
    NodeId to = kNoNode;                   // the voter named by MEMBER TRANSFER (MEMBER REMOVE: kNoNode)
    std::string how;                       // e.g. "leader n1 (INFO role:leader)"
    std::string reply;                     // "OK", or the error reply as received (e.g. "TRYAGAIN ...")
    double reply_ms = 0;                   // from sending the command to its reply
    std::optional<double> unavailable_ms;  // nullopt: no write sent after it succeeded in the run
    double window_ms = 0;
    std::uint64_t writes = 0;            // writes in progress during the window
    std::optional<double> write_p99_ms;  // of those; nullopt when there were none

    // Answered -ERR: nothing was changed, so nothing is measured (the other figures stay empty).
    bool refused() const { return reply.rfind("ERR", 0) == 0; }
};

// What --transfer-leader-at/--transfer-leader-every/--remove-leader-at did.
struct LeaderChanges {
    std::string command;    // "MEMBER TRANSFER" or "MEMBER REMOVE"
    std::size_t asked = 0;  // changes the options asked for
    std::vector<LeaderChange> changes;
    // Why fewer were made than asked, or none: e.g. the cluster refused ("ERR leadership transfer
    // is not built for Multi-Paxos yet"), no node reported a leader, the run was interrupted.
    std::string problem;
    LatencyHistogram write_during_ns;  // every change's window's writes, merged

    std::size_t ok() const;  // changes answered +OK
    // The unavailability of the changes that have one, at `percentile` (nearest rank; p100: max).
    std::optional<double> unavailable_ms_at(double percentile) const;
};

// The SET runs that --workload lock measures on the same cluster just before and just after the
// lock run (both together here), so that the figures come from one sitting and neither has the
// fresh cluster to itself; with one client per lock, so that SET has as many writes in flight at
// once as the lock run (whose waiters wait in a queue, not in the log).
struct SetReference {
    bool completed = false;
    std::string failure;
    int clients = 0;              // one per lock: as many writes in flight as the lock run has
    double ops = 0;               // successful SETs per measured second, over both runs
    LatencyHistogram latency_ns;  // of those SETs
    std::uint64_t errors = 0;     // both runs
};

// What --workload lock measured (bench/load.h): each LOCK and UNLOCK is one log write, counted
// in the row's ops/s and latency; these are the figures by kind.
struct LockRun {
    int contention = 1;           // clients per lock
    int locks = 0;                // locks the clients were spread over
    std::uint64_t acquired = 0;   // LOCKs answered with a token (measured seconds)
    std::uint64_t released = 0;   // UNLOCKs answered +OK
    LatencyHistogram acquire_ns;  // LOCK sent -> token (waiting in the queue included)
    LatencyHistogram release_ns;  // UNLOCK sent -> +OK
    // A handoff: a release of a lock for which another client's LOCK was already waiting (sent
    // before the UNLOCK), and that waiter's token.
    std::uint64_t handoffs = 0;
    LatencyHistogram handoff_ns;            // UNLOCK sent -> the next holder's token
    LatencyHistogram handoff_after_ack_ns;  // UNLOCK acknowledged -> the next holder's token (0 if
                                            // the token came first: both follow from one apply)
    // A token received while another client held the lock by the replies it had had: never
    // expected (each release wakes exactly one waiter).
    std::uint64_t overlapping_grants = 0;
    SetReference set;

    // Lock operations (LOCK and UNLOCK) per second over SET's, in the same sitting; nullopt
    // without a SET figure.
    std::optional<double> ops_ratio(double lock_ops) const;
    // Handoff p99 (from the UNLOCK sent) over SET p99; nullopt without both.
    std::optional<double> handoff_p99_ratio() const;
};

// Which run of a --sweep a row is: e.g. clients = 16.
struct SweepPoint {
    std::string parameter;  // "clients" or "rate"
    double value = 0;

    std::string str() const;  // "clients=16"
};

// How every row and the title of a --unsafe-no-fsync run are marked.
inline constexpr const char* kUnsafeLabel = "UNSAFE (no fsync)";

struct EngineResult {
    std::string engine;               // the row label: protocol name, "redis", or the external target
    std::string note;                 // e.g. "not replicated; AOF fsync always"
    std::optional<SweepPoint> point;  // set in a --sweep
    // How the engine serves a linearizable read (EngineTraits::read_path), set when the workload
    // has reads.
    std::string read_path;
    bool replicated = true;
    // Measured with --unsafe-no-fsync: its servers never fsync'ed, so it is not a durable log.
    bool unsafe_no_fsync = false;
    // False when the cluster could not be started or measured; `failure` says why.
    bool completed = false;
    std::string failure;

    double duration_s = 0;                        // measured seconds
    std::uint64_t ok = 0;                         // successful completions within the measured seconds
    LatencyHistogram latency_ns;                  // successful requests sent during the measured seconds
    std::map<std::string, std::uint64_t> errors;  // by kind ("TRYAGAIN", "connection lost", ...)
    // Requests sent (open loop: due) during the measured seconds that had no answer when the
    // run ended, after a grace period.
    std::uint64_t unfinished = 0;
    Timeline timeline;
    std::optional<Failover> failover;
    std::optional<FollowerCatchup> follower;
    std::optional<LeaderChanges> leader_changes;
    std::optional<LockRun> lock;  // --workload lock
    // Set when the nodes were watched for snapshots (Ballot nodes; not a redis baseline).
    std::optional<SnapshotLatency> snapshots;
    // Proposals the nodes gave up because an acceptor had promised a higher ballot, over the
    // measured run (INFO proposals_preempted, bench/info_counter.h): basic Paxos's proposers
    // contending for slots, Multi-Paxos's leaders displaced. nullopt: no node reported it.
    std::optional<std::uint64_t> proposals_preempted;

    // The label shown in tables: a reference row that is not replicated says so, a sweep's row
    // names its point.
    std::string display_name() const {
        return (replicated ? engine : engine + " (not replicated)") +
               (unsafe_no_fsync ? std::string(" ") + kUnsafeLabel : "") + (point ? " " + point->str() : "");
    }

    double throughput_ops() const { return duration_s > 0 ? static_cast<double>(ok) / duration_s : 0; }
    std::uint64_t error_count() const;
};

// The configuration line printed beside the numbers (STYLE: "a figure without its setup is
// not a figure").
struct RunConfig {
    std::string cluster;  // "3 nodes, spawned locally" or "existing: 127.0.0.1:7000 ..."
    int clients = 0;
    int pipeline = 1;
    std::optional<double> rate_ops;
    std::string target;  // all | leader
    std::size_t value_size_bytes = 0;
    std::uint64_t keys = 0;
    double read_ratio = 0;
    std::string workload;  // "set", or e.g. "lock, 1 client per lock"
    double duration_s = 0;
    double warmup_s = 0;
    std::string durability;  // "log fsync'ed before every acknowledgement"
    unsigned cores = 0;
    std::uint64_t seed = 0;
    std::string started_at;        // local time, ISO 8601
    std::string link_delay;        // --link-delay, e.g. "20 ms +- 5 ms"; empty when none
    std::string sweep;             // --sweep as given, e.g. "clients=1,4,16"; empty when none
    std::string version;           // "ballot-bench 0.1.0 (<commit>)"
    std::string machine;           // host name, CPU model
    bool unsafe_no_fsync = false;  // --unsafe-no-fsync: the report's title says UNSAFE (no fsync)
    bool tls = false;              // --tls: clients and peers talk TLS

    std::string line() const;
};

}  // namespace ballot::bench
