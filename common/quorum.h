// Quorum arithmetic shared by every engine, and nothing protocol-specific: a tally of votes from
// distinct nodes, and "the highest value a majority has reached" over per-node progress.
//
// Raft uses VoteTally for (pre-)votes (§5.2, dissertation §9.6) and quorum_index for commitment
// (§5.3, §5.4.2) and ReadIndex confirmation (dissertation §6.4); the Paxos engines can use the same
// two for promises (phase 1b) and accepts (phase 2b).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "common/types.h"

namespace ballot {

// Yes/no answers from distinct nodes towards `quorum` yes votes out of `members`. A node's first
// answer is the one that counts: a duplicated or replayed message must never count twice.
class VoteTally {
public:
    VoteTally() = default;
    VoteTally(std::size_t members, std::size_t quorum) : members_(members), quorum_(quorum) {}
    // Only answers from `voters` count (a learner's, or a removed node's, never does).
    VoteTally(std::vector<NodeId> voters, std::size_t quorum)
        : members_(voters.size()), quorum_(quorum), voters_(std::move(voters)) {}

    // Records `from`'s answer. Returns false (and changes nothing) if `from` had answered before,
    // or is not one of the voters this tally was made for.
    bool record(NodeId from, bool granted) {
        if (!voters_.empty() && std::find(voters_.begin(), voters_.end(), from) == voters_.end()) return false;
        auto [it, fresh] = answers_.emplace(from, granted);
        if (!fresh) return false;
        (granted ? granted_ : rejected_) += 1;
        return true;
    }

    std::size_t granted() const { return granted_; }
    std::size_t rejected() const { return rejected_; }
    bool answered(NodeId from) const { return answers_.count(from) != 0; }

    // A quorum said yes.
    bool won() const { return quorum_ > 0 && granted_ >= quorum_; }
    // So many said no that a quorum of yes votes is no longer possible.
    bool lost() const { return rejected_ + quorum_ > members_; }

private:
    std::size_t members_ = 0;
    std::size_t quorum_ = 0;
    std::size_t granted_ = 0;
    std::size_t rejected_ = 0;
    std::vector<NodeId> voters_;  // empty: anyone counts
    std::map<NodeId, bool> answers_;
};

// The highest value v such that at least `quorum` of `values` are >= v; 0 when fewer than
// `quorum` values are given. With one match index per node this is the highest log index stored on
// a majority (Raft Figure 2, "Rules for Servers, Leaders": the N with a majority of
// matchIndex[i] >= N). With one counter per node it is the highest counter a majority has echoed.
inline std::uint64_t quorum_index(std::vector<std::uint64_t> values, std::size_t quorum) {
    if (quorum == 0 || values.size() < quorum) return 0;
    auto kth = values.begin() + static_cast<std::ptrdiff_t>(quorum - 1);
    std::nth_element(values.begin(), kth, values.end(), std::greater<>());
    return *kth;
}

}  // namespace ballot
