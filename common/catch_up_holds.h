#pragma once
// After a snapshot transfer, the peer goes on from the log: it next needs the entry after the
// snapshot. While the transfer ran, this node may have made a newer snapshot of its own, which lets
// it compact past that entry; doing so the moment the transfer ends makes the peer need a second
// snapshot, and a slow peer under steady writes a third, and so on (the snapshot loops of
// consul#9609, cockroach#8629, hashicorp/raft#212; issue 11: "a follower with a 40x slower disk gets
// at most 2 snapshot transfers per outage").
//
// A CatchUpHolds keeps, per peer that just took a snapshot from this node, the first index it still
// needs, which compaction must not pass. A hold follows the peer's progress up, ends once the peer
// needs nothing below the node's ordinary compaction point, and expires after a bounded number of
// ticks, so that a peer that died again, or never reports progress, cannot pin the log (and the
// memory it takes) for ever. Engine-agnostic and deterministic: time is the engine's ticks.
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
    // index + 1 on for `ticks` ticks, or until the peer passes it. A hold already there keeps its
    // deadline and the higher of the two floors.
    void start(NodeId peer, Index index, std::uint64_t ticks) {
        auto [it, fresh] = holds_.try_emplace(peer, Hold{index + 1, now_ + ticks});
        if (!fresh) it->second.needs = std::max(it->second.needs, index + 1);
    }

    // `peer` now holds everything through `index` (an acknowledgement, a request from `index` + 1
    // on): its hold moves up, and ends once the peer needs nothing below `ordinary_floor` (the
    // first index the node would keep without holds: the peer is back among those the trailing
    // entries serve). Returns true if the hold ended. No effect on a peer with no hold.
    bool progressed(NodeId peer, Index index, Index ordinary_floor) {
        auto it = holds_.find(peer);
        if (it == holds_.end()) return false;
        it->second.needs = std::max(it->second.needs, index + 1);
        if (it->second.needs < ordinary_floor) return false;
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
        Index needs = 0;              // the first index the peer still needs from this node
        std::uint64_t deadline = 0;  // the tick the hold expires at
    };
    std::map<NodeId, Hold> holds_;
    std::uint64_t now_ = 0;
};

}  // namespace ballot
