// The acceptor (Paxos Made Simple §2.2, "P1a" and phase 2b; PMMC §3 "Acceptors"): the memory of
// the protocol. It keeps one promised ballot for all slots and, per slot, the last value it
// accepted with the ballot it accepted it in.
//
// Durability (multipaxos/persist.h): the promise goes in the metadata record; each accepted value
// is a log record {slot, accepted ballot, value}. Every change is queued as "unsaved" and
// handed to the runtime in the next Ready; the replies that reveal a change (Promise, Accepted)
// are sent after_persist, so no proposer ever counts a vote that a crash could take back.
//
// Rules (PMS §2.2):
//   - the promise never decreases;
//   - a value is accepted in ballot n only if n >= the promise at that moment (P1a), and accepting
//     in n raises the promise to n;
//   - every stored value carries a non-zero ballot and a positive slot (check_invariants()).
// Two deliberate additions, both argued in the README ("Chosen values in the acceptor"):
//   - the learner stores here a value it learned is chosen (store_chosen), possibly with a ballot
//     this acceptor never promised;
//   - a record the node knows is chosen is final: learning values from the leader of ballot b
//     promises b (promise_at_least), which keeps out every Accept that could carry another value,
//     and on_accept never replaces a chosen value whatever it is sent.
// And a trim point (libpaxos3's acceptor trim; README "Snapshots and compaction"): once every slot
// up to `trimmed` is chosen and covered by a durable snapshot, the acceptor deletes its records of
// them. It then reports and accepts only slots above it, and every reply says where it stands, so
// no proposer takes the missing records for "nothing accepted here".
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/ballot.h"
#include "common/engine.h"
#include "common/graveyard.h"
#include "multipaxos/messages.h"

namespace ballot::multipaxos {

class Learner;

class Acceptor {
public:
    // Rebuilds the acceptor from what it persisted (decoded by multipaxos/persist.h). Records at or
    // below `trimmed` (covered by the recovered snapshot) are dropped.
    Acceptor(std::size_t max_message_bytes, const Recovered& recovered, Index trimmed);

    Ballot promised() const { return promised_; }

    // Phase 1b. Promises `m.ballot` if it is not below the promise (a proposer that asks again in
    // the same ballot, for the next page of its report, gets the same answer), and reports the
    // values accepted in slots >= m.from_slot above the trim point, at most max_message_bytes of
    // them; the Promise carries the trim point.
    std::variant<Promise, Nack> on_prepare(const Prepare& m, Index chosen);

    // Phase 2b. Accepts every proposal of `m` unless a higher ballot was promised. A proposal
    // that would replace a value `learner` knows is chosen is neither stored nor acknowledged, nor
    // is one at or below the trim point (the Accepted carries the trim point).
    std::variant<Accepted, Nack> on_accept(const Accept& m, const Learner& learner);

    // Promises `b` if that is higher than the promise (called when catch-up from the leader of
    // `b` teaches this node chosen values).
    void promise_at_least(Ballot b);

    // Heartbeats do not change the promise: they only ask whether a higher one exists.
    bool admits(Ballot b) const { return b >= promised_; }

    // The value accepted for `slot`, or nullptr.
    const Entry* accepted(Index slot) const;
    bool holds(Index slot, const std::string& value) const;
    // Called by the learner: `data` is chosen for `slot` (learned from the leader). Stores it so
    // that the node can deliver it after a restart and serve it to lagging peers.
    void store_chosen(Index slot, Ballot ballot, const std::string& data);

    Index first_slot() const { return accepted_.empty() ? 0 : accepted_.begin()->first; }
    // The trim point: the highest slot whose record was deleted (0: none ever).
    Index trimmed() const { return trimmed_; }
    // Deletes every record at or below `slot` (all chosen, covered by a durable snapshot), also
    // from what is not yet handed to the disk: the runtime deletes before it writes (engine.h).
    void trim_through(Index slot);
    // Frees a tick's share of what trimming buried (common/graveyard.h).
    void collect_garbage() { graveyard_.collect(); }
    Index last_slot() const { return accepted_.empty() ? 0 : accepted_.rbegin()->first; }

    // What changed since the last call, to be made durable by the runtime.
    bool take_promise_changed();
    std::vector<Entry> take_unsaved();
    bool has_unsaved() const { return promise_changed_ || !unsaved_.empty(); }

    // Throws InvariantViolation (common/assert.h) naming the broken invariant.
    void check_invariants() const;

private:
    void set(Entry e);

    std::size_t max_message_bytes_;
    Ballot promised_;
    Graveyard graveyard_;              // trimmed records, freed a tick at a time
    std::map<Index, Entry> accepted_;  // slot -> {slot, packed ballot, value}, all above trimmed_
    Index trimmed_ = 0;
    bool promise_changed_ = false;
    std::vector<Entry> unsaved_;
};

}  // namespace ballot::multipaxos
