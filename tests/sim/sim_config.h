// Everything about one simulated run that the seed decides, in the manner of TigerBeetle's VOPR:
// the seed picks the cluster size, the network's loss/delay/duplication, the disk's speed, how
// often faults strike and how many clients there are. Two runs with one seed are the same run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/engine.h"

namespace ballot::sim {

struct SimConfig {
    std::uint64_t seed = 0;

    int nodes = 3;  // 3 or 5: the bootstrap configuration, ids 1..nodes
    // Membership change (membership_operator.h; 0: never): spare servers, ids nodes + 1 ..
    // nodes + spares, that start outside the cluster and that the operator adds (with --join),
    // promotes, removes and wipes; one change about every membership_every_ms.
    int spares = 0;
    std::uint64_t membership_every_ms = 0;
    int clients = 3;  // concurrent clients, one outstanding operation each
    int keys = 5;     // few keys, so operations conflict often

    // Phases (simulated time). Safety: faults on. Liveness: everything healed and restarted;
    // every client must get a new write acknowledged and every node must catch up within the limit.
    std::uint64_t safety_ms = 15000;
    std::uint64_t liveness_limit_ms = 20000;

    // Time. Every node ticks every tick_us, plus or minus up to tick_jitter_us, times its own
    // clock rate (percent; 100 is true time): engines must be safe however fast each clock runs.
    std::uint64_t tick_us = 10000;
    std::uint64_t tick_jitter_us = 500;
    std::vector<std::uint32_t> clock_rate_percent;  // per node (spares too), index id - 1
    // Per node, how many times slower than the cluster's fsync its disk is during the safety
    // phase (1: the same). A fault like the others: healed for the liveness phase.
    std::vector<std::uint32_t> disk_slowness;

    // The engines' timing and flow-control knobs (ids, members and seeds are set per node). The
    // seed varies them, so paging, back-pressure and tight timeouts get exercised too.
    EngineConfig engine;
    std::uint32_t request_timeout_ticks = 300;

    // Network: one-way delay uniform in [min, max] (reordering follows from the spread); 1 in
    // tail_per_10k messages is slowed further by a log-uniform delay of 1 ms up to tail_max_us
    // (seconds, for some seeds: past election timeouts, so messages from old terms and ballots
    // arrive after the cluster has moved on).
    std::uint64_t delay_min_us = 200;
    std::uint64_t delay_max_us = 5000;
    std::uint32_t tail_per_10k = 100;
    std::uint64_t tail_max_us = 100000;
    std::uint32_t loss_per_10k = 100;
    std::uint32_t dup_per_10k = 50;
    // Late replay: each link remembers its last replay_window messages; on 1 in replay_per_10k
    // sends one of them is delivered again, replay_min_us to replay_max_us later.
    std::uint32_t replay_per_10k = 0;
    std::uint32_t replay_window = 0;
    std::uint64_t replay_min_us = 0;
    std::uint64_t replay_max_us = 0;
    // Slow links: on 1 in slow_link_per_10k sends a link turns congested for slow_link_min_us to
    // slow_link_max_us, and everything sent on it meanwhile is late by the same 100 ms - seconds.
    std::uint32_t slow_link_per_10k = 0;
    std::uint64_t slow_link_min_us = 0;
    std::uint64_t slow_link_max_us = 0;
    // Percent of the messages in flight on a link when it is cut that still arrive (past the
    // break already, or retransmitted by TCP): old messages reaching a node cut off from the rest.
    std::uint32_t cut_spares_percent = 0;

    // Disk: an fsync completes after a delay uniform in [min, max].
    std::uint64_t flush_min_us = 100;
    std::uint64_t flush_max_us = 3000;

    // Faults during the safety phase: one every [min, max] ms, of a kind picked by the weights.
    std::uint64_t fault_interval_min_ms = 200;
    std::uint64_t fault_interval_max_ms = 2000;
    std::uint32_t weight_crash = 3;
    std::uint32_t weight_partition = 3;
    std::uint32_t weight_isolate_leader = 2;
    std::uint32_t weight_one_way = 2;
    std::uint32_t weight_fsync_failure = 1;
    std::uint32_t weight_heal = 2;
    std::uint32_t weight_pause = 1;      // a process stops (SIGSTOP, GC) and resumes later
    std::uint32_t weight_crash_all = 1;  // every node crashes; they come back one by one
    // MEMBER TRANSFER from a leader to another member, about every this many ms (0: never); on a
    // schedule of its own, beside the faults above (nemesis.cc).
    std::uint64_t transfer_every_ms = 0;
    // The stale-leader scenario (nemesis.cc, README "Stale leaders"): a deposed leader's old stream
    // replayed to followers after a re-election or a catch-up. One is tried every
    // stale_leader_every_ms on average (0: never); it runs alone, for seconds.
    std::uint64_t stale_leader_every_ms = 0;
    // Snapshots (README "Snapshots"): a node snapshots every snapshot_entries applied (0: never)
    // and keeps engine.snapshot_trailing entries below; files are written and sent in chunks of
    // snapshot_chunk_bytes, snapshot_window unacknowledged, each worker job taking
    // snapshot_job_min_us to snapshot_job_max_us. Small numbers, so that a run makes many
    // snapshots, compacts often, and sends lagging nodes snapshots in many chunks.
    // Making is paced at snapshot_make_bytes_per_tick (0: unpaced), as --snapshot-rate does.
    std::uint64_t snapshot_entries = 0;
    std::size_t snapshot_chunk_bytes = 1024;
    std::size_t snapshot_window = 2;
    std::size_t snapshot_make_bytes_per_tick = 0;
    std::uint64_t snapshot_job_min_us = 100;
    std::uint64_t snapshot_job_max_us = 5000;
    std::uint32_t torn_write_percent = 50;  // of crashes with a write in flight
    std::uint64_t downtime_min_ms = 100;
    std::uint64_t downtime_max_ms = 4000;
    std::uint64_t partition_min_ms = 300;
    std::uint64_t partition_max_ms = 5000;
    std::uint64_t pause_min_ms = 100;
    std::uint64_t pause_max_ms = 3000;

    // Lock clients (tests/sim/lock_workload.h; 0: none): each holds a lease of lock_ttl_min_ms to
    // lock_ttl_max_ms, takes locks and elections, writes fenced, and, when it holds a lock, pauses
    // past its TTL with lock_pause_percent % chance per step.
    int lock_clients = 0;
    std::uint64_t lock_ttl_min_ms = 0;
    std::uint64_t lock_ttl_max_ms = 0;
    std::uint64_t lock_pause_percent = 0;

    // Clients: think time between operations; how long one attempt may take before the client
    // tries another node; how long it keeps retrying one write before giving up on it.
    std::uint64_t think_max_ms = 40;
    std::uint64_t attempt_timeout_ms = 4000;
    std::uint64_t give_up_ms = 12000;

    static SimConfig from_seed(std::uint64_t seed);
    // Turns membership change on (spares and an operator), decided by the seed alone: a run forced
    // to reconfigure (BALLOT_SIM_RECONFIG=1) is the run its seed draws when it draws reconfiguration.
    void add_reconfiguration();
    // Whether a run of `seed` has membership changes when nothing forces it either way
    // (SimOptions::reconfigure): one run in two, drawn from a stream of its own, so the seed's
    // other draws are the same either way.
    static bool draws_reconfiguration(std::uint64_t seed);
    int all_nodes() const { return nodes + spares; }
    std::string describe() const;
};

}  // namespace ballot::sim
