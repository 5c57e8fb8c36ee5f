// Fail-stop invariant checks, always on (TigerBeetle's style: assertions are part of the program,
// not of a debug build; an engine that has broken one of its own invariants must never go on to
// answer a peer or a client).
//
//     BALLOT_ASSERT(commitIndex <= log_.last_index(), "commitIndex <= last log index");
//
// A failed check throws ballot::InvariantViolation carrying the invariant's name, the condition
// and file:line. The engines are pure state machines with no logging and no process control, so
// they throw; whoever runs them decides what "stop" means:
//   - the node (common/node.cc) logs one critical line and exits non-zero;
//   - the simulator (tests/sim) reports it as a safety violation with the seed that replays it;
//   - unit tests fail with the message.
//
// Only LOCAL invariants are asserted: conditions this node's own code establishes. What a peer
// sends is input, validated and dropped when wrong (SPEC: a malformed or hostile peer frame
// changes no state); a peer can never trigger an InvariantViolation.
//
// The second argument is evaluated only when the check fails, so it may build a string with the
// values involved.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace ballot {

class InvariantViolation : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

namespace detail {

[[noreturn]] inline void invariant_failed(std::string_view what, const char* condition, const char* file,
                                          int line) {
    // Keep the path from the project root on: ".../ballot/raft/raft.cc" -> "raft/raft.cc".
    std::string_view path(file);
    for (std::string_view dir : {"/raft/", "/multipaxos/", "/paxos/", "/common/", "/tests/", "/kv/"}) {
        if (auto at = path.rfind(dir); at != std::string_view::npos) {
            path = path.substr(at + 1);
            break;
        }
    }
    throw InvariantViolation("invariant violated: " + std::string(what) + " (" + condition + ") at " +
                             std::string(path) + ":" + std::to_string(line));
}

}  // namespace detail

}  // namespace ballot

#define BALLOT_ASSERT(condition, what)                                                  \
    do {                                                                                \
        if (!(condition)) [[unlikely]]                                                  \
            ::ballot::detail::invariant_failed((what), #condition, __FILE__, __LINE__); \
    } while (false)
