// The replicated state machine the runtime applies chosen commands to. The KV store (kv/) is
// the one we ship; the interface keeps the runtime and the engines ignorant of what it does.
#pragma once

#include <string>
#include <string_view>

#include "common/command.h"
#include "common/types.h"

namespace ballot {

class StateMachine {
public:
    virtual ~StateMachine() = default;

    // Applies a chosen command and returns its reply (the KV returns a RESP-encoded reply).
    // Must be deterministic, and must apply a (client_id, seq) at most once: a duplicate returns
    // the reply the first application produced.
    virtual std::string apply(Index index, const Command& command) = 0;

    // Runs a read-only operation against the current state. Linearizability is the caller's
    // job: it calls this only once the runtime says the read is safe.
    virtual std::string query(std::string_view payload) const = 0;
};

}  // namespace ballot
