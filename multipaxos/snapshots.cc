// Snapshots and compaction (common/engine.h "SNAPSHOTS"; README "Snapshots and compaction").
//
// The acceptor's records are the protocol's memory (PMS §2.2), so they may go only when what they
// remember can never be asked for again: a slot chosen, applied, and covered by a durable
// snapshot. Then the acceptor trims them, as libpaxos3's acceptor does (acceptor_set_trim: every
// instance up to the trim point is deleted and later requests for it are answered "trimmed"), and
// PMMC's replicas keep only their state and slot_in/slot_out. What the trim point changes:
//   - compaction: snapshot_made(X) trims through X - snapshot_trailing, never past what a peer
//     receiving this node's snapshot will need next (a transfer of S in flight keeps S + 1), nor,
//     on a leader, past what a peer that installed it has not learned yet (catch-up holds, for
//     at most snapshot_retry_ticks);
//   - a peer whose first missing slot is trimmed is sent the snapshot (Ready::snapshot_to) instead
//     of Chosen values (catch_up.cc), at most one transfer per peer, again if the transfer fails or
//     is not reported within snapshot_retry_ticks;
//   - an acceptor's replies carry its trim point (Promise, Accepted): a proposer that does not know
//     those slots chosen neither counts the reply for them nor proposes for them, and asks the
//     acceptor for its snapshot (SnapshotRequest);
//   - an installed snapshot is taken as chosen and applied, and trims everything through it;
//   - recovery starts from the recovered snapshot and drops records it covers.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "multipaxos/multipaxos.h"

