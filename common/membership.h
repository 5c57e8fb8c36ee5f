// Who the members of a cluster are, and what a quorum of them is: the one place every engine asks.
//
// Every engine needs the same three answers: is this sender a member (a frame from anyone else is
// refused), who are my peers (whom to send to), and how many answers make a majority (Raft's
// votes and commitment, Paxos's phase 1b and 2b, every read confirmation). Asking this class and
// never EngineConfig::members directly means membership change (a configuration that changes
// while the engine runs) has one place to change.
#pragma once

#include <cstdint>
#include <vector>

#include "common/quorum.h"
#include "common/types.h"

namespace ballot {

class Membership {
public:
    // `members` in any order, self included. Throws std::invalid_argument, saying why, if self is
    // not among them, a member is kNoNode (0) or appears twice.
    Membership(NodeId self, std::vector<NodeId> members);

    NodeId self() const { return self_; }
    const std::vector<NodeId>& members() const { return members_; }  // ascending, self included
    const std::vector<NodeId>& peers() const { return peers_; }      // ascending, self excluded
    bool contains(NodeId id) const;
    std::size_t size() const { return members_.size(); }

    // A majority: any two quorums share a member (PMS §2.1; Raft §5.2).
    std::size_t quorum() const { return members_.size() / 2 + 1; }
    // A fresh tally of yes/no answers towards a quorum of these members.
    VoteTally tally() const { return VoteTally(size(), quorum()); }
    // The highest value a quorum of `values` (one per member) has reached (common/quorum.h).
    std::uint64_t quorum_value(std::vector<std::uint64_t> values) const {
        return quorum_index(std::move(values), quorum());
    }

private:
    NodeId self_;
    std::vector<NodeId> members_;
    std::vector<NodeId> peers_;
};

}  // namespace ballot
