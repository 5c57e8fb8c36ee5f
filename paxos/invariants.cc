// What must always hold in basic Paxos, every role's check in one file. The simulator calls
// check_invariants() after every step, the driver after every batch in debug and sanitizer builds
// (common/engine.h); a failure stops the node with a message naming the invariant (common/assert.h).
// The cheap local checks on the hot paths (P1, P1a in acceptor.cc; the learner's in-order
// hand-out) are BALLOT_ASSERTs next to the code they guard.
#include <algorithm>

#include "common/assert.h"
#include "paxos/paxos.h"

namespace ballot::paxos {

// Every role's local invariants, then the glue's.
void Paxos::check_invariants() const {
    acceptor_.check_invariants();
    learner_.check_invariants();
    proposer_.check_invariants();
    configs_.check_invariants();
    // Membership change (membership.cc): configurations follow the chosen prefix at once, and only
    // void entries not handed out yet are remembered.
    BALLOT_ASSERT(configs_.through() == learner_.commit_index(),
                  "paxos: configurations are followed through the chosen prefix (" +
                      std::to_string(configs_.through()) + " of " + std::to_string(learner_.commit_index()) +
                      ")");
    BALLOT_ASSERT(void_slots_.empty() || *void_slots_.begin() > learner_.emitted(),
                  "paxos: a void entry is handed out as a no-op once");
    // §2.5: the highest round put in a Prepare is persisted before that Prepare leaves.
    BALLOT_ASSERT(persisted_round_ <= proposer_.round_used(), "paxos: the persisted round was used");
    BALLOT_ASSERT(learner_.highest_chosen() < proposer_.next_slot(),
                  "paxos: every chosen slot is known in use");
    BALLOT_ASSERT(fill_next_ >= 1, "paxos: gap filling starts at slot 1 or later");
    // Catching up (catch_up.cc): the cursor passes only slots known chosen (or trimmed somewhere),
    // and at most one bulk request is in flight, to a peer, for a limited time.
    const Index known_from = std::max(learner_.commit_index(), proposer_.floor());
    for (Index slot = unknown_ - 1; slot > known_from && slot + 64 >= unknown_; --slot)
        BALLOT_ASSERT(learner_.chosen(slot) != nullptr, "paxos: the catch-up cursor passed slot " +
                                                            std::to_string(slot) + ", not known chosen");
    for (NodeId peer : {fetch_.asked, fetch_.next, heard_from_})
        BALLOT_ASSERT(peer == kNoNode || peer != configs_.self(), "paxos: chosen values are asked of a peer");
    BALLOT_ASSERT(fetch_.from == 0 || fetch_.deadline <= now_ + tuning_.chosen_timeout_ticks,
                  "paxos: a bulk request in flight expires");
    // Snapshots and compaction (snapshots.cc, README "Snapshots and compaction").
    const Index trim = acceptor_.trim_point();
    BALLOT_ASSERT(snapshot_index_ <= learner_.commit_index(),
                  "paxos: the snapshot is within the chosen prefix");
    BALLOT_ASSERT(trim <= snapshot_index_, "paxos: only what a durable snapshot covers is trimmed");
    BALLOT_ASSERT(learner_.base() <= snapshot_index_,
                  "paxos: the learner forgets only what a snapshot covers");
    BALLOT_ASSERT(trim <= learner_.emitted(), "paxos: the acceptor trims only slots handed out");
    BALLOT_ASSERT(proposer_.floor() >= std::max(trim, learner_.base()),
                  "paxos: no instance runs at or below this node's trim point or installed snapshot");
    BALLOT_ASSERT(persisted_trim_ <= trim && compacted_ <= trim,
                  "paxos: the trim point persisted and compacted was reached");
    for (const auto& [peer, t] : transfers_) {
        BALLOT_ASSERT(trim <= t.index, "paxos: never compacted past a snapshot in flight (to n" +
                                           std::to_string(peer) + ", through " + std::to_string(t.index) +
                                           ")");
        BALLOT_ASSERT(t.index <= snapshot_index_, "paxos: a transfer sends a snapshot this node made");
    }
    if (std::optional<Index> needs = catch_up_holds_.floor())
        BALLOT_ASSERT(trim < *needs, "paxos: never compacted past what a catching-up peer fetches next");
    for (const auto& [peer, t] : peer_trims_)
        BALLOT_ASSERT(proposer_.floor() >= t, "paxos: no instance runs at or below a peer's trim point");
}

// Consecutive configurations differ by one server (the single-server rule, which the guard keeps:
// a change made to a configuration that no longer governs would undo another), each governs from α
// slots after the slot that chose it, and none beyond what the known prefix allows.
void Configurations::check_invariants() const {
    for (auto it = steps_.begin(); it != steps_.end(); ++it) {
        const Index chosen = chosen_in_.at(it->first);
        BALLOT_ASSERT(chosen == 0 || it->first == chosen + kAlpha,
                      "paxos: a configuration governs from alpha slots after its entry");
        BALLOT_ASSERT(chosen <= through_,
                      "paxos: a configuration in the history was chosen in the known prefix");
        if (it == steps_.begin()) continue;
        const Configuration& prev = std::prev(it)->second.configuration();
        BALLOT_ASSERT(prev.empty() || single_server_change(prev, it->second.configuration()),
                      "paxos: the configuration chosen in slot " + std::to_string(chosen) + " (" +
                          it->second.configuration().str() + ") differs from the one before (" + prev.str() +
                          ") by one server");
    }
}

void Acceptor::check_invariants() const {
    auto check = [this](Index slot, const Slot& s) {
        auto where = [slot] { return " (slot " + std::to_string(slot) + ")"; };  // only on failure
        BALLOT_ASSERT(slot >= 1, "acceptor: slots are numbered from 1");
        BALLOT_ASSERT(s.promised >= s.accepted, "acceptor: promise >= accepted ballot" + where());
        BALLOT_ASSERT(!s.accepted.is_zero() || s.value.empty(),
                      "acceptor: a value only with a ballot" + where());
        BALLOT_ASSERT(s.promised <= highest_promise_,
                      "acceptor: highest_promise covers every promise" + where());
        BALLOT_ASSERT(s.accepted.is_zero() || slot <= highest_accepted_slot_,
                      "acceptor: highest_accepted_slot covers every accepted slot" + where());
    };
    BALLOT_ASSERT(slots_.empty() || slots_.begin()->first > trim_,
                  "acceptor: nothing held at or below the trim point");
    BALLOT_ASSERT(unsaved_.empty() || *unsaved_.begin() > trim_,
                  "acceptor: nothing rewritten at or below the trim point");
    BALLOT_ASSERT(highest_accepted_slot_ >= trim_,
                  "acceptor: the highest accepted slot covers the trim point");
    constexpr std::size_t kWindow = 64;
    std::size_t seen = 0;
    for (auto it = slots_.rbegin(); it != slots_.rend() && seen < kWindow; ++it, ++seen)
        check(it->first, it->second);
    for (Index slot : unsaved_) {
        auto it = slots_.find(slot);
        BALLOT_ASSERT(it != slots_.end(), "acceptor: an unsaved slot is held");
        check(slot, it->second);
    }
}

void Learner::check_invariants() const {
    BALLOT_ASSERT(emitted_ <= commit_index_, "learner: hands out only the chosen prefix");
    BALLOT_ASSERT(chosen_.count(commit_index_ + 1) == 0, "learner: commit index reaches every known slot");
    BALLOT_ASSERT(chosen_.empty() || chosen_.begin()->first >= 1, "learner: slots are numbered from 1");
    // After an install nothing at or below the snapshot is handed out (again), and nothing below
    // the base is held.
    BALLOT_ASSERT(base_ <= emitted_, "learner: nothing handed out at or below a snapshot");
    BALLOT_ASSERT(chosen_.empty() || chosen_.begin()->first > base_, "learner: nothing held below the base");
    for (Index slot = commit_index_; slot > base_ && slot + 64 > commit_index_; --slot)
        BALLOT_ASSERT(chosen_.count(slot) == 1,
                      "learner: the chosen prefix is contiguous (slot " + std::to_string(slot) + " unknown)");
}

void Proposer::check_invariants() const {
    BALLOT_ASSERT(round_durable_ <= round_used_, "proposer: only rounds used are known durable");
    BALLOT_ASSERT(round_used_ <= round_, "proposer: the next round is at least the highest used");
    BALLOT_ASSERT(instances_.size() <= std::max(tuning_.max_inflight_slots, tuning_.max_inflight_fills),
                  "proposer: instances within the window (gap fills: the fill window)");
    BALLOT_ASSERT(queued_.size() <= tuning_.max_pending_proposals, "proposer: queued commands bounded");
    BALLOT_ASSERT(next_slot_ > floor_, "proposer: new commands go above every trim point heard of");
    std::size_t own_in_flight = 0;
    for (const auto& [slot, i] : instances_) {
        own_in_flight += i.own ? 1 : 0;
        auto where = [slot = slot, ballot = i.ballot] {  // only on failure
            return " (slot " + std::to_string(slot) + ", ballot " + ballot.str() + ")";
        };
        BALLOT_ASSERT(i.slot == slot, "proposer: an instance knows its slot" + where());
        BALLOT_ASSERT(slot < next_slot_, "proposer: slots in hand are below next_slot" + where());
        BALLOT_ASSERT(slot > floor_, "proposer: never Paxos at or below a trim point" + where());
        // α-reconfiguration (configurations.h): slot t's instance runs only once config(t) is known.
        BALLOT_ASSERT(configs_.known(slot),
                      "proposer: config(slot) is known for every slot in hand" + where());
        BALLOT_ASSERT(i.ballot.node == id_ && i.ballot.round >= 1,
                      "proposer: an attempt uses its own ballot" + where());
        // §2.5: a proposer never reuses a proposal number, so its round is never below one it used.
        BALLOT_ASSERT(i.ballot.round <= round_used_,
                      "proposer: round_used covers every ballot used" + where());
        BALLOT_ASSERT(i.ballot <= highest_ballot_,
                      "proposer: highest_ballot covers every ballot used" + where());
    }
    // README "Livelock": each command this node wants chosen is held once, queued or in flight.
    BALLOT_ASSERT(held_.size() == queued_.size() + own_in_flight,
                  "proposer: every command queued or in flight is held, once");
}

}  // namespace ballot::paxos
