// Phase 1 of a basic Paxos instance (Paxos Made Simple §2.2 phase 1, §2.4): the proposer's
// Prepare, the acceptors' Promise or Nack, and the randomized backoff that keeps two proposers
// from preempting each other for ever. Each slot runs its own phase 1; there is no leader to elect.
// The acceptor's rule for a Prepare is Acceptor::on_prepare (acceptor.cc).
#include <algorithm>

#include "paxos/paxos.h"

namespace ballot::paxos {

// ---------------------------------------------------------------- the engine's handlers

// §2.2 phase 1(b), at this node's acceptor.
void Paxos::on(NodeId from, const Prepare& m) {
    proposer_.observe(m.slot);
    if (from == configs_.self()) proposer_.on_round_durable(m.ballot.round);
    // A slot this node knows is decided: say so rather than promise (how laggards catch up).
    if (const std::string* v = learner_.chosen(m.slot))
        send(from, Learn{m.slot, *v});
    else if (acceptor_of(m.slot))
        send(from, acceptor_.on_prepare(m));  // a Promise or Nack: durable before it leaves
}

void Paxos::on(NodeId from, const Promise& m) {
    if (auto chosen = proposer_.on_promise(from, m)) learn(m.slot, std::move(*chosen));
}

void Paxos::on(NodeId, const Nack& m) {
    proposer_.on_nack(m);
}

// ---------------------------------------------------------------- the proposer's side

// §2.2 phase 1(a): a new proposal number, higher than any this proposer has tried in the slot and
// than any promise an acceptor reported, sent to every acceptor (this node's own included).
void Proposer::prepare(Instance& i) {
    round_ = std::max(round_, std::max(i.ballot, i.preempted_by).round + 1);
    i.ballot = Ballot{round_, id_};
    i.phase = Phase::preparing;
    i.answered = configs_.at(i.slot).tally();  // a majority of config(slot)'s voters
    i.accepted = Ballot{};
    i.value.clear();
    i.reported = configs_.at(i.slot).tally();
    i.deadline = now_ + tuning_.attempt_timeout_ticks;
    round_used_ = std::max(round_used_, round_);
    highest_ballot_ = std::max(highest_ballot_, i.ballot);
    // §2.5: the round must be durable before a Prepare carrying it leaves (Proposer::after_persist).
    to_acceptors(i.slot, Prepare{i.slot, i.ballot});
}

std::optional<std::string> Proposer::on_promise(NodeId from, const Promise& m) {
    auto it = instances_.find(m.slot);
    if (it == instances_.end()) return std::nullopt;
    Instance& i = it->second;
    if (i.phase != Phase::preparing || m.ballot != i.ballot) return std::nullopt;  // a stale answer
    if (!i.answered.record(from, true)) return std::nullopt;                       // a duplicate
    if (m.accepted > i.accepted) {
        i.accepted = m.accepted;
        i.value = m.value;
        i.reported = configs_.at(i.slot).tally();
    }
    if (!m.accepted.is_zero() && m.accepted == i.accepted) i.reported.record(from, true);
    // §2.2: a value is chosen once a single proposal with it has been accepted by a majority. If a
    // majority reports the same accepted proposal, it was: learn it now instead of running phase 2
    // to choose it again. This halves relearning a log nobody remembers (every node restarted,
    // README "Livelock", seed 24162548), and lets nodes filling the same slots at once finish
    // without preempting each other's phase 2.
    if (i.reported.won()) return announce(i);
    if (i.answered.won()) accept(i);  // phase 2 (replication.cc)
    return std::nullopt;
}

// An acceptor has promised a higher ballot: this attempt cannot succeed, so abandon it (§2.2).
void Proposer::on_nack(const Nack& m) {
    highest_ballot_ = std::max(highest_ballot_, m.promised);
    auto it = instances_.find(m.slot);
    if (it == instances_.end()) return;
    Instance& i = it->second;
    if (i.phase == Phase::backing_off || m.ballot != i.ballot) return;
    i.preempted_by = std::max(i.preempted_by, m.promised);
    ++preempted_;
    fail(i);
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

}  // namespace ballot::paxos
