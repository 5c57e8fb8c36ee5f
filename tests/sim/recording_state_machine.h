// A StateMachine decorator that passes every command the runtime applies to the real state
// machine (the KV store) and reports it, with its index and the reply it produced. The
// simulator's "one value per index" invariant is checked against these reports.
//
// Sabotage modes exist only to prove the harness can fail (tests/simulation_test.cc): an engine
// is never modified for that.
#pragma once

#include <functional>

#include "common/state_machine.h"

namespace ballot::sim {

enum class Sabotage {
    none,
    // The decorator reports a different command than it applied (the simulator sabotages node 1
    // only): a fabricated divergent apply, which the applied-log invariant must catch.
    divergent_report,
    // Every replica applies each APPEND twice (consistently, so replicas still agree): only the
    // client history can show it, and the linearizability checker must.
    double_append,
    // Every disk acknowledges fsyncs without persisting anything (tests/sim/sim_disk.h): crashes
    // lose acknowledged data, and some invariant or the history must show it.
    lying_fsync,
    // Every replica applies SET ... FENCE as a plain SET (consistently): a stale token's write is
    // applied, which the lock invariants must catch (tests/sim/lock_invariants.h).
    unfenced_writes,
};

class RecordingStateMachine : public StateMachine {
public:
    using Listener = std::function<void(Index index, const Command& command, const std::string& reply)>;

    RecordingStateMachine(StateMachine& inner, Listener listener, Sabotage sabotage = Sabotage::none)
        : inner_(inner), listener_(std::move(listener)), sabotage_(sabotage) {}

    std::string apply(Index index, const Command& command) override;
    std::string query(std::string_view payload) const override { return inner_.query(payload); }
    Index applied_index() const override { return inner_.applied_index(); }
    std::uint64_t cluster_time_ms() const override { return inner_.cluster_time_ms(); }
    std::optional<std::uint64_t> next_expiry_ms() const override { return inner_.next_expiry_ms(); }
    std::string snapshot() const override { return inner_.snapshot(); }
    Index begin_snapshot() override { return inner_.begin_snapshot(); }
    SnapshotChunk snapshot_chunk(std::size_t max_bytes) override { return inner_.snapshot_chunk(max_bytes); }
    void abort_snapshot() override { inner_.abort_snapshot(); }
    bool snapshot_open() const override { return inner_.snapshot_open(); }
    bool restore(std::string_view snapshot) override {
        if (!inner_.restore(snapshot)) return false;
        if (on_restore) on_restore(inner_.applied_index());
        return true;
    }
    // The runtime loads snapshots through these: the inner state machine's own decoder.
    std::unique_ptr<SnapshotDecoder> snapshot_decoder() const override { return inner_.snapshot_decoder(); }
    bool adopt(SnapshotDecoder& decoded) override {
        if (!inner_.adopt(decoded)) return false;
        if (on_restore) on_restore(inner_.applied_index());
        return true;
    }

    // Called after every successful restore or adopt with the index the state machine now holds.
    std::function<void(Index)> on_restore;

private:
    StateMachine& inner_;
    Listener listener_;
    Sabotage sabotage_;
};

}  // namespace ballot::sim
