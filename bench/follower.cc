#include "bench/follower.h"

#include <signal.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "bench/local_cluster.h"
#include "engines/registry.h"

namespace ballot::bench {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

std::optional<std::uint64_t> to_number(std::string_view text) {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return v;
}

// Sleeps until `until`, in short steps so that an interrupted run does not wait; false if
// interrupted.
bool sleep_until(Clock::time_point until, const std::atomic<bool>* interrupted) {
    for (auto now = Clock::now(); now < until; now = Clock::now()) {
        if (interrupted && interrupted->load()) return false;
        std::this_thread::sleep_for(std::min<Clock::duration>(until - now, 50ms));
    }
    return !(interrupted && interrupted->load());
}

std::vector<NodeId> running_nodes(const LocalCluster& cluster, NodeId except) {
    std::vector<NodeId> out;
    for (NodeId id = 1; id <= static_cast<NodeId>(cluster.size()); ++id)
        if (id != except && cluster.running(id)) out.push_back(id);
    return out;
}

std::optional<std::uint64_t> rss_of(const LocalCluster& cluster, NodeId id) {
    const auto pid = cluster.pid(id);
    if (pid == 0) return std::nullopt;
    return read_vm_rss_bytes(static_cast<int>(pid));
}

// Picks the follower to kill and says how; sets `reference` to the node whose RSS is watched
// (the leader, or node 1 where there is none).
NodeId choose_follower(LocalCluster& cluster, std::string& how, NodeId& reference) {
    const EngineTraits* engine = find_engine(cluster.protocol());
    const auto highest = static_cast<NodeId>(cluster.size());
    if (engine && !engine->has_leader) {
        // Clients of --target leader all use node 1 (no node names a leader); with --target all
        // every node has clients, and those of the killed node move on to the next one.
        reference = 1;
        how = "n" + std::to_string(highest) + " (" + engine->title +
              " has no leader; the load's first node is n1)";
        return highest;
    }
    NodeId leader = kNoNode;
    for (NodeId id = 1; id <= highest && leader == kNoNode; ++id)
        if (cluster.running(id) && cluster.info(id)["role"] == "leader") leader = id;
    const NodeId follower = leader == highest ? highest - 1 : highest;
    reference = leader != kNoNode ? leader : 1;
    how = "follower n" + std::to_string(follower) +
          (leader != kNoNode ? " (leader n" + std::to_string(leader) + " by INFO role:leader)"
                             : " (no node reported role:leader; n" + std::to_string(follower) +
                                   " was chosen as the highest-numbered node)");
    return follower;
}

}  // namespace

std::optional<std::uint64_t> info_number(const Info& info, const std::string& key) {
    const auto it = info.find(key);
    if (it == info.end()) return std::nullopt;
    return to_number(it->second);
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> info_epoch(const Info& info) {
    if (const auto term = info_number(info, "term")) return std::pair{*term, std::uint64_t{0}};
    const auto it = info.find("ballot");
    if (it == info.end()) return std::nullopt;
    const std::string_view text = it->second;
    const auto dot = text.find('.');
    const auto round = to_number(text.substr(0, dot));
    if (!round) return std::nullopt;
    if (dot == std::string_view::npos) return std::pair{*round, std::uint64_t{0}};
    const auto node = to_number(text.substr(dot + 1));
    if (!node) return std::nullopt;
    return std::pair{*round, *node};
}

std::optional<std::uint64_t> parse_vm_rss_bytes(const std::string& status_text) {
    std::istringstream in(status_text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) != 0) continue;
        std::istringstream fields(line.substr(6));
        std::string number, unit;
        fields >> number >> unit;
        const auto kib = to_number(number);
        if (!kib || unit != "kB") return std::nullopt;
        return *kib * 1024;
    }
    return std::nullopt;
}

std::optional<std::uint64_t> read_vm_rss_bytes(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    if (!in) return std::nullopt;
    std::stringstream text;
    text << in.rdbuf();
    return parse_vm_rss_bytes(text.str());
}

