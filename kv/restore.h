// Restore from a backup: `ballot-server ... --restore-from FILE` builds a NEW data dir from one
// snapshot file (etcd's `etcdctl snapshot restore`), then the node starts as usual and loads it.
//
// A backup is the newest `<data-dir>/snapshots/snapshot-<index>` of any member, taken after
// BGSAVE (README "Backup and restore"). It is self-contained (the KV data and client sessions
// through <index>, plus the engine's metadata) and checksummed (common/snapshot_file.h), so a
// whole new cluster can be built from it: every member restored from the same file into a fresh
// data dir, with any ids and addresses.
//
// What restore does, in order:
//   1. Refuses a data dir that exists and is not empty. Restoring over a member's existing data
//      is exactly what the membership guard (common/membership_guard.h) is there to refuse: an
//      older copy of a member's state makes it forget votes and promises its peers relied on.
//      A restored node is a new member with a new identity, never an old one brought back.
//   2. Reads FILE end to end without writing anything: header, footer, size, the payload's
//      checksum, and that the payload is a KV snapshot taken at the index the header names.
//      A bad FILE creates nothing.
//   3. Copies it into `<data-dir>/snapshots/` with SnapshotWriter, re-checking the checksum as
//      it reads: the same temp-file, fsync, rename, fsync-the-directory path as every snapshot
//      the node makes, then fsyncs the directories it created. If the copy fails (FILE changed
//      under it, disk full) what it created is removed again.
// It does not touch the log or the membership files: the node creates those when it opens the
// new dir, and its runtime loads the snapshot at startup (RecoveredState::snapshot).
#pragma once

#include <functional>
#include <string>

#include "common/snapshot_file.h"

namespace ballot::kv {

// Where a node keeps its snapshot files, under its data dir.
inline constexpr const char* kSnapshotsSubdir = "snapshots";

struct RestoreResult {
    enum class Status {
        restored,
        data_dir_not_empty,  // refused: nothing read, nothing created (an argument error, exit 2)
        bad_file,            // FILE is missing, unreadable, corrupt or not a KV snapshot; nothing created
        cannot_write,        // the data dir could not be created or written
    };
    Status status = Status::restored;
    std::string error;         // one line naming the file or dir and the cause; empty if restored
    SnapshotFileInfo written;  // when restored: the snapshot now in `<data-dir>/snapshots/`

    bool ok() const { return status == Status::restored; }
};

// Builds `data_dir` (which must not exist, or be an empty directory) from the snapshot `file`.
// `new_engine_metadata`, if given, gives the engine metadata the copy keeps in place of the file's
// (EngineTraits::metadata_for_new_cluster: the new cluster's configuration); it throws
// std::invalid_argument for a file that is not this engine's.
RestoreResult restore_data_dir(const std::string& file, const std::string& data_dir,
                               const std::function<Bytes(const SnapshotMeta&)>& new_engine_metadata = {});

}  // namespace ballot::kv
