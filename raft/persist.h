// What Raft persists, and its codec (common/engine.h: the engine owns its durable bytes).
//
// Figure 2, "Persistent state on all servers": currentTerm, votedFor and log[]. Raft's metadata
// record holds the first two, plus a commit hint; each log record holds one entry.
//
//     metadata    u64 currentTerm | u64 votedFor (0: none) | u64 commit hint
//     log record  u64 term (>= 1) | u32 length + command      (the index is the store's key)
//
// With every snapshot of the state machine the runtime keeps the bytes Raft asks for
// (SnapshotMeta::engine_metadata): the last included term of extended paper §7 ("the last
// included index is the index of the last entry in the log that the snapshot replaces ... the
// last included term is the term of this entry"); the index is the snapshot's own.
//
//     snapshot    u64 last included term (0 only for a snapshot through index 0)
//                 | configuration as of the last included index (common/configuration.h; absent in
//                   snapshots written before membership change existed: the bootstrap one applies)
//
// Every decoder is bounds-checked and validating (common/codec.h); bytes that do not decode are
// corruption, which the log store reports at their file and offset.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/engine.h"
#include "common/persisted_format.h"
#include "common/types.h"

namespace ballot::raft {

// One log entry (Figure 2, "log[]"): the term a leader created it in and its command (an encoded
// Command, common/command.h; empty: the no-op a new leader appends, §8).
struct Entry {
    Index index = 0;
    std::uint64_t term = 0;
    std::string data;

    friend bool operator==(const Entry&, const Entry&) = default;
};

// Raft's metadata record.
struct HardState {
    std::uint64_t term = 0;  // currentTerm
    NodeId vote = kNoNode;   // votedFor in `term`
    Index commit = 0;        // a hint only: the highest index known committed when written

    friend bool operator==(const HardState&, const HardState&) = default;
};

Bytes encode_metadata(const HardState& hs);
// std::nullopt (and `why`, if given) if the bytes are not a metadata record this code writes.
std::optional<HardState> decode_metadata(std::span<const std::uint8_t> bytes, std::string* why = nullptr);

LogRecord encode_record(const Entry& e);
std::optional<Entry> decode_record(Index index, std::span<const std::uint8_t> bytes,
                                   std::string* why = nullptr);

struct SnapshotInfo {
    std::uint64_t last_included_term = 0;
    std::optional<Configuration> config;  // the configuration as of the last included index
};
Bytes encode_snapshot_metadata(std::uint64_t last_included_term, const Configuration& config);
// What `meta` says; std::nullopt (and `why`, if given) if its engine bytes are not what
// encode_snapshot_metadata writes or do not fit its index.
std::optional<SnapshotInfo> decode_snapshot_metadata(const SnapshotMeta& meta, std::string* why = nullptr);

// What the store recovered, decoded (common/persisted_format.h: decode_recovered, and
// persisted_codec for the checks the log store runs on every record it replays).
using Recovered = ballot::Recovered<HardState, Entry>;

}  // namespace ballot::raft
