// The simulated cluster: per node, the real runtime (ballot::Driver) driving the real engine
// (make_engine, from what the node's simulated disk recovered) and the real KV store behind a
// recording decorator, over a SimDisk and a SimNetwork endpoint. The simulator calls pump() after
// every input, as the node does (the real node coalesces pumps per event-loop turn; pumping after
// each input is equivalent).
//
// It also routes everything the invariant checkers observe: disk writes and durable changes,
// applies, and after every event each node's status (check_step()).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/driver.h"
#include "kv/kv_store.h"
#include "tests/sim/invariants.h"
#include "tests/sim/lock_invariants.h"
#include "tests/sim/recording_state_machine.h"
#include "tests/sim/sim_config.h"
#include "tests/sim/sim_disk.h"
#include "tests/sim/sim_network.h"
#include "tests/sim/sim_snapshots.h"
#include "tests/sim/workload.h"

namespace ballot::sim {

struct ClusterStats {
    std::uint64_t crashes = 0;
    std::uint64_t torn_writes = 0;  // crashes that left part of an unsynced flush on disk
    std::uint64_t restarts = 0;
    std::uint64_t fsync_failures = 0;
    std::uint64_t pauses = 0;
    std::uint64_t reads_checked = 0;
};

class SimCluster final : public ClientGateway, public DiskObserver {
public:
    using Trace = std::function<void(const std::string&)>;

    SimCluster(std::string engine, const SimConfig& config, EventQueue& queue, Rng& rng,
               Violations& violations, Sabotage sabotage, Trace trace);
    ~SimCluster() override;

    // Starts every node of the bootstrap configuration from an empty disk (the spares stay off).
    void start();
    // Reports messages, faults, disk writes and fsyncs, and every node's status after each step
    // (ballot-sim's diagram). Set before start().
    void set_recorder(Recorder* recorder);

    // The nodes in service: the bootstrap configuration, plus the spares the membership operator
    // added, less those it removed or wiped (membership_operator.h). Faults strike these, and the
    // liveness phase restarts them. Ascending.
    std::vector<NodeId> members() const;
    // Every node id the run may use, spares included.
    const std::vector<NodeId>& all_nodes() const { return all_nodes_; }
    bool in_service(NodeId id) const { return node(id).in_service; }
    std::uint64_t identity_of(NodeId id) const { return node(id).identity; }  // its data dir's now
    bool is_up(NodeId id) const;
    void crash(NodeId id, bool torn);
    void restart(NodeId id);
    void fail_next_flush(NodeId id);
    // The process stops (SIGSTOP, a long GC pause) until `until_us`: no ticks, and every input
    // (messages, fsync completions, client requests) waits, in order, until it resumes.
    void pause(NodeId id, std::uint64_t until_us);
    // From now on the node's fsyncs take as long as `timing` says.
    void set_disk_timing(NodeId id, DiskTiming timing) { node(id).disk->set_timing(timing); }
    // No more fsync failures, and every slow disk (SimConfig::disk_slowness) back to normal speed.
    void heal_disks(bool restore_speed = true);
    bool storage_failed(NodeId id) const;
    bool flush_in_flight(NodeId id) const { return node(id).disk->flush_in_flight(); }
    std::optional<EngineStatus> status(NodeId id) const;
    // The nodes that report themselves leader right now.
    std::vector<NodeId> leaders() const;
    Index applied(NodeId id) const;
    Index highest_applied() const { return applied_log_.highest(); }
    SimNetwork& network() { return *network_; }

    // After every event: fills in no-op applies, runs the per-step invariants: each up engine's
    // own check_invariants(), the deltas between its status now and after the previous step
    // (term/ballot and commit index never decrease within an incarnation), and the engine's
    // cluster-wide checker.
    void check_step();

    // ---- membership change (tests/sim/membership_operator.h) ----
    // The configuration `id` has applied (nullopt while it is down).
    std::optional<Configuration> configuration_of(NodeId id) const;
    // The node stops (a crash) and is out of service: nothing restarts it.
    void decommission(NodeId id);
    // The node's data dir is lost: it gets an empty disk and no snapshots. Only while it is down
    // and out of service (the identity guard keeps a wiped node out of a cluster that still counts
    // it, SPEC "Membership change"; the simulator has no transport, so it never starts one).
    void wipe(NodeId id);
    // A wiped node is started with --join and is in service from now on.
    void commission(NodeId id);
    // MEMBER ADD / PROMOTE / REMOVE as a client sends it to `via` (the runtime's path,
    // Driver::submit_config_change), answered by `done` unless `via` crashes first.
    void change_membership(NodeId via, ConfigChange change, Completion done);
    // The address the simulator gives a node ("sim-4:7004"; the bootstrap configuration has none).
    static std::string address_of(NodeId id);

    // MEMBER TRANSFER as an operator sends it: `leader` is asked to hand leadership to `target`
    // (the runtime's path, Driver::transfer_leadership). The outcome is only traced: a refusal or
    // a transfer that times out is as legitimate as one that completes.
    void transfer_leadership(NodeId leader, NodeId target);

    // A read barrier on `node` (liveness phase): `done(true)` once it completed ok.
    void read_barrier(NodeId node, std::function<void(bool)> done);
    // Nodes that applied the most agree on the state machine's bytes.
    void check_replicas_agree();

