#include "tests/sim/nemesis.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace ballot::sim {

Nemesis::Nemesis(const SimConfig& config, EventQueue& queue, Rng& rng, SimCluster& cluster,
                 std::function<void(const std::string&)> trace)
    : config_(config),
      queue_(queue),
      rng_(rng),
      scenario_rng_(config.seed ^ 0x5CE7A210u),
      transfer_rng_(config.seed ^ 0x7A45F3E1u),
      cluster_(cluster),
      trace_(std::move(trace)) {}

void Nemesis::trace(const std::string& line) const {
    if (trace_) trace_("NEMESIS " + line);
}

void Nemesis::start() {
    active_ = true;
    schedule_next();
    schedule_scenario();
    schedule_transfer();
}

// On a schedule and a generator of its own, so that a run in which no scenario starts (an engine
// without leaders, or a seed without scenarios) is exactly the run it was before they existed.
void Nemesis::schedule_scenario() {
    if (config_.stale_leader_every_ms == 0) return;
    const std::uint64_t every = config_.stale_leader_every_ms;
    queue_.after(scenario_rng_.between(every / 2, every * 3 / 2) * 1000, [this] {
        if (!active_) return;
        if (scenario_ == 0) stale_leader();
        schedule_scenario();
    });
}

void Nemesis::stop(bool heal_slow_disks) {
    active_ = false;
    scenario_ = 0;
    waiting_ready_ = nullptr;
    waiting_then_ = nullptr;
    cluster_.network().clear_tapes();
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
        if (scenario_ == 0) inject();  // a scenario runs alone: other faults would undo its steps
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

// An operator's MEMBER TRANSFER, in the middle of whatever else is going on: from a node that
// reports itself leader (there may be two, an old one cut off) to another member, which may be
// down, cut off or behind. Engines without a leader (basic Paxos) get none.
// Its own schedule and generator, as the scenario's, so that seeds without transfers, and engines
// without a leader, run exactly as before transfers existed.
void Nemesis::schedule_transfer() {
    if (config_.transfer_every_ms == 0) return;
    const std::uint64_t every = config_.transfer_every_ms;
    queue_.after(transfer_rng_.between(every / 2, every * 3 / 2) * 1000, [this] {
        if (!active_) return;
        if (scenario_ == 0) transfer();
        schedule_transfer();
    });
}

void Nemesis::transfer() {
    std::vector<NodeId> leaders = cluster_.leaders();
    if (leaders.empty()) return;
    const auto& m = cluster_.members();
    const NodeId from = leaders[transfer_rng_.between(0, leaders.size() - 1)];
    NodeId to = from;
    while (to == from) to = m[transfer_rng_.between(0, m.size() - 1)];
    trace("ask leader " + std::to_string(from) + " to transfer leadership to " + std::to_string(to));
    ++stats_.transfers;
    cluster_.transfer_leadership(from, to);
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
        if (!active_ || epoch != heal_epoch_ || scenario_ != 0) return;
        heal();
    });
}

// ---------------------------------------------------------------- the stale-leader scenario
//
// Two safety bugs (issue 9) needed an old leader's message to reach a follower after the world
// moved on, in a precise way the random faults never produced in thousands of seeds: a Raft
// heartbeat from an older term answered in a later term of the same leader, the answer arriving
// after that leader was deposed again; a deposed Multi-Paxos leader's Accept reaching a node that
// has meanwhile learned, by catch-up, that another value was chosen. Each step here is an
// ordinary network or process fault (a cut, a replayed copy, a stalled connection, a pause); the
// scenario only times them against the leadership changes it watches. Variant A: depose the
// leader, get it re-elected, replay its old-term stream to the follower while the follower's
// answers stall, and pause the leader while the others elect a new one; the stalled answers reach
// it when it resumes, with the reads clients sent it meanwhile. Variant B: cut off the leader and
// the follower; let the follower rejoin the rest and catch up; replay the deposed leader's stream
// to it (and sometimes crash it soon after, so that what it stored is read back from disk).

std::uint64_t Nemesis::election_timeout_us() const {
    return std::uint64_t{config_.engine.election_timeout_max_ticks} * config_.tick_us;
}

void Nemesis::isolate(NodeId id) {
    for (NodeId other : cluster_.members())
        if (other != id) cluster_.network().cut_both(id, other);
}

void Nemesis::end_scenario() {
    if (scenario_ == 0) return;
    waiting_ready_ = nullptr;
    waiting_then_ = nullptr;
    trace("stale-leader scenario " + std::to_string(scenario_) + " ends: network healed");
    scenario_ = 0;
    cluster_.network().clear_tapes();
    heal();
}

void Nemesis::when(std::function<bool()> ready, std::uint64_t give_up_us, std::function<void()> then) {
    waiting_ready_ = std::move(ready);
    waiting_then_ = std::move(then);
    waiting_give_up_us_ = give_up_us;
}

