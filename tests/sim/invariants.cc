#include "tests/sim/invariants.h"

#include "common/command.h"
#include "kv/kv_commands.h"

namespace ballot::sim {

std::unique_ptr<EngineInvariants> make_engine_invariants(const std::string& engine) {
    // One line per engine with a checker of its own.
    static const std::map<std::string, std::unique_ptr<EngineInvariants> (*)()> checkers = {
        {"raft", make_raft_invariants},
        {"multipaxos", make_multipaxos_invariants},
        {"paxos", make_paxos_invariants},
    };
    auto it = checkers.find(engine);
    return it == checkers.end() ? nullptr : it->second();
}

std::string describe_command(const std::string& data) {
    if (data.empty()) return "no-op";
    auto command = decode_command(data);
    if (!command) return "undecodable entry (" + std::to_string(data.size()) + " bytes)";
    std::string out;
    if (auto kv = kv::decode_payload(command->payload)) {
        out = std::string(kv::spec_of(kv->op).name);
        for (const std::string& a : kv->args) out += " " + a;
    } else {
        out = "undecodable payload (" + std::to_string(command->payload.size()) + " bytes)";
    }
    return out + " (client " + std::to_string(command->client_id) + " seq " + std::to_string(command->seq) +
           ")";
}

Index AppliedLog::applied(NodeId node) const {
    auto it = applied_.find(node);
    return it == applied_.end() ? 0 : it->second;
}

void AppliedLog::record(NodeId node, Index index, const std::string& data, Violations& v) {
    Index& last = applied_[node];
    if (index != last + 1) {
        v.add("node " + std::to_string(node) + " applied index " + std::to_string(index) + " right after " +
              std::to_string(last));
        return;
    }
    last = index;
    bool first = index > chosen_.size();
    if (first) {
        chosen_.push_back(data);
    } else if (chosen_[index - 1] != data) {
        v.add("two values chosen at index " + std::to_string(index) + ": node " + std::to_string(node) +
              " applied " + describe_command(data) + ", but " + describe_command(chosen_[index - 1]) +
              " was applied there before");
    }
    if (on_new) on_new(node, index, data, first);
}

void AppliedLog::on_apply(NodeId node, Index index, const std::string& data, Violations& v) {
    // Indices skipped since the last report were no-ops.
    Index last = applied(node);
    if (index <= last) {
        v.add("node " + std::to_string(node) + " applied index " + std::to_string(index) +
              " again (it had applied " + std::to_string(last) + ") without restarting");
        return;
    }
    for (Index i = last + 1; i < index; ++i) record(node, i, std::string(), v);
    record(node, index, data, v);
}

void AppliedLog::applied_through(NodeId node, Index applied_index, Violations& v) {
    for (Index i = applied(node) + 1; i <= applied_index; ++i) record(node, i, std::string(), v);
}

void AppliedLog::restart(NodeId node) {
    applied_[node] = 0;
}

void AppliedLog::restored(NodeId node, Index index, Violations& v) {
    Index& last = applied_[node];
    if (index < last) {
        v.add("node " + std::to_string(node) + " restored a snapshot at index " + std::to_string(index) +
              " after applying " + std::to_string(last) + ": its state went backwards");
        return;
    }
    if (index > chosen_.size()) {
        v.add("node " + std::to_string(node) + " restored a snapshot at index " + std::to_string(index) +
              " but no node ever applied past " + std::to_string(chosen_.size()));
        return;
    }
    last = index;
}

}  // namespace ballot::sim
