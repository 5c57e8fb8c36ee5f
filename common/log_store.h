// The durable log store: one write-ahead log per node holding everything an engine persists (the
// metadata, truncations and log records of every Ready batch), in checksummed append-only segment
// files. The store knows no protocol: metadata and log records are bytes the engine encoded
// (common/engine.h), which the store frames, checksums, replays and hands back. Synchronous and
// single-threaded; FileStorage (common/file_storage.h) runs it on a background thread for the runtime.
//
// On disk, in the node's data dir:
//
//     FORMAT                which engine and which format version wrote this dir (below)
//     LOCK                  flock()ed for the store's lifetime: one server per data dir
//     log-0000000001.seg    segments, numbered without gaps, replayed in order: from 1, or from
//     log-0000000002.seg    the first one compaction has not deleted (below)
//     ...
// FORMAT is written (temp file, fsync, rename, fsync dir) when the dir is created, before any
// segment, and checked before anything else in the dir is touched: a dir written by another
// engine, or by another format, is refused. The store does not know any engine; it stores and
// compares the name it is given (the runtime's --protocol).
//
//     FORMAT   "BALLOTFM" | u32 format version | u32 length + engine name | u32 CRC32C of all before
//
// A segment is a 32-byte header followed by records:
//
//     header  "BALLOTLG" | u32 format version | u64 segment number | u64 salt | u32 CRC32C of the
//             28 bytes before
//     record  u32 payload length | u32 checksum | u64 sequence | u8 type | payload
//
// `salt` is random, drawn when the segment is created. A record's checksum is the CRC32C of
// (salt, the record's byte offset in its file, sequence, type, payload); salt and offset are not
// stored in the record. So a record is valid only at the place it was written, in the segment it
// was written to: bytes a client put in a value cannot form a valid record, whatever they hold,
// because they would need a salt they never see (this is what lets the torn-tail check below scan
// inside a damaged record without being fooled by the data in it). `sequence` numbers every
// record of the log from 1, without gaps, across segments; the last durable one is the store's
// high-water mark (durable_sequence()), which grows with every write.
//
// Record payloads (common/codec.h, little-endian):
//
//     Metadata   the engine's bytes  replaces any earlier metadata
//     Truncate   u64 index           every log record with index >= `index` is deleted
//     Compact    u64 index           every log record with index < `index` is deleted, earlier or
//                                    later in the log: the highest compaction point is a floor
//                                    below which replay returns nothing. Compaction points never
//                                    go down (a lower one after a higher one is corruption)
//     Record     u64 index, then the engine's bytes (to the end of the payload)
//                                    replaces any earlier log record with the same index, >= 1
//
// Compaction (SPEC "Snapshots and log compaction"). Once a batch is durable, the store deletes,
// oldest first, every segment but the active one whose log records all have an index below the
// highest compaction point, stopping at the first that holds one at or above it: deletion always
// removes a prefix of the segments. That is what makes it safe without rewriting anything:
//   - a log record in a deleted segment is below the compaction point, which replay drops anyway;
//   - a Truncate only deletes records written before it, so one in a deleted segment only ever
//     acted on records in deleted segments;
//   - the latest Metadata and the highest Compact, should they sit in a segment about to go, are
//     first copied (appended and fdatasync'ed) to the active segment, so they always survive,
//     and lower compaction points add nothing to the highest one.
// A segment holding a record at or above the point (a Paxos slot accepted far ahead, a Raft entry
// later truncated and rewritten) keeps itself and every later segment until the point passes it.
// Each unlink is followed by an fsync of the dir, so a crash between deletions leaves a suffix of
// the segments, never a gap, and open() finishes the deletions such a crash interrupted. A
// compaction point below the durable one is written as the durable one (write_durably()), so the
// store never writes a point that goes down. Replay starts at the first surviving segment, with
// sequences contiguous from its first record; a missing prefix is accepted only if what survives
// records a compaction (otherwise "log-0000000001.seg missing" is corruption). The format did not
// change version for this: a dir of version 3 without compaction reads as before; an older build
// refuses a compacted dir (unknown record type 4, or a missing first segment).
//
// The engine's bytes are checked at replay by the engine's own decoder when the runtime passes
// one (LogStoreOptions::codec): bytes that do not decode are corruption, like any other payload.
//
// Every batch is appended with one write() and made durable with one fdatasync() (group commit:
// the runtime puts as many Ready batches as are waiting into one call). A batch never straddles
// two segments, and a new segment file is fsync'ed together with its directory before any record
// goes into it. With LogStoreOptions::preallocate_bytes the last segment runs on in zeros past its
// last record, written ahead so that most fdatasyncs have no file size to write; a segment's room
// is cut away (ftruncate + fsync) before the next one starts, so only the last one ends in zeros.
//
// Recovery (SPEC "Behaviour under faults"). A crash in the middle of a write can only damage the
// end of what was being appended, so a bad record in the last segment (cut short, running past
// the end of the file, or failing its checksum) that no valid record follows is the torn tail:
// it is cut away (ftruncate + fsync) and reported, since it was never acknowledged and the node
// catches up from its peers. Zeros from some record boundary to the end of the last segment are
// not a tear but the room preallocated for the next writes (no record is all zeros: its sequence
// and type are at least 1): they are kept and the next write goes where they begin.
// A segment cut short inside its header, or empty, is rewritten.
// Anything else that is not exactly what this code writes (a bad record with a valid record after
// it, an unknown type, a payload that does not decode, engine bytes its codec rejects, a sequence
// out of order, a bad segment header, a missing segment, a missing prefix of segments without a
// compaction, a compaction point lower than an earlier one, a damaged non-last segment) is
// corruption, and open() refuses to
// start rather than serve from a log it cannot trust. Note that "no valid record follows" is
// checked by scanning every later byte offset, not by trusting the bad record's length field: a
// flipped bit in a length must not make the records after it look like a torn tail. A "valid
// record" there is one whose salted checksum matches at that offset and whose sequence comes
// after the last good record's, so client data inside the torn record never counts.
//
// Failures are final: after any error from write() or fdatasync() the store answers every later
// call with that error. A failed fsync cannot be retried safely, because the kernel may already
// have dropped the dirty pages it failed to write, and a retry would then "succeed" without the
// data ever reaching the disk.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>

