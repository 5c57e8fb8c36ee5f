// Which configuration governs which slot: Lamport's α-reconfiguration ("Reconfiguring a State
// Machine", and Paxos Made Moderately Complex §3, the replicas' WINDOW) for basic Paxos (README
// "Membership change").
//
// A configuration entry (common/configuration.h: the change and the whole configuration it
// results in) chosen in slot s governs the slots from s + kAlpha on. So config(t), the
// configuration whose voters are the acceptors of slot t's instance (both phases), is a function
// of the values chosen in slots <= t - kAlpha: every node that knows the chosen prefix through
// t - kAlpha computes the same config(t), and a node runs an instance for slot t only then
// (`known`). Each slot is then an ordinary single-decree Paxos instance over one fixed set of
// acceptors, which is what the safety argument of Paxos Made Simple §2 needs.
//
// The engine feeds the chosen prefix in slot order (`chosen`); this class decides, identically on
// every node, whether a configuration entry takes effect: only if it was made to the configuration
// that governs its own slot and no other change is waiting to govern (the one-at-a-time rule, the
// basic Paxos form of the 2015 guard, README "Membership change"). An entry that fails is void: the
// engine hands it to the state machine as a no-op, and its proposer re-derives the change.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "common/configuration.h"
#include "common/membership.h"
#include "common/types.h"

namespace ballot::paxos {

// α: slots between choosing a configuration and its governing. It bounds how far a proposer runs
// ahead of its known chosen prefix (a slot t only once every slot <= t - α is known chosen), so it
// must leave the window alone in steady state: 1024 is four default windows (max_inflight_slots =
// 256), more than three proposers' windows in flight at once, so a 3-node cluster under load never
// waits for α. The price is paid once per change: slots s+1 .. s+α-1 are filled (by commands or
// no-ops, the change's proposer fills them at once) before the change governs. A protocol
// constant, never a per-node flag: every node must compute the same config(t).
inline constexpr Index kAlpha = 1024;

// One step of the history: `config` governs the slots from `from` on, up to the next step's.
struct ConfigStep {
    Index from = 1;       // chosen_in + kAlpha; 1 for the bootstrap configuration
    Index chosen_in = 0;  // the slot its entry was chosen in (0: bootstrap, or unknown)
    Configuration config;

    friend bool operator==(const ConfigStep&, const ConfigStep&) = default;
};

class Configurations {
public:
    // `bootstrap` governs from slot 1 (empty for a node started with --join: it knows no
    // configuration until it learns one, and never proposes until then).
    // With a SelfId, an entry of this node's id made for another data dir is not this node
    // (common/configuration.h): a replaced node relearning the log is no acceptor of its old
    // identity's slots.
    Configurations(NodeId self, Configuration bootstrap);
    Configurations(SelfId self, Configuration bootstrap);

    NodeId self() const { return self_.id; }
    // Every configuration entry chosen at or below this slot has been taken into account.
    Index through() const { return through_; }
    // config(slot) is known: every slot <= slot - kAlpha is known chosen.
    bool known(Index slot) const { return slot >= 1 && slot <= through_ + kAlpha; }
    // config(slot) if it is known and in the history this node holds (which begins at a snapshot
    // for a node that started from one), else nullptr.
    const Membership* find(Index slot) const;
    // config(slot); `slot` must be known.
    const Membership& at(Index slot) const;
    // The configuration of the newest entry taken into account (what MEMBER LIST shows).
    const Membership& newest() const { return steps_.rbegin()->second; }
    Index newest_from() const { return steps_.rbegin()->first; }
    Index newest_chosen_in() const { return chosen_in_.rbegin()->second; }
    // The configurations that govern some slot in [first, last], oldest first (`first` known).
    std::vector<const Membership*> governing(Index first, Index last) const;
    // A change is chosen but does not govern the next unknown slot yet: in flight.
    bool change_pending() const { return newest_from() > through_ + 1; }
    // `id` is a member of some configuration still in the history (a sender worth listening to).
    bool knows(NodeId id) const;

    enum class Effect { none, applied, void_entry };
    // Slot through() + 1 is chosen with `value`: if it carries a configuration entry, that entry
    // takes effect (applied), or not (void_entry: made to another configuration than the one
    // governing its slot, or while another change was pending). `guard` false takes every entry
    // as it is (EngineConfig::unsafe_skip_config_change_guard: the regression test only).
    Effect chosen(Index slot, std::string_view value, bool guard);

    // The history a snapshot through `x` (<= through()) carries: the step governing x + 1 and
    // every later one chosen at or below x.
    std::vector<ConfigStep> relevant_after(Index x) const;
    // A snapshot through `x` was installed or recovered: `steps` is its history.
    void reset(Index x, const std::vector<ConfigStep>& steps);
    // Steps that govern only slots <= `slot` are forgotten (all but the one governing slot + 1).
    void forget_through(Index slot);
    // Every step, oldest first.
    std::vector<ConfigStep> steps() const;

    // Consecutive configurations differ by one server, the newest is the last, nothing governs
    // beyond what is known. Throws InvariantViolation.
    void check_invariants() const;  // invariants.cc

private:
    void add(Index from, Index chosen_in, Configuration config);

    SelfId self_;
    Index through_ = 0;
    std::map<Index, Membership> steps_;  // by the first slot each governs
    std::map<Index, Index> chosen_in_;   // by the same key: the slot its entry was chosen in
};

}  // namespace ballot::paxos
