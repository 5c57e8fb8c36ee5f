#include "multipaxos/learner.h"

#include <algorithm>

#include "common/assert.h"
#include "common/configuration.h"

namespace ballot::multipaxos {

Learner::Learner(Acceptor& acceptor, ConfigHistory& configs, Index commit_hint, Index base, bool void_stale_changes)
    : acceptor_(acceptor),
      configs_(configs),
      void_stale_changes_(void_stale_changes),
      commit_index_(base),
      delivered_(base),
      base_(base) {
    // Deliver again, from the slot after the snapshot (slot 1 without one), everything the hint
    // says is chosen: the runtime rebuilds its state machine by re-applying. A slot missing from
    // disk (a torn last record was cut off) ends the prefix; the rest is learned again from the leader.
    while (commit_index_ < commit_hint) {
        const Entry* e = acceptor_.accepted(commit_index_ + 1);
        if (!e) break;
        ++commit_index_;
        deliver(*e);
    }
}

// The one place values leave the learner: strictly in slot order, each once (PMMC §3: replicas
// apply decisions in slot order). Relied on by the runtime, which applies what it is given.
void Learner::deliver(const Entry& e) {
    BALLOT_ASSERT(e.index == delivered_ + 1, "learner: delivers contiguously (slot " +
                                                 std::to_string(e.index) + " after " +
                                                 std::to_string(delivered_) + ")");
    BALLOT_ASSERT(e.index <= commit_index_, "learner: delivers only within the chosen prefix");
    delivered_ = e.index;
    // PMMC's replica: a reconfiguration decided in slot s governs from s + α (configs.h). A void
    // one is handed out as the no-op it is: the state machine must not answer its change as made.
    if (auto entry = config_entry_of(e.data); entry && !configs_.chosen(e.index, *entry, void_stale_changes_)) {
        committed_.push_back(Entry{e.index, e.ballot, {}});
        return;
    }
    committed_.push_back(e);
}

void Learner::learn(Index slot, Ballot ballot, const std::string& data) {
    if (is_chosen(slot)) return;
    acceptor_.store_chosen(slot, ballot, data);
    chosen_above_.insert(slot);
    advance();
}

void Learner::on_chosen_point(Ballot ballot, Index chosen) {
    if (ballot < point_ballot_ || (ballot == point_ballot_ && chosen <= point_)) return;
    point_ballot_ = ballot;
    point_ = chosen;
    advance();
}

// The state machine holds every slot through `slot`: the learner's prefix jumps there (if it was
// below), values queued for delivery at or below it are dropped (the snapshot already has them),
// and slots learned above a gap that the snapshot closes may now be delivered.
void Learner::install(Index slot) {
    if (slot <= base_) return;
    base_ = slot;
    std::erase_if(committed_, [&](const Entry& e) { return e.index <= slot; });
    std::erase_if(chosen_above_, [&](Index s) { return s <= slot; });
    commit_index_ = std::max(commit_index_, slot);
    delivered_ = std::max(delivered_, slot);
    advance();
}

// Moves commit_index over every slot now known chosen, queuing its value for delivery.
void Learner::advance() {
    for (;;) {
        Index next = commit_index_ + 1;
        const Entry* e = acceptor_.accepted(next);
        bool known = chosen_above_.erase(next) > 0;
        // Rule (2): accepted in the ballot whose leader says it is chosen.
        bool by_point = !known && next <= point_ && e && e->ballot == point_ballot_.packed();
        if (!known && !by_point) return;
        BALLOT_ASSERT(e != nullptr, "learner: a chosen slot has a value (slot " + std::to_string(next) + ")");
        ++commit_index_;
        deliver(*e);
    }
}

}  // namespace ballot::multipaxos
