#include "paxos/learner.h"

#include "common/assert.h"

namespace ballot::paxos {

bool Learner::learn(Index slot, std::string value) {
    if (!chosen_.emplace(slot, std::move(value)).second) return false;
    while (chosen_.count(commit_index_ + 1)) ++commit_index_;
    return true;
}

void Learner::check_invariants() const {
    BALLOT_ASSERT(emitted_ <= commit_index_, "learner: hands out only the chosen prefix");
    BALLOT_ASSERT(chosen_.count(commit_index_ + 1) == 0, "learner: commit index reaches every known slot");
    BALLOT_ASSERT(chosen_.empty() || chosen_.begin()->first >= 1, "learner: slots are numbered from 1");
    for (Index slot = commit_index_; slot > 0 && slot + 64 > commit_index_; --slot)
        BALLOT_ASSERT(chosen_.count(slot) == 1,
                      "learner: the chosen prefix is contiguous (slot " + std::to_string(slot) + " unknown)");
}

const std::string* Learner::chosen(Index slot) const {
    auto it = chosen_.find(slot);
    return it == chosen_.end() ? nullptr : &it->second;
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
