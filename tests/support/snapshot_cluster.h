// A deterministic in-memory cluster of bare engines that also plays the runtime's part in
// snapshots and compaction (common/engine.h "SNAPSHOTS"), which EngineCluster leaves out: the
// snapshot tests of every engine run on it, through the Engine interface alone.
//
// What it models is what common/driver.cc and common/snapshotter.cc do, with nothing slow or
// faulty in between:
//   - a perfect, instantaneous disk per node: the metadata record, the log records, truncate_from
//     and compact_below, and the node's latest durable snapshot; a restart hands the engine what
//     they add up to (RecoveredState) and restores the state machine from the snapshot;
//   - a state machine per node: every entry applied, in order. take_snapshot() copies it and
//     calls snapshot_made(), as the runtime does once the file is durable;
//   - snapshot transfers: each peer named in Ready::snapshot_to starts one, carrying the sender's
//     latest snapshot as of the ask, and it runs until the test ends it (end_transfer). Its
//     install at the receiver is the runtime's: a durable copy, the state machine restored from
//     it, then snapshot_installed(), and only if it moves the receiver's state forward; then the
//     sender hears snapshot_sent(). At most one transfer per (sender, peer) is in flight: an ask
//     for a peer the sender is still sending to is recorded (asked()) and otherwise ignored.
//
// Checked after every input (a violation throws std::logic_error, which fails the test): each node
// applies in order without gaps (from X + 1 after a snapshot X), no two nodes ever apply different
// data at one index, compact_below only rises and never passes the latest durable snapshot + 1;
// and every up engine's check_invariants() holds (else it throws ballot::InvariantViolation).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/engine.h"
#include "tests/support/engine_cluster.h"

namespace ballot::test {

// A durable snapshot: its meta and the state machine it holds (every entry applied through
// meta.last_included_index, in order).
struct Snapshot {
    SnapshotMeta meta;
    std::vector<Committed> state;
};

// A transfer the runtime is making: `sent` is what it streams, the sender's latest snapshot when
// the engine asked for the transfer (a later one made meanwhile is not it).
struct Transfer {
    NodeId from = kNoNode;
    NodeId to = kNoNode;
    Snapshot sent;
};

class SnapshotCluster {
public:
    // A node's engine seed, from its id and how many engines this cluster built before this one
    // (so that a restarted node draws other random choices).
    using SeedRule = std::function<std::uint64_t(NodeId id, std::uint64_t built)>;

    // Nodes 1..n of `protocol` (engines/registry.h), every one a voter. `base` supplies timeouts,
    // bounds and the snapshot settings; id, members and seed are set here.
    SnapshotCluster(std::string protocol, int n, EngineConfig base, SeedRule seed);

    int size() const { return static_cast<int>(nodes_.size()); }
    Engine& engine(NodeId id);
    EngineStatus status(NodeId id) { return engine(id).status(); }
    bool is_up(NodeId id) const { return node(id).up; }

    // ---- inputs (each followed by collect()) ----
    void tick(NodeId id);
    void tick_all();
    ProposeResult propose(NodeId id, std::string command);
    // Delivers one message now, unless its receiver is down or either end is isolated (then it is
    // lost, and this returns true). Returns what step() returned.
    bool deliver(const InFlight& m);
    // Delivers queued messages, oldest first, until none are left; those `lose` picks are lost.
    void stabilize(const std::function<bool(const InFlight&)>& lose = {});
    // tick_all() and stabilize(), `ticks` times.
    void run(int ticks);
    // Stabilizes and, until `done()` holds, ticks every node, up to `max_ticks` times.
    bool run_until(const std::function<bool()>& done, int max_ticks = 2000);
    // Runs until some node leads (engines that have leaders); returns it, or kNoNode.
    NodeId elect(int max_ticks = 1000);
    // Takes every node's ready batch and plays the runtime's part in it (see the file comment).
    void collect();

    // The queue of undelivered messages, oldest first; tests may inspect, reorder or clear it.
    std::deque<InFlight>& in_flight() { return in_flight_; }

    // ---- faults ----
    void isolate(NodeId id);  // every message to or from it is lost, until heal()
    void heal();
    // Both ends up and neither isolated.
    bool reachable(NodeId from, NodeId to) const;
    // The node stops: its queued messages and the transfers it was making are gone, unreported.
    void crash(NodeId id);
    // A crashed node starts a new engine from its disk and its latest snapshot.
    void restart(NodeId id);
    // Places `snapshot` in a crashed node's data dir as its latest (a backup restored into it).
    void put_snapshot(NodeId id, Snapshot snapshot);

