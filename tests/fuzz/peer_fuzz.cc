// libFuzzer target: hostile peer frames against every engine. The first byte picks the engine
// and the sender; the rest is the payload handed to step(). A malformed payload must be rejected
// (step returns false) without crashing; a well-formed one may change state, and whatever the
// engine does next (take_ready, status, describe) must not crash either, and must not break the
// engine's local invariants: a peer can never make a node fail-stop (check_invariants() and the
// engines' BALLOT_ASSERTs throw ballot::InvariantViolation, which the fuzzer reports as a crash).
//
// Twice: first to a lone engine just started (a follower, or a proposer with nothing chosen), then
// inside a running 3-node cluster, after up to 42 ticks of elections and writes (how many, the
// first byte says too), so the frame also meets leaders, candidates, logs with entries and
// commit points, and the cluster runs on for 24 ticks after it.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/engine.h"
#include "engines/registry.h"

namespace {

using namespace ballot;

// Three honest engines and a perfect network: every message is delivered, every batch durable at
// once. Only the nodes' own rules are checked: committed entries in order without gaps (the
// runtime refuses anything else, and stops), and each engine's invariants. Agreement between
// nodes is not: a forged frame may well make one node commit what the others never proposed.
class HonestCluster {
public:
    HonestCluster(const std::string& protocol, std::uint64_t seed) {
        for (NodeId id = 1; id <= 3; ++id) {
            EngineConfig config;
            config.id = id;
            config.members = {1, 2, 3};
            config.election_timeout_min_ticks = 4;
            config.election_timeout_max_ticks = 8;
            config.heartbeat_ticks = 2;
            config.seed = seed * 7 + id;
            nodes_.push_back(Node{make_engine(protocol, config, RecoveredState{}), 0});
        }
        settle();
    }

    Engine& engine(NodeId id) { return *nodes_.at(id - 1).engine; }

    void tick_all() {
        for (auto& n : nodes_) n.engine->tick();
        settle();
    }
    void propose_everywhere(const std::string& command) {
        for (auto& n : nodes_) n.engine->propose(command);
        settle();
    }
    void deliver(NodeId from, NodeId to, std::span<const std::uint8_t> payload) {
        engine(to).step(from, payload);
        settle();
    }

    // The run's budget of delivered payload bytes is spent: the input is done. The bound is the
    // fuzzer's, not a protocol's: a forged but well-formed fact (a basic Paxos Learn in slot 2^56,
    // say) sets honest nodes filling every slot below it with no-ops, which never ends. A peer that
    // lies is outside the crash-fault model; this target asks only that it cannot make a node
    // fail-stop.
    bool spent() const { return delivered_bytes_ >= kBudgetBytes; }

private:
    struct Node {
        std::unique_ptr<Engine> engine;
        Index committed = 0;
    };

    // Takes every ready batch and delivers what it sends, until the cluster is quiet or the
    // budget is spent.
    void settle() {
        for (;;) {
            bool any = false;
            for (NodeId id = 1; id <= 3; ++id) {
                Node& n = nodes_[id - 1];
                if (!n.engine->has_ready()) continue;
                any = true;
                Ready r = n.engine->take_ready();
                for (const Committed& e : r.committed) {
                    if (e.index != n.committed + 1) __builtin_trap();  // a gap, or out of order
                    n.committed = e.index;
                }
                // No snapshot is ever made here: a transfer asked for fails at once, as the
                // runtime's does without one.
                for (NodeId to : r.snapshot_to) n.engine->snapshot_sent(to, 0, false);
                for (Envelope& m : r.messages) queue_.push_back({id, m.to, std::move(m.payload)});
            }
            if ((queue_.empty() && !any) || spent()) break;
            while (!queue_.empty() && !spent()) {
                Message m = std::move(queue_.front());
                queue_.pop_front();
                delivered_bytes_ += m.payload.size();
                if (m.to >= 1 && m.to <= 3) engine(m.to).step(m.from, m.payload);
            }
        }
        for (auto& n : nodes_) n.engine->check_invariants();
    }

    // 8x what an honest run delivers at most (about 14 KiB: raft, 40 warm-up ticks).
    static constexpr std::size_t kBudgetBytes = 128 << 10;
    std::size_t delivered_bytes_ = 0;
    struct Message {
        NodeId from;
        NodeId to;
        Bytes payload;
    };
    std::vector<Node> nodes_;
    std::deque<Message> queue_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ballot;
    if (size < 1) return 0;
    const auto& names = engine_names();
    const std::string& protocol = names[data[0] % names.size()];
    // 4 is not a member: refused, but for what any node may tell (basic Paxos: chosen values).
    NodeId from = 1 + (data[0] / names.size()) % 4;
    EngineConfig config;
    config.id = 1;
    config.members = {1, 2, 3};
    config.election_timeout_min_ticks = 2;
    config.election_timeout_max_ticks = 4;
    config.heartbeat_ticks = 1;
    auto engine = make_engine(protocol, config, RecoveredState{});
    std::span<const std::uint8_t> payload(data + 1, size - 1);
    EngineStatus before = engine->status();
    bool accepted = engine->step(from, payload);
    if (!accepted) {
        EngineStatus after = engine->status();
        // A refused message changes no state.
        if (after.role != before.role || after.epoch != before.epoch || after.leader != before.leader ||
            after.commit_index != before.commit_index || after.log_last_index != before.log_last_index)
            __builtin_trap();
    }
    engine->check_invariants();
    (void)engine->describe(payload);
    for (int i = 0; i < 8; ++i) {
        engine->tick();
        Ready r = engine->take_ready();
        for (auto& m : r.messages) (void)engine->describe(m.payload);
        engine->check_invariants();
    }
    engine->step(from, payload);
    (void)engine->take_ready();
    engine->check_invariants();

    HonestCluster cluster(protocol, data[0]);
    const int warm_ticks = 2 * (data[0] / 12);  // 0-42
    for (int t = 0; t < warm_ticks && !cluster.spent(); ++t) {
        cluster.tick_all();
        if (t % 4 == 3) cluster.propose_everywhere("w" + std::to_string(t));
    }
    cluster.deliver(from, 1, payload);
    for (int t = 0; t < 24 && !cluster.spent(); ++t) {
        cluster.tick_all();
        if (t == 12) cluster.deliver(from, 1, payload);  // and once more, later
    }
    return 0;
}
