#include "tests/support/engine_cluster.h"

#include <stdexcept>
#include <string>

#include "common/ballot.h"
#include "engines/registry.h"

namespace ballot::test {

EngineCluster::EngineCluster(std::string protocol, int n, std::uint64_t seed, EngineConfig base)
    : protocol_(std::move(protocol)), seed_(seed), base_(std::move(base)) {
    bootstrap_size_ = static_cast<std::size_t>(n);
    base_.members.clear();
    for (int i = 1; i <= n; ++i) base_.members.push_back(static_cast<NodeId>(i));
    for (int i = 1; i <= n; ++i) {
        Node node;
        node.id = static_cast<NodeId>(i);
        node.engine = make_engine(protocol_, config_for(node.id), RecoveredState{});
        if (!node.engine) throw std::invalid_argument("unknown protocol " + protocol_);
        nodes_.push_back(std::move(node));
    }
}

EngineConfig EngineCluster::config_for(NodeId id) const {
    EngineConfig c = base_;
    c.id = id;
    c.seed = seed_ * 1000003 + id * 7919 + restarts_;
    c.join = id > bootstrap_size_;
    return c;
}

NodeId EngineCluster::add_joining_node() {
    Node node;
    node.id = static_cast<NodeId>(nodes_.size() + 1);
    node.engine = make_engine(protocol_, config_for(node.id), RecoveredState{});
    nodes_.push_back(std::move(node));
    return nodes_.back().id;
}

EngineCluster::Node& EngineCluster::node(NodeId id) {
    if (id < 1 || id > nodes_.size()) throw std::out_of_range("no node " + std::to_string(id));
    return nodes_[id - 1];
}
const EngineCluster::Node& EngineCluster::node(NodeId id) const {
    if (id < 1 || id > nodes_.size()) throw std::out_of_range("no node " + std::to_string(id));
    return nodes_[id - 1];
}

Engine& EngineCluster::engine(NodeId id) {
    if (!node(id).up) throw std::logic_error("node " + std::to_string(id) + " is crashed");
    return *node(id).engine;
}

void EngineCluster::tick(NodeId id) {
    if (!node(id).up) return;
    node(id).engine->tick();
    collect();
}

void EngineCluster::tick_all() {
    for (auto& n : nodes_)
        if (n.up) n.engine->tick();
    collect();
}

ProposeResult EngineCluster::propose(NodeId id, std::string command) {
    if (!node(id).up) throw std::logic_error("propose to crashed node " + std::to_string(id));
    auto r = node(id).engine->propose(std::move(command));
    collect();
    return r;
}

void EngineCluster::read(NodeId id, std::uint64_t read_id) {
    if (!node(id).up) throw std::logic_error("read on crashed node " + std::to_string(id));
    node(id).engine->read(read_id);
    collect();
}

bool EngineCluster::deliver(const InFlight& m) {
    Node& to = node(m.to);
    if (!to.up) return true;
    if (trace)
        trace("n" + std::to_string(m.from) + " -> n" + std::to_string(m.to) + " " +
              to.engine->describe(m.payload));
    bool ok = to.engine->step(m.from, m.payload);
    collect();
    return ok;
}

void EngineCluster::persist(Node& n, const Ready& r) {
    if (r.metadata) n.metadata = *r.metadata;
    if (r.truncate_from) n.records.erase(n.records.lower_bound(*r.truncate_from), n.records.end());
    for (const LogRecord& e : r.records) n.records[e.index] = e.bytes;
}

void EngineCluster::record_commits(Node& n, const std::vector<Committed>& entries) {
    for (const Committed& e : entries) {
        Index expected = n.committed.empty() ? 1 : n.committed.back().index + 1;
        if (e.index != expected)
            throw std::logic_error("n" + std::to_string(n.id) + " committed index " +
                                   std::to_string(e.index) + " but expected " + std::to_string(expected));
        auto [it, fresh] = chosen_.emplace(e.index, e.data);
        if (!fresh && it->second != e.data)
            throw std::logic_error("safety violation: two values committed at index " +
                                   std::to_string(e.index));
        n.committed.push_back(e);
    }
}

void EngineCluster::collect() {
    bool more = true;
    while (more) {
        more = false;
        for (auto& n : nodes_) {
            if (!n.up || !n.engine->has_ready()) continue;
            Ready r = n.engine->take_ready();
            persist(n, r);  // durable at once: every message may now leave
            record_commits(n, r.committed);
            n.reads.insert(n.reads.end(), r.reads.begin(), r.reads.end());
            n.refusals.insert(n.refusals.end(), r.refusals.begin(), r.refusals.end());
            for (auto& m : r.messages) {
                if (m.to == n.id) {
                    n.engine->step(n.id, m.payload);  // a node's note to itself after persisting
                    more = true;
                } else {
                    in_flight_.push_back(InFlight{n.id, m.to, std::move(m.payload)});
                }
            }
            if (n.engine->has_ready()) more = true;
        }
    }
    // Every engine's local invariants (Engine::check_invariants) after every input.
    for (auto& n : nodes_)
        if (n.up) n.engine->check_invariants();
}

std::size_t EngineCluster::stabilize(std::size_t max_messages) {
    std::size_t delivered = 0;
    while (!in_flight_.empty() && delivered < max_messages) {
        InFlight m = std::move(in_flight_.front());
        in_flight_.pop_front();
        if (!linked(m.from, m.to) || !node(m.to).up) continue;
        deliver(m);
        ++delivered;
    }
    return delivered;
}

void EngineCluster::run(int ticks) {
    for (int i = 0; i < ticks; ++i) {
        tick_all();
        stabilize();
    }
}

bool EngineCluster::run_until(const std::function<bool()>& done, int max_ticks) {
    for (int i = 0; i < max_ticks; ++i) {
        if (done()) return true;
        tick_all();
        stabilize();
    }
    return done();
}

NodeId EngineCluster::elect(int max_ticks) {
    run_until([&] { return leader() != kNoNode; }, max_ticks);
    return leader();
}

std::vector<InFlight> EngineCluster::take_if(const std::function<bool(const InFlight&)>& pred) {
    std::vector<InFlight> taken;
    std::deque<InFlight> kept;
    for (auto& m : in_flight_) {
        if (pred(m))
            taken.push_back(std::move(m));
        else
            kept.push_back(std::move(m));
    }
    in_flight_ = std::move(kept);
    return taken;
}

void EngineCluster::cut(NodeId a, NodeId b) {
    cut_.insert({a, b});
    cut_.insert({b, a});
}
void EngineCluster::cut_one_way(NodeId from, NodeId to) {
    cut_.insert({from, to});
}
void EngineCluster::isolate(NodeId id) {
    for (auto& n : nodes_)
        if (n.id != id) cut(id, n.id);
}
void EngineCluster::heal() {
    cut_.clear();
}
bool EngineCluster::linked(NodeId from, NodeId to) const {
    return !cut_.count({from, to});
}

void EngineCluster::crash(NodeId id) {
    Node& n = node(id);
    n.up = false;
    n.engine.reset();
    std::erase_if(in_flight_, [&](const InFlight& m) { return m.from == id || m.to == id; });
}

void EngineCluster::restart(NodeId id) {
    Node& n = node(id);
    ++restarts_;
    RecoveredState recovered;
    recovered.metadata = n.metadata;
    for (auto& [index, bytes] : n.records) recovered.records.push_back(LogRecord{index, bytes});
    n.engine = make_engine(protocol_, config_for(id), std::move(recovered));
    n.up = true;
    n.committed.clear();  // the state machine is rebuilt by re-applying from index 1
    n.reads.clear();
    collect();
}

bool EngineCluster::is_up(NodeId id) const {
    return node(id).up;
}

NodeId EngineCluster::leader() const {
    NodeId best = kNoNode;
    Epoch best_epoch;
    for (auto& n : nodes_) {
        if (!n.up) continue;
        EngineStatus s = n.engine->status();
        if (s.role != ballot::Role::leader) continue;
        if (best == kNoNode || s.epoch > best_epoch) {
            best = n.id;
            best_epoch = s.epoch;
        }
    }
    return best;
}

const std::vector<Committed>& EngineCluster::committed(NodeId id) const {
    return node(id).committed;
}

std::vector<std::string> EngineCluster::committed_data(NodeId id) const {
    std::vector<std::string> out;
    for (auto& e : node(id).committed)
        if (!e.data.empty()) out.push_back(e.data);
    return out;
}

const std::vector<ReadState>& EngineCluster::reads(NodeId id) const {
    return node(id).reads;
}
const std::vector<ForwardedRefusal>& EngineCluster::refusals(NodeId id) const {
    return node(id).refusals;
}
const Bytes& EngineCluster::metadata(NodeId id) const {
    return node(id).metadata;
}
const std::map<Index, Bytes>& EngineCluster::records(NodeId id) const {
    return node(id).records;
}
void EngineCluster::overwrite_record(NodeId id, Index index, Bytes bytes) {
    if (is_up(id)) throw std::logic_error("overwrite_record: node " + std::to_string(id) + " is up");
    node(id).records[index] = std::move(bytes);
}

}  // namespace ballot::test
