// The bulk-lane frames that carry a snapshot file from one node to another (the runtime's part of
// Raft's InstallSnapshot RPC, Figure 13, and of the Paxos engines' snapshot catch-up; the engines
// only decide who needs one). Engine-independent: the receiver learns the engine's metadata from
// the first chunk and hands it back to its own engine after the install.
//
//   SnapshotChunk  sender -> receiver: bytes [offset, offset + data) of the payload of snapshot
//                  `index`; the first chunk (offset 0) carries the snapshot's meta, the last one
//                  has `last` set. `transfer` names one attempt: a new attempt starts at offset 0.
//   SnapshotAck    receiver -> sender: `received` payload bytes are written (so the sender may
//                  send more: a window of chunks), or the transfer is over: `done` (the receiver
//                  durably holds this snapshot or a later state) or `restart` (it lost track:
//                  a chunk out of order, an unknown transfer, a failed write; the sender gives up
//                  and its engine asks again).
//
// Encoding (common/codec.h, little-endian): u8 kind (1 chunk, 2 ack), then
//   chunk  u64 transfer  u64 index  u64 offset  u8 last  u32 meta length + meta  u32 length + data
//   ack    u64 transfer  u64 index  u64 received  u8 status (0 more, 1 done, 2 restart)
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>

#include "common/types.h"

namespace ballot {


struct SnapshotChunkFrame {
    std::uint64_t transfer = 0;
    Index index = 0;
    std::uint64_t offset = 0;
    bool last = false;
    Bytes engine_metadata;  // offset 0 only
    std::string data;
};

struct SnapshotAckFrame {
    enum class Status : std::uint8_t { more = 0, done = 1, restart = 2 };
    std::uint64_t transfer = 0;
    Index index = 0;
    std::uint64_t received = 0;
    Status status = Status::more;
};

using SnapshotFrame = std::variant<SnapshotChunkFrame, SnapshotAckFrame>;

// Bounds a hostile or broken peer cannot exceed.
inline constexpr std::size_t kMaxSnapshotChunkBytes = 8u << 20;

Bytes encode_snapshot_frame(const SnapshotFrame& frame);
// std::nullopt (with the reason in *error) for anything malformed: unknown kind, truncation,
// trailing bytes, a chunk over kMaxSnapshotChunkBytes, meta on a chunk after the first, index 0.
std::optional<SnapshotFrame> decode_snapshot_frame(std::span<const std::uint8_t> payload,
                                                   std::string* error = nullptr);
// One line for --trace: "SnapshotChunk index=812 offset=262144 bytes=262144 last=0".
std::string describe_snapshot_frame(const SnapshotFrame& frame);

}  // namespace ballot
