// Log replication is phase 2 (PMS §2.2 phase 2 and §3; PMMC "Commander"): the leader's proposals,
// Accepts pipelined and bounded per peer, the acceptor's side, counting Accepted to a majority,
// heartbeats that carry the chosen point, and retransmission over lossy links.
#include <algorithm>

#include "multipaxos/multipaxos.h"

namespace ballot::multipaxos {

// ---------------------------------------------------------------- proposing

// A command waits in the queue until the α window lets it have a slot (fill_window).
ProposeResult Leader::propose(std::string value, NodeId origin) {
    if (!active()) return ProposeResult::no_leader;
    if (pending_.size() + queued_.size() >= config_.max_pending_proposals) return ProposeResult::overloaded;
    queued_.push_back(Queued{std::move(value), origin});
    return ProposeResult::accepted;
}

// Slot t may be proposed once every slot up to t - α is chosen (the configuration of t is then
// known: configs.h) and a majority of that configuration's voters has reported in phase 1. Its
// value: the one adopted from phase 1; a no-op in a hole below the highest reported slot or
// below the slot a chosen configuration starts to govern (so that it governs at once); otherwise
// the next queued command.
bool Leader::may_propose_next() const {
    if (!active() || next_slot_ > learner_.commit_index() + kAlpha) return false;
    if (learner_.is_chosen(next_slot_)) return true;  // learned from a report: skipped
    if (!covers(configs_.at(next_slot_))) return false;
    const Index fill_to = std::max({reported_last_, learner_.highest_chosen(), configs_.latest_from() - 1});
    return next_slot_ <= fill_to || !queued_.empty();
}

void Leader::fill_window() {
    for (; may_propose_next(); ++next_slot_) {
        const Index t = next_slot_;
        if (learner_.is_chosen(t)) continue;
        std::string value;
        if (auto it = reported_.find(t); it != reported_.end()) {
            value = std::move(it->second.data);
            reported_.erase(it);
        } else if (t > std::max({reported_last_, learner_.highest_chosen(), configs_.latest_from() - 1})) {
            value = std::move(queued_.front().value);
            if (auto origin = peers_.find(queued_.front().origin); origin != peers_.end())
                origin->second.waits_through = t;
            queued_.pop_front();
        }
        pending_[t] = Pending{std::move(value), {}, 0};
    }
}

// A forwarded command is proposed if this node leads; otherwise it is dropped, and the
// follower's runtime retries it (commands are deduplicated by their stamp).
void MultiPaxos::on(NodeId from, const Forward& m) {
    if (active_leader() && transfer_target_ == kNoNode)  // not while paused
        leader_->propose(m.command, from);
}

bool Leader::has_unsent() const {
    if (!active()) return false;
    if (own_next_ < next_slot_ || may_propose_next()) return true;
    return !reads_.empty() && reads_.back().seq > read_seq_ && confirmed_seq_ == read_seq_;
}

void Leader::flush(std::uint64_t now) {
    if (!active()) return;
    fill_window();
    // The own acceptor first, every new proposal of a slot it is an acceptor of in one Accept:
    // its Accepted returns after the fsync and counts like any other.
    if (own_next_ < next_slot_) {
        Accept own{ballot_, learner_.commit_index(), {}};
        for (auto it = pending_.lower_bound(own_next_); it != pending_.end(); ++it)
            if (members_.self_is_voter_of(configs_.at(it->first)))
                own.proposals.push_back(Proposal{it->first, it->second.value});
        own_next_ = next_slot_;
        if (!own.proposals.empty()) out_.send(members_.self(), std::move(own));
    }
    for (auto& [id, peer] : peers_) {
        send_accepts(id, peer, now);
        tell_chosen(id, peer);
    }
    // A read round starts when reads wait for one and none is in flight (reads batch per round).
    if (!reads_.empty() && reads_.back().seq > read_seq_ && confirmed_seq_ == read_seq_) {
        ++read_seq_;
        heartbeat_all();
        confirm_reads();  // a cluster of one confirms at once
    }
}

// A follower answers a client whose write it passed on here only once it learns the slot chosen,
// which Accept and Heartbeat tell it (the chosen point they carry). Under load the next Accept
// does; a peer with no Accept in flight and none to send would otherwise wait for the next
// heartbeat: a one-client write through a Multi-Paxos follower took 50 ms (heartbeat_ticks).
// So a peer whose client waits for a slot it has not been told is chosen (a write or a read it
// forwarded: Peer::waits_through) hears each new chosen point at once. Every other peer hears it
// with its next Accept or heartbeat: telling every peer at once was, at one client on the leader,
// two messages and two answers per write that nobody waited for (issue 15; the same rule as
// Raft::waits_for_commit).
void Leader::tell_chosen(NodeId id, Peer& peer) {
    const Index chosen = learner_.commit_index();
    if (peer.told_chosen >= chosen || !peer.inflight.empty()) return;
    if (peer.waits_through <= peer.told_chosen) return;  // nobody waits on it
    out_.send(id, Heartbeat{ballot_, chosen, read_seq_});
    peer.told_chosen = chosen;
}

// Pipelining (PMMC §4: many commanders at once), bounded: Accepts of at most max_message_bytes,
// at most max_inflight_messages of them unanswered per peer.
void Leader::send_accepts(NodeId id, Peer& peer, std::uint64_t now) {
    while (peer.inflight.size() < config_.max_inflight_messages && peer.next < next_slot_) {
        Accept m{ballot_, learner_.commit_index(), {}};
        MessageBudget budget(config_.max_message_bytes);
        auto it = pending_.lower_bound(peer.next);
        for (; it != pending_.end(); ++it) {
            // Only to the acceptors of the slot: the voters of the configuration governing it.
            if (accepted_by(it->second, id) || !configs_.at(it->first).is_voter(id)) continue;
            Proposal p{it->first, it->second.value};
            if (!budget.take(p)) break;
            it->second.sent_tick = now;
            m.proposals.push_back(std::move(p));
        }
        peer.next = it == pending_.end() ? next_slot_ : it->first;
        if (m.proposals.empty()) break;
        peer.inflight.push_back(InflightAccept{m.proposals.back().slot, now});
        peer.told_chosen = std::max(peer.told_chosen, m.chosen);
        out_.send(id, std::move(m));
    }
}

bool Leader::accepted_by(const Pending& p, NodeId id) const {
    return std::find(p.accepted_by.begin(), p.accepted_by.end(), id) != p.accepted_by.end();
}

// ---------------------------------------------------------------- accepting and choosing

// Phase 2b (acceptor), then the learner's rule (2): the chosen point of the ballot just accepted.
void MultiPaxos::on(NodeId from, const Accept& m) {
    note_ballot(m.ballot);
    // A node that joined (--join) accepts only in slots it knows it is an acceptor of. A replaced
    // node relearning the log meets configurations that name its id for its old data dir, whose
    // promises died with the disk (common/configuration.h, SelfId): a leader that still counts
    // that acceptor must not get this node's vote for it. A leader sends Accepts to voters only,
    // and promotes a learner only once it knows the configuration that made it a voter.
    auto mine = [&](const Proposal& p) { return members_.self_is_voter_of(configs_.at(p.slot)); };
    if (config_.join && !std::all_of(m.proposals.begin(), m.proposals.end(), mine)) {
        Accept own{m.ballot, m.chosen, {}};
        std::copy_if(m.proposals.begin(), m.proposals.end(), std::back_inserter(own.proposals), mine);
        if (own.proposals.empty()) return;
        return on(from, own);
    }
    auto reply = acceptor_.on_accept(m, learner_);
    if (auto* accepted = std::get_if<Accepted>(&reply)) {
        if (from != members_.self()) {
            follow(m.ballot);
            learner_.on_chosen_point(m.ballot, m.chosen);
        }
        accepted->chosen = learner_.commit_index();
        accepted->behind = learner_.behind();
    }
    std::visit([&](auto& r) { send(from, std::move(r)); }, reply);
}

void MultiPaxos::on(NodeId from, const Accepted& m) {
    if (leader_) leader_->on_accepted(from, m, now_);
}

// PMS §2.2: a value is chosen when a majority of acceptors have accepted it; here, in this ballot,
// and the acceptors of slot t are the voters of the configuration governing t (configs.h).
void Leader::on_accepted(NodeId from, const Accepted& m, std::uint64_t now) {
    if (!active() || m.ballot != ballot_) return;
    for (Index slot : m.slots) {
        auto it = pending_.find(slot);
        const Configuration& acceptors = configs_.at(slot);
        if (it == pending_.end() || !acceptors.is_voter(from)) continue;
        if (!accepted_by(it->second, from)) it->second.accepted_by.push_back(from);
        if (it->second.accepted_by.size() >= voter_quorum(acceptors)) {
            learner_.learn(slot, ballot_, it->second.value);
            pending_.erase(it);
        }
    }
    if (from == members_.self()) return;
    auto known = peers_.find(from);
    if (known == peers_.end()) return;  // no longer in any configuration that governs
    // Slots this leader proposes but the acceptor trimmed are decided (README "Snapshots and
    // compaction"); the acceptor did not vote for them, and a snapshot teaches this leader them.
    if (m.trimmed > learner_.commit_index()) out_.need_snapshot(from);
    Peer& peer = known->second;
    peer.heard_tick = now;
    Index highest = m.slots.empty() ? 0 : m.slots.back();
    peer.accepted = std::max(peer.accepted, highest);
    while (!peer.inflight.empty() && peer.inflight.front().last_slot <= highest) peer.inflight.pop_front();
    send_accepts(from, peer, now);
    catch_up(from, peer, m.chosen, m.behind, now);
    // Now, not at the next flush: a late acceptor's Accepted chooses nothing new, so nothing else
    // may make the engine ready before the next tick (the follower that passed the write on is
    // often the late one).
    tell_chosen(from, peer);
}

// ---------------------------------------------------------------- heartbeats and retransmission

void Leader::heartbeat_all() {
    heartbeat_elapsed_ = 0;
    for (auto& [id, peer] : peers_) {
        out_.send(id, Heartbeat{ballot_, learner_.commit_index(), read_seq_});
        peer.told_chosen = learner_.commit_index();
    }
}

void MultiPaxos::on(NodeId from, const Heartbeat& m) {
    note_ballot(m.ballot);
    if (!acceptor_.admits(m.ballot)) return send(from, Nack{m.ballot, acceptor_.promised()});
    follow(m.ballot);
    learner_.on_chosen_point(m.ballot, m.chosen);
    send(from, HeartbeatAck{m.ballot, m.read_seq, learner_.commit_index(), learner_.behind()});
}

void MultiPaxos::on(NodeId from, const HeartbeatAck& m) {
    if (leader_) leader_->on_heartbeat_ack(from, m, now_);
}

void Leader::on_heartbeat_ack(NodeId from, const HeartbeatAck& m, std::uint64_t now) {
    if (!active() || m.ballot != ballot_ || peers_.count(from) == 0) return;
    Peer& peer = peers_.at(from);
    peer.heard_tick = now;
    peer.read_ack = std::max(peer.read_ack, m.read_seq);
    catch_up(from, peer, m.chosen, m.behind, now);
    confirm_reads();
}

void Leader::tick(std::uint64_t now) {
    resend_pages(now);
    if (!active()) return;
    extend_phase1(now);
    if (++heartbeat_elapsed_ >= config_.heartbeat_ticks) {
        heartbeat_all();
        retransmit(now);
    }
    while (!reads_.empty() && reads_.front().deadline_tick <= now) {
        finish_read(reads_.front(), false);
        reads_.pop_front();
    }
}

// A peer's oldest unanswered Accept is overdue, or the lowest proposal it has not accepted has
// waited retry_ticks (its Accept, or the answer, was lost): send it everything it lacks again.
void Leader::retransmit(std::uint64_t now) {
    std::vector<std::pair<NodeId, Index>> rewind;
    for (auto& [id, peer] : peers_) {
        bool overdue = !peer.inflight.empty() && now >= peer.inflight.front().sent_tick + retry_ticks_;
        Index from = peer.next;
        for (auto& [slot, p] : pending_) {
            if (slot >= peer.next) break;
            if (accepted_by(p, id) || !configs_.at(slot).is_voter(id)) continue;
            from = slot;
            if (now >= p.sent_tick + retry_ticks_) overdue = true;
            break;
        }
        if (overdue) rewind.emplace_back(id, from);
    }
    for (auto& [id, from] : rewind) {
        Peer& peer = peers_.at(id);
        peer.inflight.clear();
        peer.next = from;
        send_accepts(id, peer, now);
    }
}

std::vector<PeerProgress> Leader::peer_progress() const {
    std::vector<PeerProgress> out;
    for (const auto& [id, peer] : peers_) {
        PeerProgress pp;
        pp.id = id;
        pp.match_index = peer.accepted;
        pp.next_index = peer.next;
        pp.chosen = peer.chosen;
        pp.state = peer.catchup_end > 0 ? "catch-up" : "replicate";
        pp.inflight = peer.inflight.size();
        pp.paused = peer.inflight.size() >= config_.max_inflight_messages;
        out.push_back(std::move(pp));
    }
    return out;
}

}  // namespace ballot::multipaxos
