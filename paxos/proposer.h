// The proposer role (Paxos Made Simple §2.2, §2.4): runs one single-decree Paxos instance per
// slot it wants decided, both phases every time, with no distinguished leader.
//
// A command goes into the first slot this node believes free (above every slot it has seen in
// use). If phase 1 reveals a value already accepted there, the proposer must propose that value
// instead (§2.2, P2c); its own command then goes back to the queue and into a later slot once
// this one is decided. Up to Tuning::max_inflight_slots instances run at once.
//
// Proposal numbers are (round, node id) ballots. The highest round put in a Prepare is what the
// engine persists (its metadata, paxos/persist.h) before that Prepare leaves, so a restarted proposer starts
// above it and never reuses a proposal number (§2.5: each proposer remembers in stable storage
// the highest-numbered proposal it has tried to issue).
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/engine.h"
#include "common/outbox.h"
#include "common/quorum.h"
#include "common/random.h"
#include "paxos/configurations.h"
#include "paxos/messages.h"
#include "paxos/tuning.h"

namespace ballot::paxos {

class Proposer {
public:
    // `configs` and `out` are the engine's, and outlive the proposer. Slot t's instance asks the
    // voters of config(t) (configurations.h), and runs only once config(t) is known and this node
    // is one of them (a learner or a removed node never proposes).
    Proposer(const Configurations& configs, const Tuning& tuning, std::uint64_t persisted_round,
             std::uint64_t seed, Outbox<Message>& out);

    // Queues a command; start_queued() places it in a slot once the window has room. A command
    // this node already holds (queued, or in flight as its own) is not queued again: it is a retry
    // (the runtime's, or a client's through this node), and the copy held will be chosen.
    ProposeResult propose(std::string command);
    // Starts queued commands in the next free slots while the window has room. The engine calls it
    // after gap filling, which has priority for the window (README "Gap filling").
    void start_queued();
    // Gap filling: runs Paxos for `slot` with a no-op, which learns whatever was chosen or
    // accepted there. False if the window is full (this slot already in hand counts as done).
    // `wide`: a change is waiting to govern, and fills may use Tuning::max_inflight_fills.
    bool fill(Index slot, bool wide);  // catch_up.cc
    // Some node has used `slot`: new commands go above it.
    void observe(Index slot) { next_slot_ = std::max(next_slot_, slot + 1); }
    // Some acceptor has trimmed every slot up to `slot` (README "Snapshots and compaction"): they
    // are all chosen, so this proposer never again runs phase 1 or 2 there. An instance in hand at
    // or below it ends; its command, which may or may not have won, is requeued first in line (if
    // it did win, the state machine discards the second copy, as for a client's retry).
    void skip_through(Index slot);  // catch_up.cc
    // The trim points above `slot` were heard of, but no snapshot covering them came (the peers that
    // trimmed are down): instances may run above `slot` again (Paxos::reopen_unserved_trims).
    void reopen_above(Index slot);  // catch_up.cc
    // Gap filling yields to another filler (README "Gap filling"): every no-op instance in hand
    // ends. Abandoning a proposal is always safe (§2.2: a proposer may abandon a proposal at any
    // time); the other filler decides those slots, or this node fills them again after its wait.
    void abandon_fills();  // catch_up.cc
    // Slots at or below it are trimmed somewhere (as far as this node still counts on a snapshot
    // for them): no instance runs there.
    Index floor() const { return floor_; }
    bool working_on(Index slot) const { return instances_.count(slot) != 0; }
    // This node may run an instance for `slot`: config(slot) is known and has it as a voter.
    bool may_run(Index slot) const;
    // Whether `command` is queued or in flight as this node's own.
    bool holds(const std::string& command) const { return held_.count(command) != 0; }
    // Configuration entries of this node's that ended without being chosen (lost their slot to
    // another value, or were skipped by a trim): never requeued as they are, since each was made to
    // the configuration of its time and a later slot may be governed by another (README
    // "Membership change"); the engine re-derives the change.
    std::vector<std::string> take_dropped_changes() { return std::exchange(dropped_changes_, {}); }

