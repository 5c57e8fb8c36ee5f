// Basic vocabulary shared by every layer: node ids, log positions, the opaque records an engine
// persists and the committed commands it hands to the state machine.
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

// No log gets near this position, nor any cluster near this term or round (at a million a second,
// 146,000 years). A peer frame naming a larger one is malformed (Reader::index, Reader::term), so
// the engines' arithmetic on them (+1, +alpha, +n) can never wrap around.
inline constexpr Index kMaxIndex = Index{1} << 62;
inline constexpr std::uint64_t kMaxTerm = std::uint64_t{1} << 62;

using Bytes = std::vector<std::uint8_t>;

// One engine-encoded record of the durable log, at position `index` (>= 1). The log store keeps
// the bytes without looking inside them; only the engine that wrote them can decode them (Raft:
// {term, command}; Multi-Paxos: {accepted ballot, value}; basic Paxos: {promise, accepted
// ballot, value} of a slot). See common/engine.h for the contract.
struct LogRecord {
    Index index = 0;
    Bytes bytes;

    friend bool operator==(const LogRecord&, const LogRecord&) = default;
};

// A command the engine knows is chosen at `index`, for the state machine to apply. `data` is an
// encoded Command (common/command.h); empty data is a no-op.
struct Committed {
    Index index = 0;
    std::string data;

    friend bool operator==(const Committed&, const Committed&) = default;
};

// A durable snapshot of the state machine: everything chosen through `last_included_index`,
// applied. The runtime owns the bytes (common/snapshot_file.h); engines see only this.
struct SnapshotMeta {
    Index last_included_index = 0;
    // Opaque bytes the engine asked to keep with the snapshot (Engine::snapshot_metadata): Raft's
    // last included term; later, a configuration.
    Bytes engine_metadata;

    friend bool operator==(const SnapshotMeta&, const SnapshotMeta&) = default;
};

}  // namespace ballot
