// Snapshots and log compaction: the extended paper's §7 ("Log compaction") and Figure 13
// (InstallSnapshot RPC), on the contract of common/engine.h (SNAPSHOTS). The runtime owns the
// bytes: it snapshots the state machine, streams a snapshot in chunks, writes and restores it.
// The engine decides what the log may let go of, which follower needs a snapshot, and what an
// installed snapshot does to the log.
//
//   the node's own snapshot      snapshot_metadata(X) -> the term of X; snapshot_made(X) ->
//                                compact, keeping snapshot_trailing entries below X, every
//                                entry a transfer in flight will need next, and what a follower
//                                that installed our snapshot still needs (catch-up holds)
//   a follower needs one         send_append() finds nextIndex - 1 compacted away ->
//                                send_snapshot(): Ready::snapshot_to, Progress in snapshot state;
//                                snapshot_sent() or snapshot_retry_ticks end it
//   installing a leader's one    snapshot_installed(X, T): Figure 13 rules 6 and 7
//   restart                      recover_log(): the snapshot is the log's base; rule 7 again
//
// Figure 13 mapped: rules 2-5 and 8 (chunks, offsets, done, the file, resetting the state machine)
// are the runtime's. Rule 1 ("reply immediately if term < currentTerm") is not applied: the
// runtime carries no term, and needs none, because a snapshot holds only committed entries, which
// are the same in every server's log (State Machine Safety), so installing one sent by a stale
// leader is as safe as installing the current leader's. Rules 6 and 7 are snapshot_installed().
#include <algorithm>
#include <stdexcept>
#include <string>

#include "common/assert.h"
#include "raft/raft.h"

