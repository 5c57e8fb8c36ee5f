#include "tests/sim/sim_config.h"

#include <algorithm>
#include <initializer_list>
#include <sstream>

#include "common/random.h"

namespace ballot::sim {

namespace {

std::uint64_t pick(Rng& rng, std::initializer_list<std::uint64_t> choices) {
    return *(choices.begin() + rng.between(0, choices.size() - 1));
}

}  // namespace

SimConfig SimConfig::from_seed(std::uint64_t seed) {
    // A generator of its own, so the configuration does not shift when the run's other random
    // choices change.
    Rng rng(seed ^ 0xC0FF1C0FF1C0FF1Cull);
    SimConfig c;
    c.seed = seed;
    // Five nodes more often than three: a majority that leaves out two nodes is what lets a
    // deposed leader's acceptor and a follower miss a new leader's election together.
    c.nodes = rng.chance(2, 5) ? 3 : 5;
    c.clients = static_cast<int>(rng.between(2, 8));
    c.safety_ms = rng.between(10000, 30000);

    c.tick_jitter_us = rng.between(0, 2000);
    const bool skewed = rng.chance(1, 3);
    const bool slow_disks = rng.chance(1, 4);
    for (int i = 0; i < c.nodes; ++i) {
        c.clock_rate_percent.push_back(skewed ? static_cast<std::uint32_t>(rng.between(50, 200)) : 100);
        c.disk_slowness.push_back(
            slow_disks && rng.chance(1, 3) ? static_cast<std::uint32_t>(rng.between(5, 40)) : 1);
    }

    // Mostly the server's defaults; sometimes tight timeouts, tiny messages, a window of one.
    if (rng.chance(1, 2)) {
        EngineConfig& e = c.engine;
        e.election_timeout_min_ticks = static_cast<std::uint32_t>(rng.between(10, 50));
        e.election_timeout_max_ticks =
            e.election_timeout_min_ticks + static_cast<std::uint32_t>(rng.between(1, 50));
        e.heartbeat_ticks = static_cast<std::uint32_t>(rng.between(1, e.election_timeout_min_ticks / 3));
    }
    // Tiny messages most of the time, so Promise, AppendEntries and catch-up page; small windows
    // often, so flow control and back-pressure are exercised.
    if (rng.chance(2, 3)) c.engine.max_message_bytes = pick(rng, {120, 200, 300, 600, 1000, 4096});
    if (rng.chance(1, 2)) c.engine.max_inflight_messages = pick(rng, {1, 2, 4, 8, 16, 64});
    if (rng.chance(1, 3)) {
        c.engine.max_inflight_bytes = pick(rng, {1, 300, 2000, 10000});
        // A quarter of it to start with (no draw of its own, so every seed keeps its scenario),
        // so Raft's window grows and shrinks (raft/progress.h).
        c.engine.initial_inflight_bytes = std::max<std::size_t>(1, c.engine.max_inflight_bytes / 4);
    }
    if (rng.chance(1, 3)) c.engine.max_pending_proposals = rng.between(1, 64);
    c.request_timeout_ticks = static_cast<std::uint32_t>(rng.between(100, 400));

    c.delay_min_us = rng.between(50, 1000);
    c.delay_max_us = c.delay_min_us + rng.between(500, 20000);
    // The long tail: none for some seeds, up to a tenth of all messages for others, late by up to
    // 50 ms ... 8 s (log-uniform, so as many late by seconds as by milliseconds).
    c.tail_per_10k = rng.chance(1, 5) ? 0 : static_cast<std::uint32_t>(pick(rng, {10, 50, 200, 500, 1000}));
    c.tail_max_us = pick(rng, {50'000, 300'000, 1'000'000, 3'000'000, 8'000'000});
    // Late replay of old messages, seconds later.
    if (rng.chance(3, 4)) {
        c.replay_per_10k = static_cast<std::uint32_t>(pick(rng, {5, 20, 100, 300, 1000}));
        c.replay_window = static_cast<std::uint32_t>(pick(rng, {8, 32, 128, 512, 2048}));
        c.replay_min_us = rng.between(50'000, 1'000'000);
        c.replay_max_us = c.replay_min_us + rng.between(500'000, 8'000'000);
    }
    // Congested links, for a while each.
    if (rng.chance(2, 3)) {
        c.slow_link_per_10k = static_cast<std::uint32_t>(pick(rng, {2, 10, 50}));
        c.slow_link_min_us = rng.between(100'000, 1'000'000);
        c.slow_link_max_us = c.slow_link_min_us + rng.between(200'000, 5'000'000);
    }
    c.loss_per_10k = static_cast<std::uint32_t>(rng.chance(1, 4) ? 0 : rng.between(0, 1500));
    c.dup_per_10k = static_cast<std::uint32_t>(rng.chance(1, 4) ? 0 : rng.between(0, 800));

    c.flush_min_us = rng.between(50, 2000);
    c.flush_max_us = c.flush_min_us + rng.between(100, 15000);

    c.fault_interval_min_ms = rng.between(50, 800);
    c.fault_interval_max_ms = c.fault_interval_min_ms + rng.between(100, 2500);
    c.weight_crash = static_cast<std::uint32_t>(rng.between(0, 4));
    c.weight_partition = static_cast<std::uint32_t>(rng.between(0, 4));
    c.weight_isolate_leader = static_cast<std::uint32_t>(rng.between(0, 3));
    c.weight_one_way = static_cast<std::uint32_t>(rng.between(0, 3));
    c.weight_fsync_failure = static_cast<std::uint32_t>(rng.between(0, 2));
    c.weight_heal = static_cast<std::uint32_t>(rng.between(1, 3));
    c.weight_pause = static_cast<std::uint32_t>(rng.between(0, 2));
    c.weight_crash_all = static_cast<std::uint32_t>(rng.chance(1, 3) ? 1 : 0);
    c.pause_max_ms = rng.between(200, 4000);
    c.torn_write_percent = static_cast<std::uint32_t>(rng.between(0, 100));
    c.downtime_max_ms = rng.between(200, 6000);
    c.partition_max_ms = rng.between(500, 6000);

    c.think_max_ms = rng.between(0, 50);
    // Clients that give up sooner than the runtime's request timeout (3 s) leave more writes
    // indeterminate and more retries in flight: the exactly-once machinery gets exercised.
    c.attempt_timeout_ms = rng.between(500, 4000);
    c.give_up_ms = c.attempt_timeout_ms * rng.between(1, 4);
    // Drawn last, so that every earlier choice of a seed stays what it was.
    c.cut_spares_percent = rng.chance(1, 3) ? 0 : static_cast<std::uint32_t>(pick(rng, {20, 50, 90}));
    c.stale_leader_every_ms = rng.chance(1, 4) ? 0 : rng.between(2000, 8000);
    // Snapshots in 4 seeds of 5; drawn after everything above for the same reason.
    if (!rng.chance(1, 5)) {
        c.snapshot_entries = pick(rng, {8, 15, 30, 60});
        c.engine.snapshot_trailing = pick(rng, {0, 3, 10, 30});
        c.snapshot_chunk_bytes = pick(rng, {64, 512, 4096});
        c.snapshot_window = rng.between(1, 4);
        c.snapshot_job_min_us = rng.between(50, 2000);
        c.snapshot_job_max_us = c.snapshot_job_min_us + rng.between(100, 20000);
        c.engine.snapshot_retry_ticks = static_cast<std::uint32_t>(rng.between(50, 400));
    }
    // Leadership transfers in 1 seed of 2; drawn last for the same reason.
    if (rng.chance(1, 2)) c.transfer_every_ms = rng.between(500, 4000);
    // Lock clients in 1 seed of 2; drawn last for the same reason. TTLs from a few election
    // timeouts down to less than one, so leases end during elections and partitions.
    if (rng.chance(1, 2)) {
        c.lock_clients = static_cast<int>(rng.between(1, 3));
        c.lock_ttl_min_ms = rng.between(100, 800);
        c.lock_ttl_max_ms = c.lock_ttl_min_ms + rng.between(100, 3000);
        c.lock_pause_percent = rng.between(2, 15);
    }
    // Paced snapshot making in half the seeds that snapshot; drawn last for the same reason. A
    // few chunks per tick at most, so that a snapshot stays open across many ticks, elections,
    // installs and crashes while writes go on.
    if (c.snapshot_entries != 0 && rng.chance(1, 2))
        c.snapshot_make_bytes_per_tick = c.snapshot_chunk_bytes * rng.between(1, 3);
    // Membership change: decided apart (draws_reconfiguration, add_reconfiguration).
    return c;
}

bool SimConfig::draws_reconfiguration(std::uint64_t seed) {
    return Rng(seed ^ 0x5EC0F16C3E3B3E3Bull).chance(1, 2);
}

void SimConfig::add_reconfiguration() {
    if (spares > 0) return;
    Rng rng(seed ^ 0x3E3B3E3B5EC0F16Cull);  // a stream of its own: the same whether drawn or forced
    spares = static_cast<int>(rng.between(1, 2));
    membership_every_ms = rng.between(300, 3000);
    const bool skewed =
        clock_rate_percent.end() != std::find_if(clock_rate_percent.begin(), clock_rate_percent.end(),
                                                 [](std::uint32_t r) { return r != 100; });
    for (int i = 0; i < spares; ++i) {
        clock_rate_percent.push_back(skewed ? static_cast<std::uint32_t>(rng.between(50, 200)) : 100);
        disk_slowness.push_back(1);
    }
}

std::string SimConfig::describe() const {
    std::ostringstream out;
    out << nodes << " nodes";
    if (spares > 0)
        out << " and " << spares << " spares (a membership change every ~" << membership_every_ms << " ms)";
    out << ", " << clients << " clients, " << keys << " keys, safety " << safety_ms << " ms; net delay "
        << delay_min_us << "-" << delay_max_us << " us (tail " << tail_per_10k << "/10k up to "
        << tail_max_us / 1000 << " ms), loss " << loss_per_10k << "/10k, dup " << dup_per_10k
        << "/10k, replay " << replay_per_10k << "/10k of the last " << replay_window << " per link after "
        << replay_min_us / 1000 << "-" << replay_max_us / 1000 << " ms, a link turns slow on "
        << slow_link_per_10k << "/10k sends for " << slow_link_min_us / 1000 << "-" << slow_link_max_us / 1000
        << " ms, a cut spares " << cut_spares_percent << "% of what is in flight; fsync " << flush_min_us
        << "-" << flush_max_us << " us; a fault every " << fault_interval_min_ms << "-"
        << fault_interval_max_ms << " ms (crash " << weight_crash << ", partition " << weight_partition
        << ", isolate-leader " << weight_isolate_leader << ", one-way " << weight_one_way
        << ", fsync-failure " << weight_fsync_failure << ", heal " << weight_heal << ", pause "
        << weight_pause << ", crash-all " << weight_crash_all << "), a leadership transfer every ~"
        << transfer_every_ms << " ms, a stale-leader scenario every ~" << stale_leader_every_ms
        << " ms, torn writes " << torn_write_percent << "%; election timeout "
        << engine.election_timeout_min_ticks << "-" << engine.election_timeout_max_ticks
        << " ticks, heartbeat " << engine.heartbeat_ticks << ", messages <= " << engine.max_message_bytes
        << " bytes, in flight <= " << engine.max_inflight_messages
        << ", pending proposals <= " << engine.max_pending_proposals << ", request timeout "
        << request_timeout_ticks << " ticks; snapshot every " << snapshot_entries << " entries (0: never), "
        << engine.snapshot_trailing << " trailing, chunks of " << snapshot_chunk_bytes << " bytes, window "
        << snapshot_window << ", making paced at " << snapshot_make_bytes_per_tick << " bytes a tick (0: unpaced), jobs " << snapshot_job_min_us << "-" << snapshot_job_max_us
        << " us, retry after " << engine.snapshot_retry_ticks << " ticks; " << lock_clients
        << " lock clients (leases of " << lock_ttl_min_ms << "-" << lock_ttl_max_ms << " ms, pause "
        << lock_pause_percent << "%); clock rates %";
    for (auto r : clock_rate_percent) out << ' ' << r;
    out << "; disk slowness";
    for (auto d : disk_slowness) out << " x" << d;
    return out.str();
}

}  // namespace ballot::sim
