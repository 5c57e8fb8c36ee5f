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

#include "common/types.h"
#include "paxos/messages.h"
#include "paxos/persist.h"

namespace ballot::paxos {

class Acceptor {
public:
    // Rebuilds the acceptor from the slot records it persisted (decoded by paxos/persist.h).
    explicit Acceptor(const std::vector<SlotRecord>& recovered);

    Message on_prepare(const Prepare& m);  // a Promise or a Nack
    Message on_accept(const Accept& m);    // an Accepted or a Nack

    // The highest slot in which this acceptor has accepted any value (0: none). Read queries.
    Index highest_accepted_slot() const { return highest_accepted_slot_; }
    // The highest slot it has any state for (0: none).
    Index highest_slot() const { return slots_.empty() ? 0 : slots_.rbegin()->first; }
    Ballot highest_promise() const { return highest_promise_; }

    // The slots changed since the last call, as records to persist.
    std::vector<SlotRecord> take_unsaved();
    bool has_unsaved() const { return !unsaved_.empty(); }

    // Per slot (the newest 64 and every one changed since the last take_unsaved()): the promise
    // is at least the accepted ballot, and the summaries cover the slot. Throws InvariantViolation.
    void check_invariants() const;  // invariants.cc

private:
    struct Slot {
        Ballot promised;
        Ballot accepted;  // zero: nothing accepted
        std::string value;
    };

    std::map<Index, Slot> slots_;
    std::set<Index> unsaved_;
    Index highest_accepted_slot_ = 0;
    Ballot highest_promise_;
};

}  // namespace ballot::paxos
