// Phase 2 of a basic Paxos instance and learning (Paxos Made Simple §2.2 phase 2, §2.3): the
// proposer's Accept, the acceptors' Accepted or Nack, the majority that chooses a value, and the
// Learn that tells every learner. The acceptor's rule for an Accept is Acceptor::on_accept
// (acceptor.cc); the learner's in-order hand-out is Learner (learner.cc).
#include <algorithm>

#include "paxos/paxos.h"

namespace ballot::paxos {

// ---------------------------------------------------------------- the engine's handlers

// §2.2 phase 2(b), at this node's acceptor.
void Paxos::on(NodeId from, const Accept& m) {
    proposer_.observe(m.slot);
    // An Accepted or Nack: durable before it leaves. Only where this node is the acceptor (membership.cc).
    if (acceptor_of(m.slot)) send(from, acceptor_.on_accept(m));
}

void Paxos::on(NodeId from, const Accepted& m) {
    if (auto chosen = proposer_.on_accepted(from, m)) learn(m.slot, std::move(*chosen));
}

void Paxos::on(NodeId from, const Learn& m) {
    yield_filling(from, m.slot, m.value);  // catch_up.cc
    learn(m.slot, m.value);
}

void Paxos::learn(Index slot, std::string value) {
    if (!learner_.learn(slot, value)) return;
    acceptor_.rewrite(slot);  // with its chosen mark (take_ready)
    proposer_.on_chosen(slot, value);
    follow_chosen_prefix();  // membership.cc: configurations chosen in the prefix
}

// A learner's client command (README "Membership change": only voters propose). Each voter in
// turn, so that a voter that is down or cut off costs one retry (the runtime retries after its
// retry interval, and the stamp keeps a command reaching two voters from applying twice). A node
// not added yet, or removed, is in nobody's configuration: its peers do not talk to it.
ProposeResult Paxos::forward(std::string command) {
    const Membership& newest = configs_.newest();
    const std::vector<NodeId>& voters = newest.voter_peers();
    if (!newest.contains(newest.self()) || newest.names_another_self() || voters.empty())
        return ProposeResult::no_leader;
    send(voters[forwarded_++ % voters.size()], Forward{std::move(command)});
    return ProposeResult::accepted;
}

// A command handed on by a learner: proposed as this voter's own. Dropped if this node is no
// voter (any more) or its queue is full: the learner's runtime retries.
void Paxos::on(NodeId, const Forward& m) {
    if (configs_.newest().self_is_voter()) proposer_.propose(m.command);
}

// ---------------------------------------------------------------- the proposer's side

// §2.2 phase 2(a), once a majority has promised: propose "v, where v is the value of the
// highest-numbered proposal among the responses, or is any value if the responses reported no
// proposals" -- our own command (or, filling a gap, a no-op).
void Proposer::accept(Instance& i) {
    if (i.accepted.is_zero()) i.value = i.own.value_or(std::string{});
    i.phase = Phase::accepting;
    i.answered = configs_.at(i.slot).tally();
    i.deadline = now_ + tuning_.attempt_timeout_ticks;
    to_acceptors(i.slot, Accept{i.slot, i.ballot, i.value});
}

std::optional<std::string> Proposer::on_accepted(NodeId from, const Accepted& m) {
    auto it = instances_.find(m.slot);
    if (it == instances_.end()) return std::nullopt;
    Instance& i = it->second;
    if (i.phase != Phase::accepting || m.ballot != i.ballot) return std::nullopt;
    i.answered.record(from, true);
    if (!i.answered.won()) return std::nullopt;
    return announce(i);
}

// §2.3: a majority accepted (slot, ballot): the value is chosen. Tell every other learner; the
// caller tells ours, which ends this instance through on_chosen().
std::string Proposer::announce(Instance& i) {
    to_learners(i.slot, Learn{i.slot, i.value});
    return i.value;
}

void Proposer::on_chosen(Index slot, const std::string& value) {
    observe(slot);
    std::optional<std::string> own;
    if (auto it = instances_.find(slot); it != instances_.end()) {
        own = std::move(it->second.own);
        instances_.erase(it);  // the freed window slot is handed out by the engine: gap filling first
    }
    if (own && *own == value) {  // our command won its slot
        held_.erase(value);
        return;
    }
    // A command this node holds for another slot was chosen here (a client or the runtime retried
    // it through another node too): it is done, and a second copy would only take a slot.
    if (held_.erase(value)) drop_chosen(value);
    // Someone else's value won the slot: our command must still be chosen somewhere, so it goes
    // first in line for the next free slot.
    if (own) requeue(std::move(*own));
}

void Proposer::drop_chosen(const std::string& command) {
    if (auto q = std::find(queued_.begin(), queued_.end(), command); q != queued_.end()) {
        queued_.erase(q);
        return;
    }
    // In flight in another slot: that instance goes on (its slot must still be decided), but no
    // longer for this command. Before phase 2 it proposes a no-op (§2.2: any value, when phase 1
    // reports none), and it does not requeue the command if it loses.
    for (auto& [slot, i] : instances_)
        if (i.own == command) i.own.reset();
}

}  // namespace ballot::paxos
