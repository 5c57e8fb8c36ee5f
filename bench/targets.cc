#include "bench/targets.h"

#include <signal.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "bench/follower.h"
#include "bench/local_cluster.h"
#include "bench/redis_baseline.h"
#include "bench/transfer.h"
#include "common/tls.h"
#include "engines/registry.h"
#include "kv/resp_client.h"

namespace ballot::bench {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A spawned cluster gets this long to acknowledge its first write (elections, recovery).
constexpr auto kClusterReadyTimeout = 30s;
constexpr auto kRedisReadyTimeout = 10s;
// Log lines per node quoted when a cluster fails to start.
constexpr int kLogTailLines = 12;

// Until a write through some node is acknowledged. A node that exits meanwhile is reported with
// its log at once rather than after the timeout.
bool wait_until_writable(LocalCluster& cluster, const std::atomic<bool>* interrupted, std::string& why) {
    const auto deadline = std::chrono::steady_clock::now() + kClusterReadyTimeout;
    std::string last_answer = "none";
    for (int attempt = 0; std::chrono::steady_clock::now() < deadline; ++attempt) {
        if (interrupted && interrupted->load()) {
            why = "interrupted";
            return false;
        }
        for (NodeId id = 1; id <= static_cast<NodeId>(cluster.size()); ++id) {
            if (auto status = cluster.reap(id)) {
                why = cluster.protocol() + " node " + std::to_string(id) + " exited (" +
                      describe_exit_status(*status) + ") before the cluster was ready; its log ends:\n" +
                      cluster.log_tail(id, kLogTailLines);
                return false;
            }
        }
        const auto through = static_cast<NodeId>(1 + attempt % cluster.size());
        const auto reply = cluster.command(through, {"SET", "ballot-bench:ready", "1"}, 3000ms);
        if (reply.type == kv::RespValue::Type::simple && reply.str == "OK") return true;
        last_answer = reply.is_error() ? "-" + reply.str : "unexpected reply";
        std::this_thread::sleep_for(100ms);
    }
    why = "the " + cluster.protocol() + " cluster acknowledged no write within " +
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kClusterReadyTimeout).count()) +
          " s (last answer: " + last_answer + ")";
    for (NodeId id = 1; id <= static_cast<NodeId>(cluster.size()); ++id)
        why += "\nnode " + std::to_string(id) + "'s log ends:\n" + cluster.log_tail(id, kLogTailLines);
    return false;
}

// The fail-leader fault: find the leader by INFO (basic Paxos has none: node 1) and SIGKILL it.
KillReport kill_leader(LocalCluster& cluster) {
    KillReport k;
    const EngineTraits* engine = find_engine(cluster.protocol());
    if (engine && !engine->has_leader) {
        k.killed = 1;
        k.how = "node 1 (" + engine->title + " has no leader)";
    } else {
        for (NodeId id = 1; id <= static_cast<NodeId>(cluster.size()) && k.killed == kNoNode; ++id) {
            if (cluster.running(id) && cluster.info(id)["role"] == "leader") {
                k.killed = id;
                k.how = "leader n" + std::to_string(id) + " (INFO role:leader)";
            }
        }
        if (k.killed == kNoNode) {
            k.killed = 1;
            k.how = "node 1 (no node reported role:leader)";
        }
    }
    k.at = std::chrono::steady_clock::now();
    cluster.signal(k.killed, SIGKILL);
    return k;
}

// --tls: a CA and node certificates from scripts/make-certs.sh in a fresh temp dir, removed at
// the end. Throws std::runtime_error with the script's output if it fails.
class ThrowawayCerts {
public:
    explicit ThrowawayCerts(int nodes) {
        char pattern[] = "/tmp/ballot-bench-certs-XXXXXX";
        if (!::mkdtemp(pattern)) throw std::runtime_error("--tls: cannot make a temp dir for certificates");
        dir_ = pattern;
        std::string command = "timeout 60 " + std::string(BALLOT_MAKE_CERTS) + " " + dir_;
        for (int id = 1; id <= nodes; ++id) command += " " + std::to_string(id);
        const std::string log = dir_ + "/make-certs.log";
        if (std::system((command + " >" + log + " 2>&1").c_str()) != 0) {
            std::ifstream in(log);
            const std::string out(std::istreambuf_iterator<char>(in), {});
            std::filesystem::remove_all(dir_);
            throw std::runtime_error("--tls: " + std::string(BALLOT_MAKE_CERTS) + " failed: " + out);
        }
    }
    ~ThrowawayCerts() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    ThrowawayCerts(const ThrowawayCerts&) = delete;
    ThrowawayCerts& operator=(const ThrowawayCerts&) = delete;

