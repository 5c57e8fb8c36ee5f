// The envelope every client command travels in through the log: who sent it and its sequence
// number, so the state machine can apply each command exactly once however often it is retried
// (Raft dissertation §6.3, "Implementing linearizable semantics").
//
// `acked_below`: the sender has received replies for every seq below this, so the state machine
// may forget the results it kept for them. A command with seq < acked_below of its session is a
// stale retry and is never applied.
//
// `time_ms`: cluster time (LogCabin's ClusterClock, Ongaro's dissertation §6.6 "leases" and
// LogCabin Server/ClusterClock.h). The node that proposes the command stamps it with its estimate
// of cluster time (common/driver.h, Driver::cluster_time_estimate); the state machine's clock is
// the largest stamp it has applied, so every replica sees time pass at the same log positions.
// A command with no session (client_id 0) and an empty payload is a clock tick: it only carries
// time forward (the leader proposes one now and then while something waits to expire).
//
// Encoding: version 2 adds time_ms; version 1 (no stamp, read as time 0) still decodes, so a log
// written before cluster time existed replays unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ballot {

struct Command {
    std::uint64_t client_id = 0;
    std::uint64_t seq = 0;
    std::uint64_t acked_below = 0;
    std::string payload;  // the state machine's own encoding of the operation
    // The proposer's cluster-time estimate (0: unstamped, version 1). Last, so that aggregate
    // initializers written before it existed still mean what they meant.
    std::uint64_t time_ms = 0;

    bool is_clock_tick() const { return client_id == 0 && payload.empty(); }
    friend bool operator==(const Command&, const Command&) = default;
};

std::string encode_command(const Command& c);
// nullopt if `data` is not a well-formed command (the log held something else, or garbage).
std::optional<Command> decode_command(std::string_view data);

}  // namespace ballot
