// Snapshot files: where a node keeps the state machine snapshots it made or received (SPEC
// "Snapshots and log compaction"). Engine-independent: the engine's own needs (Raft's last
// included term, a Paxos configuration) travel as an opaque metadata blob.
//
// Layout of `<dir>/snapshot-<index>` (integers little-endian, common/codec.h):
//   header   "BALLOTSN"  u32 format version  u64 last included index
//            u32 metadata length, metadata bytes (at most kMaxSnapshotMetadata)
//            u32 CRC32C of the header bytes before it
//   payload  the state machine's snapshot bytes (StateMachine::snapshot_chunk), any length
//   footer   "BALLOTSE"  u64 payload length  u32 CRC32C of the payload  u32 CRC32C of the footer
//            bytes before it
// The payload length and checksum are in a footer, not the header, because a snapshot is written
// as the state machine produces it (chunk by chunk, its length unknown until the end) and files
// are only ever appended to. A file is valid only if both checksums hold and its size is exactly
// header + payload + footer: a torn or truncated file, or one with a flipped bit, is refused.
//
// Making one durably (SnapshotWriter): write `snapshot-<index>.tmp` chunk by chunk, fsync it,
// rename it to `snapshot-<index>`, fsync the directory, then delete all but the two newest
// snapshots. A crash at any step leaves either the previous snapshots intact (a `.tmp` is never
// taken for a snapshot) or the new one complete. At startup, scan_snapshots() checks every file
// and names each one it refuses; the caller picks the newest valid snapshot, and decides from the
// refused ones' indexes whether the log it still has covers the gap (SPEC: a corrupt snapshot is
// refused, file named, unless an older valid snapshot plus the log still cover it).
//
// Why not common/storage.h: Storage carries the engine's log batches (Ready) and nothing else;
// snapshots are whole files with their own life cycle. Instead the few file operations needed
// are the SnapshotDir interface below, with a POSIX implementation; the simulator can give its
// own that loses what was not fsync'ed, tears writes and fails calls (tests/snapshot_file_test.cc
// has such an in-memory one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "common/durability.h"
#include "common/state_machine.h"
#include "common/types.h"

namespace ballot {

// The file operations snapshot files need, on one directory. Names are plain file names.
class SnapshotDir {
public:
    class WritableFile {
    public:
        virtual ~WritableFile() = default;
        virtual std::error_code append(std::span<const std::uint8_t> bytes) = 0;
        virtual std::error_code sync() = 0;  // fsync: the bytes appended so far are durable
    };
    class ReadableFile {
    public:
        virtual ~ReadableFile() = default;
        virtual std::uint64_t size() const = 0;
        // Reads up to into.size() bytes at `offset`; `got` is how many (fewer only at the end).
        virtual std::error_code read(std::uint64_t offset, std::span<std::uint8_t> into,
                                     std::size_t& got) = 0;
    };

    virtual ~SnapshotDir() = default;
    virtual const std::string& path() const = 0;  // for messages
    virtual std::error_code list(std::vector<std::string>& names) = 0;
    // Creates (or truncates) a file.
    virtual std::error_code create(const std::string& name, std::unique_ptr<WritableFile>& out) = 0;
    virtual std::error_code open(const std::string& name, std::unique_ptr<ReadableFile>& out) = 0;
    virtual std::error_code rename(const std::string& from, const std::string& to) = 0;  // atomic
    virtual std::error_code remove(const std::string& name) = 0;
    // fsync of the directory: the renames, creations and removals so far are durable.
    virtual std::error_code sync() = 0;
};

// The real thing. The directory must exist (the data dir, or a folder of it).
class PosixSnapshotDir final : public SnapshotDir {
public:
    // unsafe_no_fsync (--unsafe-no-fsync, common/durability.h): sync() of the dir and of its files
    // does nothing.
    explicit PosixSnapshotDir(std::string path, Durability durability = Durability::fsync)
        : path_(std::move(path)), durability_(durability) {}
    const std::string& path() const override { return path_; }
    std::error_code list(std::vector<std::string>& names) override;
    std::error_code create(const std::string& name, std::unique_ptr<WritableFile>& out) override;
    std::error_code open(const std::string& name, std::unique_ptr<ReadableFile>& out) override;
    std::error_code rename(const std::string& from, const std::string& to) override;
    std::error_code remove(const std::string& name) override;
    std::error_code sync() override;

private:
    std::string full(const std::string& name) const { return path_ + "/" + name; }
    std::string path_;
    Durability durability_;
};

inline constexpr std::uint32_t kSnapshotFormatVersion = 1;
inline constexpr std::size_t kMaxSnapshotMetadata = 1u << 20;
inline constexpr std::size_t kSnapshotsKept = 2;

struct SnapshotFileInfo {
    std::string name;  // "snapshot-<index>"
    SnapshotMeta meta;
    std::uint64_t payload_bytes = 0;
};

std::string snapshot_file_name(Index index);
std::string snapshot_temp_name(Index index);
// The index in a "snapshot-<index>" name (strict decimal); nullopt for any other name.
std::optional<Index> parse_snapshot_file_name(const std::string& name);

// Writes one snapshot. Not thread-safe; the runtime may drive it from its fsync thread.
class SnapshotWriter {
public:
    // Creates `snapshot-<index>.tmp` (replacing a leftover one) and writes the header. nullptr,
    // with `error` naming the file and the cause, on failure (or metadata over the bound).
    static std::unique_ptr<SnapshotWriter> start(SnapshotDir& dir, SnapshotMeta meta, std::string& error);
    ~SnapshotWriter();  // abort() unless committed

