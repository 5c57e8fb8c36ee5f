// ballot-sim's named runs: each pins part of the configuration the seed chose and replaces the
// random fault injector with a short script, so that the event it is named after happens early
// (within the first two simulated seconds) and the same way for every seed. The seed still picks
// the cluster size, delays, fsync times, clients and every random choice in between.
//
//   seed                whatever the seed's random nemesis does (the run simulation_test makes)
//   leader-crash        the leader crashes at ~600 ms and restarts 700 ms later
//   partition           the leader is cut off from everyone at ~600 ms; healed at ~1400 ms
//   duelling-proposers  every node times out at the same instant (~200 ms): several candidates
//                       (Raft) or phase-1 proposers (Paxos) at once; pauses at 650 ms end a tie
//   slow-disk           the leader's fsyncs take 20-60 ms from ~500 ms to 1500 ms
//   member-change       a new server joins (--join, learner, promoted) at ~500 ms; then the
//                       leader is removed and hands over
//   figure-8            Raft only: the paper's Figure 8 (§5.4.2), step by step (figure_scenarios.h)
//   hole-filled         Multi-Paxos only: a new leader fills a hole with no-ops (figure_scenarios.h)
//
// The scripted scenarios also calm the network (no loss, duplication, long tail, late replay or
// slow links), fix the timing knobs (10 ms ticks, 150-300 ms election timeouts) and run two
// clients, so that what the diagram shows is the scenario. The liveness phase starts at 3 s.
// figure-8 and hole-filled pin more (the cluster size, the clients, delays; figure_scenarios.cc).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tests/sim/simulator.h"

namespace ballot::sim {

struct Scenario {
    std::string name;
    std::string summary;  // one line, for --help and the page
    std::function<void(SimConfig&)> configure;
    std::function<void(ScenarioContext&)> script;  // empty for "seed"
    std::string only_engine;                       // the one engine it is written for (empty: any)
};

const std::vector<Scenario>& scenarios();
// nullptr when there is no scenario of that name.
const Scenario* find_scenario(std::string_view name);
// "seed, leader-crash, ..."
std::string scenario_names();
// Empty if `scenario` can run `engine`; otherwise why not, for the user.
std::string refuse_engine(const Scenario& scenario, const std::string& engine);
// Sets `options` to run `scenario`.
void apply_scenario(const Scenario& scenario, SimOptions& options);

// For the scripts (here and in figure_scenarios.cc).
//
// The calm network and fixed timing every scripted scenario runs with (above).
void calm(SimConfig& c);
// "n3"
std::string node_name(NodeId id);
// The node that leads with the highest term or ballot (a deposed leader may not know it yet);
// kNoNode if none does.
NodeId current_leader(SimCluster& cluster);
// Checks `ready` every `every_us` from now and calls `then` once it holds; at `give_up_us` it
// notes that `what` never happened and gives up (the rest of the script does not run).
void when(ScenarioContext& ctx, std::uint64_t every_us, std::uint64_t give_up_us, std::string what,
          std::function<bool()> ready, std::function<void()> then);

// One run for ballot-sim: `engine` from `seed` under `scenario`, recorded over [from_ms, until_ms).
struct WatchedRun {
    std::string engine = "raft";
    std::uint64_t seed = 1;
    std::string scenario = "seed";
    std::uint64_t from_ms = 0;
    std::uint64_t until_ms = 2000;
    bool keep_slow_disks = false;        // as BALLOT_SIM_KEEP_SLOW_DISKS=1 (to draw a run made so)
    Sabotage sabotage = Sabotage::none;  // tests only: a run that fails, to draw
};

// Runs it (the whole run, liveness phase and checks included) and returns what was recorded,
// with the run's result. Throws std::invalid_argument for an unknown engine or scenario.
Recording record_run(const WatchedRun& run);

}  // namespace ballot::sim