FaultPhase phase_at(std::int64_t t_ns, std::int64_t kill_ns, std::int64_t restart_ns,
                    std::int64_t caught_up_ns) {
    if (kill_ns == 0 || t_ns < kill_ns) return FaultPhase::before_kill;
    if (restart_ns == 0 || t_ns < restart_ns) return FaultPhase::down;
    if (caught_up_ns == 0 || t_ns < caught_up_ns) return FaultPhase::catching_up;
    return FaultPhase::after;
}

FaultPhase FaultMarks::phase_at(Clock::time_point t) const {
    const auto t_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    return bench::phase_at(t_ns, kill_ns.load(), restart_ns.load(), caught_up_ns.load());
}

std::int64_t FaultMarks::now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

void ElectionCounter::observe(const Info& info) {
    const auto epoch = info_epoch(info);
    if (!epoch) return;
    if (!first_) first_ = epoch;
    if (!highest_ || *epoch > *highest_) highest_ = epoch;
    const NodeId leader = info_number(info, "leader_id").value_or(kNoNode);
    if (leader == kNoNode || *epoch < leader_epoch_) return;
    if (leader_ != kNoNode && leader != leader_ && *epoch > leader_epoch_) ++leader_changes_;
    if (leader_ == kNoNode || *epoch > leader_epoch_) {
        leader_ = leader;
        leader_epoch_ = *epoch;
    }
}

std::uint64_t ElectionCounter::elections() const {
    if (!first_) return 0;
    return highest_->first - first_->first;
}

CatchupObserver::CatchupObserver(Index target, std::optional<Index> snapshot_index_before_kill)
    : target_(target), before_kill_(snapshot_index_before_kill) {}

bool CatchupObserver::observe(double since_restart_ms, const Info& info) {
    if (info.empty()) return caught_up();
    if (const auto installed = info_number(info, "snapshots_installed"))
        installed_max_ = std::max(installed_max_.value_or(0), *installed);
    if (const auto snapshot = info_number(info, "snapshot_index")) {
        if (!snapshot_first_) snapshot_first_ = snapshot;
        snapshot_last_ = snapshot;
    }
    if (const auto applied = info_number(info, "applied_index")) applied_ = *applied;
    if (!catch_up_ms_ && info.count("applied_index") && applied_ >= target_) catch_up_ms_ = since_restart_ms;
    return caught_up();
}

SnapshotSeen CatchupObserver::snapshot(std::string& evidence) const {
    if (installed_max_) {
        evidence = "INFO snapshots_installed:" + std::to_string(*installed_max_);
        return *installed_max_ > 0 ? SnapshotSeen::yes : SnapshotSeen::no;
    }
    if (snapshot_last_) {
        // What it had on disk: what it reported first after the restart (it loads its latest
        // snapshot at start), or failing that what it reported before the kill.
        const Index on_disk = before_kill_ ? std::max(*before_kill_, *snapshot_first_) : *snapshot_first_;
        evidence = "INFO snapshot_index " + std::to_string(on_disk) + " at the restart, " +
                   std::to_string(*snapshot_last_) + " at the last poll (no snapshots_installed in INFO";
        if (*snapshot_last_ > on_disk) {
            evidence += "; a snapshot of its own would also raise it)";
            return SnapshotSeen::yes;
        }
        evidence += ")";
        return SnapshotSeen::no;
    }
    evidence = "INFO reports neither snapshots_installed nor snapshot_index";
    return SnapshotSeen::unknown;
}

