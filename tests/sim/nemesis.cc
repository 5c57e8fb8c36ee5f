#include "tests/sim/nemesis.h"

#include <algorithm>
#include <vector>

namespace ballot::sim {

Nemesis::Nemesis(const SimConfig& config, EventQueue& queue, Rng& rng, SimCluster& cluster,
                 std::function<void(const std::string&)> trace)
    : config_(config), queue_(queue), rng_(rng), cluster_(cluster), trace_(std::move(trace)) {}

void Nemesis::trace(const std::string& line) const {
    if (trace_) trace_("NEMESIS " + line);
}

void Nemesis::start() {
    active_ = true;
    schedule_next();
}

void Nemesis::stop(bool heal_slow_disks) {
    active_ = false;
    cluster_.heal_disks(heal_slow_disks);
    cluster_.network().heal();
    ++heal_epoch_;
    for (NodeId id : cluster_.members()) {
        if (cluster_.storage_failed(id)) cluster_.crash(id, false);
        cluster_.restart(id);
    }
    failed_handled_.clear();
    trace("stops: network healed, every node up");
}

void Nemesis::schedule_next() {
    queue_.after(rng_.between(config_.fault_interval_min_ms, config_.fault_interval_max_ms) * 1000, [this] {
        if (!active_) return;
        inject();
        schedule_next();
    });
}

NodeId Nemesis::random_node() {
    const auto& m = cluster_.members();
    return m[rng_.between(0, m.size() - 1)];
}

void Nemesis::inject() {
    const std::uint64_t weights[] = {config_.weight_crash,          config_.weight_partition,
                                     config_.weight_isolate_leader, config_.weight_one_way,
                                     config_.weight_fsync_failure,  config_.weight_heal,
                                     config_.weight_pause,          config_.weight_crash_all};
    std::uint64_t total = 0;
    for (auto w : weights) total += w;
    if (total == 0) return;
    std::uint64_t pick = rng_.between(0, total - 1);
    int kind = 0;
    while (pick >= weights[kind]) pick -= weights[kind++];
    switch (kind) {
        case 0:
            crash_one();
            break;
        case 1:
            partition();
            break;
        case 2:
            isolate_leader();
            break;
        case 3:
            one_way();
            break;
        case 4:
            fsync_failure();
            break;
        case 5:
            heal();
            break;
        case 6:
            pause();
            break;
        default:
            crash_all();
            break;
    }
}

void Nemesis::crash_one() {
    std::vector<NodeId> up = cluster_.up_nodes();
    if (up.empty()) return;
    // Half the time, strike a node in the middle of an fsync: that is where torn writes live.
    std::vector<NodeId> flushing;
    for (NodeId id : up)
        if (cluster_.flush_in_flight(id)) flushing.push_back(id);
    if (!flushing.empty() && rng_.chance(1, 2)) up = flushing;
    NodeId id = up[rng_.between(0, up.size() - 1)];
    bool torn = rng_.chance(config_.torn_write_percent, 100);
    cluster_.crash(id, torn);
    ++stats_.crashes;
    schedule_restart(id, rng_.between(config_.downtime_min_ms, config_.downtime_max_ms) * 1000);
}

void Nemesis::schedule_restart(NodeId id, std::uint64_t after_us) {
    queue_.after(after_us, [this, id] {
        if (!active_ || cluster_.is_up(id)) return;
        cluster_.restart(id);
    });
}

void Nemesis::partition() {
    // A random split into two non-empty sides; either side may hold the majority.
    const auto& m = cluster_.members();
    std::vector<NodeId> side;
    while (side.empty() || side.size() == m.size()) {
        side.clear();
        for (NodeId id : m)
            if (rng_.chance(1, 2)) side.push_back(id);
    }
    std::string line = "partition {";
    for (NodeId a : m) {
        bool in_a = std::find(side.begin(), side.end(), a) != side.end();
        if (in_a) line += " " + std::to_string(a);
        for (NodeId b : m)
            if (in_a && std::find(side.begin(), side.end(), b) == side.end())
                cluster_.network().cut_both(a, b);
    }
    trace(line + " } from the rest");
    ++stats_.partitions;
    schedule_heal();
}

void Nemesis::isolate_leader() {
    std::vector<NodeId> leaders = cluster_.leaders();
    NodeId target = leaders.empty() ? random_node() : leaders[rng_.between(0, leaders.size() - 1)];
    // Usually both ways; sometimes the leader can still send but not hear (or the reverse).
    const std::uint64_t how = rng_.between(0, 3);
    for (NodeId other : cluster_.members()) {
        if (other == target) continue;
        if (how != 1) cluster_.network().cut(other, target);
        if (how != 2) cluster_.network().cut(target, other);
    }
    trace("isolate " + std::string(leaders.empty() ? "node " : "leader ") + std::to_string(target) +
          (how == 1   ? " (it still sends)"
           : how == 2 ? " (it still hears)"
                      : ""));
    ++stats_.leader_isolations;
    schedule_heal();
}

void Nemesis::one_way() {
    NodeId from = random_node();
    NodeId to = random_node();
    while (to == from) to = random_node();
    cluster_.network().cut(from, to);
    trace("cut " + std::to_string(from) + " -> " + std::to_string(to));
    ++stats_.one_way_cuts;
    schedule_heal();
}

void Nemesis::fsync_failure() {
    std::vector<NodeId> up = cluster_.up_nodes();
    if (up.empty()) return;
    NodeId id = up[rng_.between(0, up.size() - 1)];
    cluster_.fail_next_flush(id);
    trace("node " + std::to_string(id) + "'s next fsync will fail");
    ++stats_.fsync_failures;
}

void Nemesis::pause() {
    std::vector<NodeId> leaders = cluster_.leaders();
    std::vector<NodeId> up = cluster_.up_nodes();
    if (up.empty()) return;
    // A paused leader that wakes up still believing it leads is the classic way to serve a stale
    // read: half the time, pause the leader.
    NodeId id = !leaders.empty() && rng_.chance(1, 2) ? leaders[rng_.between(0, leaders.size() - 1)]
                                                      : up[rng_.between(0, up.size() - 1)];
    cluster_.pause(id, queue_.now_us() + rng_.between(config_.pause_min_ms, config_.pause_max_ms) * 1000);
    ++stats_.pauses;
}

void Nemesis::crash_all() {
    trace("crash every node");
    for (NodeId id : cluster_.up_nodes()) {
        cluster_.crash(id, rng_.chance(config_.torn_write_percent, 100));
        schedule_restart(id, rng_.between(config_.downtime_min_ms, config_.downtime_max_ms) * 1000);
    }
    ++stats_.full_crashes;
}

void Nemesis::heal() {
    cluster_.network().heal();
    ++heal_epoch_;
    ++stats_.heals;
    trace("heal the network");
}

void Nemesis::schedule_heal() {
    const std::uint64_t epoch = heal_epoch_;
    queue_.after(rng_.between(config_.partition_min_ms, config_.partition_max_ms) * 1000, [this, epoch] {
        if (!active_ || epoch != heal_epoch_) return;
        heal();
    });
}

void Nemesis::after_step() {
    if (!active_) return;
    for (NodeId id : cluster_.members()) {
        if (!cluster_.storage_failed(id) || failed_handled_.contains(id)) continue;
        failed_handled_.insert(id);
        trace("node " + std::to_string(id) + " reports a failed disk; it will be crash-restarted");
        queue_.after(rng_.between(100, 1000) * 1000, [this, id] {
            failed_handled_.erase(id);
            if (!active_ || !cluster_.storage_failed(id)) return;
            cluster_.crash(id, rng_.chance(1, 2));
            schedule_restart(id, rng_.between(config_.downtime_min_ms, config_.downtime_max_ms) * 1000);
        });
    }
}

}  // namespace ballot::sim
