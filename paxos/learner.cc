#include "paxos/learner.h"

#include <algorithm>

#include "common/assert.h"
#include "paxos/messages.h"

namespace ballot::paxos {

bool Learner::learn(Index slot, std::string value) {
    if (slot <= base_) return false;
    if (!chosen_.emplace(slot, std::move(value)).second) return false;
    while (chosen_.count(commit_index_ + 1)) ++commit_index_;
    return true;
}

void Learner::trim(Index through) {
    BALLOT_ASSERT(through <= emitted_, "learner: trims only what it handed out");
    if (through <= base_) return;
    compact_through(chosen_, through, graveyard_);
    base_ = through;
}

void Learner::install(Index through) {
    if (through <= base_) return;
    compact_through(chosen_, through, graveyard_);
    base_ = through;
    emitted_ = std::max(emitted_, through);
    commit_index_ = std::max(commit_index_, through);
    while (chosen_.count(commit_index_ + 1)) ++commit_index_;  // what was learned above it
}

const std::string* Learner::chosen(Index slot) const {
    auto it = chosen_.find(slot);
    return it == chosen_.end() ? nullptr : &it->second;
}

std::vector<std::string> Learner::chosen_from(Index first, std::size_t max_bytes) const {
    std::vector<std::string> out;
    std::size_t bytes = kChosenValuesHeaderBytes;
    for (auto it = chosen_.find(first); it != chosen_.end() && it->first == first + out.size(); ++it) {
        const std::size_t size = chosen_value_bytes(it->second);
        if (!out.empty() && bytes + size > max_bytes) break;
        bytes += size;
        out.push_back(it->second);
    }
    return out;
}

std::vector<Committed> Learner::take_committed() {
    std::vector<Committed> out;
    for (auto it = chosen_.upper_bound(emitted_); emitted_ < commit_index_; ++it) {
        BALLOT_ASSERT(it->first == emitted_ + 1, "learner: hands out the chosen prefix contiguously (slot " +
                                                     std::to_string(it->first) + " after " +
                                                     std::to_string(emitted_) + ")");
        emitted_ = it->first;
        out.push_back(Committed{it->first, it->second});
    }
    return out;
}

}  // namespace ballot::paxos
