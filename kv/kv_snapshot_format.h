// The KV snapshot's format versions (the layout is documented at KvStore::snapshot()): shared by
// the encoder (kv_store.cc) and the decoder (kv_snapshot_decoder.cc).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ballot::kv {

// Version 2 adds each key's deadline and lease and the time section, version 3 the locks; versions 1
// and 2 still load.
inline constexpr std::uint8_t kSnapshotV1 = 1;
inline constexpr std::uint8_t kSnapshotV2 = 2;
inline constexpr std::uint8_t kSnapshotVersion = 3;
// The header before the keys: u8 version, u64 applied index, u32 key count.
inline constexpr std::size_t kSnapshotHeaderBytes = 1 + 8 + 4;

}  // namespace ballot::kv
