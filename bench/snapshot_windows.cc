#include "bench/snapshot_windows.h"

#include <algorithm>
#include <cmath>

#include "bench/follower.h"

namespace ballot::bench {

void SnapshotWindowTracker::observe(NodeId node, double sent_ms, double answered_ms,
                                    const std::map<std::string, std::string>& info) {
    const auto field = info.find("snapshot_in_progress");
    if (field == info.end()) return;
    const bool making = field->second == "1";
    const std::optional<std::uint64_t> made = info_number(info, "snapshots_made");
    const auto [it, first] = nodes_.try_emplace(node);
    Node& n = it->second;
    // A rise of snapshots_made since the last poll: one finished in between (a restarted
    // process starts again from 0, which is no rise).
    const bool finished_since = !first && made && n.made && *made > *n.made;
    n.made = made;
    if (making) {
        // From the last moment it was seen idle (for the first poll of all: this one).
        if (!n.open_since_ms) n.open_since_ms = first ? sent_ms : n.last_idle_sent_ms;
        return;
    }
    if (n.open_since_ms) {
        windows_.push_back({node, *n.open_since_ms, answered_ms});
        n.open_since_ms.reset();
    } else if (finished_since) {
        // Made entirely between two polls that both saw it idle.
        windows_.push_back({node, n.last_idle_sent_ms, answered_ms});
    }
    n.last_idle_sent_ms = sent_ms;
}

void SnapshotWindowTracker::unreachable(NodeId node, double at_ms) {
    const auto it = nodes_.find(node);
    if (it == nodes_.end()) return;
    Node& n = it->second;
    if (n.open_since_ms) windows_.push_back({node, *n.open_since_ms, at_ms});
    n.open_since_ms.reset();
    n.made.reset();
    n.last_idle_sent_ms = at_ms;
}

std::vector<SnapshotWindow> SnapshotWindowTracker::finish(double end_ms) {
    for (auto& [node, n] : nodes_) {
        if (n.open_since_ms) windows_.push_back({node, *n.open_since_ms, end_ms});
        n.open_since_ms.reset();
    }
    return windows_;
}

SnapshotLatency split_by_snapshot_windows(const std::vector<WriteSample>& writes,
                                          std::vector<SnapshotWindow> windows, double duration_ms,
                                          std::size_t nodes_watched) {
    SnapshotLatency out;
    out.nodes_watched = nodes_watched;
    // The windows' union within the measured run, as sorted disjoint [start, end) spans.
    std::vector<std::pair<double, double>> spans;
    for (const SnapshotWindow& w : windows) {
        const double start = std::max(w.start_ms, 0.0);
        const double end = std::min(w.end_ms, duration_ms);
        if (end <= start) continue;
        ++out.windows;
        spans.emplace_back(start, end);
    }
    std::sort(spans.begin(), spans.end());
    std::vector<std::pair<double, double>> merged;
    for (const auto& s : spans) {
        if (!merged.empty() && s.first <= merged.back().second)
            merged.back().second = std::max(merged.back().second, s.second);
        else
            merged.push_back(s);
    }
    for (const auto& [start, end] : merged) out.inside_ms += end - start;

    for (const WriteSample& w : writes) {
        // The last span starting at or before the send; inside if the send is before its end.
        const auto after = std::upper_bound(merged.begin(), merged.end(), w.sent_ms,
                                            [](double t, const std::pair<double, double>& s) { return t < s.first; });
        const bool inside = after != merged.begin() && w.sent_ms < std::prev(after)->second;
        const auto latency_ns = static_cast<std::uint64_t>(std::llround(std::max(0.0, w.done_ms - w.sent_ms) * 1e6));
        (inside ? out.write_inside_ns : out.write_outside_ns).record(latency_ns);
    }
    return out;
}

}  // namespace ballot::bench
