// The learner role (Paxos Made Simple §2.3 and §3): which value each slot has chosen, and the
// commands the state machine may now execute, strictly in slot order.
//
// Slots are chosen out of order (any proposer may work on any slot), so the learner holds what
// it learns until every slot below is known, as §3's servers cannot execute commands 138-140
// while 136 and 137 are unknown. Nothing here is persisted: after a restart the learner
// starts empty and learns everything again (see README, "Restart"), and the runtime rebuilds its
// state machine from what it re-emits from slot 1.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/graveyard.h"
#include "common/types.h"

namespace ballot::paxos {

class Learner {
public:
    // Records that `slot` chose `value`. Returns false if it was already known (or is covered
    // by a snapshot).
    bool learn(Index slot, std::string value);
    // Forgets the values of the slots at or below `through` (<= what was handed out), which a
    // durable snapshot of this node's covers.
    void trim(Index through);
    // A snapshot through `through` was installed: every slot up to it is chosen and applied, and
    // the next one handed out is the first above it (never one at or below it).
    void install(Index through);
    // Frees a tick's share of what trim and install buried (common/graveyard.h).
    void collect_garbage() { graveyard_.collect(); }
    // Every slot at or below is chosen and covered by a snapshot; their values are forgotten.
    Index base() const { return base_; }
    // The chosen prefix handed out so far.
    Index emitted() const { return emitted_; }
    // The chosen value of `slot`, or nullptr if not known (yet).
    const std::string* chosen(Index slot) const;
    // The chosen values of `first`, `first` + 1, ... as far as they are known contiguously, no
    // more than a ChosenValues of `max_bytes` holds (but one, if `first` is known, whatever its
    // size): the answer to a ChosenRequest (catch_up.cc).
    std::vector<std::string> chosen_from(Index first, std::size_t max_bytes) const;

    // Every slot up to this one is known chosen.
    Index commit_index() const { return commit_index_; }
    // The highest slot known chosen (0: none).
    Index highest_chosen() const { return chosen_.empty() ? base_ : chosen_.rbegin()->first; }

    // The chosen prefix not handed out yet, in slot order (empty data: a no-op).
    std::vector<Committed> take_committed();
    bool has_committed() const { return emitted_ < commit_index_; }

    // The chosen prefix is contiguous (checked over its newest 64 slots), ends where the next
    // unknown slot begins, and nothing beyond it was handed out. Throws InvariantViolation.
    void check_invariants() const;  // invariants.cc

private:
    Graveyard graveyard_;  // trimmed values, freed a tick at a time
    std::map<Index, std::string> chosen_;
    Index commit_index_ = 0;
    Index emitted_ = 0;
    Index base_ = 0;
};

}  // namespace ballot::paxos