#include "common/durability.h"
#include "common/engine.h"
#include "common/segment_reaper.h"
#include "common/types.h"

namespace ballot {

struct LogStoreOptions {
    // The name of the engine that owns the data dir (the runtime's --protocol). A new dir records
    // it in FORMAT; an existing dir written by another engine is refused before anything in it
    // is touched.
    std::string engine = "test";
    // Refuse, instead of creating, a dir that has no log segments. The runtime sets it for a dir
    // that has taken part in a cluster (common/membership_guard.h), whose log cannot be missing.
    bool expect_existing_log = false;
    // A new segment is started before a batch that would take the active one past this size.
    // Bigger segments mean fewer files; smaller ones mean cheaper compaction later on.
    std::uint64_t segment_bytes = 64ull << 20;
    // Zeros written ahead of the last record, refilled when under a quarter is left (0: none).
    // fdatasync of an append that grows the file must also write the inode (its size): two
    // writes to the disk. Within room already written and made durable it writes only the data:
    // on this project's 2-core VM, 110 us per 2 KiB write + fdatasync instead of 165 us, and half
    // the system time. The runtime uses kDefaultPreallocateBytes; the zeros are not a tear (see
    // recovery below). log_bytes() counts records, not this room.
    std::uint64_t preallocate_bytes = 0;
    // The engine's checks of its metadata and log record bytes, run on every one replayed; a
    // failure is corruption at that record. Unset checks accept any bytes (store-only tests).
    PersistedCodec codec;
    // Durability::unsafe_no_fsync (--unsafe-no-fsync, common/durability.h): every fsync and
    // fdatasync below is skipped; the order of writes, checksums and renames stay as they are.
    Durability durability = Durability::fsync;
    // Segments compaction emptied are deleted on a thread of the store's own
    // (common/segment_reaper.h: renamed out of the log, shrunk a few MiB at a time, unlinked)
    // instead of unlinked inside write_durably(), in the same order and with the same directory
    // fsyncs. The runtime sets it; wait_for_deletions() waits for them.
    bool delete_in_background = false;
};

// Why open() failed. message() is the one line ballot-server prints before exiting 1.
struct StoreError {
    enum class Kind {
        corrupt,  // the data dir holds something this store did not write; `offset` is meaningful
        locked,   // another process holds the data dir's LOCK
        foreign,  // another engine, or another format, wrote the data dir; nothing was touched
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
    enum class RecordType : std::uint8_t { metadata = 1, truncate = 2, record = 3, compact = 4 };
    static constexpr std::uint8_t kMaxRecordType = 4;
    static constexpr std::size_t kRecordHeaderBytes = 4 + 4 + 8 + 1;
    static constexpr std::size_t kSegmentHeaderBytes = 8 + 4 + 8 + 8 + 4;
    // 1: records checksummed without salt or sequence, and no FORMAT file. 2: Raft-shaped hard
    // state and entries ({term, vote, commit}; {index, term, promise, data}). 3: this file, with
    // engine-encoded metadata and log records.
    static constexpr std::uint32_t kFormatVersion = 3;
    // The runtime's LogStoreOptions::preallocate_bytes.
    static constexpr std::uint64_t kDefaultPreallocateBytes = 1ull << 20;

    // Opens (creating if needed) the store in `dir`, takes its lock and replays every segment.
    static OpenResult open(const std::string& dir, Options options = {});

    // Appends the records for the durable part of `batch` to `out`: its metadata, then its
    // truncation, then its compaction point, then its log records, in that order (Ready's) so
    // that every prefix of them is a state the engine could have crashed in. Pure; the runtime
    // calls it on its own thread. The sequence and checksum are left zero: write_durably() fills
    // them in once it knows where the records go.
    static void encode(const Ready& batch, Bytes& out);

