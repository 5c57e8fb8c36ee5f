// --fail-follower-for SECONDS: a follower of a spawned cluster is SIGKILLed while the load runs,
// kept down for SECONDS, restarted on the same data dir with the same arguments, and followed
// over INFO until it has applied everything the cluster had committed when it came back. What
// that cost is the FollowerCatchup of the row (bench/result.h).
//
// The fault runs on its own thread (FaultPlan::fail_follower in bench/load.h); it tells the load's
// thread when each phase began through FaultMarks, so that write latencies are filed by phase.
// The parts that decide something (INFO fields, elections, catch-up, /proc parsing, phases) are
// pure functions or small classes fed with samples, tested without servers or clocks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "bench/result.h"

namespace ballot {
class LocalCluster;
}

namespace ballot::bench {

// An INFO reply as key -> value (parse_info in bench/load.h).
using Info = std::map<std::string, std::string>;

// How long the restarted follower is followed before the bench gives up on its catch-up.
inline constexpr std::chrono::seconds kCatchupBound{60};
// How often its INFO (and the survivors') is polled meanwhile.
inline constexpr std::chrono::milliseconds kCatchupPollInterval{20};

// A whole-number INFO field; nullopt when it is missing or not a number. Fields are added to
// INFO over time (snapshot_index, snapshots_installed), so a missing one means "unknown".
std::optional<std::uint64_t> info_number(const Info& info, const std::string& key);

// The epoch an INFO reply reports, as (round, node): "term:7" is (7, 0), "ballot:7.2" is (7, 2);
// nullopt when there is neither.
std::optional<std::pair<std::uint64_t, std::uint64_t>> info_epoch(const Info& info);

// VmRSS from the text of /proc/<pid>/status ("VmRSS:     5120 kB"), in bytes; nullopt if absent.
std::optional<std::uint64_t> parse_vm_rss_bytes(const std::string& status_text);
// VmRSS of a running process, in bytes; nullopt if it cannot be read.
std::optional<std::uint64_t> read_vm_rss_bytes(int pid);

// Which phase of the fault a request sent at `t` belongs to, given when each phase began
// (nanoseconds on one clock; 0: that phase has not begun).
enum class FaultPhase { before_kill, down, catching_up, after };
FaultPhase phase_at(std::int64_t t_ns, std::int64_t kill_ns, std::int64_t restart_ns,
                    std::int64_t caught_up_ns);

// When the phases began, written by the fault's thread and read by the load's thread
// (steady_clock nanoseconds since its epoch; 0 until then). The catch-up is seen by polling, so
// caught_up_ns is late by up to one poll interval.
struct FaultMarks {
    std::atomic<std::int64_t> kill_ns{0};
    std::atomic<std::int64_t> restart_ns{0};
    std::atomic<std::int64_t> caught_up_ns{0};

    FaultPhase phase_at(std::chrono::steady_clock::time_point t) const;
    static std::int64_t now_ns();
};

// Elections seen in the survivors' INFO replies, fed one reply at a time in the order polled.
// An election is counted per term (Raft) or ballot round (Multi-Paxos) started after the first
// reply, whether or not it elected anyone; a leader change is a reply naming a leader other than
// the last one known, in a higher epoch (so a survivor that has not heard yet does not count
// as a change back).
class ElectionCounter {
public:
    void observe(const Info& info);
    std::uint64_t elections() const;
    std::uint64_t leader_changes() const { return leader_changes_; }

private:
    using Epoch = std::pair<std::uint64_t, std::uint64_t>;
    std::optional<Epoch> first_;
    std::optional<Epoch> highest_;
    NodeId leader_ = kNoNode;
    Epoch leader_epoch_{0, 0};
    std::uint64_t leader_changes_ = 0;
};

// The restarted follower's INFO replies, from its restart on: caught up once its applied_index
// reaches `target` (what the cluster had committed at the restart). Replies from a node not yet
// listening are empty maps and are skipped.
class CatchupObserver {
public:
    // `snapshot_index_before_kill`: the follower's INFO snapshot_index just before it was killed,
    // if it reported one.
    CatchupObserver(Index target, std::optional<Index> snapshot_index_before_kill);

    // One reply, `since_restart_ms` after the restart; true once caught up.
    bool observe(double since_restart_ms, const Info& info);

    bool caught_up() const { return catch_up_ms_.has_value(); }
    std::optional<double> catch_up_ms() const { return catch_up_ms_; }
    Index applied_index() const { return applied_; }
    // Whether it installed a snapshot from a peer: INFO snapshots_installed > 0 where reported;
    // else whether its snapshot_index rose past the one it loaded from disk (which its own
    // snapshot, made while catching up, would also do: the evidence says so).
    SnapshotSeen snapshot(std::string& evidence) const;

private:
    Index target_;
    std::optional<Index> before_kill_;
    std::optional<double> catch_up_ms_;
    Index applied_ = 0;
    std::optional<std::uint64_t> installed_max_;
    std::optional<Index> snapshot_first_;  // the first reported after the restart: from disk
    std::optional<Index> snapshot_last_;
};

// The fault, run on the load's fault thread: picks the follower (a node that is not the leader;
// basic Paxos: the highest-numbered node, never the one --target leader loads), SIGKILLs it,
// waits `down_s` while the load goes on, restarts it, and polls until it has caught up, it
// exits, kCatchupBound passes or `*interrupted` is set. kill_at_s/restart_at_s and the latency
// histograms are left for the load to fill in from `marks`.
// Once caught up, the follower's installs are watched until `run_end` (the end of the measured
// run, the load still on): a follower whose disk cannot keep up falls behind again and needs
// another snapshot, and that belongs to the same outage. `slow_disk_factor` > 1 restarts it with
// --slow-disk-factor (--slow-follower-disk).
struct FollowerFault {
    double down_s = 0;
    std::uint32_t slow_disk_factor = 1;
    std::chrono::steady_clock::time_point run_end;
};
FollowerCatchup fail_follower(LocalCluster& cluster, const FollowerFault& fault, FaultMarks& marks,
                              const std::atomic<bool>* interrupted);

}  // namespace ballot::bench
