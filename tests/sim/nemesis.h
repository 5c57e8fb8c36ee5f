// The fault injector of the safety phase (Jepsen's name for it): at random intervals it crashes
// a node (perhaps tearing the write in flight) or every node at once, pauses a process (the
// current leader, often), partitions the network (a symmetric split, a one-way cut, or the
// current leader cut off from everyone), makes a disk's next fsync fail, or heals the network. Any number of
// nodes may be down at once: safety must hold regardless. stop() ends the safety phase: it heals everything
// and restarts every node that is down.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/random.h"
#include "tests/sim/event_queue.h"
#include "tests/sim/sim_cluster.h"
#include "tests/sim/sim_config.h"

namespace ballot::sim {

struct FaultStats {
    std::uint64_t crashes = 0;
    std::uint64_t partitions = 0;
    std::uint64_t leader_isolations = 0;
    std::uint64_t one_way_cuts = 0;
    std::uint64_t fsync_failures = 0;
    std::uint64_t heals = 0;
    std::uint64_t pauses = 0;
    std::uint64_t full_crashes = 0;          // every node at once (counted once, not per node)
    std::uint64_t transfers = 0;             // leadership transfers asked of a leader
    std::uint64_t stale_leader = 0;          // stale-leader scenarios started (README "Stale leaders")
    std::uint64_t stale_leader_replays = 0;  // ... that got as far as replaying the old stream

    std::uint64_t total() const {
        return crashes + partitions + leader_isolations + one_way_cuts + fsync_failures + heals + pauses +
               full_crashes + stale_leader + transfers;
    }
};

class Nemesis {
public:
    Nemesis(const SimConfig& config, EventQueue& queue, Rng& rng, SimCluster& cluster,
            std::function<void(const std::string&)> trace);

    void start();
    // `heal_slow_disks` false keeps slow disks slow through the liveness phase (a diagnosis aid:
    // BALLOT_SIM_KEEP_SLOW_DISKS=1).
    void stop(bool heal_slow_disks = true);
    // After every event: a node whose disk failed is crash-restarted a little later (the
    // operator's job in real life; the node itself refuses to acknowledge anything meanwhile).
    void after_step();

    const FaultStats& stats() const { return stats_; }

private:
    void schedule_next();
    void inject();
    void crash_one();
    void partition();
    void isolate_leader();
    void schedule_transfer();
    void transfer();
    void one_way();
    void fsync_failure();
    void heal();
    void pause();
    void crash_all();
    // The stale-leader scenario (README "Stale leaders"): a leader is deposed while a tape
    // records its stream to one follower, and that old stream is replayed to the follower later.
    void schedule_scenario();
    void stale_leader();
    void stale_leader_reelected(NodeId leader, const std::vector<NodeId>& followers, Epoch epoch,
                                std::uint64_t give_up_us, std::uint64_t next_move_us);
    void stale_leader_replay_after_reelection(NodeId leader, const std::vector<NodeId>& followers);
    void stale_leader_rejoin(NodeId leader, NodeId follower);
    void end_scenario();
    // Calls `then` once `ready` holds (checked after every event), or ends the scenario at
    // `give_up_us`.
    void when(std::function<bool()> ready, std::uint64_t give_up_us, std::function<void()> then);
    void isolate(NodeId id);
    std::uint64_t election_timeout_us() const;
    void schedule_heal();
    void schedule_restart(NodeId id, std::uint64_t after_us);
    NodeId random_node();
    void trace(const std::string& line) const;

    const SimConfig& config_;
    EventQueue& queue_;
    Rng& rng_;
    Rng scenario_rng_;  // the stale-leader scenario's choices (see schedule_scenario)
    Rng transfer_rng_;  // leadership transfers' (see schedule_transfer)
    SimCluster& cluster_;
    std::function<void(const std::string&)> trace_;
    bool active_ = false;
    std::uint64_t heal_epoch_ = 0;  // a scheduled heal is void once the network healed meanwhile
    std::uint64_t scenario_ = 0;    // the running scenario's number; 0 when none runs
    std::uint64_t scenarios_ = 0;
    // What when() waits for, checked after every event (the moment can be brief).
    std::function<bool()> waiting_ready_;
    std::function<void()> waiting_then_;
    std::uint64_t waiting_give_up_us_ = 0;
    std::set<NodeId> failed_handled_;  // nodes with a failed disk already scheduled for restart
    FaultStats stats_;
};

}  // namespace ballot::sim
