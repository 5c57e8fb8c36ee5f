// Basic Paxos acceptor safety, per slot (Paxos Made Simple §2.2, §2.5), checked on every batch a
// node hands to its disk, including batches a crash later throws away:
//
//  - every metadata and log record written decodes (paxos/persist.h), which includes "a slot never
//    holds an accepted ballot above its promise";
//  - a slot's promise never decreases;
//  - a slot accepts a new value or ballot only at a ballot >= the slot's promise in force before
//    the batch (P1a);
//  - the proposer's round (metadata.round) never decreases, so a restarted proposer never reuses
//    a ballot.
//
// Chosen values never change: the generic applied-log invariant covers that for every engine.
#include "common/ballot.h"
#include "paxos/persist.h"
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
        std::string why;
        const std::uint64_t old_round =
            before.metadata.empty()
                ? 0
                : paxos::decode_metadata(before.metadata).value_or(paxos::Metadata{}).round;
        if (batch.metadata) {
            auto now = paxos::decode_metadata(*batch.metadata, &why);
            if (!now)
                v.add(n(node) + " wrote metadata that does not decode: " + why);
            else if (now->round < old_round)
                v.add(n(node) + " lowered its proposer round from " + std::to_string(old_round) + " to " +
                      std::to_string(now->round));
        }
        for (const LogRecord& record : batch.records) {
            const std::string slot = "slot " + std::to_string(record.index);
            auto e = paxos::decode_record(record.index, record.bytes, &why);
            if (!e) {
                v.add(n(node) + " wrote " + slot + " that does not decode: " + why);
                continue;
            }
            std::optional<paxos::SlotRecord> had;
            if (auto have = before.records.find(record.index); have != before.records.end())
                had = paxos::decode_record(have->first, have->second);
            const std::uint64_t promise = had ? had->promised.packed() : 0;
            if (e->promised.packed() < promise)
                v.add(n(node) + " lowered the promise of " + slot + " from " + b(promise) + " to " +
                      e->promised.str());
            const bool new_accept =
                had ? (had->accepted != e->accepted || had->value != e->value) : !e->accepted.is_zero();
            if (new_accept && e->accepted.packed() < promise)
                v.add(n(node) + " accepted " + describe_command(e->value) + " in " + slot + " at ballot " +
                      e->accepted.str() + " below its promise " + b(promise));
        }
    }
};

}  // namespace

std::unique_ptr<EngineInvariants> make_paxos_invariants() {
    return std::make_unique<PaxosInvariants>();
}

}  // namespace ballot::sim
