#include "common/snapshot_recovery.h"

namespace ballot {

SnapshotRecovery recover_snapshot(SnapshotDir& dir, StateMachine& state_machine, const RecoveredState& log) {
    SnapshotRecovery out;
    SnapshotScan scan = scan_snapshots(dir);
    if (!scan.error.empty()) {
        out.error = scan.error;
        return out;
    }
    if (!scan.temporaries.empty()) {
        if (std::string e = remove_temporaries(dir, scan); !e.empty()) {
            out.error = e;
            return out;
        }
        out.notes.push_back("removed " + std::to_string(scan.temporaries.size()) +
                            " unfinished snapshot file(s) left by an interrupted write");
    }
    const SnapshotFileInfo* chosen = scan.latest();
    Index chosen_index = chosen ? chosen->meta.last_included_index : 0;
    // Nothing between the chosen snapshot and the log may be missing: the store deleted only
    // records below its compaction point.
    if (log.compacted_below > chosen_index + 1) {
        std::string why = "the log was compacted below index " + std::to_string(log.compacted_below) + " but ";
        out.error = why + (chosen ? "the newest valid snapshot, " + chosen->name + ", ends at " + std::to_string(chosen_index)
                                  : std::string("no valid snapshot is left in ") + dir.path());
        for (const RejectedSnapshot& bad : scan.rejected) out.error += "; " + bad.why;
        out.error += "; refusing to start";
        return out;
    }
    for (const RejectedSnapshot& bad : scan.rejected) {
        // A newer snapshot that is damaged is passed over: the older one plus the log (never
        // compacted past it, checked above) hold the same state.
        out.notes.push_back(bad.why + (bad.index <= chosen_index ? " (an older copy; ignored)"
                                                                 : "; starting from " +
                                                                       (chosen ? chosen->name : std::string("an empty state")) +
                                                                       " and the log instead"));
    }
    if (!chosen) return out;
    // Decoded a piece at a time: a restart holds the state it builds, not the file beside it too.
    std::unique_ptr<SnapshotDecoder> decoder = state_machine.snapshot_decoder();
    std::string e = decode_snapshot_file(dir, chosen->name, *decoder);
    if (e.empty() && !state_machine.adopt(*decoder)) {
        e = dir.path() + "/" + chosen->name + ": not a state machine snapshot this build can read";
    }
    if (!e.empty()) {
        out.error = e + "; refusing to start";
        return out;
    }
    out.latest = *chosen;
    out.notes.push_back("loaded snapshot " + chosen->name + " (" + std::to_string(chosen->payload_bytes) + " bytes)");
    return out;
}

}  // namespace ballot