    // ClientGateway
    std::vector<NodeId> up_nodes() const override;
    void submit(NodeId node, const Stamp& stamp, const std::string& payload, Completion done) override;
    void read(NodeId node, const std::string& payload,
              std::function<void(const Outcome&, const std::string& reply)> done) override;
    void await_waiter(NodeId node, Index waiter, const std::string& name,
                      std::function<void(const std::optional<std::string>& reply)> done) override;

    // DiskObserver
    void on_disk_write(NodeId node, const DiskState& written_before, const Ready& batch) override;
    void on_disk_durable(NodeId node, const std::vector<DiskRecord>& applied,
                         const DiskState& durable) override;

    // Called when a log index is applied for the first time anywhere, with its command and the
    // reply it produced: the moment that command took effect.
    std::function<void(const Command&, const std::string& reply)> on_first_apply;
    // The same moment, with the index, what the store told lock waiters during that apply, and the
    // store right after it (the lock invariants, tests/sim/lock_invariants.h).
    std::function<void(Index, const Command&, const std::string& reply, const std::vector<WaiterEvent>&,
                       const kv::KvStore&)>
        on_first_apply_state;

    const ClusterStats& stats() const { return stats_; }
    std::string describe_nodes() const;

private:
    struct Node {
        NodeId id = kNoNode;
        bool in_service = false;
        bool joins = false;  // started with --join (a spare, or a node wiped and added again)
        std::uint64_t identity = 0;  // its data dir's (common/configuration.h, SelfId): new with each disk
        std::unique_ptr<SimDisk> disk;
        std::unique_ptr<SimSnapshotDir> snapshots;  // survives crashes, like the disk
        std::unique_ptr<SimSnapshotWorker> snapshot_worker;
        bool up = false;
        std::uint64_t incarnation = 0;
        std::unique_ptr<kv::KvStore> kv;
        std::unique_ptr<RecordingStateMachine> sm;
        std::unique_ptr<Driver> driver;
        std::uint64_t paused_until_us = 0;
        // What came for the process while it was paused, in arrival order (on_node).
        std::deque<std::function<void()>> deferred;
        std::optional<EngineStatus> last_status;  // after the previous step, this incarnation
        Index last_snapshot_index = 0;            // checked against the cluster's record (below)
        Index last_applied = 0;                   // within this incarnation: never goes back
        std::vector<WaiterEvent> waiter_events;   // told during the apply in progress
        // Clients waiting on this node for a queued LOCK or ELECT (await_waiter), by waiter id.
        std::multimap<Index, std::function<void(const std::optional<std::string>&)>> blocked;
    };

    // A fresh disk, snapshot directory and snapshot worker (at start, and when wiped).
    void make_storage(Node& n);
    Node& node(NodeId id) { return nodes_.at(id - 1); }
    const Node& node(NodeId id) const { return nodes_.at(id - 1); }
    NodeView view_of(const Node& n, bool with_status) const;
    Sabotage state_machine_sabotage(NodeId id) const;
    void schedule_tick(NodeId id, std::uint64_t incarnation);
    // Runs `action` on the node's thread: now, or when the node resumes if it is paused.
    void on_node(NodeId id, std::function<void()> action);
    void run_deferred(NodeId id);
    // Runs a call into the node's driver. A broken invariant (common/assert.h) stops the node, as
    // it stops the real process (common/node.cc), and is reported as a violation.
    void guarded(NodeId id, const std::function<void()>& call);
    void check_engine(Node& n);
    void deliver(NodeId from, NodeId to, const Bytes& payload);
    void deliver_bulk(NodeId from, NodeId to, const Bytes& payload);
    // Snapshot invariants: replicas' snapshots at the same index are byte-equal (`where` says
    // which file, for the message).
    void check_snapshot_file(Node& n, Index index, const std::string& where);
    void check_snapshots(Node& n);
    void trace(const std::string& line) const;
    // The store's WaiterListener: kept for the apply's report, and passed to a client waiting here.
    void on_waiter(NodeId id, Index waiter, const std::string& reply);
    // Wraps a read completion with the freshness check: a read must observe every index that was
    // applied anywhere before it began (any of them may already have been acknowledged).
    Completion checked_read(NodeId node, std::function<void(const Outcome&)> done);

    std::string engine_;
    const SimConfig& config_;
    EventQueue& queue_;
    Rng& rng_;
    Violations& violations_;
    Sabotage sabotage_;
    Trace trace_;
    Recorder* recorder_ = nullptr;
    std::vector<NodeId> bootstrap_;  // the --node list of a node that does not join
    std::vector<NodeId> all_nodes_;
    std::vector<Node> nodes_;
    std::uint64_t identities_made_ = 0;  // data dir identities handed out (make_storage)
    // Storage of wiped nodes: events already queued (a flush, a snapshot job) still refer to it.
    std::vector<std::unique_ptr<SimDisk>> retired_disks_;
    std::vector<std::unique_ptr<SimSnapshotDir>> retired_snapshot_dirs_;
    std::vector<std::unique_ptr<SimSnapshotWorker>> retired_snapshot_workers_;
    std::unique_ptr<SimNetwork> network_;
    AppliedLog applied_log_;
    std::unique_ptr<EngineInvariants> engine_invariants_;
    ClusterStats stats_;
    // The payload of the first snapshot any node made or received at each index.
    std::map<Index, std::string> snapshot_payloads_;
    Rng snapshot_rng_;  // torn snapshot files and worker timing: a stream of its own
};

}  // namespace ballot::sim
