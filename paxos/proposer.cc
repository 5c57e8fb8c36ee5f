#include "paxos/proposer.h"

#include <algorithm>

#include "common/assert.h"

namespace ballot::paxos {

Proposer::Proposer(const Membership& members, const Tuning& tuning, std::uint64_t persisted_round,
                   std::uint64_t seed, Outbox<Message>& out)
    : members_(members),
      id_(members.self()),
      tuning_(tuning),
      rng_(seed),
      out_(out),
      round_(persisted_round + 1),
      round_used_(persisted_round),
      round_durable_(persisted_round),
      highest_ballot_{persisted_round, persisted_round ? id_ : kNoNode} {}

ProposeResult Proposer::propose(std::string command) {
    if (queued_.size() + instances_.size() >= tuning_.max_pending_proposals) return ProposeResult::overloaded;
    queued_.push_back(std::move(command));
    return ProposeResult::accepted;  // the engine starts it when the window has room (start_queued)
}

bool Proposer::fill(Index slot) {
    if (instances_.count(slot)) return true;
    if (instances_.size() >= tuning_.max_inflight_slots) return false;
    start(slot, std::nullopt);
    return true;
}

// Queued commands take the next free slots while the window has room. The engine calls this only
// after gap filling has taken what it needs (Paxos::use_window): a slot freed by a decision must go
// to a hole below the chosen prefix before it goes to a new command, or a small window can stay
// full of new commands for ever while the hole blocks every learner (§3: commands above a gap
// cannot be executed until it is filled).
void Proposer::start_queued() {
    while (!queued_.empty() && instances_.size() < tuning_.max_inflight_slots) {
        std::string command = std::move(queued_.front());
        queued_.pop_front();
        start(next_slot_, std::move(command));
    }
}

void Proposer::start(Index slot, std::optional<std::string> own) {
    observe(slot);
    Instance& i = instances_[slot];
    i.slot = slot;
    i.own = std::move(own);
    prepare(i);
}

// §2.2 phase 1(a): a new proposal number, higher than any this proposer has tried in the slot and
// than any promise an acceptor reported, sent to every acceptor (this node's own included).
void Proposer::prepare(Instance& i) {
    round_ = std::max(round_, std::max(i.ballot, i.preempted_by).round + 1);
    i.ballot = Ballot{round_, id_};
    i.phase = Phase::preparing;
    i.answered = members_.tally();
    i.accepted = Ballot{};
    i.value.clear();
    i.deadline = now_ + tuning_.attempt_timeout_ticks;
    round_used_ = std::max(round_used_, round_);
    highest_ballot_ = std::max(highest_ballot_, i.ballot);
    // §2.5: the round must be durable before a Prepare carrying it leaves.
    broadcast(Prepare{i.slot, i.ballot}, /*after_persist=*/round_ > round_durable_);
}

void Proposer::on_promise(NodeId from, const Promise& m) {
    auto it = instances_.find(m.slot);
    if (it == instances_.end()) return;
    Instance& i = it->second;
    if (i.phase != Phase::preparing || m.ballot != i.ballot) return;  // a stale answer
    if (m.accepted > i.accepted) {
        i.accepted = m.accepted;
        i.value = m.value;
    }
    i.answered.record(from, true);
    if (!i.answered.won()) return;

    // §2.2 phase 2(a): propose "v, where v is the value of the highest-numbered proposal among the
    // responses, or is any value if the responses reported no proposals" -- our own command.
    if (i.accepted.is_zero()) i.value = i.own.value_or(std::string{});
    i.phase = Phase::accepting;
    i.answered = members_.tally();
    i.deadline = now_ + tuning_.attempt_timeout_ticks;
    // Nothing new to persist here: the ballot was persisted before its Prepare left.
    broadcast(Accept{i.slot, i.ballot, i.value}, /*after_persist=*/false);
}

std::optional<std::string> Proposer::on_accepted(NodeId from, const Accepted& m) {
    auto it = instances_.find(m.slot);
    if (it == instances_.end()) return std::nullopt;
    Instance& i = it->second;
    if (i.phase != Phase::accepting || m.ballot != i.ballot) return std::nullopt;
    i.answered.record(from, true);
    if (!i.answered.won()) return std::nullopt;
    // §2.3: a majority accepted (slot, ballot): the value is chosen. Tell every other learner; the
    // caller tells ours, which ends this instance through on_chosen().
    broadcast(Learn{i.slot, i.value}, /*after_persist=*/false, /*to_self=*/false);
    return i.value;
}

// An acceptor has promised a higher ballot: this attempt cannot succeed, so abandon it (§2.2).
void Proposer::on_nack(const Nack& m) {
    highest_ballot_ = std::max(highest_ballot_, m.promised);
    auto it = instances_.find(m.slot);
    if (it == instances_.end()) return;
    Instance& i = it->second;
    if (i.phase == Phase::backing_off || m.ballot != i.ballot) return;
    i.preempted_by = std::max(i.preempted_by, m.promised);
    fail(i);
}

void Proposer::on_chosen(Index slot, const std::string& value) {
    observe(slot);
    auto it = instances_.find(slot);
    if (it == instances_.end()) return;
    // Someone else's value won the slot: our command must still be chosen somewhere, so it goes
    // first in line for the next free slot.
    if (it->second.own && *it->second.own != value) queued_.push_front(std::move(*it->second.own));
    instances_.erase(it);  // the freed window slot is handed out by the engine: gap filling first
}

// Randomized exponential backoff (§2.4; see README "Livelock"): two proposers that retried at
// once would preempt each other's phase 1 forever; waiting a random, growing time lets one of
// them finish both phases while the other is quiet.
void Proposer::fail(Instance& i) {
    i.phase = Phase::backing_off;
    ++i.failures;
    std::uint64_t window = 0;
    if (tuning_.backoff_base_ticks > 0) {
        std::uint64_t exp = std::min<std::uint32_t>(i.failures - 1, 20);
        window = std::min<std::uint64_t>(tuning_.backoff_max_ticks,
                                         std::uint64_t{tuning_.backoff_base_ticks} << exp);
    }
    i.deadline = now_ + 1 + rng_.between(0, window);
}

void Proposer::tick() {
    ++now_;
    for (auto& [slot, i] : instances_) {
        if (now_ < i.deadline) continue;
        if (i.phase == Phase::backing_off)
            prepare(i);  // retry the slot under a higher ballot
        else
            fail(i);  // no majority answered in time
    }
}

void Proposer::check_invariants() const {
    BALLOT_ASSERT(round_durable_ <= round_used_, "proposer: only rounds used are known durable");
    BALLOT_ASSERT(round_used_ <= round_, "proposer: the next round is at least the highest used");
    BALLOT_ASSERT(instances_.size() <= tuning_.max_inflight_slots, "proposer: instances within the window");
    BALLOT_ASSERT(queued_.size() <= tuning_.max_pending_proposals, "proposer: queued commands bounded");
    for (const auto& [slot, i] : instances_) {
        auto where = [slot = slot, ballot = i.ballot] {  // only on failure
            return " (slot " + std::to_string(slot) + ", ballot " + ballot.str() + ")";
        };
        BALLOT_ASSERT(i.slot == slot, "proposer: an instance knows its slot" + where());
        BALLOT_ASSERT(slot < next_slot_, "proposer: slots in hand are below next_slot" + where());
        BALLOT_ASSERT(i.ballot.node == id_ && i.ballot.round >= 1,
                      "proposer: an attempt uses its own ballot" + where());
        // §2.5: a proposer never reuses a proposal number, so its round is never below one it used.
        BALLOT_ASSERT(i.ballot.round <= round_used_,
                      "proposer: round_used covers every ballot used" + where());
        BALLOT_ASSERT(i.ballot <= highest_ballot_,
                      "proposer: highest_ballot covers every ballot used" + where());
    }
}

void Proposer::broadcast(const Message& m, bool after_persist, bool to_self) {
    for (NodeId to : members_.members())
        if (to != id_ || to_self) out_.send(to, m, after_persist);
}

}  // namespace ballot::paxos
