// Raft's safety properties (Figure 3 of the paper), checked on what the simulator can observe:
// every node's status() after every event, every batch it writes, and its durable log.
//
//  - Election Safety: at most one leader per term (§5.2), over the whole run.
//  - Log Matching: if two logs contain an entry with the same index and term, the logs are
//    identical in all entries up through that index (§5.3). Checked incrementally: every
//    (index, term) ever made durable anywhere must always carry the same command and follow an
//    entry of the same term; by induction on the index, that is the property. An entry whose
//    predecessor a node has compacted away (below its durable compaction point, §7) is checked
//    for its command only, there; a log with a hole above its compaction point is a violation.
//  - Leader Completeness: an entry committed in a term is in the log of every leader of every
//    later term (§5.4). We see commitment as "applied somewhere"; the term it was committed in is
//    at most the highest term any node had reached then, so every leader of a term above that
//    must hold the entry, with its term, in its log (durable or written-not-yet-durable: the
//    engine's in-memory log is exactly what it has handed to its disk), unless it has compacted
//    it away.
//  - Persistent state (Figure 2): currentTerm never decreases, a vote once cast is never changed
//    within its term, and no durable entry has a term above the durable currentTerm (the term is
//    persisted no later than the entries that depend on it).
#include <optional>
#include <set>

#include "raft/persist.h"
#include "tests/sim/invariants.h"

namespace ballot::sim {

namespace {

std::string n(NodeId id) {
    return "node " + std::to_string(id);
}

// The disk holds Raft's own bytes (raft/persist.h). Records that do not decode are reported by
// on_write; here they read as absent.
raft::HardState hard_state_of(const DiskState& d) {
    if (d.metadata.empty()) return {};
    return raft::decode_metadata(d.metadata).value_or(raft::HardState{});
}

std::optional<raft::Entry> entry_at(const DiskState& d, Index i) {
    auto it = d.records.find(i);
    if (it == d.records.end()) return std::nullopt;
    return raft::decode_record(i, it->second);
}

class RaftInvariants final : public EngineInvariants {
public:
    void on_write(NodeId node, const DiskState& before, const Ready& batch, Violations& v) override {
        std::string why;
        for (const LogRecord& r : batch.records)
            if (!raft::decode_record(r.index, r.bytes, &why))
                v.add(n(node) + " wrote log record " + std::to_string(r.index) +
                      " that does not decode: " + why);
        if (!batch.metadata) return;
        const raft::HardState old = hard_state_of(before);
        const auto decoded = raft::decode_metadata(*batch.metadata, &why);
        if (!decoded) {
            v.add(n(node) + " wrote metadata that does not decode: " + why);
            return;
        }
        const raft::HardState& now = *decoded;
        if (now.term < old.term)
            v.add(n(node) + " wrote currentTerm " + std::to_string(now.term) + " after " +
                  std::to_string(old.term));
        if (now.term == old.term && old.vote != kNoNode && now.vote != old.vote)
            v.add(n(node) + " changed its vote in term " + std::to_string(now.term) + " from " +
                  std::to_string(old.vote) + " to " + std::to_string(now.vote));
    }

    void on_durable(NodeId node, const std::vector<DiskRecord>& applied, const DiskState& durable,
                    Violations& v) override {
        const std::uint64_t current_term = hard_state_of(durable).term;
        max_term_ = std::max(max_term_, current_term);
        for (const DiskRecord& r : applied) {
            if (r.kind != DiskRecord::Kind::record) continue;
            const Index i = r.record.index;
            check_link(node, durable, i, v);
            check_link(node, durable, i + 1, v);
            auto e = raft::decode_record(i, r.record.bytes);
            if (e && e->term > current_term)
                v.add(n(node) + " has durable entry " + std::to_string(i) + " of term " +
                      std::to_string(e->term) + " but durable currentTerm " + std::to_string(current_term));
        }
    }

    void on_apply(NodeId node, Index index, const std::string& data, bool first, const NodeView& view,
                  Violations& v) override {
        auto e = entry_at(*view.durable, index);
        if (!e) {
            v.add(n(node) + " applied index " + std::to_string(index) + " which is not in its durable log");
            return;
        }
        const std::uint64_t term = e->term;
        if (first) {
            committed_.push_back(Committed{term, data, std::max(max_term_, term)});
        } else if (committed_.at(index - 1).term != term) {
            v.add(n(node) + " applied index " + std::to_string(index) + " with term " + std::to_string(term) +
                  "; it was committed with term " + std::to_string(committed_[index - 1].term));
        }
    }

