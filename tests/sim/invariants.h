// The invariants the simulator checks after every event (LogCabin's RaftConsensusInvariants, run
// at every step instead of at the end).
//
// Generic, for every engine (AppliedLog): at most one value is chosen per index. Every node's
// applied sequence agrees with every other node's at every index, across restarts (a restarted
// node re-applies from index 1 and must re-apply the same values), so nothing committed is ever
// lost or changed.
//
// Per engine (EngineInvariants, one file each: invariants_raft.cc, ...): what that protocol
// promises about its own state, seen through the disk (every batch written, every change made
// durable) and status() after every event. make_engine_invariants() maps an engine name to its
// checker; adding one is one line in invariants.cc. An engine without a checker still gets the
// generic invariants.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/engine.h"
#include "tests/sim/sim_disk.h"

namespace ballot::sim {

// Collects what went wrong. The simulator stops at the first violation and reports it with the
// seed and the simulated time.
class Violations {
public:
    void add(std::string what) {
        if (list_.size() < kMaxKept) list_.push_back(std::move(what));
    }
    bool any() const { return !list_.empty(); }
    const std::vector<std::string>& all() const { return list_; }

private:
    static constexpr std::size_t kMaxKept = 20;
    std::vector<std::string> list_;
};

// What a per-step check can see of one node.
struct NodeView {
    NodeId id = kNoNode;
    bool up = false;
    std::optional<EngineStatus> status;  // up nodes only
    Index applied = 0;                   // up nodes only
    const DiskState* durable = nullptr;
    const DiskState* written = nullptr;  // durable plus written-not-yet-durable: the engine's log
};

struct ClusterView {
    std::uint64_t now_us = 0;
    std::vector<NodeView> nodes;

    const NodeView* node(NodeId id) const {
        for (const NodeView& n : nodes)
            if (n.id == id) return &n;
        return nullptr;
    }
};

class EngineInvariants {
public:
    virtual ~EngineInvariants() = default;

    // A batch handed to the disk; `written_before` is what the node had written before it.
    virtual void on_write(NodeId, const DiskState& /*written_before*/, const Ready&, Violations&) {}
    // Records that became durable.
    virtual void on_durable(NodeId, const std::vector<DiskRecord>&, const DiskState& /*durable*/,
                            Violations&) {}
    // The node crashed (its unsynced writes are gone) or restarted from `durable`.
    virtual void on_crash(NodeId, const DiskState& /*durable*/, Violations&) {}
    virtual void on_restart(NodeId, const DiskState& /*durable*/, Violations&) {}
    // The node applied `index` (data empty for a no-op), `first` when no node had before.
    virtual void on_apply(NodeId, Index, const std::string& /*data*/, bool /*first*/, const NodeView&,
                          Violations&) {}
    // After every event.
    virtual void after_step(const ClusterView&, Violations&) {}
};

// The checker for `engine`, or nullptr if it has none.
std::unique_ptr<EngineInvariants> make_engine_invariants(const std::string& engine);

// One factory per engine file.
std::unique_ptr<EngineInvariants> make_raft_invariants();
std::unique_ptr<EngineInvariants> make_multipaxos_invariants();
std::unique_ptr<EngineInvariants> make_paxos_invariants();

// One value per index, on every node, for ever.
class AppliedLog {
public:
    // The node applied a command (`data`: the encoded Command) at `index`. Indices the runtime
    // skipped (no-ops carry no command) are filled in by applied_through().
    void on_apply(NodeId node, Index index, const std::string& data, Violations& v);
    // The node's runtime has applied everything through `applied`: indices it applied without
    // telling the state machine were no-ops.
    void applied_through(NodeId node, Index applied, Violations& v);
    // The node restarted: it re-applies from index 1 and must re-apply the same values.
    void restart(NodeId node);
    // The node's state machine now holds a snapshot through `index` (installed, or loaded at
    // restart): as if it had applied everything through it. Never backwards, and never past
    // what some node applied (a snapshot holds only applied state).
    void restored(NodeId node, Index index, Violations& v);

    // Called for each index a node newly applied, with its data ("" for a no-op) and whether it
    // is the first time any node applied it.
    std::function<void(NodeId, Index, const std::string&, bool)> on_new;

    Index highest() const { return chosen_.size(); }
    Index applied(NodeId node) const;
    const std::string& chosen(Index index) const { return chosen_.at(index - 1); }

private:
    void record(NodeId node, Index index, const std::string& data, Violations& v);

    std::vector<std::string> chosen_;  // chosen_[i - 1]: the value applied at index i ("" no-op)
    std::map<NodeId, Index> applied_;  // per node: highest index applied since its last restart
};

// "SET k v (client 3 seq 7)" or "no-op", for messages.
std::string describe_command(const std::string& data);

}  // namespace ballot::sim
