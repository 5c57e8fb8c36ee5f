// Linearizable reads (README "Linearizable reads"; the counterpart of Raft's ReadIndex,
// dissertation §6.4): the leader's read index confirmed by a quorum round of Heartbeats, and a
// follower's reads forwarded to the leader (MultiPaxos::read queues them in forwarded_reads_,
// whose deadlines tick() expires).
#include <algorithm>

#include "multipaxos/multipaxos.h"

namespace ballot::multipaxos {

// ---------------------------------------------------------------- the leader

// Everything acknowledged to a client before the read was chosen in a slot this leader assigned
// or learned, or adopted from phase 1 (which found every value that could have been chosen before
// its ballot) and has not proposed yet.
Index Leader::read_index() const {
    return std::max({next_slot_ - 1, learner_.highest_chosen(), reported_last_});
}

void Leader::read(NodeId origin, std::uint64_t read_id, std::uint64_t now) {
    PendingRead r{origin, read_id, read_index(), read_seq_ + 1, now + config_.election_timeout_max_ticks};
    if (!active() || reads_.size() >= config_.max_pending_proposals) return finish_read(r, false);
    // The follower answers its client once it has applied the read index, which may be above the
    // chosen point it knows (tell_chosen).
    if (auto peer = peers_.find(origin); peer != peers_.end())
        peer->second.waits_through = std::max(peer->second.waits_through, r.index);
    reads_.push_back(r);
}

// The highest read round acknowledged by a majority of the voters (self included) of every
// configuration that governs a slot after the chosen prefix (a rival leader needs a majority of
// each; README "Membership change") confirms every read waiting on it or on an earlier round.
void Leader::confirm_reads() {
    std::uint64_t confirmed = read_seq_;
    for (const Configuration* c : configs_.governing_from(learner_.commit_index() + 1)) {
        std::vector<std::uint64_t> acks;
        for (NodeId voter : c->voters()) {
            auto it = peers_.find(voter);
            // Self: its own acceptor promised this ballot.
            acks.push_back(voter == members_.self() ? read_seq_
                           : it == peers_.end()     ? 0
                                                    : it->second.read_ack);
        }
        const std::size_t quorum = acks.size() / 2 + 1;
        confirmed = std::min<std::uint64_t>(confirmed, quorum_index(std::move(acks), quorum));
    }
    if (confirmed <= confirmed_seq_) return;
    confirmed_seq_ = confirmed;
    while (!reads_.empty() && reads_.front().seq <= confirmed_seq_) {
        finish_read(reads_.front(), true);
        reads_.pop_front();
    }
}

void Leader::finish_read(const PendingRead& r, bool ok) {
    Index index = ok ? r.index : 0;
    if (r.origin == members_.self())
        out_.read_done(ReadState{r.id, index, ok});
    else
        out_.send(r.origin, ReadReply{r.id, index, ok});
}

void Leader::abandon() {
    for (const PendingRead& r : reads_) finish_read(r, false);
    reads_.clear();
}

// ---------------------------------------------------------------- forwarded reads

void MultiPaxos::on(NodeId from, const ReadRequest& m) {
    if (active_leader()) return leader_->read(from, m.read_id, now_);
    send(from, ReadReply{m.read_id, 0, false});
}

void MultiPaxos::on(NodeId, const ReadReply& m) {
    if (!forwarded_reads_.answer(m.read_id)) return;  // timed out already, or not ours
    read_done(ReadState{m.read_id, m.ok ? m.index : 0, m.ok});
}

}  // namespace ballot::multipaxos
