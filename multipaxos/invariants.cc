// What must always hold in a Multi-Paxos node: every role's local invariants, checked by
// check_invariants() (common/engine.h) after every step in the simulator and after every batch in
// debug builds. A broken one throws InvariantViolation (common/assert.h) naming it.
#include "common/assert.h"
#include "multipaxos/multipaxos.h"

namespace ballot::multipaxos {

// Every role's local invariants (below), then the glue's.
void MultiPaxos::check_invariants() const {
    acceptor_.check_invariants();
    learner_.check_invariants();
    if (leader_) leader_->check_invariants();
    BALLOT_ASSERT(!(active_leader() && known_leader_ != kNoNode), "multipaxos: a leader follows no other");
    // Membership (membership.cc): what governs the first unchosen slot is what the node uses (it
    // reports the latest); a leader is a voter of it; one change at a time, each a single-server
    // change.
    const Configuration& governing = configs_.at(learner_.commit_index() + 1);
    BALLOT_ASSERT(governing.empty() || governing == members_.configuration(),
                  "multipaxos: the configuration used is the one governing the next slot");
    BALLOT_ASSERT(!leader_ || members_.self_is_voter(), "multipaxos: a leader is a voter of what governs");
    BALLOT_ASSERT(
        configs_.entries().size() < 2 || configs_.latest_from() <= learner_.commit_index() + 1 + kAlpha,
        "multipaxos: a configuration is known only once chosen (it governs within α of the prefix)");
    const Configuration* previous = nullptr;
    auto history = [&] {  // for the message only: built when the check fails
        std::string keys;
        for (const auto& [from, c] : configs_.entries()) keys += std::to_string(from) + " ";
        return keys;
    };
    for (const auto& [from, c] : configs_.entries()) {
        BALLOT_ASSERT(!previous || single_server_change(*previous, c),
                      "multipaxos: each configuration differs from the previous one by one server (" +
                          (previous ? previous->str() : std::string()) + " -> " + c.str() + " at slot " +
                          std::to_string(from) + "; history from " + history() + ")");
        previous = &c;
    }
    BALLOT_ASSERT(forwarded_reads_.size() <= forwarded_reads_.limit(),
                  "multipaxos: forwarded reads bounded by max_pending_proposals");
    // Snapshots and compaction (snapshots.cc): a snapshot holds only chosen slots; the acceptor
    // trims only what a durable snapshot covers, and never past a transfer in flight.
    BALLOT_ASSERT(snapshot_index_ <= learner_.commit_index(), "multipaxos: snapshot_index <= commit");
    BALLOT_ASSERT(learner_.base() <= snapshot_index_, "multipaxos: the learner's base is a durable snapshot");
    BALLOT_ASSERT(acceptor_.trimmed() <= snapshot_index_,
                  "multipaxos: trimmed only below a durable snapshot");
    BALLOT_ASSERT(compacted_below_ <= snapshot_index_ + 1, "multipaxos: compact_below <= snapshot_index + 1");
    BALLOT_ASSERT(acceptor_.trimmed() + 1 >= compacted_below_,
                  "multipaxos: what is compacted on disk is trimmed");
    for (const auto& [id, t] : transfers_) {
        BALLOT_ASSERT(t.slot <= snapshot_index_, "multipaxos: a transfer sends a snapshot this node has");
        BALLOT_ASSERT(compacted_below_ <= t.slot + 1,
                      "multipaxos: compaction never passes a transfer in flight");
    }
    if (std::optional<Index> needs = catch_up_holds_.floor())
        BALLOT_ASSERT(compacted_below_ <= *needs, "multipaxos: compaction never passes a catching-up peer");
}

void Acceptor::check_invariants() const {
    // The newest kWindow records, and every record not yet handed to the disk: older ones were
    // checked when they were the newest (records are only ever added or replaced, never moved).
    constexpr std::size_t kWindow = 64;
    std::size_t seen = 0;
    for (auto it = accepted_.rbegin(); it != accepted_.rend() && seen < kWindow; ++it, ++seen) {
        BALLOT_ASSERT(it->first != 0 && it->second.index == it->first, "acceptor: slot key and entry agree");
        BALLOT_ASSERT(it->second.ballot != 0, "acceptor: every accepted value carries a ballot");
    }
    for (const Entry& e : unsaved_) {
        BALLOT_ASSERT(e.index != 0 && e.ballot != 0, "acceptor: an unsaved record has a slot and a ballot");
        const Entry* now = accepted(e.index);
        BALLOT_ASSERT(now != nullptr, "acceptor: an unsaved record is held");
    }
    BALLOT_ASSERT(!promise_changed_ || !promised_.is_zero(), "acceptor: a changed promise is a real ballot");
    BALLOT_ASSERT(accepted_.empty() || accepted_.begin()->first > trimmed_,
                  "acceptor: no record at or below the trim point");
}

void Learner::check_invariants() const {
    // Slots chosen above the prefix wait behind a gap; one right after it would have been taken.
    BALLOT_ASSERT(chosen_above_.empty() || *chosen_above_.begin() > commit_index_ + 1,
                  "learner: no deliverable slot left behind the chosen prefix");
    BALLOT_ASSERT(delivered_ == commit_index_, "learner: everything in the chosen prefix is delivered, once");
    BALLOT_ASSERT(highest_chosen() >= commit_index_, "learner: highest chosen >= commit index");
    BALLOT_ASSERT(base_ <= commit_index_, "learner: a snapshot's slots are chosen");
    BALLOT_ASSERT(committed_.empty() || committed_.front().index > base_,
                  "learner: nothing at or below an installed snapshot is handed out");
    BALLOT_ASSERT(acceptor_.trimmed() <= commit_index_, "learner: only chosen slots are trimmed");
    // The acceptor's record of a delivered slot is the chosen value: a restart delivers it again
    // and catch-up serves it (checked over the newest 64 slots; older ones were checked then).
    for (Index slot = commit_index_; slot > acceptor_.trimmed() && slot + 64 > commit_index_; --slot)
        BALLOT_ASSERT(acceptor_.accepted(slot) != nullptr,
                      "learner: a delivered slot has a value (slot " + std::to_string(slot) + ")");
}

void Leader::check_invariants() const {
    BALLOT_ASSERT(ballot_.node == members_.self(), "leader: its ballot carries its own id");
    BALLOT_ASSERT(acceptor_.promised() >= ballot_, "leader: own acceptor has promised its ballot");
    for (const auto& [slot, p] : pending_) {
        BALLOT_ASSERT(slot < next_slot_, "leader: pending slot below next_slot");
        // α-reconfiguration (configs.h): slot t is proposed only once every slot up to t - α is
        // chosen, so a configuration chosen in s is never used for a slot below s + α.
        BALLOT_ASSERT(slot <= learner_.commit_index() + kAlpha,
                      "leader: a slot is proposed only within α of the chosen prefix");
        const Configuration& acceptors = configs_.at(slot);
        BALLOT_ASSERT(p.accepted_by.size() < voter_quorum(acceptors),
                      "leader: a slot accepted by a majority is not pending");
        for (NodeId id : p.accepted_by)
            BALLOT_ASSERT(acceptors.is_voter(id), "leader: only the voters governing a slot accept it");
    }
    BALLOT_ASSERT(!active() || next_slot_ <= learner_.commit_index() + kAlpha + 1,
                  "leader: the pipeline window is α slots");

    BALLOT_ASSERT(own_next_ <= next_slot_, "leader: own acceptor sent only assigned slots");
    for (const auto& [id, peer] : peers_) {
        BALLOT_ASSERT(peer.inflight.size() <= config_.max_inflight_messages,
                      "leader: in-flight Accepts per peer within max_inflight_messages");
        BALLOT_ASSERT(peer.next <= next_slot_, "leader: a peer is sent only assigned slots");
    }
    BALLOT_ASSERT(confirmed_seq_ <= read_seq_, "leader: confirmed only read rounds started");
    std::uint64_t previous = 0;
    for (const PendingRead& r : reads_) {
        BALLOT_ASSERT(r.seq >= previous, "leader: pending reads ordered by round");
        BALLOT_ASSERT(r.seq > confirmed_seq_, "leader: no confirmed read left waiting");
        previous = r.seq;
    }
    BALLOT_ASSERT(reads_.size() <= config_.max_pending_proposals,
                  "leader: reads bounded by max_pending_proposals");
}

}  // namespace ballot::multipaxos
