// One node's estimate of cluster time: LogCabin's ClusterClock (Server/ClusterClock.h), in the
// terms of common/command.h. Cluster time is committed through the log: each command carries its
// proposer's estimate (Command::time_ms) and the state machine's clock is the largest stamp
// applied. This class is the proposer's side: what to stamp.
//
// Two lower bounds of the true cluster time, both advanced by this node's own monotonic clock:
//  - applied: the largest stamp this node has applied, plus the local time since it applied it
//    (the stamp was made before it was applied, so cluster time has moved at least that far);
//  - running: the same, taken at the last leadership change and not reset since. A leader keeps
//    it through its term, so the time its own stamps spend in the log (commit latency) is not lost
//    at every stamp, as it would be if it restarted from each stamp it applies.
// The estimate is the larger of the two, so it never falls below the largest stamp applied.
// At a leadership change the running estimate restarts from the applied one: a node that led
// before (or kept counting while cut off) must not carry its own count into the new leader's
// time, or cluster time would jump ahead of the chain of stamps and shorten leases granted since.
// So a failover loses at most the time from the last stamp the new leader applied to its first
// own stamp: about one election timeout (the README's failover bound).
//
// Pure: time is an argument (the node's steady clock, or the simulator's).
#pragma once

#include <algorithm>
#include <cstdint>

namespace ballot {

class ClusterClock {
public:
    // Starts from the state machine's clock `time_ms` (0 for a new one) at local time `now_ms`.
    void restart(std::uint64_t time_ms, std::uint64_t now_ms) {
        applied_ms_ = std::max(applied_ms_, time_ms);
        applied_at_ms_ = now_ms;
        on_leadership_change();
    }

    // A stamp this node applied (from any proposer) at local time `now_ms`.
    void on_applied(std::uint64_t stamp_ms, std::uint64_t now_ms) {
        if (stamp_ms <= applied_ms_) return;
        applied_ms_ = stamp_ms;
        applied_at_ms_ = now_ms;
    }

    // The engine's leader or term changed: count from the applied stamps again.
    void on_leadership_change() {
        running_ms_ = applied_ms_;
        running_at_ms_ = applied_at_ms_;
    }

    // What this node stamps on a command it proposes at local time `now_ms`.
    std::uint64_t estimate(std::uint64_t now_ms) const {
        return std::max(applied_ms_ + elapsed(applied_at_ms_, now_ms),
                        running_ms_ + elapsed(running_at_ms_, now_ms));
    }

    std::uint64_t applied_ms() const { return applied_ms_; }
    // Local time at which the largest stamp was applied: how long time has stood still in the log.
    std::uint64_t applied_at_ms() const { return applied_at_ms_; }

private:
    static std::uint64_t elapsed(std::uint64_t since, std::uint64_t now) {
        return now > since ? now - since : 0;
    }

    std::uint64_t applied_ms_ = 0;
    std::uint64_t applied_at_ms_ = 0;
    std::uint64_t running_ms_ = 0;
    std::uint64_t running_at_ms_ = 0;
};

}  // namespace ballot
