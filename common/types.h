// Basic vocabulary shared by every layer: node ids, log positions, log entries and
// the small hard state every engine persists.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ballot {

// A cluster member. Ids are small positive integers chosen by the operator (--node HOST:PORT:ID);
// 0 means "none / unknown" everywhere.
using NodeId = std::uint64_t;
inline constexpr NodeId kNoNode = 0;

// A position in the replicated log (Raft: index; Paxos engines: slot). The first position is 1;
// 0 means "before the log".
using Index = std::uint64_t;

using Bytes = std::vector<std::uint8_t>;

// One persisted log position.
//  - Raft: a log entry; `term` is the term it was created in.
//  - Multi-Paxos / basic Paxos: the value an acceptor accepted for a slot; `term` is the packed
//    ballot it was accepted in (see common/ballot.h). Basic Paxos also keeps the slot's promise
//    in `promise`.
// `data` is an encoded Command (common/command.h); empty data is a no-op.
struct Entry {
    Index index = 0;
    std::uint64_t term = 0;
    std::uint64_t promise = 0;  // basic Paxos only: the slot's promised ballot (packed)
    std::string data;

    friend bool operator==(const Entry&, const Entry&) = default;
};

// State an engine must find again after a crash, written before anything that depends on it
// leaves the node.
//  - Raft: currentTerm and votedFor (Figure 2, "Persistent state on all servers").
//  - Multi-Paxos: `term` is the acceptor's promised ballot (packed).
//  - Basic Paxos: `term` is the highest proposal round this node has used as a proposer, so a
//    restarted proposer never reuses a ballot number.
// `commit` is a hint only: the highest index known chosen when it was written.
struct HardState {
    std::uint64_t term = 0;
    NodeId vote = kNoNode;
    Index commit = 0;

    friend bool operator==(const HardState&, const HardState&) = default;
};

}  // namespace ballot
