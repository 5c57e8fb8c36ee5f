#include "paxos/acceptor.h"

#include <algorithm>

#include "common/assert.h"

namespace ballot::paxos {

Acceptor::Acceptor(std::vector<SlotRecord>& recovered, Index trim)
    : highest_accepted_slot_(trim), trim_(trim) {
    for (SlotRecord& r : recovered) {
        if (r.slot <= trim_) continue;  // compacted away, but the crash came before the deletion
        Slot& s = slots_[r.slot];
        s.promised = r.promised;
        s.accepted = r.accepted;
        s.value = std::move(r.value);
        highest_promise_ = std::max(highest_promise_, s.promised);
        if (!s.accepted.is_zero()) highest_accepted_slot_ = std::max(highest_accepted_slot_, r.slot);
    }
}

// §2.2 phase 1(b): "If an acceptor receives a prepare request with number n greater than that of
// any prepare request to which it has already responded, then it responds to the request with a
// promise not to accept any more proposals numbered less than n and with the highest-numbered
// proposal (if any) that it has accepted." Equal n is a retransmission and gets the same answer.
Message Acceptor::on_prepare(const Prepare& m) {
    if (m.slot <= trim_) return Trimmed{m.slot, m.ballot, trim_};
    Slot& s = slots_[m.slot];
    if (m.ballot < s.promised) return Nack{m.slot, m.ballot, s.promised};
    if (m.ballot > s.promised) {
        BALLOT_ASSERT(m.ballot > s.promised, "P1: a promise never decreases");
        s.promised = m.ballot;
        highest_promise_ = std::max(highest_promise_, m.ballot);
        unsaved_.insert(m.slot);
    }
    return Promise{m.slot, m.ballot, s.accepted, s.value};
}

// §2.2 phase 2(b): "If an acceptor receives an accept request for a proposal numbered n, it
// accepts the proposal unless it has already responded to a prepare request having a number
// greater than n."
Message Acceptor::on_accept(const Accept& m) {
    if (m.slot <= trim_) return Trimmed{m.slot, m.ballot, trim_};
    Slot& s = slots_[m.slot];
    if (m.ballot < s.promised) return Nack{m.slot, m.ballot, s.promised};
    if (s.accepted != m.ballot) {  // a retransmitted Accept changes nothing
        BALLOT_ASSERT(m.ballot >= s.promised, "P1a: accept only at or above the slot's promise (slot " +
                                                  std::to_string(m.slot) + ", ballot " + m.ballot.str() +
                                                  ", promised " + s.promised.str() + ")");
        s.promised = m.ballot;
        s.accepted = m.ballot;
        s.value = m.value;
        highest_promise_ = std::max(highest_promise_, m.ballot);
        highest_accepted_slot_ = std::max(highest_accepted_slot_, m.slot);
        unsaved_.insert(m.slot);
    }
    return Accepted{m.slot, m.ballot};
}

// Trimming must never let this acceptor answer for a trimmed slot again: it answers Trimmed instead
// of a Promise or Accepted (above), and the trim point is persisted in the metadata before the
// records are deleted (Paxos::take_ready), so a restart does not bring a forgotten slot back as
// a fresh one.
void Acceptor::trim(Index through) {
    if (through <= trim_) return;
    trim_ = through;
    compact_through(slots_, through, graveyard_);
    unsaved_.erase(unsaved_.begin(), unsaved_.upper_bound(through));  // never rewritten after compaction
    highest_accepted_slot_ = std::max(highest_accepted_slot_, through);
}

void Acceptor::rewrite(Index slot) {
    if (slot <= trim_) return;
    slots_[slot];  // a slot this acceptor never took part in gets a record too, for its chosen mark
    unsaved_.insert(slot);
}

std::vector<SlotRecord> Acceptor::take_unsaved() {
    std::vector<SlotRecord> out;
    out.reserve(unsaved_.size());
    for (Index slot : unsaved_) {
        const Slot& s = slots_[slot];
        out.push_back(SlotRecord{slot, s.promised, s.accepted, s.value, std::nullopt});
    }
    unsaved_.clear();
    return out;
}

}  // namespace ballot::paxos
