// Catch-up of lagging learners (README "Learning and catch-up"; PMMC's "decision" messages): a
// peer that reports it is behind gets the chosen values it lacks, one bounded Chosen message at a
// time, and learns them. A node that does not know itself yet also learns from any peer that asks
// it for a promise (ChosenRequest, ChosenValues).
#include "common/assert.h"
#include "multipaxos/multipaxos.h"

namespace ballot::multipaxos {

// Learning (PMMC's decisions to replicas): a peer that says it cannot deliver what we told it is
// chosen gets the values from its first missing slot, one bounded Chosen message at a time; the
// next goes when it acknowledges this one, or after retry_ticks if that was lost. A first missing
// slot this node has trimmed is served by its snapshot instead (README "Snapshots and
// compaction"), and no Chosen goes while the peer still lacks it: it could not deliver them.
//
// A report below the snapshot a transfer delivered to the peer was made before the install (the
// installed snapshot is durable, so the peer's prefix never falls below it again), and can arrive
// after the transfer's acknowledgement (a reply held for an fsync on a slow disk, or one lost
// and resent): acting on it would send a second snapshot (ballot-bench --fail-follower-for 60
// --slow-follower-disk 200: one 137 ms after the first).
void Leader::catch_up(NodeId id, Peer& peer, Index chosen, bool behind, std::uint64_t now) {
    if (chosen < peer.installed) return;
    peer.chosen = chosen;
    out_.peer_learned(id, chosen);
    if (!behind || chosen >= learner_.commit_index()) return;
    if (chosen < acceptor_.trimmed()) return out_.send_snapshot(id);
    if (chosen < peer.catchup_end && now < peer.catchup_tick + retry_ticks_) return;  // one on its way
    Chosen m{ballot_, learner_.chosen_from(chosen + 1, config_.max_message_bytes)};
    if (m.values.empty()) return;
    peer.catchup_end = m.values.back().index;
    peer.catchup_tick = now;
    out_.send(id, std::move(m));
}

std::vector<Entry> Learner::chosen_from(Index first, std::size_t max_bytes) const {
    std::vector<Entry> out;
    MessageBudget budget(max_bytes);
    for (Index slot = first; slot <= commit_index_; ++slot) {
        const Entry* e = acceptor_.accepted(slot);
        BALLOT_ASSERT(e != nullptr, "learner: a chosen slot has a value (slot " + std::to_string(slot) + ")");
        if (!budget.take(*e)) break;
        out.push_back(*e);
    }
    return out;
}

// Catch-up values are chosen whoever sends them; the acknowledgement (read_seq 0, which confirms
// no read) asks for the next batch. Learning from the leader of m.ballot also promises m.ballot:
// the values were chosen in that ballot or below it, so every ballot that could still carry
// another value for those slots is below it too, and a deposed leader's delayed Accept is now
// refused (README, "Chosen values in the acceptor").
void MultiPaxos::on(NodeId from, const Chosen& m) {
    for (const Entry& e : m.values) learner_.learn(e.index, Ballot::unpack(e.ballot), e.data);
    if (!acceptor_.admits(m.ballot)) return;
    if (!m.values.empty()) acceptor_.promise_at_least(m.ballot);
    follow(m.ballot);
    send(from, HeartbeatAck{m.ballot, 0, learner_.commit_index(), learner_.behind()});
}

// Learning from a peer, leader or not (messages.h, ChosenRequest; PMS §2.3). Asked by a node that
// left a Poll or Prepare unanswered because it does not know itself yet: its answer then waits
// on the chosen values that name its new identity, and the node that asked may be the only one
// that knows them.
void MultiPaxos::ask_for_chosen(NodeId from) {
    send(from, ChosenRequest{learner_.commit_index()});
}

// One bounded batch from the first slot the peer lacks; a slot trimmed here is served by the
// snapshot, as in the leader's catch-up.
void MultiPaxos::on(NodeId from, const ChosenRequest& m) {
    if (m.have >= learner_.commit_index()) return;
    if (m.have < acceptor_.trimmed()) return on(from, SnapshotRequest{m.have});
    send(from, ChosenValues{learner_.chosen_from(m.have + 1, config_.max_message_bytes)});
}

// Values chosen, whoever sends them. The next batch is asked for only while this node still does
// not know itself and this one taught it something: so the exchange ends when it can answer
// again, or when the peer has nothing more to give.
void MultiPaxos::on(NodeId from, const ChosenValues& m) {
    const Index before = learner_.commit_index();
    for (const Entry& e : m.values) learner_.learn(e.index, Ballot::unpack(e.ballot), e.data);
    if (learner_.commit_index() > before && !knows_itself()) ask_for_chosen(from);
}

}  // namespace ballot::multipaxos
