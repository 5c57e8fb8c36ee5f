#include "tests/support/snapshot_cluster.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

#include "engines/registry.h"

namespace ballot::test {

namespace {

std::string n(NodeId id) {
    return "n" + std::to_string(id);
}

}  // namespace

SnapshotCluster::SnapshotCluster(std::string protocol, int n, EngineConfig base, SeedRule seed)
    : protocol_(std::move(protocol)), base_(std::move(base)), seed_(std::move(seed)) {
    base_.members.clear();
    for (int i = 1; i <= n; ++i) base_.members.push_back(static_cast<NodeId>(i));
    nodes_.resize(static_cast<std::size_t>(n));
    for (NodeId id = 1; id <= static_cast<NodeId>(n); ++id) {
        node(id).id = id;
        node(id).engine = make(id, RecoveredState{});
    }
    collect();
}

std::unique_ptr<Engine> SnapshotCluster::make(NodeId id, RecoveredState recovered) {
    EngineConfig c = base_;
    c.id = id;
    c.seed = seed_(id, built_++);
    auto engine = make_engine(protocol_, c, std::move(recovered));
    if (!engine) throw std::invalid_argument("unknown protocol " + protocol_);
    return engine;
}

Engine& SnapshotCluster::engine(NodeId id) {
    if (!node(id).up) throw std::logic_error(n(id) + " is crashed");
    return *node(id).engine;
}

// ---------------------------------------------------------------- inputs

void SnapshotCluster::tick(NodeId id) {
    if (node(id).up) node(id).engine->tick();
    collect();
}

ProposeResult SnapshotCluster::propose(NodeId id, std::string command) {
    ProposeResult r = engine(id).propose(std::move(command));
    collect();
    return r;
}

bool SnapshotCluster::deliver(const InFlight& m) {
    if (!reachable(m.from, m.to)) return true;
    if (observe) observe(m);
    if (trace) trace(n(m.from) + " -> " + n(m.to) + " " + engine(m.to).describe(m.payload));
    bool ok = engine(m.to).step(m.from, m.payload);
    collect();
    return ok;
}

void SnapshotCluster::stabilize(const std::function<bool(const InFlight&)>& lose) {
    for (int i = 0; i < 100000 && !in_flight_.empty(); ++i) {
        InFlight m = std::move(in_flight_.front());
        in_flight_.pop_front();
        if (!lose || !lose(m)) deliver(m);
    }
}

// ---------------------------------------------------------------- time

void SnapshotCluster::tick_all() {
    for (Node& x : nodes_)
        if (x.up) x.engine->tick();
    collect();
}

void SnapshotCluster::run(int ticks) {
    for (int i = 0; i < ticks; ++i) {
        tick_all();
        stabilize();
    }
}

bool SnapshotCluster::run_until(const std::function<bool()>& done, int max_ticks) {
    for (int i = 0; i < max_ticks; ++i) {
        stabilize();
        if (done()) return true;
        tick_all();
    }
    stabilize();
    return done();
}

NodeId SnapshotCluster::elect(int max_ticks) {
    return run_until([&] { return leader() != kNoNode; }, max_ticks) ? leader() : kNoNode;
}

void SnapshotCluster::collect() {
    for (bool more = true; more;) {
        more = false;
        for (Node& x : nodes_) {
            if (!x.up || !x.engine->has_ready()) continue;
            act_on(x, x.engine->take_ready());
            more = true;
        }
    }
    for (Node& x : nodes_)
        if (x.up) x.engine->check_invariants();
}

// What the runtime does with a batch, in its order (common/engine.h).
void SnapshotCluster::act_on(Node& x, Ready r) {
    persist(x, r);  // durable at once: every message may now leave
    apply(x, r.committed);
    for (NodeId to : r.snapshot_to) start_transfer(x, to);
    for (Envelope& m : r.messages) {
        if (m.to == x.id)
            x.engine->step(x.id, m.payload);  // a node's note to itself after persisting
        else
            in_flight_.push_back(InFlight{x.id, m.to, std::move(m.payload)});
    }
}

// The log store's four operations, in its order (common/engine.h, "WHAT AN ENGINE PERSISTS").
void SnapshotCluster::persist(Node& x, const Ready& r) {
    Disk& d = x.disk;
    if (r.metadata) d.metadata = *r.metadata;
    if (r.truncate_from) d.records.erase(d.records.lower_bound(*r.truncate_from), d.records.end());
    if (r.compact_below) {
        const Index below = *r.compact_below;
        if (below < d.compacted_below)
            throw std::logic_error(n(x.id) + ": compact_below " + std::to_string(below) + " after " +
                                   std::to_string(d.compacted_below) + " (it only rises)");
        const Index snapshot = d.snapshot ? d.snapshot->meta.last_included_index : 0;
        if (below > snapshot + 1)
            throw std::logic_error(n(x.id) + ": compact_below " + std::to_string(below) +
                                   " passes the latest durable snapshot " + std::to_string(snapshot));
        d.records.erase(d.records.begin(), d.records.lower_bound(below));
        d.compacted_below = below;
        x.compactions.push_back(below);
    }
    for (const LogRecord& e : r.records) d.records[e.index] = e.bytes;
}

// The harness applies a batch as it takes it, so no entry is ever handed out and not yet applied
// when a snapshot is installed: unlike the driver (Driver::apply), it skips nothing, and an entry
// handed out at or below the state machine's index is a broken engine contract.
void SnapshotCluster::apply(Node& x, const std::vector<Committed>& committed) {
    for (const Committed& e : committed) {
        x.handed_out.push_back(e.index);
        if (e.index != applied_index(x.id) + 1)
            throw std::logic_error(n(x.id) + " handed out index " + std::to_string(e.index) + " after " +
                                   std::to_string(applied_index(x.id)));
        auto [it, fresh] = chosen_.emplace(e.index, e.data);
        if (!fresh && it->second != e.data)
            throw std::logic_error("safety violation: two values applied at index " +
                                   std::to_string(e.index));
        x.state.push_back(e);
    }
}

// ---------------------------------------------------------------- faults

void SnapshotCluster::isolate(NodeId id) {
    isolated_.insert(id);
}
void SnapshotCluster::heal() {
    isolated_.clear();
}
bool SnapshotCluster::reachable(NodeId from, NodeId to) const {
    return is_up(from) && is_up(to) && !isolated_.contains(from) && !isolated_.contains(to);
}

void SnapshotCluster::crash(NodeId id) {
    Node& x = node(id);
    x.up = false;
    x.engine.reset();
    std::erase_if(in_flight_, [&](const InFlight& m) { return m.from == id || m.to == id; });
    std::erase_if(transfers_, [&](const Transfer& t) { return t.from == id; });
}

void SnapshotCluster::restart(NodeId id) {
    Node& x = node(id);
    if (x.up) throw std::logic_error("restart: " + n(id) + " is up");
    const Disk& d = x.disk;
    RecoveredState recovered;
    recovered.metadata = d.metadata;
    for (const auto& [index, bytes] : d.records) recovered.records.push_back(LogRecord{index, bytes});
    recovered.compacted_below = d.compacted_below;
    if (d.snapshot) recovered.snapshot = d.snapshot->meta;
    x.state = d.snapshot ? d.snapshot->state : std::vector<Committed>{};  // restored from the file
    x.engine = make(id, std::move(recovered));
    x.up = true;
    collect();
}

void SnapshotCluster::put_snapshot(NodeId id, Snapshot snapshot) {
    if (is_up(id)) throw std::logic_error("put_snapshot: " + n(id) + " is up");
    node(id).disk.snapshot = std::move(snapshot);
}

// ---------------------------------------------------------------- snapshots

Index SnapshotCluster::take_snapshot(NodeId id) {
    Engine& e = engine(id);
    Node& self = node(id);
    const Index at = applied_index(id);
    const Index latest = self.disk.snapshot ? self.disk.snapshot->meta.last_included_index : 0;
    if (at <= latest) return latest;  // nothing new (Snapshotter::request makes none)
    const SnapshotMeta meta{at, e.snapshot_metadata(at)};
    self.disk.snapshot = Snapshot{meta, self.state};
    e.snapshot_made(meta);
    collect();
    return at;
}

// Mirrors Snapshotter::send_to (common/snapshotter.cc): one transfer per peer, so an ask for a peer
// still being sent to is ignored, unreported (the one in flight will be); with no snapshot to send
// the ask fails at once. Otherwise the transfer streams the latest snapshot as of now.
void SnapshotCluster::start_transfer(Node& x, NodeId to) {
    x.asked.push_back(to);
    if (transferring(x.id, to)) return;
    if (!x.disk.snapshot) {
        x.engine->snapshot_sent(to, 0, false);
        return;
    }
    transfers_.push_back(Transfer{x.id, to, *x.disk.snapshot});
}

std::vector<Transfer>::const_iterator SnapshotCluster::find_transfer(NodeId from, NodeId to) const {
    return std::find_if(transfers_.begin(), transfers_.end(),
                        [&](const Transfer& t) { return t.from == from && t.to == to; });
}

bool SnapshotCluster::transferring(NodeId from, NodeId to) const {
    return find_transfer(from, to) != transfers_.end();
}

Index SnapshotCluster::sending(NodeId from, NodeId to) const {
    auto it = find_transfer(from, to);
    return it == transfers_.end() ? 0 : it->sent.meta.last_included_index;
}

int SnapshotCluster::asks(NodeId from, NodeId to) const {
    return static_cast<int>(std::count(asked(from).begin(), asked(from).end(), to));
}

// The receiving runtime installs only a snapshot that moves its state machine forward
// (Snapshotter::on_chunk, Driver::snapshot_host_install) and reports anything else as held.
void SnapshotCluster::end_transfer(NodeId from, NodeId to, bool ok) {
    auto it = find_transfer(from, to);
    if (it == transfers_.end()) throw std::logic_error(n(from) + " is sending " + n(to) + " no snapshot");
    const Snapshot sent = it->sent;
    transfers_.erase(it);
    Node& receiver = node(to);
    ok = ok && receiver.up;
    if (ok && sent.meta.last_included_index > applied_index(to)) {
        receiver.disk.snapshot = sent;
        receiver.state = sent.state;
        receiver.engine->snapshot_installed(sent.meta);
        ++installs_;
        collect();
    }
    engine(from).snapshot_sent(to, sent.meta.last_included_index, ok);
    collect();
}

void SnapshotCluster::lose_transfer_report(NodeId from, NodeId to) {
    auto it = find_transfer(from, to);
    if (it == transfers_.end()) throw std::logic_error(n(from) + " is sending " + n(to) + " no snapshot");
    transfers_.erase(it);
}

// ---------------------------------------------------------------- observations

NodeId SnapshotCluster::leader() const {
    NodeId best = kNoNode;
    Epoch best_epoch;
    for (const Node& x : nodes_) {
        if (!x.up || isolated_.contains(x.id)) continue;
        const EngineStatus s = x.engine->status();
        if (s.role != Role::leader || (best != kNoNode && s.epoch <= best_epoch)) continue;
        best = x.id;
        best_epoch = s.epoch;
    }
    return best;
}

Index SnapshotCluster::applied_index(NodeId id) const {
    return state(id).empty() ? 0 : state(id).back().index;
}

std::vector<std::string> SnapshotCluster::applied_data(NodeId id) const {
    std::vector<std::string> out;
    for (const Committed& e : state(id))
        if (!e.data.empty()) out.push_back(e.data);
    return out;
}

}  // namespace ballot::test
