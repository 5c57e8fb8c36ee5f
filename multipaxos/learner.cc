#include "multipaxos/learner.h"

#include <stdexcept>

namespace ballot::multipaxos {

Learner::Learner(Acceptor& acceptor, Index commit_hint) : acceptor_(acceptor) {
    // Deliver again, from slot 1, everything the hint says is chosen: the runtime rebuilds its
    // state machine by re-applying. A slot missing from disk (a torn last record was cut off)
    // ends the prefix; the rest is learned again from the leader.
    while (commit_index_ < commit_hint) {
        const Entry* e = acceptor_.accepted(commit_index_ + 1);
        if (!e) break;
        ++commit_index_;
        committed_.push_back(*e);
    }
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

// Moves commit_index over every slot now known chosen, queuing its value for delivery.
void Learner::advance() {
    for (;;) {
        Index next = commit_index_ + 1;
        const Entry* e = acceptor_.accepted(next);
        bool known = chosen_above_.erase(next) > 0;
        // Rule (2): accepted in the ballot whose leader says it is chosen.
        bool by_point = !known && next <= point_ && e && e->ballot == point_ballot_.packed();
        if (!known && !by_point) return;
        if (!e) throw std::logic_error("learner: chosen slot " + std::to_string(next) + " has no value");
        ++commit_index_;
        committed_.push_back(*e);
    }
}

std::vector<Entry> Learner::chosen_from(Index first, std::size_t max_bytes) const {
    std::vector<Entry> out;
    std::size_t bytes = kHeaderBytes;
    for (Index slot = first; slot <= commit_index_; ++slot) {
        const Entry* e = acceptor_.accepted(slot);
        if (!e) throw std::logic_error("learner: chosen slot " + std::to_string(slot) + " has no value");
        std::size_t size = encoded_size(*e);
        if (!out.empty() && bytes + size > max_bytes) break;
        bytes += size;
        out.push_back(*e);
    }
    return out;
}

void Learner::check_invariants() const {
    for (Index slot : chosen_above_)
        if (slot <= commit_index_ + 1) throw std::logic_error("learner: deliverable slot left behind");
    for (Index slot = commit_index_; slot > 0 && slot + 64 > commit_index_; --slot)
        if (!acceptor_.accepted(slot)) throw std::logic_error("learner: delivered slot without a value");
}

}  // namespace ballot::multipaxos
