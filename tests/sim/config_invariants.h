// The membership invariants (SPEC "Membership change"), checked over the committed log as it is
// first applied anywhere, in index order:
//
//  - every configuration entry that takes effect is a single-server change of the configuration
//    before it (one server added as a learner, promoted or removed: Ongaro's dissertation §4.1),
//    never two at once, which is what lets a majority of the old voters and one of the new share a
//    voter;
//  - an entry that repeats the configuration in force (a change retried and chosen twice) changes
//    nothing;
//  - basic Paxos only: an entry that does not take effect is one its guard voids (paxos/README.md
//    "Membership change": the change was not made to the newest configuration, or that one did not
//    govern the entry's slot yet); every node decides that from the chosen prefix, and so does
//    this checker. Raft voids nothing, and Multi-Paxos hands a void entry out as a no-op
//    (multipaxos/configs.h, ConfigHistory::chosen), so this checker never sees one: for them any
//    other entry is a violation.
//
// With the generic invariants (one value per index on every node, linearizability) this covers
// "no two configurations both deciding one slot": a slot decided twice is a slot with two values.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/command.h"
#include "common/configuration.h"
#include "tests/sim/invariants.h"

namespace ballot::sim {

struct ConfigCheckStats {
    std::uint64_t changes = 0;  // entries that took effect
    std::uint64_t repeats = 0;  // entries that repeated the configuration in force
    std::uint64_t voided = 0;   // basic Paxos entries its guard voided
};

class ConfigChecker {
public:
    ConfigChecker(const std::string& engine, Configuration bootstrap, Violations& violations);

    // `index` was applied for the first time anywhere, with `command`.
    void on_apply(Index index, const Command& command);

    const Configuration& current() const { return current_; }
    // The first index the current configuration governs: the index after its entry (Raft: it
    // rules once applied), or its slot + α (the Paxos engines: Lamport's α-reconfiguration). Until
    // the applied prefix reaches it, the configuration before still decides, and the nodes it
    // removed are still needed for its quorums.
    Index current_governs_from() const { return current_governs_from_; }
    const ConfigCheckStats& stats() const { return stats_; }
    // Told of every entry that takes effect ("index 160: add learner 4@... -> 1 voter,...").
    std::function<void(const std::string&)> trace;

private:
    bool voids_;   // the engine's guard voids entries (basic Paxos)
    Index alpha_;  // between a configuration's entry and the first index it governs (Raft: 1)
    Configuration current_;
    Index current_governs_from_ = 1;
    Violations& violations_;
    ConfigCheckStats stats_;
};

}  // namespace ballot::sim
