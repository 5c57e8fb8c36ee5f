// What Multi-Paxos persists, and its codec (common/engine.h: the engine owns its durable bytes).
//
// PMS §2.2: an acceptor "must remember this information even if it fails and then restarts": its
// promise, and per slot the value it accepted with the ballot it accepted it in. The metadata
// record holds the promise and a commit hint; each log record holds one slot's accepted value.
//
//     metadata    u64 promised ballot (packed, common/ballot.h) | u64 commit hint
//     log record  u64 accepted ballot (packed, node != 0) | u32 length + value   (the slot is the key)
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

namespace ballot::multipaxos {

// A value accepted for a slot, with the ballot it was accepted in (packed). Kept by the
// acceptor, reported in Promise and carried by Chosen (messages.h), and persisted per slot.
struct Entry {
    Index index = 0;           // the slot
    std::uint64_t ballot = 0;  // Ballot::packed()
    std::string data;          // an encoded Command; empty: a no-op that fills a gap

    friend bool operator==(const Entry&, const Entry&) = default;
};

// Multi-Paxos's metadata record.
struct Metadata {
    Ballot promised;   // the acceptor's promise, for every slot (PMS §3)
    Index commit = 0;  // a hint: every slot up to it is chosen and its value is on disk

    friend bool operator==(const Metadata&, const Metadata&) = default;
};

Bytes encode_metadata(const Metadata& m);
// std::nullopt (and `why`, if given) if the bytes are not a metadata record this code writes.
std::optional<Metadata> decode_metadata(std::span<const std::uint8_t> bytes, std::string* why = nullptr);

LogRecord encode_record(const Entry& e);
std::optional<Entry> decode_record(Index slot, std::span<const std::uint8_t> bytes,
                                   std::string* why = nullptr);

// What the store recovered, decoded (common/persisted_format.h): empty metadata is a fresh node;
// records ascending by slot. decode_recovered() throws std::invalid_argument naming the first
// record that does not decode.
using Recovered = ballot::Recovered<Metadata, Entry>;
Recovered decode_recovered(const RecoveredState& recovered);

// The checks the log store runs on every record it replays (EngineTraits::codec).
PersistedCodec persisted_codec();

}  // namespace ballot::multipaxos
