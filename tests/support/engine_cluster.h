// A deterministic in-memory cluster of bare engines, for protocol scenario tests.
//
// No runtime, no threads, no clock: the test decides when each node ticks and which messages are
// delivered. Each node's "disk" is perfect and instantaneous (a batch is durable as soon as it is
// collected), so this harness checks protocol logic; tests/sim drives the real runtime over a
// faulty simulated disk and network.
//
// Safety is checked on every collect(): committed entries arrive in order without gaps, and no
// two nodes ever commit different data at the same index (a violation throws std::logic_error);
// and every up engine's check_invariants() holds (else it throws ballot::InvariantViolation).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/engine.h"

namespace ballot::test {

struct InFlight {
    NodeId from = kNoNode;
    NodeId to = kNoNode;
    Bytes payload;
};

// Small timeouts so scenarios take few ticks: elections after 10-20 ticks of silence, heartbeats
// every 2.
inline EngineConfig small_timeouts() {
    EngineConfig c;
    c.election_timeout_min_ticks = 10;
    c.election_timeout_max_ticks = 20;
    c.heartbeat_ticks = 2;
    return c;
}

class EngineCluster {
public:
    // Nodes 1..n of `protocol`. `base` supplies timeouts and bounds; id, members and seed are set
    // here (each node's seed derives from `seed`).
    EngineCluster(std::string protocol, int n, std::uint64_t seed, EngineConfig base = {});

    int size() const { return static_cast<int>(nodes_.size()); }
    // A new node, id size() + 1, started with --join (EngineConfig::join): in no configuration
    // until a leader adds it (membership change).
    NodeId add_joining_node();
    Engine& engine(NodeId id);
    EngineStatus status(NodeId id) { return engine(id).status(); }

    // ---- inputs (each followed by collect()) ----
    void tick(NodeId id);
    void tick_all();
    ProposeResult propose(NodeId id, std::string command);
    void read(NodeId id, std::uint64_t read_id);
    // Delivers one message now (ignoring partitions); returns what step() returned.
    bool deliver(const InFlight& m);

    // Takes every node's ready batch: persists it, queues its messages, records commits.
    void collect();

    // Delivers queued messages (dropping those across a cut link) until none are left or
    // `max_messages` were delivered. Returns the number delivered.
    std::size_t stabilize(std::size_t max_messages = 100000);
    // tick_all() and stabilize(), `ticks` times.
    void run(int ticks);
    // Ticks every node and stabilizes, up to `max_ticks` times, until `done()` holds.
    // Returns true if it held.
    bool run_until(const std::function<bool()>& done, int max_ticks = 10000);
    // Runs until some node is leader (engines that have leaders). Returns its id or 0.
    NodeId elect(int max_ticks = 10000);

    // The queue of undelivered messages, oldest first; tests may inspect, reorder or clear it.
    std::deque<InFlight>& in_flight() { return in_flight_; }
    // Removes and returns queued messages matching `pred`.
    std::vector<InFlight> take_if(const std::function<bool(const InFlight&)>& pred);

    // ---- faults ----
    void cut(NodeId a, NodeId b);  // both directions
    void cut_one_way(NodeId from, NodeId to);
    void isolate(NodeId id);  // cut from everyone
    void heal();              // restore every link
    bool linked(NodeId from, NodeId to) const;
    void crash(NodeId id);    // the node stops; its queued messages are dropped
    void restart(NodeId id);  // a new engine from what its disk holds
    bool is_up(NodeId id) const;

    // ---- observations ----
    NodeId leader() const;  // the up node reporting role "leader" with the highest term, or 0
    const std::vector<Committed>& committed(NodeId id) const;  // everything it has committed, in order
    // Committed commands that are not no-ops, in order.
    std::vector<std::string> committed_data(NodeId id) const;
    const std::vector<ReadState>& reads(NodeId id) const;
    // The leader's refusals of changes and transfers the node forwarded (Ready::refusals).
    const std::vector<ForwardedRefusal>& refusals(NodeId id) const;
    // What the node has persisted, as the engine encoded it (common/engine.h): its metadata record
    // (empty: none yet) and its log records by index. Tests decode them with the engine's own
    // codec (raft/persist.h, multipaxos/persist.h, paxos/persist.h).
    const Bytes& metadata(NodeId id) const;
    const std::map<Index, Bytes>& records(NodeId id) const;
    // Replaces a record on a crashed node's disk, as if it had written these bytes (a test of
    // recovery from what an older version wrote, or from damage the codec must refuse).
    void overwrite_record(NodeId id, Index index, Bytes bytes);

    // Called with every delivered message (from, to, description) when set; for debugging.
    std::function<void(const std::string&)> trace;

private:
    struct Node {
        NodeId id = kNoNode;
        std::unique_ptr<Engine> engine;
        bool up = true;
        Bytes metadata;
        std::map<Index, Bytes> records;
        std::vector<Committed> committed;
        std::vector<ReadState> reads;
        std::vector<ForwardedRefusal> refusals;
    };

    Node& node(NodeId id);
    const Node& node(NodeId id) const;
    EngineConfig config_for(NodeId id) const;
    void persist(Node& n, const Ready& r);
    void record_commits(Node& n, const std::vector<Committed>& entries);

    std::string protocol_;
    std::uint64_t seed_;
    EngineConfig base_;
    std::vector<Node> nodes_;
    std::deque<InFlight> in_flight_;
    std::set<std::pair<NodeId, NodeId>> cut_;
    std::map<Index, std::string> chosen_;  // the first committed data seen at each index
    std::uint64_t restarts_ = 0;
    std::size_t bootstrap_size_ = 0;  // nodes 1..bootstrap_size_ form the bootstrap configuration
};

// A node's persisted metadata and log records, decoded with its engine's own codec
// (raft/persist.h, multipaxos/persist.h, paxos/persist.h): the metadata (a default one if none was
// written yet) and every record by index. Bytes the codec refuses throw std::logic_error, which
// fails the test: an engine must only ever persist what it can read back.
template <auto DecodeMetadata>
auto decoded_metadata(const EngineCluster& c, NodeId id) {
    using Metadata = typename decltype(DecodeMetadata(std::span<const std::uint8_t>{}, nullptr))::value_type;
    if (c.metadata(id).empty()) return Metadata{};
    std::string why;
    auto m = DecodeMetadata(c.metadata(id), &why);
    if (!m)
        throw std::logic_error("node " + std::to_string(id) + " persisted metadata it cannot decode: " + why);
    return *m;
}

template <auto DecodeRecord>
auto decoded_records(const EngineCluster& c, NodeId id) {
    using Record =
        typename decltype(DecodeRecord(Index{}, std::span<const std::uint8_t>{}, nullptr))::value_type;
    std::map<Index, Record> out;
    std::string why;
    for (const auto& [index, bytes] : c.records(id)) {
        auto r = DecodeRecord(index, bytes, &why);
        if (!r)
            throw std::logic_error("node " + std::to_string(id) + " persisted a record at index " +
                                   std::to_string(index) + " it cannot decode: " + why);
        out.emplace(index, std::move(*r));
    }
    return out;
}

}  // namespace ballot::test
