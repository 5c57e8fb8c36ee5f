// The acceptor role (Paxos Made Simple §2.2, §2.5), one instance per slot.
//
// It remembers, per slot, the highest prepare request it has promised and the highest-numbered
// proposal it has accepted; §2.2: "an acceptor must remember this information even if it fails
// and then restarts". So every change is handed out as a SlotRecord to persist (paxos/persist.h), and the
// caller marks every reply after_persist (§2.5: "an acceptor records its intended response in stable storage
// before actually sending the response").
#pragma once

#include <map>
#include <set>
#include <vector>

#include "common/graveyard.h"
#include "common/types.h"
#include "paxos/messages.h"
#include "paxos/persist.h"

namespace ballot::paxos {

class Acceptor {
public:
    // Rebuilds the acceptor from the slot records it persisted (decoded by paxos/persist.h) and its
    // persisted trim point; records at or below the trim point (left by a crash between the
    // metadata write and the compaction) are dropped. Takes each record's accepted value (moved:
    // a restart recovers about a hundred thousand of them), and leaves its chosen mark.
    Acceptor(std::vector<SlotRecord>& recovered, Index trim);

    Message on_prepare(const Prepare& m);  // a Promise, a Nack, or Trimmed at or below the trim point
    Message on_accept(const Accept& m);    // an Accepted, a Nack, or Trimmed

    // Forgets every slot at or below `through` (libpaxos3's acceptor trim): they are chosen and a
    // durable snapshot covers them. From now on this acceptor refuses them (Trimmed), for ever:
    // README "Snapshots and compaction" argues why no phase-1 majority can then miss a chosen value.
    void trim(Index through);
    // Frees a tick's share of what trimming buried (common/graveyard.h).
    void collect_garbage() { graveyard_.collect(); }
    // Every slot at or below it is trimmed (0: none).
    Index trim_point() const { return trim_; }

    // The highest slot in which this acceptor has accepted any value, or the trim point if higher
    // (a trimmed slot was chosen, so accepted by a majority). Read queries.
    Index highest_accepted_slot() const { return highest_accepted_slot_; }
    // The highest slot it has any state for (0: none).
    Index highest_slot() const { return slots_.empty() ? 0 : slots_.rbegin()->first; }
    Ballot highest_promise() const { return highest_promise_; }

    // The learner learned `slot` chosen: its record is written again, with the chosen mark the
    // engine adds (Paxos::take_ready). Nothing of the acceptor's state changes.
    void rewrite(Index slot);

    // The slots changed since the last call, as records to persist.
    std::vector<SlotRecord> take_unsaved();
    bool has_unsaved() const { return !unsaved_.empty(); }

    // Per slot (the newest 64 and every one changed since the last take_unsaved()): the promise
    // is at least the accepted ballot, and the summaries cover the slot; nothing at or below the
    // trim point is held. Throws InvariantViolation.
    void check_invariants() const;  // invariants.cc

private:
    struct Slot {
        Ballot promised;
        Ballot accepted;  // zero: nothing accepted
        std::string value;
    };

    Graveyard graveyard_;  // trimmed slots, freed a tick at a time
    std::map<Index, Slot> slots_;
    std::set<Index> unsaved_;
    Index highest_accepted_slot_ = 0;
    Ballot highest_promise_;
    Index trim_ = 0;
};

}  // namespace ballot::paxos
