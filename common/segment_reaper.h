// Deletes log segments that compaction emptied, on a thread of its own (LogStoreOptions::
// delete_in_background), so that the write-ahead log's appends never wait for an unlink. On ext4
// the unlink of a 64 MiB segment took 10-27 ms, and all nodes compact at about the same index: a
// write that came meanwhile waited on every node at once (ballot-bench, basic Paxos, 40-70 ms).
//
// Off the WAL's thread was not enough: freeing a 64 MiB file's blocks in one unlink still held
// every node's log fdatasyncs on the shared disk for 5-12 ms (the unlink itself took 22-36 ms;
// perf trace during ballot-bench --protocol paxos, a 1.4 MB snapshot every 100,000 writes), so
// writes sent while a snapshot was made had 2-5x the p99 of the others. As RocksDB's
// DeleteScheduler does, a segment is therefore first renamed out of the log, then shrunk a few
// MiB at a time with a short pause between steps, then unlinked: the same work in small pieces,
// which the log's fdatasyncs no longer queue behind (same runs: 1.4-2.0x, from 1.9-5.0x).
//
// The order and durability are the inline deletion's (common/log_store.cc,
// delete_compacted_segments): oldest first, each rename out of the log followed by an fsync of
// the directory before the next, so a crash at any point leaves a suffix of the segments on disk,
// which replay accepts because the compaction point was made durable before any segment was
// handed here. A segment left behind by a crash is below the compaction point: replay skips its
// records and the next compaction deletes it again. A renamed one left behind (its name ends in
// kDoomedSuffix, which is no segment name) is no longer part of the log; opening the store deletes
// it (remove_doomed_segments).
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <sys/types.h>
#include <system_error>
#include <thread>
#include <vector>

#include "common/durability.h"

namespace ballot {

// What a segment is renamed to (its name plus this) once it has left the log, until it is gone.
inline constexpr const char* kDoomedSuffix = ".deleting";

// Deletes, in the directory `dir`, whatever a crash left of segments being deleted (names ending
// in kDoomedSuffix). A missing directory or file is no failure.
std::error_code remove_doomed_segments(const std::string& dir);

class SegmentReaper {
public:
    // `dir_fd` is the segments' directory, open for the reaper's whole life.
    SegmentReaper(int dir_fd, Durability durability);
    // Deletes what is queued first.
    ~SegmentReaper();
    SegmentReaper(const SegmentReaper&) = delete;
    SegmentReaper& operator=(const SegmentReaper&) = delete;

    // Queues these files for deletion, oldest first, after everything queued before.
    void remove(std::vector<std::string> paths);
    // Returns once everything queued so far is deleted (or failed).
    void drain();
    // The first rename, directory fsync, truncation or unlink that failed (a missing file is not a
    // failure); the store fails with it at its next write, as it would have inline.
    std::error_code error() const;

    // Shrinking a segment: this many bytes are cut off its end at a time, with this pause
    // between two cuts (so a 64 MiB segment goes in 16 steps over about 32 ms).
    static constexpr off_t kShrinkStepBytes = 4 << 20;
    static constexpr int kShrinkPauseMicros = 2000;

private:
    void loop();
    // Renames `path` out of the log (and makes that durable), shrinks it, unlinks it.
    std::error_code delete_segment(const std::string& path) const;

    const int dir_fd_;
    const Durability durability_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable idle_;
    std::deque<std::string> queue_;
    bool busy_ = false;
    bool stopping_ = false;
    std::error_code error_;
    std::thread thread_;  // last: started once the members above are ready
};

}  // namespace ballot
