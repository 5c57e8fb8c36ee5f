// Multi-Paxos acceptor safety (Paxos Made Simple §2.2; PMMC §3), checked on every batch a node
// hands to its disk, including batches a crash later throws away (the acceptor must not even try):
//
//  - every metadata and log record written decodes (multipaxos/persist.h);
//  - the promise (metadata.promised) never decreases;
//  - an acceptor never accepts below its promise: every log record written carries an accepted
//    ballot >= the promise in force before the batch (P1a);
//  - the one deliberate exception (multipaxos/acceptor.h, store_chosen): a node may store a value
//    it LEARNED was chosen, with the ballot it was chosen in, below its promise. Such an entry is
//    a claim "this value is chosen for this slot", and it is checked against the value the slot
//    actually chose (as soon as any node applies it). A configuration entry the learner voided
//    (multipaxos/configs.h, ConfigHistory::chosen) is applied as a no-op: a claim of it matches
//    an applied no-op, since what is applied then is not the value chosen but what it means.
//
// Chosen values never change: the generic applied-log invariant covers that for every engine.
#include "common/ballot.h"
#include "common/configuration.h"
#include "multipaxos/persist.h"
#include "tests/sim/invariants.h"

namespace ballot::sim {

namespace {

std::string n(NodeId id) {
    return "node " + std::to_string(id);
}
std::string b(std::uint64_t packed) {
    return Ballot::unpack(packed).str();
}

// Whether a slot that applied `applied` may have chosen `stored` (see the header comment).
bool may_have_chosen(const std::string& stored, const std::string& applied) {
    return stored == applied || (applied.empty() && config_entry_of(stored).has_value());
}

class MultiPaxosInvariants final : public EngineInvariants {
public:
    void on_write(NodeId node, const DiskState& before, const Ready& batch, Violations& v) override {
        std::string why;
        const auto old = before.metadata.empty()
                             ? multipaxos::Metadata{}
                             : multipaxos::decode_metadata(before.metadata).value_or(multipaxos::Metadata{});
        const std::uint64_t promise = old.promised.packed();
        if (batch.metadata) {
            auto now = multipaxos::decode_metadata(*batch.metadata, &why);
            if (!now)
                v.add(n(node) + " wrote metadata that does not decode: " + why);
            else if (now->promised.packed() < promise)
                v.add(n(node) + " lowered its promise from ballot " + b(promise) + " to " +
                      now->promised.str());
        }
        for (const LogRecord& record : batch.records) {
            auto e = multipaxos::decode_record(record.index, record.bytes, &why);
            if (!e) {
                v.add(n(node) + " wrote slot " + std::to_string(record.index) +
                      " that does not decode: " + why);
                continue;
            }
            if (e->ballot >= promise) continue;
            // Below the promise: only a value learned to be chosen may be stored so.
            auto have = before.records.find(e->index);
            if (have != before.records.end()) {
                auto had = multipaxos::decode_record(have->first, have->second);
                if (had && had->data == e->data) continue;
            }
            check_claim(node, e->index, e->data, b(e->ballot) + " below its promise " + b(promise), v);
        }
    }

    void on_apply(NodeId, Index index, const std::string& data, bool first, const NodeView&,
                  Violations& v) override {
        if (!first) return;
        if (chosen_.size() < index) chosen_.resize(index);
        chosen_[index - 1] = data;
        auto range = claims_.equal_range(index);
        for (auto it = range.first; it != range.second; ++it)
            if (!may_have_chosen(it->second.data, data))
                v.add(n(it->second.node) + " stored " + describe_command(it->second.data) + " in slot " +
                      std::to_string(index) + " " + it->second.how +
                      " (as a chosen value), but the slot chose " + describe_command(data));
        claims_.erase(index);
    }

private:
    struct Claim {
        NodeId node;
        std::string data;
        std::string how;
    };

    void check_claim(NodeId node, Index slot, const std::string& data, const std::string& how,
                     Violations& v) {
        if (slot <= chosen_.size() && chosen_[slot - 1]) {
            if (!may_have_chosen(data, *chosen_[slot - 1]))
                v.add(n(node) + " accepted " + describe_command(data) + " in slot " + std::to_string(slot) +
                      " at ballot " + how + ", and it is not the value the slot chose (" +
                      describe_command(*chosen_[slot - 1]) + ")");
            return;
        }
        claims_.emplace(slot, Claim{node, data, "at ballot " + how});
    }

    std::vector<std::optional<std::string>> chosen_;  // chosen_[i - 1]: the value chosen for slot i
    std::multimap<Index, Claim> claims_;              // below-promise entries awaiting their slot's choice
};

}  // namespace

std::unique_ptr<EngineInvariants> make_multipaxos_invariants() {
    return std::make_unique<MultiPaxosInvariants>();
}

}  // namespace ballot::sim
