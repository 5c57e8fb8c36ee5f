// The durable log store: one write-ahead log per node holding everything an engine persists (the
// hard state, truncations and entries of every Ready batch), in checksummed append-only segment
// files. Synchronous and single-threaded; FileStorage (common/file_storage.h) runs it on a
// background thread for the runtime.
//
// On disk, in the node's data dir:
//
//     LOCK                  flock()ed for the store's lifetime: one server per data dir
//     log-0000000001.seg    segments, numbered from 1 without gaps, replayed in order
//     log-0000000002.seg    ...
//
// A segment is a 24-byte header followed by records:
//
//     header  "BALLOTLG" | u32 format version | u64 segment number | u32 CRC32C of the 20 bytes before
//     record  u32 payload length | u32 CRC32C of (type, payload) | u8 type | payload
//
// Record payloads (common/codec.h, little-endian):
//
//     HardState  u64 term, u64 vote, u64 commit
//     Truncate   u64 index           every entry with index >= `index` is deleted
//     Entry      u64 index, u64 term, u64 promise, u32 length + data
//                                    replaces any earlier entry with the same index
//
// Every batch is appended with one write() and made durable with one fdatasync() (group commit:
// the runtime puts as many Ready batches as are waiting into one call). A batch never straddles
// two segments, and a new segment file is fsync'ed together with its directory before any record
// goes into it.
//
// Recovery (SPEC "Behaviour under faults"). A crash in the middle of a write can only damage the
// end of what was being appended, so a bad record in the last segment (cut short, running past
// the end of the file, or failing its checksum) that no valid record follows is the torn tail:
// it is cut away (ftruncate + fsync) and reported, since it was never acknowledged and the node
// catches up from its peers. A segment cut short inside its header, or empty, is rewritten.
// Anything else that is not exactly what this code writes (a bad record with a valid record after
// it, an unknown type, a payload that does not decode, a bad segment header, a missing segment, a
// damaged non-last segment) is corruption, and open() refuses to start rather than serve from a
// log it cannot trust. Note that "no valid record follows" is checked by scanning, not by
// trusting the bad record's length field: a flipped bit in a length must not make the records
// after it look like a torn tail.
//
// Failures are final: after any error from write() or fdatasync() the store answers every later
// call with that error. A failed fsync cannot be retried safely, because the kernel may already
// have dropped the dirty pages it failed to write, and a retry would then "succeed" without the
// data ever reaching the disk.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>

#include "common/engine.h"
#include "common/types.h"

namespace ballot {

struct LogStoreOptions {
    // A new segment is started before a batch that would take the active one past this size.
    // Bigger segments mean fewer files; smaller ones mean cheaper compaction later on.
    std::uint64_t segment_bytes = 64ull << 20;
};

// Why open() failed. message() is the one line ballot-server prints before exiting 1.
struct StoreError {
    enum class Kind {
        corrupt,  // the data dir holds something this store did not write; `offset` is meaningful
        locked,   // another process holds the data dir's LOCK
        io,       // the operating system refused (permissions, disk full, ...); `code` says why
    };
    Kind kind = Kind::io;
    std::string path;          // the file (or dir) at fault
    std::uint64_t offset = 0;  // corrupt: byte offset of the bad record or header in `path`
    std::string what;          // corrupt: what is bad at `offset` ("record", "segment header", ...)
    std::string reason;        // e.g. "checksum mismatch"
    std::error_code code;      // io / locked: the errno

    // e.g. "data/node-1/log-0000000001.seg: corrupt record at byte offset 4096 (checksum
    // mismatch); refusing to start"
    std::string message() const;
};

struct OpenResult;

class LogStore {
public:
    using Options = LogStoreOptions;

    // Record types, the byte after a record's checksum.
    enum class RecordType : std::uint8_t { hard_state = 1, truncate = 2, entry = 3 };
    static constexpr std::size_t kRecordHeaderBytes = 4 + 4 + 1;
    static constexpr std::size_t kSegmentHeaderBytes = 8 + 4 + 8 + 4;
    static constexpr std::uint32_t kFormatVersion = 1;

    // Opens (creating if needed) the store in `dir`, takes its lock and replays every segment.
    static OpenResult open(const std::string& dir, Options options = {});

    // Appends the records for the durable part of `batch` to `out`: its hard state, then its
    // truncation, then its entries, in that order so that every prefix of them is a state the
    // engine could have crashed in. Pure; the runtime calls it on its own thread.
    static void encode(const Ready& batch, Bytes& out);

    // Appends `records` (whole records from encode()) to the log and makes them durable: one
    // write and one fdatasync, after starting a new segment if this batch would overflow the
    // active one. Returns an error, with its errno, if the data may not be durable; from then
    // on the store is failed and every call returns that error.
    std::error_code write_durably(std::span<const std::uint8_t> records);

    const std::string& dir() const { return dir_; }
    std::uint64_t active_segment() const { return active_segment_; }
    bool failed() const { return static_cast<bool>(failed_); }

    ~LogStore();
    LogStore(const LogStore&) = delete;
    LogStore& operator=(const LogStore&) = delete;

private:
    LogStore(std::string dir, Options options, int lock_fd, int dir_fd);
    // Makes segment `number` the active one: creates it (or, with `replace`, rewrites a last
    // segment whose header was torn), writes its header and fsyncs it and the directory.
    std::error_code start_segment(std::uint64_t number, bool replace);
    std::error_code fail(std::error_code ec);

    std::string dir_;
    Options options_;
    int lock_fd_ = -1;
    int dir_fd_ = -1;
    int active_fd_ = -1;
    std::uint64_t active_segment_ = 0;
    std::uint64_t active_bytes_ = 0;  // size of the active segment, header included
    std::error_code failed_;
};

struct OpenResult {
    std::unique_ptr<LogStore> store;  // null when `error` is set
    RecoveredState recovered;         // the latest hard state; entries ascending, possibly sparse
    // Bytes of a torn or bad last record cut from the end of the log (0: the log was clean), and
    // a line saying where, for the runtime to log.
    std::uint64_t torn_bytes_dropped = 0;
    std::string torn_message;
    std::optional<StoreError> error;

    bool ok() const { return !error; }
};

// Segment file name for `number`, e.g. "log-0000000001.seg".
std::string segment_file_name(std::uint64_t number);

}  // namespace ballot