    void after_step(const ClusterView& view, Violations& v) override {
        for (const NodeView& node : view.nodes) {
            max_term_ = std::max(max_term_, hard_state_of(*node.durable).term);
            if (!node.status) continue;
            const std::uint64_t term = node.status->epoch.round;
            max_term_ = std::max(max_term_, term);
            if (node.status->role != Role::leader) continue;
            auto [it, fresh] = leaders_.emplace(term, node.id);
            if (!fresh && it->second != node.id)
                v.add("election safety: " + n(it->second) + " and " + n(node.id) +
                      " were both leader in term " + std::to_string(term));
            if (verified_.insert({node.id, term}).second) check_leader_completeness(node, term, v);
        }
    }

private:
    struct Committed {
        std::uint64_t term = 0;
        std::string data;
        std::uint64_t highest_term_then = 0;  // a bound on the term it was committed in
    };
    struct Fact {
        std::string data;
        // Term of the entry before it (0 at index 1); unknown while every node that held this
        // entry had compacted the one before it away (it is in a snapshot, §7).
        std::optional<std::uint64_t> prev_term;
        NodeId seen_on = kNoNode;
    };

    // The entry at `i` in `node`'s durable log (if any) against every other (i, term) seen.
    void check_link(NodeId node, const DiskState& durable, Index i, Violations& v) {
        auto found = entry_at(durable, i);
        if (!found) return;
        std::optional<std::uint64_t> prev_term = 0;
        if (i > 1) {
            auto prev = entry_at(durable, i - 1);
            if (prev) {
                prev_term = prev->term;
            } else if (i - 1 < durable.compacted_below) {
                prev_term.reset();  // compacted away, not lost
            } else {
                v.add(n(node) + "'s durable log has entry " + std::to_string(i) + " but no entry " +
                      std::to_string(i - 1));
                return;
            }
        }
        const raft::Entry& e = *found;
        auto [fact, fresh] = facts_.try_emplace({i, e.term}, Fact{e.data, prev_term, node});
        if (fresh) return;
        if (!fact->second.prev_term && prev_term) fact->second.prev_term = prev_term;  // learnt it
        if (fact->second.data != e.data)
            v.add("log matching: entry (index " + std::to_string(i) + ", term " + std::to_string(e.term) +
                  ") is " + describe_command(e.data) + " on " + n(node) + " but " +
                  describe_command(fact->second.data) + " on " + n(fact->second.seen_on));
        else if (prev_term && fact->second.prev_term != prev_term)
            v.add("log matching: entry (index " + std::to_string(i) + ", term " + std::to_string(e.term) +
                  ") follows an entry of term " + std::to_string(*prev_term) + " on " + n(node) +
                  " but of term " + std::to_string(*fact->second.prev_term) + " on " +
                  n(fact->second.seen_on));
    }

    void check_leader_completeness(const NodeView& leader, std::uint64_t term, Violations& v) {
        for (std::size_t k = 0; k < committed_.size(); ++k) {
            const Committed& c = committed_[k];
            if (c.highest_term_then >= term) continue;
            const Index index = k + 1;
            // Compacted away: the leader's snapshot holds it (§7), which the replicas-agree check
            // and the applied log cover, not the log.
            if (index < leader.written->compacted_below) continue;
            auto held = entry_at(*leader.written, index);
            if (!held || held->term != c.term || held->data != c.data) {
                v.add("leader completeness: " + n(leader.id) + " is leader of term " + std::to_string(term) +
                      " but its log lacks committed entry " + std::to_string(index) + " (term " +
                      std::to_string(c.term) + ", " + describe_command(c.data) + ", committed by term " +
                      std::to_string(c.highest_term_then) + ")" +
                      (!held ? std::string(": no entry there")
                             : ": it holds term " + std::to_string(held->term)));
                return;
            }
        }
    }

    std::map<std::uint64_t, NodeId> leaders_;
    std::set<std::pair<NodeId, std::uint64_t>> verified_;
    std::map<std::pair<Index, std::uint64_t>, Fact> facts_;
    std::vector<Committed> committed_;  // committed_[i - 1] describes index i
    std::uint64_t max_term_ = 0;
};

}  // namespace

std::unique_ptr<EngineInvariants> make_raft_invariants() {
    return std::make_unique<RaftInvariants>();
}

}  // namespace ballot::sim