void Nemesis::stale_leader() {
    std::vector<NodeId> leaders = cluster_.leaders();
    if (leaders.empty()) return;
    const NodeId leader = leaders[scenario_rng_.between(0, leaders.size() - 1)];
    const std::optional<EngineStatus> status = cluster_.status(leader);
    if (!status) return;
    // Variant A replays to as many followers as make a majority with the leader (their stale
    // answers must add up to a quorum); variant B to one.
    const bool reelect = scenario_rng_.chance(1, 2);
    std::vector<NodeId> others;
    for (NodeId id : cluster_.members())
        if (id != leader) others.push_back(id);
    std::vector<NodeId> followers;
    const std::size_t wanted = reelect ? cluster_.members().size() / 2 : 1;
    while (followers.size() < wanted) {
        const std::size_t i = scenario_rng_.between(0, others.size() - 1);
        followers.push_back(others[i]);
        others.erase(others.begin() + static_cast<std::ptrdiff_t>(i));
    }
    scenario_ = ++scenarios_;
    ++stats_.stale_leader;
    ++heal_epoch_;  // heals scheduled by earlier faults are void: the scenario heals by itself
    cluster_.network().heal();
    std::string names;
    for (NodeId f : followers) {
        cluster_.network().tap(leader, f);
        names += (names.empty() ? "" : ", ") + std::to_string(f);
    }
    trace("stale-leader scenario " + std::to_string(scenario_) + ": leader " + std::to_string(leader) + " (" +
          status->epoch.name() + " " + status->epoch.str() + ") is to be cut off, its stream to " + names +
          " recorded" + (reelect ? "; it is to be re-elected" : ""));
    // Variant B records a little of the leader's stream before the cut, so that the tape holds
    // Accepts that were in flight when the cut dropped them: slots it proposed but never got chosen.
    const std::uint64_t record_first_us = reelect ? 0 : scenario_rng_.between(2'000, 100'000);
    const std::uint64_t cut_us = election_timeout_us() * scenario_rng_.between(2, 6);
    const std::uint64_t scenario = scenario_;
    queue_.after(record_first_us,
                 [this, scenario, leader, followers, reelect, cut_us, epoch = status->epoch] {
                     if (!active_ || scenario_ != scenario) return;
                     isolate(leader);
                     // Variant B needs a majority without the leader and the follower: five nodes.
                     if (!reelect && cluster_.members().size() >= 5) isolate(followers.front());
                     queue_.after(cut_us, [this, scenario, leader, followers, reelect, epoch] {
                         if (!active_ || scenario_ != scenario) return;
                         if (reelect) {
                             cluster_.network().heal();
                             const std::uint64_t now = queue_.now_us();
                             return stale_leader_reelected(leader, followers, epoch,
                                                           now + 20 * election_timeout_us(), now);
                         }
                         stale_leader_rejoin(leader, followers.front());
                     });
                 });
}

// Variant A, step 2: wait until `leader` leads again in a later term or ballot, with `follower`
// following it. Meanwhile, every election timeout or two, a leader that is someone else is cut
// off (and the cut healed the next time round), so that elections go on until it does.
void Nemesis::stale_leader_reelected(NodeId leader, const std::vector<NodeId>& followers, Epoch epoch,
                                     std::uint64_t give_up_us, std::uint64_t next_move_us) {
    const std::optional<EngineStatus> l = cluster_.status(leader);
    bool ready = l && l->role == ballot::Role::leader && epoch < l->epoch && l->commit_index > 0;
    for (NodeId f : followers) {
        const std::optional<EngineStatus> s = cluster_.status(f);
        ready = ready && s && s->epoch == l->epoch && s->role != ballot::Role::leader;
    }
    if (ready) return stale_leader_replay_after_reelection(leader, followers);
    const std::uint64_t now = queue_.now_us();
    if (now >= give_up_us) return end_scenario();
    if (now >= next_move_us) {
        if (cluster_.network().partitioned()) {
            cluster_.network().heal();
        } else {
            for (NodeId other : cluster_.leaders())
                if (other != leader) isolate(other);
        }
        if (!cluster_.is_up(leader)) cluster_.restart(leader);
        next_move_us = now + election_timeout_us() * scenario_rng_.between(2, 4) / 2;
    }
    const std::uint64_t scenario = scenario_;
    queue_.after(10'000, [this, scenario, leader, followers, epoch, give_up_us, next_move_us] {
        if (!active_ || scenario_ != scenario) return;
        stale_leader_reelected(leader, followers, epoch, give_up_us, next_move_us);
    });
}