namespace ballot::multipaxos {

// ---------------------------------------------------------------- recovery

namespace {

// What `meta` says of the configurations (configs.h), or std::invalid_argument naming `what` if its
// bytes are not this engine's snapshot metadata. Empty bytes: a snapshot written before membership
// change, with no history (the bootstrap configuration still governs).
ConfigHistory snapshot_configs(const SnapshotMeta& meta, const char* what) {
    std::string why;
    std::optional<ConfigHistory> history = ConfigHistory::decode(meta.engine_metadata, why);
    if (!history)
        throw std::invalid_argument(std::string("multipaxos: ") + what + " through slot " +
                                    std::to_string(meta.last_included_index) +
                                    " has metadata that does not decode: " + why);
    return *history;
}

}  // namespace

// The recovered snapshot's last slot (0: none).
Index MultiPaxos::recovered_snapshot(const RecoveredState& recovered) {
    return recovered.snapshot ? recovered.snapshot->last_included_index : 0;
}

ConfigHistory MultiPaxos::recovered_configs(const EngineConfig& config, const RecoveredState& recovered) {
    if (recovered.snapshot) {
        ConfigHistory history = snapshot_configs(*recovered.snapshot, "recovered snapshot");
        if (!history.empty()) return history;
    }
    return ConfigHistory(bootstrap_configuration(config));
}

// Where the acceptor's memory starts after a restart with a snapshot through X. Records at or
// below X are chosen slots, but only those the commit hint covers are known to hold the chosen
// VALUE (a crash between an install's rename and its compaction leaves votes there that may have
// lost). So: with the hint at or above X, the run of records ending at X stays (the trailing log
// kept for lagging peers); otherwise everything through X is trimmed. Throws std::invalid_argument
// if the hint says slots above the snapshot are on disk that were compacted away (no snapshot
// covers them: an older snapshot than the one the compaction relied on).
Index MultiPaxos::recovered_trim_point(const Recovered& recovered, Index snapshot) {
    const Index hint = recovered.metadata.commit;
    auto above = std::find_if(recovered.records.begin(), recovered.records.end(),
                              [&](const Entry& e) { return e.index > snapshot; });
    if (above != recovered.records.end() && above->index > snapshot + 1 && hint >= above->index)
        throw std::invalid_argument("multipaxos: recovered records start at slot " +
                                    std::to_string(above->index) + " after a snapshot through slot " +
                                    std::to_string(snapshot) + ", but the commit hint " +
                                    std::to_string(hint) + " says the slots between are chosen and on disk");
    if (snapshot == 0 || hint < snapshot) return snapshot;
    Index trim = snapshot;
    for (auto it = std::make_reverse_iterator(above); it != recovered.records.rend() && it->index == trim;
         ++it)
        --trim;
    return trim;
}

// ---------------------------------------------------------------- the runtime's calls

// Multi-Paxos keeps with a snapshot through X the configurations that govern the slots after X
// (configs.h, ConfigHistory::encode_after): a node that restarts from it, or installs it, knows
// the configuration of every slot up to X + α. `index` must be a slot this engine handed out.
Bytes MultiPaxos::snapshot_metadata(Index index) const {
    if (index == 0 || index > learner_.commit_index())
        throw std::invalid_argument("multipaxos: snapshot_metadata(" + std::to_string(index) +
                                    ") is not a chosen slot (chosen through " +
                                    std::to_string(learner_.commit_index()) + ")");
    return configs_.encode_after(index);
}

// This node's own snapshot through X is durable: history up to X - snapshot_trailing may go.
void MultiPaxos::snapshot_made(const SnapshotMeta& meta) {
    const Index x = meta.last_included_index;
    if (x > learner_.commit_index())
        throw std::invalid_argument("multipaxos: snapshot_made through slot " + std::to_string(x) +
                                    " above the chosen prefix " + std::to_string(learner_.commit_index()));
    if (x <= snapshot_index_) return;  // an older snapshot finished after a newer one: nothing new
    snapshot_index_ = x;
    if (x >= config_.snapshot_trailing)
        compact_goal_ = std::max(compact_goal_, x - config_.snapshot_trailing + 1);
    compact();
}

// A peer's snapshot through X is durable here and the state machine holds it (engine.h). The
// slots through X are chosen (the sender applied them) and applied: the learner jumps there, and
// the acceptor trims everything through X at once, whatever a transfer of this node's own older
// snapshot would like kept: records above this node's old chosen prefix may be votes for values
// that lost, and the snapshot, not they, now says what those slots hold.
void MultiPaxos::snapshot_installed(const SnapshotMeta& meta) {
    const Index x = meta.last_included_index;
    if (x <= snapshot_index_ || x <= learner_.base()) return;  // nothing newer than what it holds
    // Its configurations replace this node's: every one they hold was made by a command through X,
    // and this node has delivered nothing beyond X (a snapshot of an older version holds none).
    ConfigHistory history = snapshot_configs(meta, "installed snapshot");
    if (!history.empty()) {
        configs_ = std::move(history);
        governing_since_ = configs_seen_from_ = 0;  // refresh_membership() looks again
    }
    snapshot_index_ = x;
    learner_.install(x);
    acceptor_.trim_through(x);
    if (leader_) leader_->snapshot_installed(x);
    transfers_.clear();  // their floors are gone; their reports, if any, are ignored
    catch_up_holds_.clear();
    compact_goal_ = std::max(compact_goal_, x + 1);
    compact();
    refresh_membership();
}

// A transfer this node asked for ended. The floor it held goes; a peer that still lacks what was
// trimmed is asked for again by its next catch-up (a failed transfer) or its next request.
void MultiPaxos::snapshot_sent(NodeId to, Index index, bool ok) {
    auto it = transfers_.find(to);
    if (it == transfers_.end()) return;  // not asked for, or already taken as lost
    transfers_.erase(it);
    if (ok && leader_) {
        leader_->snapshot_delivered(to, index);
        // It learns the slots after `index` from this leader's Chosen messages: keep them until it
        // has (or gains nothing on us for snapshot_retry_ticks), even if a newer snapshot of ours
        // would let them go; unless they are gone already (this node installed a later snapshot
        // meanwhile).
        if (index + 1 >= compacted_below_) catch_up_holds_.start(to, index, config_.snapshot_retry_ticks);
    }
    compact();
}

// ---------------------------------------------------------------- transfers

// At most one transfer per peer; one not reported within snapshot_retry_ticks is taken as lost
// (expire_transfers) and may be asked for again.
void MultiPaxos::send_snapshot(NodeId to) {
    if (snapshot_index_ == 0 || to == members_.self() || transfers_.count(to) > 0) return;
    transfers_[to] = Transfer{snapshot_index_, now_};
    snapshot_to_.push_back(to);
}

void MultiPaxos::expire_transfers() {
    bool expired = std::erase_if(transfers_, [&](const auto& t) {
                       return now_ >= t.second.asked_tick + config_.snapshot_retry_ticks;
                   }) > 0;
    // Catch-up holds serve the leader's peers: one that expired, or all of them once this node
    // no longer leads, stop holding compaction back.
    if (catch_up_holds_.tick()) expired = true;
    if (!leader_ && !catch_up_holds_.empty()) {
        catch_up_holds_.clear();
        expired = true;
    }
    if (expired) compact();
}

void MultiPaxos::peer_learned(NodeId id, Index chosen) {
    if (catch_up_holds_.progressed(id, chosen, learner_.commit_index(), config_.snapshot_trailing)) compact();
}

// A reply from `from` carried a trim point above this node's chosen prefix. Asked at most once per
// retry period: the answer is a transfer, which takes a while.
void MultiPaxos::need_snapshot(NodeId from) {
    const std::uint64_t period =
        std::max<std::uint64_t>(2 * config_.heartbeat_ticks, config_.election_timeout_min_ticks / 2);
    if (snapshot_requested_tick_ && now_ < *snapshot_requested_tick_ + period) return;
    snapshot_requested_tick_ = now_;
    send(from, SnapshotRequest{learner_.commit_index()});
}

// Any member may ask; only a snapshot above what the requester holds is worth sending.
void MultiPaxos::on(NodeId from, const SnapshotRequest& m) {
    if (snapshot_index_ > m.have) send_snapshot(from);
}

// ---------------------------------------------------------------- compaction

// A peer receiving snapshot S next needs slot S + 1 from this node's log (engine.h), and one that
// installed it still needs the slots it has not learned (catch-up holds).
Index MultiPaxos::transfer_floor() const {
    Index floor = compact_goal_;
    for (const auto& [id, t] : transfers_) floor = std::min(floor, t.slot + 1);
    if (std::optional<Index> needs = catch_up_holds_.floor()) floor = std::min(floor, *needs);
    return floor;
}

// Trims the acceptor below the goal, as far as transfers in flight allow, and hands the
// compaction point to the runtime in the next Ready.
void MultiPaxos::compact() {
    const Index below = transfer_floor();
    if (below <= compacted_below_) return;
    compacted_below_ = below;
    compact_below_ = below;
    acceptor_.trim_through(below - 1);
}

void Leader::snapshot_delivered(NodeId to, Index slot) {
    auto it = peers_.find(to);
    if (it == peers_.end()) return;
    it->second.chosen = std::max(it->second.chosen, slot);
    it->second.installed = std::max(it->second.installed, slot);
    it->second.catchup_end = 0;  // the next acknowledgement gets Chosen values after the snapshot
}

void Leader::snapshot_installed(Index slot) {
    pending_.erase(pending_.begin(), pending_.upper_bound(slot));
}

}  // namespace ballot::multipaxos