    std::string ca() const { return dir_ + "/ca.crt"; }
    // Node `id`'s --tls-* flags.
    std::vector<std::string> server_flags(NodeId id) const {
        const std::string name = dir_ + "/node-" + std::to_string(id);
        return {"--tls-cert-file=" + name + ".crt", "--tls-key-file=" + name + ".key",
                "--tls-ca-cert-file=" + ca()};
    }

private:
    std::string dir_;
};

}  // namespace

std::string temp_filesystem() {
    struct statfs st {};
    if (::statfs("/tmp", &st) != 0) return "unknown filesystem";
    switch (static_cast<unsigned long>(st.f_type)) {
        case 0xEF53:
            return "ext4";
        case 0x58465342:
            return "xfs";
        case 0x9123683E:
            return "btrfs";
        case 0x794C7630:
            return "overlayfs";
        case 0x01021994:
            return "tmpfs (in memory: fsync costs nothing, so not a durable log)";
        case 0x2FC12FC1:
            return "zfs";
        default: {
            char buf[32];
            std::snprintf(buf, sizeof buf, "filesystem 0x%lx", static_cast<unsigned long>(st.f_type));
            return buf;
        }
    }
}

EngineResult bench_engine(const BenchContext& context, const std::string& protocol) {
    const Options& o = context.options;
    EngineResult failed;
    failed.engine = protocol;
    failed.duration_s = o.duration_s;
    failed.unsafe_no_fsync = o.unsafe_no_fsync;
    try {
        std::vector<std::string> server_args = o.server_args;
        if (o.link_delay.enabled())
            server_args.push_back("--link-delay=" + std::to_string(o.link_delay.delay_ms) + ":" +
                                  std::to_string(o.link_delay.jitter_ms));
        if (!o.requirepass_file.empty()) server_args.push_back("--requirepass-file=" + o.requirepass_file);
        if (o.unsafe_no_fsync) server_args.push_back("--unsafe-no-fsync");
        LocalCluster cluster(o.server, protocol, o.nodes, server_args, o.port_base);
        cluster.set_password(o.password);
        Workload workload = Workload::from(o);
        workload.watch_snapshots = true;
        std::optional<ThrowawayCerts> certs;
        if (o.tls) {
            certs.emplace(o.nodes);
            for (NodeId id = 1; id <= static_cast<NodeId>(o.nodes); ++id)
                cluster.set_node_extra_args(id, certs->server_flags(id));
            workload.tls = client_tls(certs->ca());
            cluster.set_tls(workload.tls);
        }
        cluster.start_all();
        if (!wait_until_writable(cluster, context.interrupted, failed.failure)) return failed;

        std::vector<Endpoint> nodes;
        for (NodeId id = 1; id <= static_cast<NodeId>(cluster.size()); ++id)
            nodes.push_back({"127.0.0.1", cluster.port(id), id});
        std::optional<FaultPlan> fault;
        if (o.fail_leader_at_s)
            fault =
                FaultPlan{*o.fail_leader_at_s, [&cluster] { return kill_leader(cluster); }, nullptr, nullptr};
        if (o.fail_follower_for_s) {
            FollowerFault follower{static_cast<double>(*o.fail_follower_for_s), o.slow_follower_disk, {}};
            const double after_kill_s = o.duration_s - kFollowerKillAtS;
            fault = FaultPlan{kFollowerKillAtS, nullptr,
                              [&cluster, follower, after_kill_s,
                               interrupted = context.interrupted](FaultMarks& marks) mutable {
                                  // Called at the kill, kFollowerKillAtS into the measured run.
                                  follower.run_end = std::chrono::steady_clock::now() +
                                                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                         std::chrono::duration<double>(after_kill_s));
                                  return fail_follower(cluster, follower, marks, interrupted);
                              },
                              nullptr};
        }
        if (!o.change_leader_at_s.empty()) {
            std::vector<NodeId> ids;
            for (const Endpoint& n : nodes) ids.push_back(n.id);
            FaultPlan plan;
            plan.change_leader = [&cluster, &o, ids,
                                  interrupted = context.interrupted](Clock::time_point start) {
                auto command = [&cluster](NodeId id, const std::vector<std::string>& args) {
                    return cluster.command(id, args);
                };
                return change_leader(o.leader_action, o.change_leader_at_s, start, ids, command, interrupted);
            };
            fault = std::move(plan);
        }

        EngineResult r = run_load(protocol, workload, nodes, context.progress, fault, context.interrupted);
        r.replicated = true;
        r.unsafe_no_fsync = o.unsafe_no_fsync;
        if (o.read_ratio > 0) r.read_path = find_engine(protocol)->read_path;
        return r;
    } catch (const std::exception& e) {
        failed.failure = std::string("could not run the ") + protocol + " cluster: " + e.what();
        return failed;
    }
}

