#pragma once
// After a snapshot transfer, the peer goes on from the log: it next needs the entry after the
// snapshot. While the transfer ran, this node may have made a newer snapshot of its own, which lets
// it compact past that entry; doing so the moment the transfer ends makes the peer need a second
// snapshot, and a slow peer under steady writes a third, and so on (the snapshot loops of
// consul#9609, cockroach#8629, hashicorp/raft#212; issue 11: "a follower with a 40x slower disk gets
// at most 2 snapshot transfers per outage").
//
// A CatchUpHolds keeps, per peer that just took a snapshot from this node, the first index it still
// needs, which compaction must not pass. A hold follows the peer's progress up and ends once the
// peer is within the trailing entries of this node's commit index: a snapshot is made at most at
// the commit index, so from then on the entries kept below any snapshot this node makes serve the
// peer, as long as it keeps pace. Ending it as soon as the peer is above the node's current
// compaction floor is too early: with a snapshot every 2 s under load, the next one compacted past
// a follower on a 200x slower disk a second after its install, and it needed a second snapshot
// (ballot-bench --fail-follower-for 60 --slow-follower-disk 200, before this rule).
//
// A hold expires when the peer has not gained on this node for `ticks` ticks: its lag (this node's
// commit index minus the peer's index) has not reached a new low. A peer that died again, never
// reports, or learns more slowly than the writes arrive loses its hold, so no peer pins the log for
// ever; a peer closing in keeps it for as long as that takes, past any fixed deadline. What a hold
// keeps is the peer's lag, at most its lowest lag plus the writes of `ticks` ticks, so memory
// stays bounded without counting bytes. Engine-agnostic and deterministic: time is the engine's
// ticks.
// Used by all three engines (raft/snapshots.cc, multipaxos/snapshots.cc, paxos/snapshots.cc).
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>

#include "common/types.h"

namespace ballot {

class CatchUpHolds {
public:
    // `peer` holds a snapshot through `index` (a transfer from this node ended well): keep
    // index + 1 on for `ticks` ticks, for longer while the peer gains on this node, or until the
    // peer passes it. A hold already there keeps its deadline and the higher of the two floors.
    void start(NodeId peer, Index index, std::uint64_t ticks) {
        auto [it, fresh] = holds_.try_emplace(peer, Hold{index + 1, now_ + ticks, ticks});
        if (!fresh) it->second.needs = std::max(it->second.needs, index + 1);
    }

    // `peer` now holds everything through `index` (an acknowledgement, a request from `index` + 1
    // on), and this node's commit index is `committed`: the hold moves up, renews for another
    // `ticks` ticks if the peer's lag is the lowest yet, and ends once that lag is at most
    // `trailing` (EngineConfig::snapshot_trailing). Returns true if the hold ended. No effect on a
    // peer with no hold.
    bool progressed(NodeId peer, Index index, Index committed, Index trailing) {
        auto it = holds_.find(peer);
        if (it == holds_.end()) return false;
        Hold& hold = it->second;
        hold.needs = std::max(hold.needs, index + 1);
        const Index lag = committed > index ? committed - index : 0;
        if (lag < hold.lowest_lag) {
            hold.lowest_lag = lag;
            hold.deadline = now_ + hold.renew_ticks;
        }
        if (lag > trailing) return false;
        holds_.erase(it);
        return true;
    }

    void clear() { holds_.clear(); }

    // One tick. Returns true if a hold expired (compaction may move on).
    bool tick() {
        ++now_;
        return std::erase_if(holds_, [&](const auto& h) { return now_ >= h.second.deadline; }) > 0;
    }

    // The lowest index a hold keeps (nullopt: no hold). Compaction may delete only below it.
    std::optional<Index> floor() const {
        std::optional<Index> lowest;
        for (const auto& [peer, hold] : holds_) lowest = std::min(lowest.value_or(hold.needs), hold.needs);
        return lowest;
    }

    bool empty() const { return holds_.empty(); }

private:
    struct Hold {
        Index needs = 0;                // the first index the peer still needs from this node
        std::uint64_t deadline = 0;     // the tick the hold expires at, unless renewed
        std::uint64_t renew_ticks = 0;  // a renewal moves `deadline` this many ticks from now
        Index lowest_lag = kMaxIndex;   // the peer's lowest lag reported (none yet: the maximum)
    };
    std::map<NodeId, Hold> holds_;
    std::uint64_t now_ = 0;
};

}  // namespace ballot
