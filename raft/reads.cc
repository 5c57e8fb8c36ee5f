// Linearizable reads without the log and without clocks: the dissertation's ReadIndex (§6.4).
//
//   1. The leader waits until it has committed an entry of its own term (its no-op, §8), so its
//      commitIndex is at least every index committed by any earlier leader.
//   2. It saves commitIndex as the read's readIndex.
//   3. It confirms it is still the leader with a round of heartbeats acknowledged by a majority:
//      each read takes a fresh context number, heartbeats carry the latest, and a read is
//      confirmed once a majority (the leader included) has echoed a context >= its own.
//   4. The runtime serves the read once its state machine has applied readIndex.
//
// A follower forwards the read to its leader and hands back the leader's answer (§6.4, "reads
// from followers"). Whenever confirmation becomes impossible (no leader, leadership lost, the
// leader changed) the read is answered ok = false so the runtime can retry; never ok = true
// without a majority's confirmation.
#include "raft/raft.h"

namespace ballot::raft {

void Raft::read(std::uint64_t read_id) {
    if (role_ == Role::leader) {
        start_read(read_id, id_);
        return;
    }
    if (role_ == Role::follower && leader_ != kNoNode && !forwarded_reads_.full()) {
        forwarded_reads_.add(read_id, ticks_ + config_.election_timeout_max_ticks);
        send(leader_, ReadIndex{read_id});
        return;
    }
    reads_.push_back(ReadState{read_id, 0, false});  // no leader known (or too many reads waiting)
}

void Raft::on(NodeId from, const ReadIndex& m) {
    if (role_ == Role::leader)
        start_read(m.read_id, from);
    else
        send(from, ReadIndexResponse{m.read_id, 0, false});
}

void Raft::on(NodeId /*from*/, const ReadIndexResponse& m) {
    // Only reads we are still waiting for: one failed already (the leader changed) stays failed.
    if (!forwarded_reads_.answer(m.read_id)) return;
    reads_.push_back(ReadState{m.read_id, m.read_index, m.ok});
}

void Raft::start_read(std::uint64_t read_id, NodeId requester) {
    // Bounded: a leader that cannot reach a majority must not queue reads without limit.
    if (pending_reads_.size() + reads_waiting_commit_.size() >= config_.max_pending_proposals) {
        answer_read(read_id, requester, 0, false);
        return;
    }
    if (!committed_in_current_term()) {  // step 1
        reads_waiting_commit_.push_back(PendingRead{read_id, requester, 0, 0});
        return;
    }
    pending_reads_.push_back(PendingRead{read_id, requester, commitIndex, ++read_context_});  // step 2
    read_round_pending_ = true;  // step 3: heartbeats go out with the next batch
    confirm_reads();             // a one-node cluster is its own majority
}

void Raft::start_reads_waiting_for_commit() {
    if (reads_waiting_commit_.empty()) return;
    ++read_context_;
    for (PendingRead& r : reads_waiting_commit_) {
        r.read_index = commitIndex;
        r.context = read_context_;
        pending_reads_.push_back(r);
    }
    reads_waiting_commit_.clear();
    read_round_pending_ = true;
    confirm_reads();
}

void Raft::confirm_reads() {
    // The leader vouches for itself; a majority of the voters must echo the round.
    const std::uint64_t confirmed =
        voter_quorum_value(read_context_, [](const Progress& pr) { return pr.read_context_acked; });
    while (!pending_reads_.empty() && pending_reads_.front().context <= confirmed) {
        const PendingRead r = pending_reads_.front();
        pending_reads_.pop_front();
        answer_read(r.read_id, r.requester, r.read_index, true);
    }
}

void Raft::answer_read(std::uint64_t read_id, NodeId requester, Index read_index, bool ok) {
    if (requester == id_)
        reads_.push_back(ReadState{read_id, read_index, ok});
    else
        send(requester, ReadIndexResponse{read_id, read_index, ok});
}

void Raft::fail_leader_reads() {
    for (const PendingRead& r : pending_reads_) answer_read(r.read_id, r.requester, 0, false);
    for (const PendingRead& r : reads_waiting_commit_) answer_read(r.read_id, r.requester, 0, false);
    pending_reads_.clear();
    reads_waiting_commit_.clear();
}

void Raft::fail_forwarded_reads() {
    for (std::uint64_t id : forwarded_reads_.take_all()) reads_.push_back(ReadState{id, 0, false});
}

void Raft::expire_forwarded_reads() {
    for (std::uint64_t id : forwarded_reads_.expire(ticks_)) reads_.push_back(ReadState{id, 0, false});
}

}  // namespace ballot::raft
