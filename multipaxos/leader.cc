#include "multipaxos/leader.h"

#include <algorithm>
#include <stdexcept>

#include "common/assert.h"

namespace ballot::multipaxos {

Leader::Leader(const EngineConfig& config, const Membership& members, Ballot ballot, Acceptor& acceptor,
               Learner& learner, LeaderOutput& out)
    : config_(config),
      members_(members),
      ballot_(ballot),
      acceptor_(acceptor),
      learner_(learner),
      out_(out),
      retry_ticks_(
          std::max<std::uint64_t>(2 * config.heartbeat_ticks, config.election_timeout_min_ticks / 2)),
      promises_(members.tally()) {
    for (NodeId id : members_.peers()) peers_[id] = Peer{};
}

// ---------------------------------------------------------------- phase 1

// PMS §3: "A newly chosen leader executes phase 1 for infinitely many instances": one Prepare covers
// every slot from the first one this node does not know chosen. Sent to itself too: its own
// acceptor promises like any other (and its Promise comes back only once durable).
void Leader::start(std::uint64_t now) {
    from_slot_ = learner_.commit_index() + 1;
    active_since_ = now;
    for (NodeId id : members_.members()) ask_page(id, from_slot_, now);
}

void Leader::ask_page(NodeId id, Index from_slot, std::uint64_t now) {
    Report& r = reports_[id];
    r.asked_from = from_slot;
    r.asked_tick = now;
    out_.send(id, Prepare{ballot_, from_slot});
}

// A Prepare or Promise page lost on the way would otherwise stall this acceptor's report until the
// election timeout, and a report of many pages over a lossy network would then almost never
// complete. PMMC's scout assumes reliable links; over lossy ones it asks again. Not the own
// acceptor: messages to self are not lost (only a crash, which ends this Leader, loses them).
void Leader::resend_pages(std::uint64_t now) {
    for (auto& [id, r] : reports_)
        if (id != members_.self() && !r.complete && now >= r.asked_tick + retry_ticks_)
            ask_page(id, r.asked_from, now);
}

bool Leader::on_promise(NodeId from, const Promise& m, std::uint64_t now) {
    if (phase_ != Phase::one || m.ballot != ballot_) return false;  // a late or stale answer
    Report& report = reports_[from];
    // Only the page asked for: a duplicate or a retransmission's second answer changes nothing.
    if (report.complete || m.from_slot != report.asked_from) return false;
    for (const Entry& e : m.accepted) {
        // The acceptor's values up to its chosen prefix are chosen: learn them outright.
        if (e.index <= m.chosen) {
            learner_.learn(e.index, Ballot::unpack(e.ballot), e.data);
            continue;
        }
        // PMS §2.2 P2c: adopt, per slot, the value accepted in the highest ballot.
        auto [it, fresh] = reported_.try_emplace(e.index, e);
        if (!fresh && e.ballot > it->second.ballot) it->second = e;
    }
    if (m.next_slot != 0) {  // the report did not fit one message: ask for the rest
        ask_page(from, m.next_slot, now);
        return true;
    }
    report.complete = true;
    promises_.record(from, true);
    if (promises_.won()) begin_phase2(now);
    return true;
}

// Phase 1 is complete: propose, under this ballot, the adopted value of every slot not known
// chosen up to the highest reported one, and a no-op where nothing was reported (a hole: no value
// can have been chosen there, since a majority reported nothing for it).
void Leader::begin_phase2(std::uint64_t now) {
    phase_ = Phase::two;
    active_since_ = now;
    Index first = learner_.commit_index() + 1;
    Index last = std::max(learner_.highest_chosen(), first - 1);
    if (!reported_.empty()) last = std::max(last, reported_.rbegin()->first);
    for (Index slot = first; slot <= last; ++slot) {
        if (learner_.is_chosen(slot)) continue;
        auto it = reported_.find(slot);
        pending_[slot] = Pending{it == reported_.end() ? std::string() : it->second.data, {}, 0};
    }
    reported_.clear();
    next_slot_ = last + 1;
    own_next_ = first;
    for (auto& [id, peer] : peers_) {
        peer.next = first;
        peer.heard_tick = now;
    }
    heartbeat_all();  // followers learn the new leader at once
}

// ---------------------------------------------------------------- phase 2

ProposeResult Leader::propose(std::string value) {
    if (!active()) return ProposeResult::no_leader;
    if (pending_.size() >= config_.max_pending_proposals) return ProposeResult::overloaded;
    pending_[next_slot_++] = Pending{std::move(value), {}, 0};
    return ProposeResult::accepted;
}

bool Leader::accepted_by(const Pending& p, NodeId id) const {
    return std::find(p.accepted_by.begin(), p.accepted_by.end(), id) != p.accepted_by.end();
}

bool Leader::has_unsent() const {
    if (!active()) return false;
    if (own_next_ < next_slot_) return true;
    return !reads_.empty() && reads_.back().seq > read_seq_ && confirmed_seq_ == read_seq_;
}

void Leader::flush(std::uint64_t now) {
    if (!active()) return;
    // The own acceptor first, every new proposal in one Accept: its Accepted returns after the
    // fsync and counts like any other.
    if (own_next_ < next_slot_) {
        Accept own{ballot_, learner_.commit_index(), {}};
        for (auto it = pending_.lower_bound(own_next_); it != pending_.end(); ++it)
            own.proposals.push_back(Proposal{it->first, it->second.value});
        own_next_ = next_slot_;
        if (!own.proposals.empty()) out_.send(members_.self(), std::move(own));
    }
    for (auto& [id, peer] : peers_) send_accepts(id, peer, now);
    // A read round starts when reads wait for one and none is in flight (reads batch per round).
    if (!reads_.empty() && reads_.back().seq > read_seq_ && confirmed_seq_ == read_seq_) {
        ++read_seq_;
        heartbeat_all();
        confirm_reads();  // a cluster of one confirms at once
    }
}

// Pipelining (PMMC §4: many commanders at once), bounded: Accepts of at most max_message_bytes,
// at most max_inflight_messages of them unanswered per peer.
void Leader::send_accepts(NodeId id, Peer& peer, std::uint64_t now) {
    while (peer.inflight.size() < config_.max_inflight_messages && peer.next < next_slot_) {
        Accept m{ballot_, learner_.commit_index(), {}};
        std::size_t bytes = kHeaderBytes;
        auto it = pending_.lower_bound(peer.next);
        for (; it != pending_.end(); ++it) {
            if (accepted_by(it->second, id)) continue;
            Proposal p{it->first, it->second.value};
            if (!m.proposals.empty() && bytes + encoded_size(p) > config_.max_message_bytes) break;
            bytes += encoded_size(p);
            it->second.sent_tick = now;
            m.proposals.push_back(std::move(p));
        }
        peer.next = it == pending_.end() ? next_slot_ : it->first;
        if (m.proposals.empty()) break;
        peer.inflight.push_back(InflightAccept{m.proposals.back().slot, now});
        out_.send(id, std::move(m));
    }
}

// PMS §2.2: a value is chosen when a majority of acceptors have accepted it; here, in this ballot.
void Leader::on_accepted(NodeId from, const Accepted& m, std::uint64_t now) {
    if (!active() || m.ballot != ballot_) return;
    for (Index slot : m.slots) {
        auto it = pending_.find(slot);
        if (it == pending_.end()) continue;
        if (!accepted_by(it->second, from)) it->second.accepted_by.push_back(from);
        if (it->second.accepted_by.size() >= members_.quorum()) {
            learner_.learn(slot, ballot_, it->second.value);
            pending_.erase(it);
        }
    }
    if (from == members_.self()) return;
    Peer& peer = peers_.at(from);
    peer.heard_tick = now;
    Index highest = m.slots.empty() ? 0 : m.slots.back();
    while (!peer.inflight.empty() && peer.inflight.front().last_slot <= highest) peer.inflight.pop_front();
    send_accepts(from, peer, now);
    catch_up(from, peer, m.chosen, m.behind, now);
}

void Leader::on_heartbeat_ack(NodeId from, const HeartbeatAck& m, std::uint64_t now) {
    if (!active() || m.ballot != ballot_ || from == members_.self()) return;
    Peer& peer = peers_.at(from);
    peer.heard_tick = now;
    peer.read_ack = std::max(peer.read_ack, m.read_seq);
    catch_up(from, peer, m.chosen, m.behind, now);
    confirm_reads();
}

// Learning (PMMC's decisions to replicas): a peer that says it cannot deliver what we told it is
// chosen gets the values from its first missing slot, one bounded Chosen message at a time; the
// next goes when it acknowledges this one, or after retry_ticks if that was lost.
void Leader::catch_up(NodeId id, Peer& peer, Index chosen, bool behind, std::uint64_t now) {
    peer.chosen = chosen;
    if (!behind || chosen >= learner_.commit_index()) return;
    if (chosen < peer.catchup_end && now < peer.catchup_tick + retry_ticks_) return;  // one on its way
    Chosen m{ballot_, learner_.chosen_from(chosen + 1, config_.max_message_bytes)};
    if (m.values.empty()) return;
    peer.catchup_end = m.values.back().index;
    peer.catchup_tick = now;
    out_.send(id, std::move(m));
}

void Leader::heartbeat_all() {
    heartbeat_elapsed_ = 0;
    for (auto& [id, peer] : peers_) out_.send(id, Heartbeat{ballot_, learner_.commit_index(), read_seq_});
}

void Leader::tick(std::uint64_t now) {
    if (!active()) return resend_pages(now);
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
            if (accepted_by(p, id)) continue;
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

bool Leader::lost_majority(std::uint64_t now) const {
    const std::uint64_t window = config_.election_timeout_max_ticks;
    if (!active() || now < active_since_ + window) return false;
    std::size_t heard = 1;  // self
    for (const auto& [id, peer] : peers_)
        if (now < peer.heard_tick + window) ++heard;
    return heard < members_.quorum();
}

// ---------------------------------------------------------------- reads

// Everything acknowledged to a client before the read was chosen in a slot this leader assigned
// or learned (phase 1 found every value that could have been chosen before its ballot).
Index Leader::read_index() const {
    return std::max(next_slot_ - 1, learner_.highest_chosen());
}

void Leader::read(NodeId origin, std::uint64_t read_id, std::uint64_t now) {
    PendingRead r{origin, read_id, read_index(), read_seq_ + 1, now + config_.election_timeout_max_ticks};
    if (!active() || reads_.size() >= config_.max_pending_proposals) return finish_read(r, false);
    reads_.push_back(r);
}

// The highest read round acknowledged by a majority (self included) confirms every read waiting
// on it or on an earlier round.
void Leader::confirm_reads() {
    std::vector<std::uint64_t> acks{read_seq_};  // self: its own acceptor promised this ballot
    for (const auto& [id, peer] : peers_) acks.push_back(peer.read_ack);
    std::uint64_t confirmed = std::min(members_.quorum_value(std::move(acks)), read_seq_);
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

void Leader::check_invariants() const {
    BALLOT_ASSERT(ballot_.node == members_.self(), "leader: its ballot carries its own id");
    BALLOT_ASSERT(acceptor_.promised() >= ballot_, "leader: own acceptor has promised its ballot");
    for (const auto& [slot, p] : pending_) {
        BALLOT_ASSERT(slot < next_slot_, "leader: pending slot below next_slot");
        BALLOT_ASSERT(p.accepted_by.size() < members_.quorum(),
                      "leader: a slot accepted by a majority is not pending");
    }
    BALLOT_ASSERT(own_next_ <= next_slot_, "leader: own acceptor sent only assigned slots");
    for (const auto& [id, peer] : peers_) {
        BALLOT_ASSERT(peer.inflight.size() <= config_.max_inflight_messages,
                      "leader: in-flight Accepts per peer within max_inflight_messages");
        BALLOT_ASSERT(peer.next <= next_slot_, "leader: a peer is sent only assigned slots");
    }
    BALLOT_ASSERT(confirmed_seq_ <= read_seq_, "leader: confirmed only read rounds started");
    std::uint64_t previous = 0;
    for (const PendingRead& r : reads_) {
        BALLOT_ASSERT(r.seq >= previous, "leader: pending reads ordered by round");
        BALLOT_ASSERT(r.seq > confirmed_seq_, "leader: no confirmed read left waiting");
        previous = r.seq;
    }
    BALLOT_ASSERT(reads_.size() <= config_.max_pending_proposals,
                  "leader: reads bounded by max_pending_proposals");
}

}  // namespace ballot::multipaxos
