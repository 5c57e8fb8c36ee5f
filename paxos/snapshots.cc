// Snapshots and log compaction in basic Paxos (README "Snapshots and compaction"; the contract is
// common/engine.h, SNAPSHOTS). The runtime makes, stores, streams and installs snapshots of the
// state machine; the engine decides what it may forget and who needs one.
//
// The model is libpaxos3's acceptor trim: every node has its own trim point, at or below which its
// acceptor and learner state is gone (all of it chosen, and covered by a durable snapshot of this
// node). The acceptor refuses a Prepare or Accept there with Trimmed (acceptor.cc), carrying the
// trim point; a probe's ReadReply carries it too. A node that hears a trim point never runs
// Paxos at or below it (Proposer::skip_through, catch_up.cc), and if the slots it still lacks are
// among those, it asks that peer for its snapshot (SnapshotRequest), which the peer names in
// Ready::snapshot_to. Basic Paxos has no leader to push a snapshot: the one who lacks pulls.
#include <algorithm>
#include <stdexcept>

#include "common/assert.h"
#include "paxos/paxos.h"
#include "paxos/persist.h"

namespace ballot::paxos {

namespace {

// EngineConfig::snapshot_trailing slots stay below a snapshot through `x`, so that a peer a
// little behind relearns them through Paxos (a Learn, or phase 1 at acceptors that still hold
// them) rather than by a whole snapshot.
Index trailing_trim(Index x, Index trailing) {
    return x > trailing ? x - trailing : 0;
}

}  // namespace

// ---------------------------------------------------------------- the runtime's calls

// The configuration history still relevant at and after the snapshot (README "Membership
// change"): what a node restarting from it, or installing it, needs to know config(t) for every
// slot t up to index + α.
Bytes Paxos::snapshot_metadata(Index index) const {
    return encode_snapshot_metadata(configs_.relevant_after(index));
}

namespace {

// The configuration history a snapshot carries; std::invalid_argument if it does not decode (a
// corrupt file the runtime's checksum did not catch, or another engine's).
std::vector<ConfigStep> config_history(const SnapshotMeta& meta) {
    std::string why;
    auto steps = decode_snapshot_metadata(meta.engine_metadata, &why);
    if (!steps)
        throw std::invalid_argument("paxos: the metadata of the snapshot through " +
                                    std::to_string(meta.last_included_index) + " does not decode: " + why);
    return *steps;
}

}  // namespace

void Paxos::snapshot_made(const SnapshotMeta& meta) {
    const Index x = meta.last_included_index;
    if (x <= snapshot_index_) return;  // not newer than one this node already holds
    BALLOT_ASSERT(x <= learner_.emitted(), "snapshot_made through " + std::to_string(x) +
                                               " is within the committed prefix handed out (" +
                                               std::to_string(learner_.emitted()) + ")");
    snapshot_index_ = x;
    configs_.forget_through(x);  // the history before it is in the snapshot's metadata
    trim_goal_ = std::max(trim_goal_, trailing_trim(x, config_.snapshot_trailing));
    compact();
}

// The state machine holds everything chosen through X: the learner starts above it, and the
// acceptor trims it (a snapshot was asked for because a peer had trimmed these slots, so running
// Paxos there is off limits anyway; nothing trailing is kept, this node's own log never held them).
void Paxos::snapshot_installed(const SnapshotMeta& meta) {
    const Index x = meta.last_included_index;
    if (x <= snapshot_index_) return;
    snapshot_index_ = x;
    configs_.reset(x, config_history(meta));
    learner_.install(x);
    follow_chosen_prefix();     // what was learned above it (membership.cc)
    reserve_pending_change();   // a change the snapshot covers that does not govern yet
    proposer_.skip_through(x);  // chosen, and the learner no longer takes them: no instance there
    // This node's own change, chosen in a slot the snapshot covers, is never handed out here: it
    // settles now, or its MEMBER command, and every later one here, waited for ever (seed 201096).
    settle_covered_change();  // membership.cc
    fill_next_ = std::max(fill_next_, x + 1);
    trim_goal_ = std::max(trim_goal_, x);
    compact();
    // The peer that sent it keeps the slots after it for us (its catch-up hold): fetch them there.
    if (asked_ != kNoNode) fetch_.next = asked_;
    next_snapshot_request_ = now_;  // still behind a peer's trim point? ask again at once
    request_snapshot();
    use_window();
}

// The serving side's bookkeeping only: the transfer no longer holds compaction back. A failed one
// is asked for again by the peer (request_snapshot) while it still needs it. Any report ends the
// transfer to that peer, whatever snapshot it names: the runtime sends one per peer at a time and
// ignores an ask while it still sends, so the report of a transfer taken as lost and asked for
// again is the only one that will come (and a newer snapshot than asked for may be what it sent).
void Paxos::snapshot_sent(NodeId to, Index index, bool ok) {
    auto it = transfers_.find(to);
    if (it == transfers_.end()) return;
    transfers_.erase(it);
    // The peer fetches the slots after `index` from this node next (it asks the peer that sent
    // its snapshot first, snapshot_installed): keep them until it has (or it gains nothing on us
    // for snapshot_retry_ticks), even if a newer snapshot of ours would let them go.
    if (ok && index >= acceptor_.trim_point()) catch_up_holds_.start(to, index, config_.snapshot_retry_ticks);
    compact();
}

// `peer` holds every chosen slot through `have` (its ChosenRequest or SnapshotRequest says so).
void Paxos::catch_up_progressed(NodeId peer, Index have) {
    if (catch_up_holds_.progressed(peer, have, learner_.commit_index(), config_.snapshot_trailing)) compact();
}

// ---------------------------------------------------------------- recovery

// Restart with a snapshot through X already in the state machine: commit and applied start at X,
// and the next Committed handed out is X+1. Acceptor records above the persisted trim point are
// kept, those at or below it were dropped (Acceptor's constructor); `leftovers` says some were on
// disk, and are deleted again. The configuration history comes with the snapshot.
void Paxos::recover_snapshot(const SnapshotMeta& meta, bool leftovers) {
    const Index x = meta.last_included_index;
    snapshot_index_ = x;
    configs_.reset(x, config_history(meta));
    learner_.install(x);
    proposer_.skip_through(x);
    reserve_pending_change();  // membership.cc: a change the snapshot covers that does not govern yet
    fill_next_ = x + 1;
    if (leftovers) compacted_ = 0;
    // A crash between the snapshot and its compaction: compact now.
    trim_goal_ = trailing_trim(x, config_.snapshot_trailing);
    compact();
}

// ---------------------------------------------------------------- compaction

// Trims to the goal, but never past a snapshot in flight to a peer (SPEC: "a snapshot being sent
// is never compacted away under the transfer"): that peer will next need the slot after it; nor
// past what a peer that installed it has not fetched yet (catch-up holds).
void Paxos::compact() {
    Index target = trim_goal_;
    for (const auto& [peer, t] : transfers_) target = std::min(target, t.index);
    // A peer that installed our snapshot next fetches the slot after what it has.
    if (std::optional<Index> needs = catch_up_holds_.floor()) target = std::min(target, *needs - 1);
    if (target <= acceptor_.trim_point()) return;
    acceptor_.trim(target);
    learner_.trim(std::min(target, learner_.emitted()));
    proposer_.skip_through(target);
}

// A transfer never reported within snapshot_retry_ticks is taken as lost: it stops holding
// compaction back, and the peer, if it still needs one, asks again.
void Paxos::expire_transfers() {
    bool expired = false;
    for (auto it = transfers_.begin(); it != transfers_.end();) {
        if (now_ < it->second.deadline) {
            ++it;
            continue;
        }
        it = transfers_.erase(it);
        expired = true;
    }
    if (catch_up_holds_.tick()) expired = true;
    if (expired) compact();
}

// ---------------------------------------------------------------- peers' trim points

// The slots at or below are gone here as far as a peer asking for chosen values is concerned: the
// acceptor trimmed them, or the learner holds no values there (it starts at an installed snapshot,
// or at the one a restart recovered, while the acceptor may keep the slots below for longer: a
// transfer or catch-up hold, snapshot_trailing). This is what a ChosenValues tells a peer and what
// decides whether it gets a snapshot. Before, a restarted node said 1107, its acceptor's trim
// point, but held no values through 1137, its snapshot: a peer at 1112 asked it for slot 1113 for
// ever, told "none", and was never sent the snapshot (simulator seed 883706149). A probe's
// ReadReply still carries the acceptor's own trim point: it answers for the acceptor, whose
// highest accepted slot is at least that (the codec refuses a reply with a trim point above it).
Index Paxos::forgotten_through() const {
    return std::max(acceptor_.trim_point(), learner_.base());
}

void Paxos::on(NodeId from, const Trimmed& m) {
    heard_trim(from, m.trim);
}

// Everything at or below `trim` is chosen (a peer trims only what its snapshot covers): no phase 1
// or 2 there any more, and if this node lacks some of it, only a snapshot can bring it.
void Paxos::heard_trim(NodeId from, Index trim) {
    if (from == configs_.self()) return;  // this node's own trim point is at or below its commit
    Index& known = peer_trims_[from];
    if (trim <= known) return;
    known = trim;
    proposer_.skip_through(trim);
    request_snapshot();
}

// The slot this node needs next is trimmed at some peer: ask one that trimmed it (its snapshot
// covers it), again every probe interval until a snapshot is installed (the peer ignores a repeat
// while its transfer is under way). A peer that has not delivered within snapshot_retry_ticks
// (down, or partitioned away) is passed over for the next such peer in id order.
void Paxos::request_snapshot() {
    const Index have = learner_.commit_index();
    if (now_ < next_snapshot_request_) return;
    auto behind = [&](NodeId peer) {
        auto it = peer_trims_.find(peer);
        return it != peer_trims_.end() && it->second > have;
    };
    NodeId to = asked_;
    if (!behind(to) || now_ - asked_since_ >= config_.snapshot_retry_ticks) {
        NodeId first = kNoNode, next = kNoNode;
        for (const auto& [peer, trim] : peer_trims_) {
            if (trim <= have) continue;
            if (first == kNoNode) first = peer;
            if (next == kNoNode && peer > asked_) next = peer;
        }
        to = next != kNoNode ? next : first;
        asked_since_ = now_;
    }
    asked_ = to;
    if (to == kNoNode) return;
    next_snapshot_request_ = now_ + tuning_.probe_interval_ticks;
    send(to, SnapshotRequest{have});
}

// A peer lacks slots this node has trimmed: the runtime streams it this node's latest snapshot
// (at most one transfer per peer). A peer that lacks nothing trimmed here relearns through Paxos.
void Paxos::on(NodeId from, const SnapshotRequest& m) {
    note_progress(from, m.have);  // membership.cc
    catch_up_progressed(from, m.have);
    if (from == configs_.self() || forgotten_through() <= m.have || transfers_.count(from)) return;
    transfers_[from] = Transfer{snapshot_index_, now_ + config_.snapshot_retry_ticks};
    snapshot_to_.push_back(from);
}

}  // namespace ballot::paxos