    // Phase 1 (election.cc).
    // Returns the chosen value when a majority's promises report the same accepted proposal: that
    // proposal was accepted by a majority, so its value is chosen and phase 2 is not needed.
    std::optional<std::string> on_promise(NodeId from, const Promise& m);
    void on_nack(const Nack& m);
    // Phase 2 (replication.cc). Returns the chosen value when this Accepted completes a majority.
    std::optional<std::string> on_accepted(NodeId from, const Accepted& m);
    // The learner knows `slot` is decided: the instance ends; a command that lost it is requeued
    // (at the front), and a command held for another slot that was chosen here (another node
    // proposed it too) is dropped. The freed window slot is not refilled here: see start_queued().
    void on_chosen(Index slot, const std::string& value);
    void tick();

    // This node's own Prepare with `round` came back to it: the runtime delivers messages to self
    // only once their batch is durable, so `round` is on disk and later Prepares with it promise
    // nothing new: they may leave without waiting for the next fsync.
    // Only a round this node has used can be confirmed durable: a Prepare that claims to be our
    // own but carries a round we never used (a forged frame) must not vouch for it.
    void on_round_durable(std::uint64_t round) {
        round_durable_ = std::max(round_durable_, std::min(round, round_used_));
    }
    // The highest round put in a Prepare so far (what must be persisted before it leaves).
    std::uint64_t round_used() const { return round_used_; }
    // The highest ballot this proposer has used or been told about.
    Ballot highest_ballot() const { return highest_ballot_; }
    // One above the highest slot this node has seen in use.
    Index next_slot() const { return next_slot_; }
    // Attempts abandoned because an acceptor had promised a higher ballot (EngineStatus).
    std::uint64_t preempted() const { return preempted_; }

    // Rounds never run below a ballot used, the window and queue are bounded, every instance's
    // ballot is its own. Throws InvariantViolation.
    void check_invariants() const;  // invariants.cc

private:
    enum class Phase { preparing, accepting, backing_off };

    struct Instance {
        Index slot = 0;
        std::optional<std::string> own;  // the command we want chosen; nullopt: a no-op gap fill
        Phase phase = Phase::preparing;
        Ballot ballot;               // this attempt's proposal number
        Ballot preempted_by;         // highest ballot an acceptor told us it promised
        VoteTally answered;          // Promises (phase 1) or Accepteds (phase 2) for `ballot`
        Ballot accepted;             // phase 1: highest-numbered accepted proposal reported so far
        std::string value;           // ... its value; phase 2: the value we propose
        VoteTally reported;          // phase 1: the acceptors that reported `accepted` itself
        std::uint64_t deadline = 0;  // phase timeout, or when a backing-off instance retries
        std::uint32_t failures = 0;  // consecutive failed attempts (the backoff exponent)
    };

    void start(Index slot, std::optional<std::string> own);
    void prepare(Instance& i);  // phase 1 (election.cc)
    void fail(Instance& i);
    void accept(Instance& i);  // phase 2 (replication.cc)
    // `i`'s value is chosen (a majority accepted one proposal): tell every other learner (§2.3).
    std::string announce(Instance& i);
    // `command`, which this node holds for a slot other than the one that chose it, is done.
    void drop_chosen(const std::string& command);
    // Whether `m` waits for this batch's fsync (messages.h; a Prepare's answer depends on state).
    bool after_persist(const Message& m) const;
    // To every voter of config(slot), this node too: a Prepare or an Accept.
    void to_acceptors(Index slot, const Message& m);
    // To every other member of config(slot) and of the newest configuration (learners too).
    void to_learners(Index slot, const Message& m);
    // `own`, an instance's command that did not win its slot, goes first in line again; a
    // configuration entry is dropped instead (take_dropped_changes).
    void requeue(std::string own);

    const Configurations& configs_;
    NodeId id_;
    Tuning tuning_;
    Rng rng_;
    Outbox<Message>& out_;

    std::uint64_t now_ = 0;
    std::uint64_t round_;          // the round of the next new ballot
    std::uint64_t round_used_;     // highest round sent in a Prepare
    std::uint64_t round_durable_;  // highest round known to be on disk
    Ballot highest_ballot_;
    std::uint64_t preempted_ = 0;  // attempts ended by a Nack (preempted())
    Index next_slot_ = 1;
    Index floor_ = 0;
    std::deque<std::string> queued_;  // bounded by Tuning::max_pending_proposals
    // Every command queued or in flight as an instance's `own`, each held once (README "Livelock":
    // retried copies that each took a slot of their own crowded out new commands).
    std::unordered_set<std::string> held_;
    std::map<Index, Instance> instances_;  // bounded by max_inflight_slots (fills: max_inflight_fills)
    std::vector<std::string> dropped_changes_;
};

}  // namespace ballot::paxos