EngineResult bench_existing(const BenchContext& context) {
    const Options& o = context.options;
    std::string label = "existing";
    std::string note = "existing cluster:";
    for (const auto& n : o.existing) note += " " + n.address();
    std::string last_error;
    bool reached = false;
    bool replicated = true;
    bool ballot = false;  // its INFO names a protocol: a Ballot node, watched for snapshots
    for (const auto& n : o.existing) {
        try {
            kv::RespClient client;
            client.set_password(o.password);
            client.connect(n.host, n.port, 2000ms);
            client.set_timeout(2000ms);
            const auto reply = client.command({"INFO"});
            if (reply.type != kv::RespValue::Type::bulk) {
                last_error = n.address() + " answered INFO with " +
                             (reply.is_error() ? "-" + reply.str : "a non-string");
                reached = true;
                break;
            }
            const auto info = parse_info(reply.str);
            if (info.count("protocol")) {
                label = info.at("protocol") + " (existing)";
                ballot = true;
            } else if (info.count("redis_version")) {
                label = "redis " + info.at("redis_version") + " (existing)";
                note += "; a plain RESP server, durability as configured there";
                replicated = !(info.count("connected_slaves") && info.at("connected_slaves") == "0");
            }
            reached = true;
            break;
        } catch (const std::exception& e) {
            last_error = e.what();
        }
    }
    if (!reached) {
        EngineResult failed;
        failed.engine = label;
        failed.failure = "no --node answered: " + last_error;
        return failed;
    }
    Workload workload = Workload::from(o);
    workload.watch_snapshots = ballot;
    EngineResult r = run_load(label, workload, o.existing, context.progress, std::nullopt, context.interrupted);
    r.note = note;
    r.replicated = replicated;
    return r;
}

EngineResult bench_redis(const BenchContext& context, const std::string& baseline) {
    const Options& o = context.options;
    EngineResult failed;
    failed.engine = baseline;
    failed.replicated = false;
    failed.duration_s = o.duration_s;
    const auto binary = find_redis_server();
    if (!binary) {
        failed.failure = "redis-server is not installed (apt-get install redis-server)";
        return failed;
    }
    try {
        RedisBaseline redis(*binary, baseline == "redis");
        if (!redis.wait_ready(kRedisReadyTimeout, failed.failure)) return failed;
        const std::vector<Endpoint> nodes = {{"127.0.0.1", redis.port(), 1}};
        EngineResult r =
            run_load(baseline, Workload::from(o), nodes, context.progress, std::nullopt, context.interrupted);
        r.replicated = false;
        r.note = "one redis-server, not replicated; " + redis.durability();
        return r;
    } catch (const std::exception& e) {
        failed.failure = std::string("could not run redis-server: ") + e.what();
        return failed;
    }
}

}  // namespace ballot::bench