    // Appends payload bytes. Empty string: done; otherwise the error (the writer is then failed).
    [[nodiscard]] std::string append(std::span<const std::uint8_t> payload);
    [[nodiscard]] std::string append(std::string_view payload);
    // Writes the footer, fsyncs, renames to `snapshot-<index>`, fsyncs the directory and deletes
    // the snapshots older than the kSnapshotsKept newest. Empty string: the snapshot is durable.
    // A failure of the directory fsync or the deletions is reported; the file may or may not
    // survive a crash then, and the older snapshots are intact either way.
    [[nodiscard]] std::string commit();
    // Deletes the temporary file (best effort). Idempotent.
    void abort();

    const std::string& temp_name() const { return temp_; }
    std::uint64_t payload_bytes() const { return payload_bytes_; }

private:
    SnapshotWriter(SnapshotDir& dir, SnapshotMeta meta, std::unique_ptr<SnapshotDir::WritableFile> file);
    std::string failed(const std::string& what, std::error_code ec);

    SnapshotDir& dir_;
    SnapshotMeta meta_;
    std::string temp_;
    std::unique_ptr<SnapshotDir::WritableFile> file_;
    std::uint64_t payload_bytes_ = 0;
    std::uint32_t payload_crc_ = 0;
    bool done_ = false;  // committed or aborted
    bool failed_ = false;
};

// Reads one snapshot file's payload in chunks (for restore and for sending it to a peer).
class SnapshotReader {
public:
    // Opens `name` and checks its header, footer and size (not yet the payload checksum, which is
    // checked as the payload is read). nullptr with `error` naming the file on any fault.
    static std::unique_ptr<SnapshotReader> open(SnapshotDir& dir, const std::string& name,
                                                std::string& error);

    const SnapshotFileInfo& info() const { return info_; }
    // The next at most `max_bytes` (> 0) payload bytes into `out` (replaced). Empty string: ok;
    // `out` is empty once the payload is done. The payload checksum is verified when the last
    // bytes are read: a mismatch is an error then, so a consumer must not use what it read
    // before the end (install only a snapshot read to its end without error).
    [[nodiscard]] std::string next(std::size_t max_bytes, std::string& out);
    bool done() const { return offset_ == info_.payload_bytes; }

private:
    SnapshotReader(std::unique_ptr<SnapshotDir::ReadableFile> file, SnapshotFileInfo info,
                   std::uint64_t start);
    std::unique_ptr<SnapshotDir::ReadableFile> file_;
    SnapshotFileInfo info_;
    std::string where_;  // the file's path, for messages
    std::uint64_t payload_start_ = 0;
    std::uint64_t offset_ = 0;  // payload bytes read
    std::uint32_t crc_ = 0;
    std::uint32_t expected_crc_ = 0;
    bool failed_ = false;
};

// Reads the whole payload of snapshot file `name` into `payload`, checksums verified to the end.
// Empty string: ok; otherwise why not (naming the file).
[[nodiscard]] std::string read_snapshot_payload(SnapshotDir& dir, const std::string& name, std::string& payload);

// Feeds the payload of snapshot file `name` to `decoder` a piece at a time (a state machine's,
// common/state_machine.h), checksums verified to the end, and finishes it. Empty string: the
// decoder holds the snapshot; otherwise why not (naming the file), with `*malformed` (if given)
// set if the file was sound but its payload is not a snapshot the decoder can read. For restoring
// a state machine without holding the payload in memory.
[[nodiscard]] std::string decode_snapshot_file(SnapshotDir& dir, const std::string& name, SnapshotDecoder& decoder,
                                               bool* malformed = nullptr);

struct RejectedSnapshot {
    std::string name;
    Index index = 0;  // from the name
    std::string why;  // names the file and the fault
};

// What a directory holds, every file checked end to end (payload checksum included).
struct SnapshotScan {
    std::vector<SnapshotFileInfo> valid;     // newest (highest index) first
    std::vector<RejectedSnapshot> rejected;  // corrupt or torn `snapshot-<index>` files, newest first
    std::vector<std::string> temporaries;    // `.tmp` leftovers of interrupted writes: never valid
    std::string error;                       // the directory could not be listed

    const SnapshotFileInfo* latest() const { return valid.empty() ? nullptr : &valid.front(); }
};
SnapshotScan scan_snapshots(SnapshotDir& dir);
// Deletes the leftover temporaries a scan found (at startup, before a new write starts).
std::string remove_temporaries(SnapshotDir& dir, const SnapshotScan& scan);

}  // namespace ballot