namespace ballot::raft {

namespace {

std::string str(std::uint64_t v) {
    return std::to_string(v);
}

// What `meta` says (last included term, configuration), or std::invalid_argument naming `what` if
// its bytes are not Raft's snapshot metadata.
SnapshotInfo snapshot_info(const SnapshotMeta& meta, const char* what) {
    std::string why;
    std::optional<SnapshotInfo> info = decode_snapshot_metadata(meta, &why);
    if (!info)
        throw std::invalid_argument(std::string("raft: ") + what + " through index " +
                                    str(meta.last_included_index) +
                                    " has metadata that does not decode: " + why);
    return *info;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Restart

void Raft::recover_log(std::vector<Entry> records, const std::optional<SnapshotMeta>& snapshot,
                       Index store_compacted_below) {
    if (!snapshot || snapshot->last_included_index == 0) {
        log_ = RaftLog(std::move(records));
        return;
    }
    const Index x = snapshot->last_included_index;
    const SnapshotInfo info = snapshot_info(*snapshot, "recovered snapshot");
    const std::uint64_t term = info.last_included_term;
    if (info.config && !info.config->empty()) reset_configuration(x, *info.config);
    for (std::size_t i = 1; i < records.size(); ++i) {
        if (records[i].index != records[i - 1].index + 1)
            throw std::invalid_argument("raft: recovered log has a gap between index " +
                                        str(records[i - 1].index) + " and index " + str(records[i].index));
    }
    // Records at or below X may remain (a crash between the snapshot and the compaction, or
    // between an install and its truncation). Figure 13 rule 6/7 as at an install: an entry at X
    // of another term means the whole recovered log conflicts with the snapshot.
    auto at_x = std::find_if(records.begin(), records.end(), [&](const Entry& e) { return e.index == x; });
    const bool conflicts = at_x != records.end() && at_x->term != term;
    // The store's floor must reach X + 1 before entries after X are appended, or its log would
    // show a hole below them: records at or below X remain, or the compaction that should have
    // followed an install was lost (a torn write kept the install's truncation but not it).
    const bool any_at_or_below =
        (!records.empty() && records.front().index <= x) || store_compacted_below <= x;
    const bool any_above = !records.empty() && records.back().index > x;
    if (conflicts) {
        records.clear();
    } else {
        std::erase_if(records, [&](const Entry& e) { return e.index <= x; });
    }
    log_ = RaftLog(std::move(records), x, term);  // throws if what is kept does not follow X
    log_.discard_persisted(any_at_or_below, conflicts && any_above);
    adopt_snapshot_term(term);
    // The state machine already holds everything through X (common/engine.h): the first Committed
    // handed out is X + 1.
    snapshot_index_ = x;
    commitIndex = lastApplied = x;
}

// ---------------------------------------------------------------------------------------------
// This node's own snapshots, and compaction (§7: "each server takes snapshots independently,
// covering just the committed entries in its log")

Bytes Raft::snapshot_metadata(Index index) const {
    // §7: the snapshot keeps the last included index and term, for the consistency check of the
    // entry after it (AppendEntries, once the log starts there).
    const std::optional<std::uint64_t> term = log_.term_at(index);
    // The runtime snapshots only what it applied (common/engine.h): fail-stop otherwise.
    BALLOT_ASSERT(term && index <= lastApplied,
                  "snapshot_metadata(" + str(index) + ") asks for an applied index the log holds (base " +
                      str(log_.base_index()) + ", last applied " + str(lastApplied) + ")");
    return encode_snapshot_metadata(*term, configuration_at(index));
}

void Raft::snapshot_made(const SnapshotMeta& meta) {
    const Index x = meta.last_included_index;
    const std::uint64_t term = snapshot_info(meta, "snapshot made").last_included_term;
    if (x <= snapshot_index_) return;  // an older one finished after a later one (or an install)
    forget_configurations_below(x);
    BALLOT_ASSERT(x <= lastApplied && (!log_.term_at(x) || *log_.term_at(x) == term),
                  "snapshot_made(" + str(x) + ", term " + str(term) + ") is a snapshot of this log (last applied " +
                      str(lastApplied) + ")");
    snapshot_index_ = x;
    // Keep snapshot_trailing entries at and below X for followers a little behind, who then catch
    // up from the log rather than by a snapshot (etcd keeps 5,000, hashicorp/raft TrailingLogs).
    compact_log(trailing_compaction_point());
}

Index Raft::trailing_compaction_point() const {
    return snapshot_index_ > config_.snapshot_trailing ? snapshot_index_ - config_.snapshot_trailing : 0;
}

void Raft::compact_log(Index through) {
    // Never past a transfer in flight: a follower installing snapshot S continues from S + 1, and
    // must find it in our log, or it would need another snapshot, forever if sending one takes
    // longer than the log lasts (consul#9609, cockroach#8629, hashicorp/raft#212).
    for (const auto& [peer, transfer] : transfers_) through = std::min(through, transfer.index);
    // A follower that installed our snapshot next needs the entry after its match: keep the log
    // from its match on (its base term is the consistency check of that entry).
    if (std::optional<Index> needs = catch_up_holds_.floor()) through = std::min(through, *needs - 1);
    BALLOT_ASSERT(through <= snapshot_index_, "never compact past the latest durable snapshot");
    if (through > log_.base_index()) log_.compact(through);
}

void Raft::adopt_snapshot_term(std::uint64_t term) {
    // A snapshot's last included term is a term some leader reached (§5.1: a server that learns
    // of a later term adopts it). Adopting it keeps every log term <= currentTerm, which elections
    // rely on; a data dir restored from a backup holds a snapshot but no metadata (term 0).
    if (term <= currentTerm) return;
    if (role_ != Role::follower) {
        become_follower(term, kNoNode);
        return;
    }
    currentTerm = term;
    votedFor = kNoNode;
    hard_state_dirty_ = true;
    set_leader(kNoNode);  // a leader we followed was of an earlier term
}

// ---------------------------------------------------------------------------------------------
// Leader: followers that need a snapshot (§7: "the leader must occasionally send snapshots to
// followers that lag behind ... when the leader has already discarded the next log entry that it
// needs to send to a follower")

void Raft::send_snapshot(NodeId to) {
    BALLOT_ASSERT(snapshot_index_ >= log_.base_index() && snapshot_index_ > 0,
                  "a leader that compacted its log holds a snapshot through its base");
    progress_.at(to).become_snapshot();
    // A transfer already in flight keeps the index it was asked for, the lower floor for compaction;
    // the runtime ignores a repeated ask while one is in flight.
    transfers_.try_emplace(to, SnapshotTransfer{snapshot_index_, 0});
    if (std::find(snapshot_to_.begin(), snapshot_to_.end(), to) == snapshot_to_.end())
        snapshot_to_.push_back(to);
}

void Raft::snapshot_sent(NodeId to, Index index, bool ok) {
    if (to == id_ || to == kNoNode) return;
    snapshot_transfer_ended(to, index, ok);
}

void Raft::tick_snapshot_transfers() {
    // A transfer never reported within snapshot_retry_ticks is taken as lost: the follower goes
    // back to probing, which asks again if it still needs one.
    std::vector<NodeId> lost;
    for (auto& [peer, transfer] : transfers_)
        if (++transfer.elapsed_ticks >= config_.snapshot_retry_ticks) lost.push_back(peer);
    for (NodeId peer : lost) snapshot_transfer_ended(peer, 0, false);
    // Catch-up holds serve a leader's followers; one that expired (or a deposed leader's) lets
    // compaction go on.
    bool released = catch_up_holds_.tick();
    if (role_ != Role::leader && !catch_up_holds_.empty()) {
        catch_up_holds_.clear();
        released = true;
    }
    if (released) compact_log(trailing_compaction_point());
}

void Raft::catch_up_progressed(NodeId from, Index match) {
    if (catch_up_holds_.progressed(from, match, commitIndex, config_.snapshot_trailing))
        compact_log(trailing_compaction_point());
}

void Raft::snapshot_transfer_ended(NodeId to, Index index, bool ok) {
    transfers_.erase(to);
    if (role_ == Role::leader && progress_.count(to)) {  // a peer removed meanwhile has none
        Progress& pr = progress_.at(to);
        // ok: the follower durably holds everything through `index` (a snapshot holds only
        // committed entries, which are in our log too): it matches us there.
        const bool holds_it = ok && index <= log_.last_index();
        pr.on_snapshot_sent(index, holds_it);
        // It goes on from index + 1, from our log: keep that from compaction until it catches up
        // (or stops gaining on us for snapshot_retry_ticks), even if a newer snapshot of ours would
        // let it go. Not if it is gone already (a late report of a transfer taken as lost): it
        // needs another.
        if (holds_it && !log_.compacted(index)) catch_up_holds_.start(to, index, config_.snapshot_retry_ticks);
        if (!send_append(to) && behind_on_commit(pr)) commit_news_ = true;
    }
    // The transfer no longer holds compaction back (its catch-up hold, if any, takes over).
    compact_log(trailing_compaction_point());
}

// ---------------------------------------------------------------------------------------------
// Follower: a leader's snapshot was installed (Figure 13, receiver implementation)

void Raft::snapshot_installed(const SnapshotMeta& meta) {
    const Index x = meta.last_included_index;
    const SnapshotInfo info = snapshot_info(meta, "installed snapshot");
    const std::uint64_t term = info.last_included_term;
    if (x <= lastApplied) {
        // Nothing new to the log: everything through X was handed out already, and our entries
        // there are the committed ones the snapshot holds. It is our latest snapshot all the same.
        if (x > snapshot_index_) snapshot_made(meta);
        return;
    }
    snapshot_index_ = x;
    if (log_.matches(x, term)) {
        // Rule 6: "If existing log entry has same index and term as snapshot's last included
        // entry, retain log entries following it and reply". The entries through X go (but not
        // those a transfer of ours in flight still needs).
        compact_log(x);
    } else {
        // Rule 7: "Discard the entire log". Only entries above our commitIndex can differ from a
        // snapshot of committed entries, and a leader's log holds every committed entry.
        BALLOT_ASSERT(
            commitIndex < x && role_ != Role::leader,
            "a log that conflicts with a snapshot of committed entries has nothing committed there");
        log_.reset(x, term);
        transfers_.clear();  // what they would continue from is gone; the runtime still reports them
    }
    adopt_snapshot_term(term);
    // Rule 8 (the state machine holds the snapshot) is the runtime's; the log's state follows it:
    // everything through X is committed and applied, and the next Committed handed out is X + 1.
    commitIndex = std::max(commitIndex, x);
    lastApplied = x;
    // The configuration is part of the state the snapshot holds (membership.cc).
    if (info.config && !info.config->empty()) reset_configuration(x, *info.config);
}

}  // namespace ballot::raft