    // ---- the runtime's part in snapshots ----
    // Snapshots the state machine at its applied index and tells the engine once "durable". As
    // the runtime (Snapshotter::request), makes none unless the state has moved past the latest
    // snapshot. Returns the index of the node's latest snapshot (0: none).
    Index take_snapshot(NodeId id);
    // Transfers in flight, oldest first.
    const std::vector<Transfer>& transfers() const { return transfers_; }
    bool transferring(NodeId from, NodeId to) const;
    // The index of the snapshot the transfer in flight from `from` to `to` carries (0: none).
    Index sending(NodeId from, NodeId to) const;
    // Ends the transfer in flight from `from` to `to` (there must be one): with `ok`, `to`
    // installs what it carries if that moves `to`'s state forward; then `from` hears.
    void end_transfer(NodeId from, NodeId to, bool ok = true);
    // Ends the transfer in flight without `from`'s engine ever hearing of it (a report lost: the
    // engine takes it as lost after snapshot_retry_ticks).
    void lose_transfer_report(NodeId from, NodeId to);
    // Every peer the node's engines named in Ready::snapshot_to, in order, across restarts:
    // the asks the runtime ignored (a transfer to that peer in flight) too.
    const std::vector<NodeId>& asked(NodeId from) const { return node(from).asked; }
    int asks(NodeId from, NodeId to) const;
    int installs() const { return installs_; }  // snapshots installed by end_transfer()

    // ---- observations ----
    NodeId leader() const;  // the up, unisolated node leading with the highest epoch, or kNoNode
    // The state machine: every entry applied, in order (restored from a snapshot at a restart).
    const std::vector<Committed>& state(NodeId id) const { return node(id).state; }
    Index applied_index(NodeId id) const;
    std::vector<std::string> applied_data(NodeId id) const;  // the commands applied, no-ops left out
    // Every index the node's engines handed out in Ready::committed, in order, across restarts.
    const std::vector<Index>& handed_out(NodeId id) const { return node(id).handed_out; }
    const std::optional<Snapshot>& snapshot(NodeId id) const { return node(id).disk.snapshot; }
    const Bytes& metadata(NodeId id) const { return node(id).disk.metadata; }
    const std::map<Index, Bytes>& records(NodeId id) const { return node(id).disk.records; }
    // Every compact_below the node's engines handed out, in order, and the disk's compaction point.
    const std::vector<Index>& compactions(NodeId id) const { return node(id).compactions; }
    Index compacted_below(NodeId id) const { return node(id).disk.compacted_below; }

    // Called with every message delivered, before its receiver steps it (for counting).
    std::function<void(const InFlight&)> observe;
    // Called with "nA -> nB <description>" for every message delivered (for reading a scenario).
    std::function<void(const std::string&)> trace;

private:
    // What survives a crash: the log store's contents and the latest durable snapshot.
    struct Disk {
        Bytes metadata;
        std::map<Index, Bytes> records;
        Index compacted_below = 0;
        std::optional<Snapshot> snapshot;
    };
    struct Node {
        NodeId id = kNoNode;
        bool up = true;
        std::unique_ptr<Engine> engine;
        Disk disk;
        std::vector<Committed> state;  // the state machine
        // What the node's engines handed out, across restarts.
        std::vector<Index> handed_out, compactions;
        std::vector<NodeId> asked;
    };

    Node& node(NodeId id) { return nodes_.at(id - 1); }
    const Node& node(NodeId id) const { return nodes_.at(id - 1); }
    std::unique_ptr<Engine> make(NodeId id, RecoveredState recovered);
    void act_on(Node& x, Ready r);
    void persist(Node& x, const Ready& r);
    void apply(Node& x, const std::vector<Committed>& committed);
    void start_transfer(Node& x, NodeId to);
    std::vector<Transfer>::const_iterator find_transfer(NodeId from, NodeId to) const;

    std::string protocol_;
    EngineConfig base_;
    SeedRule seed_;
    std::uint64_t built_ = 0;
    std::vector<Node> nodes_;
    std::deque<InFlight> in_flight_;
    std::set<NodeId> isolated_;
    std::map<Index, std::string> chosen_;  // the first data applied at each index
    std::vector<Transfer> transfers_;
    int installs_ = 0;
};

}  // namespace ballot::test
