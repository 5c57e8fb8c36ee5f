// How Ballot makes a file's bytes durable, in one place: every fsync and fdatasync of the log
// store, the snapshot files and the membership guard's files goes through here, and so the
// slow-disk fault below lives here too.
//
// Durability::unsafe_no_fsync is `ballot-server --unsafe-no-fsync` (etcd's name for the same
// switch). It skips the fsync and fdatasync calls and nothing else: records are still written in
// the same order, checksummed, and files still replaced by rename, so a clean restart reads back
// everything written. What it gives up is the promise under a crash of the machine (power loss,
// kernel panic): acknowledged writes may be lost, and a node may forget a vote it gave, which can
// break safety (two leaders in one term, a chosen value lost). It exists only so that ballot-bench
// can stand beside in-memory systems on equal terms; never use it for data you keep.
#pragma once

#include <chrono>
#include <cstdint>
#include <system_error>

namespace ballot {

enum class Durability : std::uint8_t {
    fsync,            // the default: every write the formats call durable is fsync'ed
    unsafe_no_fsync,  // --unsafe-no-fsync: no fsync or fdatasync at all (see above)
};

// fsync(fd): the file's bytes and metadata (or a directory's entries) are durable. Under
// unsafe_no_fsync, does nothing and succeeds.
std::error_code sync_file(int fd, Durability durability);
// fdatasync(fd): the file's bytes, and its size, are durable. Under unsafe_no_fsync, nothing.
std::error_code sync_data(int fd, Durability durability);

// Write-behind for a big file written in one go (a snapshot): waits until the writeback the
// kernel already started for bytes [0, end) is done, then starts writeback of the rest of them
// (sync_file_range WAIT_BEFORE | WRITE; RocksDB's bytes_per_sync does the same). It promises no
// durability (no metadata, no cache flush; the file's fsync still does that). What it buys: a
// file written this way every MiB or so never has more than about two MiB in flight, so its
// final fsync is short, and the log's fdatasyncs (of this node, and of any node sharing the
// disk) wait behind a MiB of it, not behind the whole file. Under unsafe_no_fsync, nothing. Not
// counted by sync_calls_made(); slowed by --slow-disk-factor like a sync.
std::error_code write_behind(int fd, std::uint64_t end, Durability durability);

// How many fsync and fdatasync calls this process has made through the two functions above: lets
// tests check that unsafe_no_fsync really makes none.
std::uint64_t sync_calls_made();

// `ballot-server --slow-disk-factor N`, a fault for ballot-bench --slow-follower-disk: every fsync
// and fdatasync above takes N times as long as the disk took, the extra time spent sleeping in
// the thread that called it. With the page cache in between, the cost of a write lands on the
// sync that makes it durable, so this models a disk N times slower for everything Ballot waits
// on (log appends, snapshot files, the guard's files). Process-wide, like the disk it stands
// for: set once at start, before any thread syncs. 1 (the default) adds nothing.
inline constexpr std::uint32_t kMaxSlowDiskFactor = 1000;
void set_slow_disk_factor(std::uint32_t factor);
std::uint32_t slow_disk_factor();
// The sleep added after a sync that took `took` under `factor`: (factor - 1) × took.
std::chrono::nanoseconds slow_disk_delay(std::chrono::nanoseconds took, std::uint32_t factor);

}  // namespace ballot