FollowerCatchup fail_follower(LocalCluster& cluster, const FollowerFault& fault, FaultMarks& marks,
                              const std::atomic<bool>* interrupted) {
    const double down_s = fault.down_s;
    FollowerCatchup f;
    f.down_s = down_s;
    f.slow_disk_factor = fault.slow_disk_factor;
    f.catchup_bound_s = static_cast<double>(kCatchupBound.count());
    f.killed = choose_follower(cluster, f.how, f.rss_node);
    const EngineTraits* engine = find_engine(cluster.protocol());
    const bool has_leader = !engine || engine->has_leader;

    f.rss_before_bytes = rss_of(cluster, f.rss_node);
    const auto snapshot_before = info_number(cluster.info(f.killed), "snapshot_index");
    marks.kill_ns = FaultMarks::now_ns();
    cluster.signal(f.killed, SIGKILL);

    const auto killed_at = Clock::now();
    if (!sleep_until(
            killed_at + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(down_s)),
            interrupted)) {
        f.problem = "interrupted while n" + std::to_string(f.killed) + " was down";
        return f;
    }

    // The target, and the survivors' epochs the elections are counted from, just before the restart.
    ElectionCounter elections;
    const auto survivors = running_nodes(cluster, f.killed);
    for (const NodeId id : survivors) {
        const auto info = cluster.info(id);
        f.target_index = std::max(f.target_index, info_number(info, "commit_index").value_or(0));
        elections.observe(info);
    }
    CatchupObserver observer(f.target_index, snapshot_before);
    f.rss_at_restart_bytes = rss_of(cluster, f.rss_node);

    const auto restarted_at = Clock::now();
    marks.restart_ns = FaultMarks::now_ns();
    try {
        if (fault.slow_disk_factor > 1)
            cluster.start_with(f.killed, cluster.node_args(),
                               {"--slow-disk-factor", std::to_string(fault.slow_disk_factor)});
        else
            cluster.start(f.killed);
    } catch (const std::exception& e) {
        f.problem = "could not restart n" + std::to_string(f.killed) + ": " + e.what();
        return f;
    }

    const auto deadline = restarted_at + kCatchupBound;
    for (auto next = restarted_at; Clock::now() < deadline; next += kCatchupPollInterval) {
        if (!sleep_until(next, interrupted)) {
            f.problem = "interrupted while n" + std::to_string(f.killed) + " was catching up";
            break;
        }
        if (const auto status = cluster.reap(f.killed)) {
            f.problem = "n" + std::to_string(f.killed) + " exited after its restart (" +
                        describe_exit_status(*status) + ")";
            f.log_tail = cluster.log_tail(f.killed, 12);
            break;
        }
        const auto info = cluster.info(f.killed);
        const double since_ms =
            std::chrono::duration<double, std::milli>(Clock::now() - restarted_at).count();
        const bool caught_up = observer.observe(since_ms, info);
        if (caught_up) marks.caught_up_ns = FaultMarks::now_ns();
        for (const NodeId id : survivors) elections.observe(cluster.info(id));
        if (const auto rss = rss_of(cluster, f.rss_node))
            f.rss_max_bytes = std::max(f.rss_max_bytes.value_or(0), *rss);
        if (caught_up) break;
        // A slow INFO must not make the polls pile up.
        if (Clock::now() > next + kCatchupPollInterval) next = Clock::now();
    }

    // Its installs until the run ends, the load still on (see fail_follower in follower.h).
    if (observer.caught_up() && f.problem.empty()) {
        const auto watch_from = Clock::now();
        for (auto next = watch_from; next < fault.run_end; next += kCatchupPollInterval) {
            if (!sleep_until(std::min(next, fault.run_end), interrupted) || cluster.reap(f.killed)) break;
            observer.observe(std::chrono::duration<double, std::milli>(Clock::now() - restarted_at).count(),
                             cluster.info(f.killed));
            f.watched_after_catch_up_s = std::chrono::duration<double>(Clock::now() - watch_from).count();
            if (Clock::now() > next + kCatchupPollInterval) next = Clock::now();
        }
    }
    f.catch_up_ms = observer.catch_up_ms();
    f.applied_index_last = observer.applied_index();
    f.snapshot = observer.snapshot(f.snapshot_evidence);
    if (has_leader) f.elections = elections.elections();
    f.leader_changes = elections.leader_changes();
    return f;
}

}  // namespace ballot::bench
