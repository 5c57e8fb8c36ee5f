// The configurations of a Multi-Paxos cluster over the slots (Lamport's α-reconfiguration, as in
// Paxos Made Moderately Complex §3 "Reconfiguration"; README "Membership change").
//
// A configuration command chosen in slot s governs every slot from s + α on, until the next one
// does: the acceptors of slot t are the voters of the configuration governing t, and nobody else.
// So the configuration of slot t is known as soon as every slot up to t - α is chosen, and a
// leader that proposes in slot t only once that holds (a pipeline window of α slots) always knows
// to whom it proposes: no slot is ever decided under two configurations.
//
// The history is kept by the first slot each configuration governs (the bootstrap one: slot 1),
// built by the learner as it delivers chosen values in slot order, and carried by snapshots (the
// part of it that governs the slots after the snapshot), so every node that knows the chosen
// prefix up to c knows the configuration of every slot up to c + α.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/configuration.h"
#include "common/types.h"

namespace ballot::multipaxos {

// α: the bound on slots in flight, and the distance between choosing a configuration and its
// governing. A protocol constant, never a per-node setting: every node must agree on which slots a
// chosen configuration governs. Large enough that the window never throttles a loaded leader
// (ballot-bench keeps a few hundred writes in flight). The leader fills the slots between a change
// and its effect with no-ops in one Accept, where the run is one item (messages.h).
inline constexpr Index kAlpha = 1024;

// A majority of `c`'s voters (without building the list of them: asked per slot).
std::size_t voter_quorum(const Configuration& c);

class ConfigHistory {
public:
    ConfigHistory() = default;  // knows nothing: a --join node not added yet
    // `config` governs from slot `from` on (the bootstrap configuration: from slot 1; a backup
    // restored into a new cluster: from the slot after its snapshot). None if it is empty.
    explicit ConfigHistory(const Configuration& config, Index from = 1);

    bool empty() const { return by_first_slot_.empty(); }
    // The configuration governing `slot` (an empty one if none is known for it).
    const Configuration& at(Index slot) const;
    // The first slot the configuration governing `slot` governs (0: none known).
    Index governing_since(Index slot) const;
    // The configuration of the latest configuration command known chosen, and the first slot it
    // governs (0: none known).
    const Configuration& latest() const;
    Index latest_from() const { return empty() ? 0 : by_first_slot_.rbegin()->first; }
    // Every configuration governing some slot >= `slot`: at(slot) and each later one.
    std::vector<const Configuration*> governing_from(Index slot) const;
    // Every member of a configuration governing some slot >= `slot`.
    std::vector<NodeId> members_from(Index slot) const;

    // A configuration command was chosen (and delivered, in slot order) in `slot`. It takes effect
    // (true: its configuration governs from slot + α) only if it was made to the latest
    // configuration while that one governed `slot`; else it is void (false), as in basic Paxos
    // (paxos/configurations.h). A leader makes every change it places so (membership.cc), but a
    // change another leader placed earlier in a higher slot, at a lower ballot that the newer
    // leader's phase-1 quorum never saw, may still be chosen later by a third leader that adopts
    // it: made to a configuration that a change in a lower slot has replaced since, it would be a
    // second server changed at once (simulator seed 141502 with membership changes). Every node
    // decides it alike from the chosen prefix. A history that knows nothing (a --join node not
    // added yet) takes the first entry as it is; `guard` false takes every entry as it is
    // (EngineConfig::unsafe_skip_config_change_guard: the regression test only).
    bool chosen(Index slot, const ConfigEntry& entry, bool guard);

    // Snapshot metadata (README "Snapshots and compaction"): the configurations that govern the
    // slots after `last_slot` and that commands chosen through `last_slot` made.
    //     u8 version (1) | u32 count | per configuration: u64 first slot | u32 length + configuration
    // An empty encoding (version 0) is a snapshot written before membership change: no history.
    Bytes encode_after(Index last_slot) const;
    // nullopt, with `why`, unless `bytes` are what encode_after writes (empty bytes: an empty history).
    static std::optional<ConfigHistory> decode(std::span<const std::uint8_t> bytes, std::string& why);

    const std::map<Index, Configuration>& entries() const { return by_first_slot_; }
    // "1: 1@... voter,2@... voter; 1030: ..." for logs, describe and tests.
    std::string str() const;

    friend bool operator==(const ConfigHistory&, const ConfigHistory&) = default;

private:
    std::map<Index, Configuration> by_first_slot_;
};

}  // namespace ballot::multipaxos
