// Who the members of a cluster are, and what a quorum of them is: the one place every engine asks.
//
// Every engine needs the same answers: is this sender a member (a frame from anyone else is
// refused), whom do I replicate to (every other member, learners included), whom do I ask for
// votes or promises (the other voters), and how many answers make a majority (Raft's votes and
// commitment, Paxos's phase 1b and 2b, every read confirmation: a majority of the VOTERS; learners
// are never counted, common/configuration.h). Asking this class and never EngineConfig::members
// directly means a configuration change replaces one object.
#pragma once

#include <cstdint>
#include <vector>

#include "common/configuration.h"
#include "common/quorum.h"
#include "common/types.h"

namespace ballot {

class Membership {
public:
    // `self` need not be a member: a node started with --join is in no configuration until it is
    // added, and a removed node is in none any more. With a SelfId, an entry of self's id made for
    // another data dir is not self (common/configuration.h, SelfId): self is then no voter.
    Membership(NodeId self, Configuration config);
    Membership(SelfId self, Configuration config);
    // Every member a voter. Throws std::invalid_argument, saying why, if self is not among them, a
    // member is kNoNode (0) or appears twice.
    Membership(NodeId self, const std::vector<NodeId>& voters);

    NodeId self() const { return self_; }
    const SelfId& self_id() const { return self_id_; }
    const Configuration& configuration() const { return config_; }
    const std::vector<NodeId>& members() const { return members_; }  // ascending, self included if a member
    const std::vector<NodeId>& peers() const { return peers_; }      // every other member, learners too
    const std::vector<NodeId>& voters() const { return voters_; }    // ascending
    const std::vector<NodeId>& voter_peers() const { return voter_peers_; }  // voters but self
    bool contains(NodeId id) const { return config_.contains(id); }
    bool is_voter(NodeId id) const { return config_.is_voter(id); }
    bool self_is_voter() const { return config_.is_voter(self_id_); }
    // Whether the configuration names this node's id for another data dir (a replaced node
    // relearning the log, before it meets its own addition): it takes no voter's part then, as a
    // node that knows no configuration does not.
    bool names_another_self() const { return config_.names_another(self_id_); }
    // Whether `c` has this node (as self_id() says) for a voter.
    bool self_is_voter_of(const Configuration& c) const { return c.is_voter(self_id_); }
    std::size_t size() const { return voters_.size(); }  // voters: what quorums are made of

    // A majority of the voters: any two share a voter (PMS §2.1; Raft §5.2). Across a single-server
    // change, a majority of the old voters and one of the new share a voter too (dissertation §4.1).
    std::size_t quorum() const { return voters_.size() / 2 + 1; }
    // A fresh tally of yes/no answers towards a quorum of the voters; answers from anyone else
    // (a learner, a removed node) are not counted.
    VoteTally tally() const { return VoteTally(voters_, quorum()); }
    // The highest value a quorum of `values` (one per voter) has reached (common/quorum.h).
    std::uint64_t quorum_value(std::vector<std::uint64_t> values) const {
        return quorum_index(std::move(values), quorum());
    }

private:
    NodeId self_;
    SelfId self_id_;
    Configuration config_;
    std::vector<NodeId> members_;
    std::vector<NodeId> peers_;
    std::vector<NodeId> voters_;
    std::vector<NodeId> voter_peers_;
};

}  // namespace ballot
