// The envelope every client command travels in through the log: who sent it and its sequence
// number, so the state machine can apply each command exactly once however often it is retried
// (Raft dissertation §6.3, "Implementing linearizable semantics").
//
// `acked_below`: the sender has received replies for every seq below this, so the state machine
// may forget the results it kept for them. A command with seq < acked_below of its session is a
// stale retry and is never applied.
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

    friend bool operator==(const Command&, const Command&) = default;
};

std::string encode_command(const Command& c);
// nullopt if `data` is not a well-formed command (the log held something else, or garbage).
std::optional<Command> decode_command(std::string_view data);

}  // namespace ballot
