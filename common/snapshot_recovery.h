// Startup with snapshots (SPEC "Snapshots and log compaction"): load the latest valid snapshot
// into the state machine, so that only the log after it is replayed. Shared by the real node and
// the simulator, so both start the same way.
//
// A snapshot file that fails its checks is refused, named, and passed over for an older valid one
// only if the log still covers the gap (the store's compaction point is at most one past the older
// snapshot: nothing between them was deleted). Otherwise the node refuses to start: serving from a
// state with a hole in it would be serving a corrupted log.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/engine.h"
#include "common/snapshot_file.h"
#include "common/state_machine.h"

namespace ballot {

struct SnapshotRecovery {
    std::optional<SnapshotFileInfo> latest;  // restored into the state machine
    std::vector<std::string> notes;          // what was found, for the log
    std::string error;                       // non-empty: refuse to start (names the file)
};

// Deletes leftover temporaries, then restores the newest usable snapshot into `state_machine`.
// `log` is what the log store recovered (only its records' indexes are looked at).
SnapshotRecovery recover_snapshot(SnapshotDir& dir, StateMachine& state_machine, const RecoveredState& log);

}  // namespace ballot
