// Deletes log segments that compaction emptied, on a thread of its own (LogStoreOptions::
// delete_in_background), so that the write-ahead log's appends never wait for an unlink. On ext4
// the unlink of a 64 MiB segment took 10-27 ms, and all nodes compact at about the same index: a
// write that came meanwhile waited on every node at once (ballot-bench, basic Paxos, 40-70 ms).
//
// The order and durability are the inline deletion's (common/log_store.cc,
// delete_compacted_segments): oldest first, each unlink followed by an fsync of the directory
// before the next, so a crash at any point leaves a suffix of the segments on disk, which replay
// accepts because the compaction point was made durable before any segment was handed here. A
// segment left behind by a crash is below the compaction point: replay skips its records and the
// next compaction deletes it again.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "common/durability.h"

namespace ballot {

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
    // The first unlink or directory fsync that failed (a missing file is not a failure); the
    // store fails with it at its next write, as it would have inline.
    std::error_code error() const;

private:
    void loop();

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
