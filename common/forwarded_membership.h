// Membership requests a follower passes on to its leader (SPEC: any node accepts MEMBER), the
// wire structs the leader-based engines share; each engine encodes them with its own message tags
// (raft/messages.cc, multipaxos/messages.cc). The runtime hears a refusal as
// Ready::refusals (common/engine.h).
#pragma once

#include <cstdint>
#include <string>

#include "common/types.h"

namespace ballot {

// MEMBER ADD/PROMOTE/REMOVE a follower's client sent it, passed on to its leader as a write is.
// `request`: the stamped command Engine::propose_config_change takes; `request_id`: the follower
// runtime's, for a refusal.
struct ForwardChange {
    std::uint64_t request_id = 0;
    std::string request;
};

// MEMBER TRANSFER a follower's client sent it, passed on to its leader likewise.
struct ForwardTransfer {
    std::uint64_t request_id = 0;
    NodeId target = kNoNode;
};

// The leader's answer to a ForwardChange or ForwardTransfer it refused (it is not, or no longer,
// the leader; a change under way; ...): `why` as it tells its own clients. A request it placed or
// started gets no answer: the follower sees the entry applied, or the new leader.
struct ForwardRefused {
    std::uint64_t request_id = 0;
    std::string why;
};

}  // namespace ballot
