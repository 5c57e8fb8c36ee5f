// Write latency while a snapshot is being made: the load polls every node's INFO every
// kSnapshotPollInterval on a connection of its own and feeds the replies to a
// SnapshotWindowTracker, which turns them into windows during which some node was making a
// snapshot (INFO snapshot_in_progress:1). Each successful write is then filed by its send time,
// inside a window or outside all of them (SnapshotLatency in bench/result.h).
//
// A window is widened to what the polls can prove: it starts when the last poll that saw the node
// idle was sent and ends when the first poll that saw it idle again was answered, so it holds the
// whole of the real one and at most one poll interval (plus an INFO round trip) more at each end.
// A snapshot made entirely between two polls still shows, as a rise of INFO snapshots_made, and
// gets the window between those two polls. A node that stops answering (killed by
// --fail-follower-for) keeps what it had; one that comes back counts its snapshots_made from 0.
//
// Pure functions of the replies and the samples, tested without servers or clocks.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench/result.h"

namespace ballot::bench {

inline constexpr std::chrono::milliseconds kSnapshotPollInterval{10};

// A span of time (milliseconds from the start of measurement) in which node `node` was making a
// snapshot, as bounded by the polls.
struct SnapshotWindow {
    NodeId node = kNoNode;
    double start_ms = 0;
    double end_ms = 0;
};

class SnapshotWindowTracker {
public:
    // One INFO reply of node `node`: the request was sent at `sent_ms` and answered at
    // `answered_ms`. `info` is the reply as key -> value; a node whose INFO has no
    // snapshot_in_progress (not a Ballot node, or an older one) is not watched.
    void observe(NodeId node, double sent_ms, double answered_ms, const std::map<std::string, std::string>& info);
    // A poll of `node` failed at `at_ms` (connection refused or lost): a snapshot it was making
    // ended with it, and a restarted process counts snapshots_made afresh.
    void unreachable(NodeId node, double at_ms);
    // Closes the windows still open at `end_ms` and returns every window, in no particular order.
    std::vector<SnapshotWindow> finish(double end_ms);
    // How many nodes reported snapshot_in_progress at least once.
    std::size_t nodes_watched() const { return nodes_.size(); }

private:
    struct Node {
        double last_idle_sent_ms = 0;             // when the last poll that saw it idle was sent
        std::optional<double> open_since_ms;      // a window in progress, from this time
        std::optional<std::uint64_t> made;        // INFO snapshots_made at the last poll
    };
    std::map<NodeId, Node> nodes_;
    std::vector<SnapshotWindow> windows_;
};

// Files each write by its send time: inside some window (windows may overlap: several nodes
// snapshot at about the same index) or outside all. Windows and writes outside [0, duration_ms)
// of the measured run count only for the part inside it.
SnapshotLatency split_by_snapshot_windows(const std::vector<WriteSample>& writes,
                                          std::vector<SnapshotWindow> windows, double duration_ms,
                                          std::size_t nodes_watched);

}  // namespace ballot::bench
