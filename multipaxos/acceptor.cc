#include "multipaxos/acceptor.h"

#include <utility>

#include "common/assert.h"
#include "multipaxos/learner.h"

namespace ballot::multipaxos {

Acceptor::Acceptor(std::size_t max_message_bytes, const Recovered& recovered, Index trimmed)
    : max_message_bytes_(max_message_bytes), promised_(recovered.metadata.promised), trimmed_(trimmed) {
    for (const Entry& e : recovered.records)
        if (e.index > trimmed_ && e.ballot != 0) accepted_[e.index] = e;
}

// PMS §2.2, P1a: "An acceptor can accept a proposal numbered n iff it has not responded to a
// prepare request having a number greater than n." A prepare in the current promise is answered
// again (paging, retransmission); a lower one is refused with the promise, so its proposer
// learns what to beat.
std::variant<Promise, Nack> Acceptor::on_prepare(const Prepare& m, Index chosen) {
    if (m.ballot < promised_) return Nack{m.ballot, promised_};
    if (m.ballot > promised_) {
        promised_ = m.ballot;
        promise_changed_ = true;
    }
    Promise p;
    p.ballot = m.ballot;
    p.from_slot = m.from_slot;
    p.chosen = chosen;
    p.trimmed = trimmed_;
    // Bounded report: always at least one value, so every page makes progress.
    MessageBudget budget(max_message_bytes_);
    for (auto it = accepted_.lower_bound(m.from_slot); it != accepted_.end(); ++it) {
        if (!budget.take(it->second)) {
            p.next_slot = it->first;
            break;
        }
        p.accepted.push_back(it->second);
    }
    return p;
}

// PMS §2.2 phase 2b: "If an acceptor receives an accept request for a proposal numbered n, it
// accepts the proposal unless it has already responded to a prepare request having a number
// greater than n." Accepting in ballot n also promises n (PMMC: the acceptor adopts the ballot).
//
// And a value this node knows is chosen is final. Once it is learned, the promise already keeps
// out every ballot that could carry another value (promise_at_least, called when a leader's
// catch-up teaches it), so a conflicting proposal that gets past the promise is no honest
// proposer's: it is neither stored nor acknowledged. See the README, "Chosen values in the
// acceptor".
std::variant<Accepted, Nack> Acceptor::on_accept(const Accept& m, const Learner& learner) {
    if (m.ballot < promised_) return Nack{m.ballot, promised_};
    if (m.ballot > promised_) {
        promised_ = m.ballot;
        promise_changed_ = true;
    }
    Accepted reply;
    reply.ballot = m.ballot;
    reply.chosen = learner.commit_index();
    reply.trimmed = trimmed_;
    reply.slots.reserve(m.proposals.size());
    for (const Proposal& p : m.proposals) {
        // Decided and compacted away: the reply's trim point tells the leader so (README
        // "Snapshots and compaction"); a vote here would be a record below the trim point.
        if (p.slot <= trimmed_) continue;
        const Entry* have = accepted(p.slot);
        if (learner.is_chosen(p.slot) && !holds(p.slot, p.value)) continue;
        BALLOT_ASSERT(!learner.is_chosen(p.slot) || holds(p.slot, p.value),
                      "acceptor: a value known chosen is never replaced");
        // A retransmission of what we already hold needs no new write, and a record keeps the
        // highest ballot it was stored with (a chosen value may have been stored above `m.ballot`).
        if (!have || have->data != p.value || have->ballot < m.ballot.packed())
            set(Entry{p.slot, m.ballot.packed(), p.value});
        reply.slots.push_back(p.slot);
    }
    return reply;
}

// Raising a promise is always safe (it only forbids), and here it is what makes learned values
// final: a value learned from the leader of `b` was chosen in a ballot <= b, and every ballot
// that could still carry another value for its slot is below that one.
void Acceptor::promise_at_least(Ballot b) {
    if (b <= promised_) return;
    promised_ = b;
    promise_changed_ = true;
}

bool Acceptor::holds(Index slot, const std::string& value) const {
    const Entry* have = accepted(slot);
    return have && have->data == value;
}

const Entry* Acceptor::accepted(Index slot) const {
    auto it = accepted_.find(slot);
    return it == accepted_.end() ? nullptr : &it->second;
}

// The value is chosen, so every proposal for this slot in a ballot above the one it was chosen in
// carries it too (PMS §2.2, P2c); holding it here can only add support for the value that any
// later phase 1 must find anyway. A record that already holds the value keeps its ballot (never
// lowered), so the acceptor's report for this slot stays at least as high as before.
void Acceptor::store_chosen(Index slot, Ballot ballot, const std::string& data) {
    const Entry* have = accepted(slot);
    if (have && have->data == data) return;
    set(Entry{slot, ballot.packed(), data});
}

// libpaxos3's acceptor trim (storage "trim" of every instance up to iid): the records go, the trim
// point stays, and every later reply carries it.
void Acceptor::trim_through(Index slot) {
    if (slot <= trimmed_) return;
    trimmed_ = slot;
    compact_through(accepted_, slot, graveyard_);
    std::erase_if(unsaved_, [&](const Entry& e) { return e.index <= slot; });
}

void Acceptor::set(Entry e) {
    BALLOT_ASSERT(e.index != 0 && e.ballot != 0, "acceptor: a stored value has a slot and a ballot");
    accepted_[e.index] = e;
    unsaved_.push_back(std::move(e));
}

bool Acceptor::take_promise_changed() {
    bool changed = promise_changed_;
    promise_changed_ = false;
    return changed;
}

std::vector<Entry> Acceptor::take_unsaved() {
    return std::exchange(unsaved_, {});
}

}  // namespace ballot::multipaxos
