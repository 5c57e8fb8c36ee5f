// A counter that each node's INFO reports since its process started (proposals_preempted),
// summed over the nodes for the measured run, from the replies the snapshot poller already gets
// (bench/snapshot_windows.h): what each node added between the last poll sent before
// measurement began (or its first poll) and its last poll. A node that restarted (the value
// falls: --fail-follower-for) adds what its new process counted.
//
// Pure: fed parsed INFO replies and their send times, tested without servers or clocks.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/types.h"

namespace ballot::bench {

class InfoCounterTotal {
public:
    explicit InfoCounterTotal(std::string key) : key_(std::move(key)) {}

    // One INFO reply of `node`, its request sent `sent_ms` after measurement began (negative:
    // during the warmup). Replies without the key, or with a value that is not a number, are
    // ignored.
    void observe(NodeId node, double sent_ms, const std::map<std::string, std::string>& info);

    // The sum over the measured run; nullopt if no node reported the key.
    std::optional<std::uint64_t> total() const;

private:
    std::string key_;
    std::map<NodeId, std::uint64_t> last_;  // each node's value at its last poll
    std::uint64_t added_ = 0;               // inside the measured run, over all nodes
};

}  // namespace ballot::bench
