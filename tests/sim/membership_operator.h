// The operator who changes the cluster's membership during a simulated run (SPEC "Membership
// change, learners, leadership transfer"), beside the fault injector (nemesis.h) and on a schedule
// of its own: about every SimConfig::membership_every_ms it starts one of
//
//   add      a spare server is started with --join and added as a learner (half the time with
//            auto-promotion, so the leader promotes it once it has caught up);
//   promote  a learner becomes a voter;
//   remove   a member leaves (the leader, half the time it picks a voter); once its removal is
//            committed the process is stopped and its data dir wiped, so it is a spare again;
//   replace  a voter's disk dies: the process stops and its data dir is wiped, and it is replaced by
//            the procedure of the SPEC: MEMBER REMOVE, then MEMBER ADD of the same id, started with
//            --join.
//
// One operation at a time, as an operator works: each change is sent to a node in service and
// sent again (to another, perhaps) until the committed configuration shows it and it is settled: a
// majority of its voters have applied everything up to where it governs (the Paxos engines: α
// slots after its own; README "Membership change"); a refusal, a
// timeout or a node that crashed with the request are all part of the game. Nothing about the
// outcome is asserted here: the invariants (config_invariants.h, the engines' own, the applied log,
// linearizability) judge the run, and the liveness phase requires that the operation in progress
// completes once the faults are healed.
//
// A request answered "not done" may still take effect later, when a copy its node forwarded to the
// leader arrives late (SPEC: any node accepts any command and forwards it); the operator follows
// the committed configuration (reconcile()): a node such a copy removes is retired, one it adds
// is started with --join.
//
// A voter is removed only while more than three remain, and replaced only while at least three do
// (its removal leaves two for as long as the replacement takes), so the nodes in service always
// hold a quorum in the liveness phase (a wiped voter is out of service until it is added again).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/configuration.h"
#include "common/random.h"
#include "tests/sim/config_invariants.h"
#include "tests/sim/event_queue.h"
#include "tests/sim/sim_cluster.h"
#include "tests/sim/sim_config.h"

namespace ballot::sim {

struct MembershipStats {
    std::uint64_t adds = 0;  // operations started
    std::uint64_t promotions = 0;
    std::uint64_t removals = 0;
    std::uint64_t leader_removals = 0;  // of the removals, of a node that led when it started
    std::uint64_t replacements = 0;
    std::uint64_t completed = 0;  // operations whose change the committed configuration showed
    std::uint64_t requests = 0;   // MEMBER commands sent
    std::uint64_t refused = 0;    // ... answered with a refusal or an error
};

class MembershipOperator {
public:
    // `committed` follows the configuration entries as they are first applied anywhere: what
    // MEMBER LIST would show on an up-to-date node.
    MembershipOperator(const SimConfig& config, EventQueue& queue, SimCluster& cluster,
                       const ConfigChecker& committed, std::function<void(const std::string&)> trace);

    void start();
    // No new operation from now on; the one in progress carries on until it completes.
    void stop_starting();
    bool idle() const { return !op_.has_value(); }
    std::string describe_progress() const;

    const MembershipStats& stats() const { return stats_; }

private:
    // One step of an operation: the change to ask for, and when the committed configuration shows
    // it is made.
    struct Step {
        ConfigChange change;
        std::function<bool(const Configuration&)> done;
        std::function<void()> before;  // when the step begins (e.g. start the node to be added)
        std::function<void()> after;   // once it is done (e.g. stop and wipe a removed node)
    };
    struct Operation {
        std::string name;           // "replace 3", for the trace
        std::vector<Step> steps;    // in order
        std::size_t next = 0;       // the step in progress
        std::uint64_t attempt = 0;  // bumps when a request is given up on
        bool waiting = false;       // a request is out
    };

    void schedule_next();
    void begin();
    void begin_add(const std::vector<NodeId>& spares);
    void begin_promote(const Configuration& c);
    void begin_remove(const Configuration& c);
    void begin_replace(const Configuration& c);
    void replace(NodeId id, const std::string& why);
    bool ghost(const Configuration& c, NodeId id) const;
    void drive();
    void send(const Step& step);
    // After a removal step: the removed node is stopped and wiped, a spare again.
    void retire(NodeId id);
    bool settled() const;
    void reconcile();
    void watch();

    NodeId pick(const std::vector<NodeId>& from) { return from[rng_.between(0, from.size() - 1)]; }
    void trace(const std::string& line) const;

    const SimConfig& config_;
    EventQueue& queue_;
    SimCluster& cluster_;
    const ConfigChecker& committed_;
    std::function<void(const std::string&)> trace_;
    Rng rng_;
    bool starting_ = false;
    std::optional<Operation> op_;
    MembershipStats stats_;
};

}  // namespace ballot::sim