    // Appends `records` (whole records from encode()) to the log and makes them durable: one
    // write and one fdatasync, after starting a new segment if this batch would overflow the
    // active one. Numbers and checksums the records in place first (and raises a compaction
    // point below the durable one to it: compacting less than is already compacted is a no-op,
    // and the log must never hold a point that goes down). Then deletes the segments compaction
    // has emptied (log_store.h). Returns an error, with its errno, if the data may not be durable
    // or a deletion failed; from then on the store is failed and every call returns that error.
    std::error_code write_durably(std::span<std::uint8_t> records);

    // The sequence of the last durable record (0: none yet). Grows with every write_durably().
    std::uint64_t durable_sequence() const { return next_sequence_ - 1; }
    // The highest durable compaction point (0: none): replay returns no log record below it.
    Index compacted_below() const { return compacted_below_; }
    // Bytes of the log on disk: the sum of the sizes of its segment files, less the last one's
    // preallocated room.
    std::uint64_t log_bytes() const;

    const std::string& dir() const { return dir_; }
    std::uint64_t first_segment() const { return segments_.empty() ? 0 : segments_.front().number; }
    std::uint64_t active_segment() const { return active_segment_; }
    bool failed() const { return static_cast<bool>(failed_); }
    // With delete_in_background: returns once every segment compaction emptied so far is
    // deleted (at once otherwise).
    void wait_for_deletions();

    ~LogStore();
    LogStore(const LogStore&) = delete;
    LogStore& operator=(const LogStore&) = delete;

    // What the store knows of one segment file, to decide when compaction has emptied it.
    struct Segment {
        std::uint64_t number = 0;
        std::uint64_t bytes = 0;  // file size, header included
        Index max_index = 0;      // highest log record index in it, superseded or not (0: none)
    };

private:
    LogStore(std::string dir, Options options, int lock_fd, int dir_fd);
    // Makes segment `number` the active one: creates it (or, with `replace`, rewrites a last
    // segment whose header was torn), writes its header and fsyncs it and the directory.
    std::error_code start_segment(std::uint64_t number, bool replace);
    std::error_code fail(std::error_code ec);
    // Rolls to a new segment if needed, seals, writes and fdatasyncs `records`, then notes what
    // they hold (note_durable).
    std::error_code append_durably(std::span<std::uint8_t> records);
    std::uint64_t seal(std::span<std::uint8_t> records) const;
    void raise_low_compaction_points(std::span<std::uint8_t> records) const;
    void note_durable(std::span<const std::uint8_t> records);
    // Deletes the oldest segments compaction has emptied, carrying the latest metadata and the
    // highest compaction point forward first if they live there (log_store.h).
    std::error_code delete_compacted_segments();
    // Makes the last segment found by open() the active one: rewrites its header if the crash
    // came while it was being created (`cut_at` 0), or cuts a torn tail away at `cut_at`.
    // `allocated`: the segment's file size, zeros past its records included.
    std::optional<StoreError> open_last_segment(std::optional<std::uint64_t> cut_at, std::uint64_t allocated,
                                                std::uint32_t salt_crc);
    // Writes zeros ahead of the active segment's last record (LogStoreOptions::preallocate_bytes).
    std::error_code preallocate();
    // Cuts the active segment's preallocated room away, durably, before a new segment starts.
    std::error_code seal_active_segment();

    std::string dir_;
    Options options_;
    int lock_fd_ = -1;
    int dir_fd_ = -1;
    int active_fd_ = -1;
    std::uint64_t active_segment_ = 0;
    std::uint64_t active_bytes_ = 0;     // bytes of the active segment in use, header included
    std::uint64_t active_allocated_ = 0; // its file size: active_bytes_ plus preallocated zeros
    std::uint32_t active_salt_crc_ = 0;  // CRC32C of the active segment's salt: every checksum's seed
    std::uint64_t next_sequence_ = 1;
    std::error_code failed_;

    std::unique_ptr<SegmentReaper> reaper_;  // delete_in_background only
    std::deque<Segment> segments_;  // every segment on disk, oldest first; back() is the active one
    // The latest durable metadata record (its bytes and the segment holding it; 0: none), and the
    // highest durable compaction point (and its segment; 0: no compaction recorded): the two
    // records a segment deletion must never lose.
    Bytes metadata_;
    std::uint64_t metadata_segment_ = 0;
    Index compacted_below_ = 0;
    std::uint64_t compaction_segment_ = 0;
};

struct OpenResult {
    std::unique_ptr<LogStore> store;  // null when `error` is set
    RecoveredState recovered;         // the latest metadata; log records ascending, possibly sparse
    // Bytes of a torn or bad last record cut from the end of the log (0: the log was clean), and
    // a line saying where, for the runtime to log.
    std::uint64_t torn_bytes_dropped = 0;
    std::string torn_message;
    // True if open() found no log and created one.
    bool created_log = false;
    std::optional<StoreError> error;

    bool ok() const { return !error; }
};

// Segment file name for `number`, e.g. "log-0000000001.seg".
std::string segment_file_name(std::uint64_t number);

}  // namespace ballot
