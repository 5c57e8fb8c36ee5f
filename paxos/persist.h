// What basic Paxos persists, and its codec (common/engine.h: the engine owns its durable bytes).
//
// PMS §2.2: an acceptor "must remember this information even if it fails and then restarts": per
// slot, its promise and the proposal it accepted. And a proposer must never reuse a proposal
// number, so the highest round it has put in a Prepare is durable before that Prepare leaves.
//
//     metadata    u64 highest proposer round | u64 commit hint [| u64 trim point]
//                 (the trim point only once this node has compacted: README "Snapshots and
//                 compaction"; without it the record is byte for byte what it was before)
//     log record  u64 promised ballot | u64 accepted ballot (0: none) | u32 length + value
//                 [| u8 1 | or | u8 2 | u32 length + chosen value]
//                 (packed ballots, common/ballot.h; the slot is the store's key). The optional
//                 tail is the learner's: the slot is known chosen, with the accepted value (1)
//                 or with another one (2: this acceptor missed the deciding ballot). Without it
//                 the record is byte for byte what it was before chosen values were kept.
//
// With every snapshot of the state machine through X the runtime keeps the configuration history
// still relevant at and after X (README "Membership change"): the step governing X + 1 and every
// later step chosen at or below X (configurations.h).
//
//     snapshot    empty (written before membership change: the bootstrap configuration rules)
//                 | u8 version (1) | u32 count | count x (u64 first slot governed | u64 slot
//                   chosen in (0: bootstrap) | u32 length + configuration, common/configuration.h)
//
// Every decoder is bounds-checked and validating (common/codec.h); bytes that do not decode are
// corruption, which the log store reports at their file and offset.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/ballot.h"
#include "common/engine.h"
#include "common/persisted_format.h"
#include "common/types.h"
#include "paxos/configurations.h"

namespace ballot::paxos {

// One slot's acceptor state.
struct SlotRecord {
    Index slot = 0;
    Ballot promised;
    Ballot accepted;  // zero: nothing accepted
    std::string value;
    // The learner's, not the acceptor's: the value chosen in this slot, once this node knows it,
    // kept so that a restart does not relearn it (README "Restart: relearning").
    std::optional<std::string> chosen;

    friend bool operator==(const SlotRecord&, const SlotRecord&) = default;
};

// Basic Paxos's metadata record.
struct Metadata {
    std::uint64_t round = 0;  // the highest round this node has put in a Prepare
    Index commit = 0;         // a hint only: the contiguous chosen prefix when written
    // Every slot at or below is chosen, covered by a durable snapshot, and its acceptor state is
    // deleted (compact_below = trim + 1). Written before the compaction it allows, so an acceptor
    // never forgets that it forgot (README "Snapshots and compaction", the safety argument).
    Index trim = 0;

    friend bool operator==(const Metadata&, const Metadata&) = default;
};

Bytes encode_metadata(const Metadata& m);
// std::nullopt (and `why`, if given) if the bytes are not a metadata record this code writes.
std::optional<Metadata> decode_metadata(std::span<const std::uint8_t> bytes, std::string* why = nullptr);

LogRecord encode_record(const SlotRecord& s);
std::optional<SlotRecord> decode_record(Index slot, std::span<const std::uint8_t> bytes,
                                        std::string* why = nullptr);

inline constexpr std::uint8_t kSnapshotMetadataVersion = 1;
Bytes encode_snapshot_metadata(const std::vector<ConfigStep>& steps);
// The steps, oldest first (none: metadata written before membership change); std::nullopt (and
// `why`, if given) if the bytes are not what encode_snapshot_metadata writes.
std::optional<std::vector<ConfigStep>> decode_snapshot_metadata(std::span<const std::uint8_t> bytes,
                                                                std::string* why = nullptr);

// What the store recovered, decoded (common/persisted_format.h: decode_recovered): empty metadata
// is a fresh node; `records` are the acceptor's slots, ascending by slot.
using Recovered = ballot::Recovered<Metadata, SlotRecord>;

}  // namespace ballot::paxos
