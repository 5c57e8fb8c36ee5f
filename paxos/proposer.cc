#include "paxos/proposer.h"

#include <algorithm>

#include "common/command.h"

namespace ballot::paxos {

Proposer::Proposer(const Configurations& configs, const Tuning& tuning, std::uint64_t persisted_round,
                   std::uint64_t seed, Outbox<Message>& out)
    : configs_(configs),
      id_(configs.self()),
      tuning_(tuning),
      rng_(seed),
      out_(out),
      round_(persisted_round + 1),
      round_used_(persisted_round),
      round_durable_(persisted_round),
      highest_ballot_{persisted_round, persisted_round ? id_ : kNoNode} {}

ProposeResult Proposer::propose(std::string command) {
    // A retry of a command still held: proposing a second copy would only take a second slot
    // (the state machine discards the duplicate) and delay every command queued behind it.
    if (held_.count(command)) return ProposeResult::accepted;
    if (queued_.size() + instances_.size() >= tuning_.max_pending_proposals) return ProposeResult::overloaded;
    held_.insert(command);
    queued_.push_back(std::move(command));
    return ProposeResult::accepted;  // the engine starts it when the window has room (start_queued)
}

// Queued commands take the next free slots while the window has room. The engine calls this only
// after gap filling has taken what it needs (Paxos::use_window): a slot freed by a decision must go
// to a hole below the chosen prefix before it goes to a new command, or a small window can stay
// full of new commands for ever while the hole blocks every learner (§3: commands above a gap
// cannot be executed until it is filled).
void Proposer::start_queued() {
    while (!queued_.empty() && instances_.size() < tuning_.max_inflight_slots && may_run(next_slot_)) {
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

// The persist-before-send rule of messages.h, with the one case that depends on state: a Prepare
// waits for the disk only while its round is not yet known durable (§2.5, on_round_durable).
bool Proposer::after_persist(const Message& m) const {
    if (std::holds_alternative<Prepare>(m)) return round_ > round_durable_;
    return paxos::after_persist(m);
}

bool Proposer::may_run(Index slot) const {
    return configs_.known(slot) && configs_.at(slot).self_is_voter();
}

void Proposer::to_acceptors(Index slot, const Message& m) {
    const bool wait = after_persist(m);
    for (NodeId to : configs_.at(slot).voters()) out_.send(to, m, wait);
}

void Proposer::to_learners(Index slot, const Message& m) {
    const bool wait = after_persist(m);
    std::vector<NodeId> to = configs_.at(slot).peers();
    for (NodeId id : configs_.newest().peers())
        if (std::find(to.begin(), to.end(), id) == to.end()) to.push_back(id);
    for (NodeId id : to) out_.send(id, m, wait);
}

void Proposer::requeue(std::string own) {
    if (is_config_entry(peek_command_payload(own))) {
        held_.erase(own);
        dropped_changes_.push_back(std::move(own));
        return;
    }
    queued_.push_front(std::move(own));
}

}  // namespace ballot::paxos
