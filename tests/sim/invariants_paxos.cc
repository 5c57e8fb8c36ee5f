// Basic Paxos acceptor safety, per slot (Paxos Made Simple §2.2, §2.5), checked on every batch a
// node hands to its disk, including batches a crash later throws away:
//
//  - a slot's promise (Entry.promise) never decreases;
//  - a slot accepts a new value or ballot (Entry.term, data) only at a ballot >= the slot's promise
//    in force before the batch (P1a), and never holds an accepted ballot above its promise;
//  - the proposer's round (HardState.term) never decreases, so a restarted proposer never reuses
//    a ballot.
//
// Chosen values never change: the generic applied-log invariant covers that for every engine.
#include "common/ballot.h"
#include "tests/sim/invariants.h"

namespace ballot::sim {

namespace {

std::string n(NodeId id) {
    return "node " + std::to_string(id);
}
std::string b(std::uint64_t packed) {
    return Ballot::unpack(packed).str();
}

class PaxosInvariants final : public EngineInvariants {
public:
    void on_write(NodeId node, const DiskState& before, const Ready& batch, Violations& v) override {
        if (batch.hard_state && batch.hard_state->term < before.hard_state.term)
            v.add(n(node) + " lowered its proposer round from " + std::to_string(before.hard_state.term) +
                  " to " + std::to_string(batch.hard_state->term));
        for (const Entry& e : batch.entries) {
            const std::string slot = "slot " + std::to_string(e.index);
            auto have = before.entries.find(e.index);
            const std::uint64_t promise = have == before.entries.end() ? 0 : have->second.promise;
            if (e.promise < promise)
                v.add(n(node) + " lowered the promise of " + slot + " from " + b(promise) + " to " +
                      b(e.promise));
            if (e.term > e.promise)
                v.add(n(node) + " wrote " + slot + " with accepted ballot " + b(e.term) +
                      " above its promise " + b(e.promise));
            const bool new_accept = have == before.entries.end()
                                        ? e.term != 0
                                        : (have->second.term != e.term || have->second.data != e.data);
            if (new_accept && e.term < promise)
                v.add(n(node) + " accepted " + describe_command(e.data) + " in " + slot + " at ballot " +
                      b(e.term) + " below its promise " + b(promise));
        }
    }
};

}  // namespace

std::unique_ptr<EngineInvariants> make_paxos_invariants() {
    return std::make_unique<PaxosInvariants>();
}

}  // namespace ballot::sim
