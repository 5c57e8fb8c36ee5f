// The deterministic simulator (after FoundationDB's simulation and TigerBeetle's VOPR).
//
// One thread, simulated time, an event queue ordered by (time, sequence number), and ONE seed
// from which everything derives: the run's configuration (tests/sim/sim_config.h), every delay,
// loss and fault, every engine's own seed. Each simulated node runs the real runtime (Driver) with
// the real engine and the real KV store, over a simulated disk and network (tests/sim/sim_*.h).
//
// A run has two phases:
//   safety    clients run and the nemesis injects faults (crashes, torn writes, fsync failures,
//             partitions); the invariants (tests/sim/invariants.h) are checked after every event.
//   liveness  the network heals, every node restarts, faults stop. Within a bounded simulated time
//             every client must get a new write acknowledged, then every node must serve a read
//             barrier and catch up with the most advanced one.
// At the end the clients' history must be linearizable (tests/sim/linearizability.h).
//
// A failing run names its seed and engine and prints the command that replays it, step by step
// (BALLOT_SIM_TRACE=1 adds a trace of every message, fault and client operation on stderr).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "tests/sim/config_invariants.h"
#include "tests/sim/linearizability.h"
#include "tests/sim/lock_invariants.h"
#include "tests/sim/lock_workload.h"
#include "tests/sim/membership_operator.h"
#include "tests/sim/nemesis.h"
#include "tests/sim/recorder.h"
#include "tests/sim/recording_state_machine.h"
#include "tests/sim/sim_cluster.h"
#include "tests/sim/sim_config.h"
#include "tests/sim/workload.h"

namespace ballot::sim {

// What a scripted run (ballot-sim's scenarios, tests/sim/scenarios.h) may act on.
struct ScenarioContext {
    SimCluster& cluster;
    EventQueue& queue;
    const SimConfig& config;
    std::function<void(const std::string&)> note;  // into the trace and the recording
};

struct SimOptions {
    std::string engine = "raft";
    std::uint64_t seed = 1;
    std::optional<std::uint64_t> safety_ms;  // overrides the seed's choice (shorter smoke runs)
    Sabotage sabotage = Sabotage::none;      // only for proving that the harness can fail
    bool keep_slow_disks = false;            // slow disks stay slow in the liveness phase
    // Called with every trace line when set (BALLOT_SIM_TRACE=1 sends them to stderr).
    std::function<void(const std::string&)> trace;
    // The structured trace (ballot-sim's diagram), when set.
    Recorder* recorder = nullptr;
    // A scenario: changes to the configuration the seed chose, and a script of faults run
    // instead of the random nemesis (which then injects nothing; it still heals everything when
    // the liveness phase begins).
    std::function<void(SimConfig&)> configure;
    // Membership changes (SimConfig::add_reconfiguration), applied before `configure`: nullopt as
    // the seed draws them (SimConfig::draws_reconfiguration, one run in two), or forced on or off.
    std::optional<bool> reconfigure;
    std::function<void(ScenarioContext&)> script;
    LinearizabilityOptions linearizability;
};

struct SimReport {
    enum class Result { passed, safety_violation, liveness_failure, not_linearizable, inconclusive };

    std::string engine;
    std::uint64_t seed = 0;
    SimConfig config;
    Result result = Result::passed;
    std::string failure;  // what went wrong, for a human (empty when passed)
    std::uint64_t failed_at_us = 0;

    std::uint64_t events = 0;
    std::uint64_t simulated_ms = 0;
    std::uint64_t liveness_ms = 0;  // from the start of the liveness phase to its success
    std::size_t history_ops = 0;
    WorkloadStats workload;
    LockWorkloadStats lock_workload;
    LockCheckStats locks;
    FaultStats faults;
    MembershipStats membership;
    ConfigCheckStats configs;
    ClusterStats cluster;
    std::uint64_t messages_sent = 0;
    std::uint64_t messages_dropped = 0;
    std::uint64_t messages_to_old_process = 0;
    std::uint64_t messages_duplicated = 0;
    std::uint64_t messages_long_delayed = 0;
    std::uint64_t messages_replayed = 0;
    std::uint64_t slow_links = 0;
    std::uint64_t messages_spared_by_cuts = 0;
    Index highest_applied = 0;
    std::uint64_t linearizability_steps = 0;

    bool ok() const { return result == Result::passed; }
    // "BALLOT_SIM_ENGINE=raft BALLOT_SIM_SEED=42 build/tests/simulation_test"
    std::string replay_command() const;
    // The ballot-sim command that draws the last two simulated seconds before the failure.
    std::string render_command() const;
    std::string summary() const;
};

const char* to_string(SimReport::Result result);

SimReport run_simulation(const SimOptions& options);

}  // namespace ballot::sim