// Variant A, step 3: the follower gets the leader's old stream again; its answers stall. The
// leader is cut off from the others and paused (a GC pause, SIGSTOP) long enough for them to
// elect another leader and commit; just before it resumes, the stalled answers reach it.
void Nemesis::stale_leader_replay_after_reelection(NodeId leader, const std::vector<NodeId>& followers) {
    const std::uint64_t scenario = scenario_;
    ++stats_.stale_leader_replays;
    std::size_t replayed = 0;
    for (NodeId f : followers) {
        cluster_.network().stall(f, leader);
        replayed += cluster_.network().replay_tape(leader, f, scenario_rng_.between(200, 5000));
    }
    const std::uint64_t pause_us =
        election_timeout_us() * scenario_rng_.between(2, 5) + scenario_rng_.between(0, 1'000'000);
    trace("stale-leader scenario " + std::to_string(scenario) + ": leader " + std::to_string(leader) +
          " leads again; " + std::to_string(replayed) + " old messages replayed to " +
          std::to_string(followers.size()) +
          " followers, whose answers stall; the leader is cut off and paused for " +
          std::to_string(pause_us / 1000) + " ms");
    // Cut off the leader, except the followers' stalled connections to it.
    queue_.after(scenario_rng_.between(10'000, 60'000), [this, scenario, leader, followers, pause_us] {
        if (!active_ || scenario_ != scenario) return;
        isolate(leader);
        for (NodeId f : followers) {
            cluster_.network().heal_between(leader, f);
            cluster_.network().cut(leader, f);
        }
        cluster_.pause(leader, queue_.now_us() + pause_us);
        const std::uint64_t release_us =
            pause_us - std::min<std::uint64_t>(pause_us, scenario_rng_.between(1'000, 100'000));
        queue_.after(release_us, [this, scenario, leader, followers] {
            if (!active_ || scenario_ != scenario) return;
            for (NodeId f : followers) cluster_.network().release(f, leader, 0);
        });
        queue_.after(pause_us + scenario_rng_.between(0, 2 * election_timeout_us()), [this, scenario] {
            if (scenario_ == scenario) end_scenario();
        });
    });
}

// Variant B, step 2: the follower rejoins the others (not the deposed leader) and catches up;
// then the deposed leader's old stream is replayed to it, and sometimes it crashes soon after.
void Nemesis::stale_leader_rejoin(NodeId leader, NodeId follower) {
    // Half the time over lossy links: some of the new leader's messages reach it, some do not.
    const std::uint32_t loss =
        scenario_rng_.chance(1, 2) ? static_cast<std::uint32_t>(scenario_rng_.between(3000, 7000)) : 0;
    for (NodeId other : cluster_.members())
        if (other != leader) {
            cluster_.network().heal_between(follower, other);
            if (loss > 0) cluster_.network().lossy(other, follower, loss);
        }
    const std::uint64_t scenario = scenario_;
    // Caught up with the current leader; for the first two election timeouts, also still at an
    // older epoch than it (it learned what is chosen before it heard the new ballot or term as a
    // promise: the moment an old Accept can still be taken).
    const std::uint64_t prefer_until_us = queue_.now_us() + 2 * election_timeout_us();
    auto caught_up = [this, leader, follower, prefer_until_us] {
        const std::optional<EngineStatus> f = cluster_.status(follower);
        if (!f || f->role == ballot::Role::leader) return false;
        for (NodeId other : cluster_.leaders())
            if (other != leader) {
                const std::optional<EngineStatus> l = cluster_.status(other);
                return l && l->commit_index > 0 && f->commit_index >= l->commit_index &&
                       (f->epoch < l->epoch || queue_.now_us() >= prefer_until_us);
            }
        return false;
    };
    when(caught_up, queue_.now_us() + 10 * election_timeout_us(), [this, scenario, leader, follower] {
        ++stats_.stale_leader_replays;
        // The path from the deposed leader comes back (one way): its connection retransmits.
        cluster_.network().uncut(leader, follower);
        const std::size_t replayed =
            cluster_.network().replay_tape(leader, follower, scenario_rng_.between(200, 5000));
        trace("stale-leader scenario " + std::to_string(scenario) + ": node " + std::to_string(follower) +
              " caught up; " + std::to_string(replayed) + " old messages of the deposed leader " +
              std::to_string(leader) + " replayed to it");
        if (scenario_rng_.chance(1, 2)) {
            queue_.after(scenario_rng_.between(60'000, 1'000'000), [this, scenario, follower] {
                if (!active_ || scenario_ != scenario || !cluster_.is_up(follower)) return;
                cluster_.crash(follower, false);
                ++stats_.crashes;
                schedule_restart(
                    follower, scenario_rng_.between(config_.downtime_min_ms, config_.downtime_max_ms) * 1000);
            });
        }
        queue_.after(scenario_rng_.between(100'000, 2'000'000), [this, scenario] {
            if (scenario_ == scenario) end_scenario();
        });
    });
}

void Nemesis::after_step() {
    if (!active_) return;
    if (waiting_ready_ && scenario_ != 0) {
        if (waiting_ready_()) {
            waiting_ready_ = nullptr;
            std::exchange(waiting_then_, nullptr)();
        } else if (queue_.now_us() >= waiting_give_up_us_) {
            waiting_ready_ = nullptr;
            waiting_then_ = nullptr;
            trace("stale-leader scenario " + std::to_string(scenario_) + " gives up waiting");
            end_scenario();
        }
    }
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
