// The simulator's disk: a ballot::Storage that is only as durable as an fsync makes it.
//
// write() keeps each batch as "written, not durable". flush() completes after a random simulated
// delay, and then only the batches written BEFORE that flush started become durable (what fsync
// promises). Faults:
//  - crash(): everything not durable is lost, except that a torn write may leave a prefix of the
//    records being flushed on disk (records in LogStore's order: metadata, truncation, compaction
//    point, log records, batch after batch, cut anywhere between two records: the real store drops
//    a torn record by its checksum). A flush completion still in flight is discarded (a generation counter),
//    so no callback ever reaches the Driver that died with the crash.
//  - fail_next_flush(): the next fsync completes with EIO. The data stays not durable (a later
//    crash may keep a prefix of it, as above).
//
// Every batch written, and every change to the durable state, is reported to a DiskObserver
// (the invariant checkers), including batches a crash later throws away.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/random.h"
#include "common/storage.h"
#include "tests/sim/event_queue.h"

namespace ballot::sim {

// One record as the log store would write it.
struct DiskRecord {
    enum class Kind { metadata, truncate, compact, record };
    Kind kind = Kind::record;
    Bytes metadata;    // metadata: the engine's bytes, replacing the previous ones
    Index from = 0;    // truncate: every log record >= from is deleted
    Index below = 0;   // compact: every log record < below is deleted (LogStore's floor)
    LogRecord record;  // record: replaces any log record with the same index
};

// The records of a batch's durable part, in LogStore::encode's order.
std::vector<DiskRecord> records_of(const Ready& batch);

// What a disk holds.
// Metadata and log records are the engine's bytes (common/engine.h); the invariant checkers
// decode them with the engine's own codec (raft/persist.h, ...).
// As in LogStore, the highest compaction point is a floor: no log record below it is kept, even
// one written after it, and a lower point changes nothing.
struct DiskState {
    Bytes metadata;
    std::map<Index, Bytes> records;
    Index compacted_below = 0;  // the highest compaction point (0: none)

    void apply(const DiskRecord& r);
    RecoveredState recovered() const;
};

class DiskObserver {
public:
    virtual ~DiskObserver() = default;
    // `batch` was handed to the disk; `written_before` is the state the node had written before it
    // (durable or not): the state its engine is acting on.
    virtual void on_disk_write(NodeId node, const DiskState& written_before, const Ready& batch) = 0;
    // `applied` records became durable, giving `durable`.
    virtual void on_disk_durable(NodeId node, const std::vector<DiskRecord>& applied,
                                 const DiskState& durable) = 0;
};

struct DiskTiming {
    std::uint64_t flush_min_us = 100;
    std::uint64_t flush_max_us = 3000;
};

class SimDisk : public Storage {
public:
    SimDisk(NodeId node, EventQueue& queue, Rng& rng, DiskTiming timing, DiskObserver* observer);

    void write(const Ready& batch) override;
    void flush(std::function<void(std::error_code)> done) override;

    // Power loss. With `torn`, a random prefix of the records whose flush had started survives.
    // Returns how many records survived that way.
    std::size_t crash(bool torn);
    void fail_next_flush() { fail_next_flush_ = true; }
    // Sabotage (proves the harness can fail): from now on fsync reports success but nothing
    // reaches the platter, like a volatile write cache that ignores flushes. A crash then loses
    // what the disk claimed was durable.
    void start_lying() {
        if (!platter_) platter_ = durable_;
    }
    void disarm() { fail_next_flush_ = false; }
    void set_timing(DiskTiming timing) { timing_ = timing; }

    // Runs a flush completion on the node's thread: the simulator defers it while the node is
    // paused. By default it runs at once.
    using Gate = std::function<void(std::function<void()>)>;
    void set_gate(Gate gate) { gate_ = std::move(gate); }

    const DiskState& durable() const { return durable_; }
    // Durable state plus everything written since: the log the engine holds in memory.
    const DiskState& written() const { return written_; }
    bool flush_in_flight() const { return flushes_in_flight_ > 0; }

    std::uint64_t flushes() const { return flushes_; }
    std::uint64_t fsync_failures() const { return fsync_failures_; }

private:
    struct Batch {
        std::uint64_t seq = 0;
        std::vector<DiskRecord> records;
    };
    void complete_flush(std::uint64_t generation, std::uint64_t through_seq,
                        const std::function<void(std::error_code)>& done);

    NodeId node_;
    EventQueue& queue_;
    Rng& rng_;
    DiskTiming timing_;
    DiskObserver* observer_;
    Gate gate_;

    DiskState durable_;
    DiskState written_;
    std::optional<DiskState> platter_;  // what truly survives a crash, when the disk lies
    std::deque<Batch> unsynced_;        // written, not durable, oldest first
    std::uint64_t next_seq_ = 1;
    std::uint64_t attempted_through_ = 0;  // highest batch seq a flush has started on
    std::uint64_t generation_ = 0;         // bumped by crash(): stale completions are dropped
    int flushes_in_flight_ = 0;
    bool fail_next_flush_ = false;
    std::uint64_t flushes_ = 0;
    std::uint64_t fsync_failures_ = 0;
};

}  // namespace ballot::sim
