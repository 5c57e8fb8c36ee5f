// What the registry (engines/registry.h) knows of Multi-Paxos.
#include "multipaxos/multipaxos.h"
#include "multipaxos/persist.h"

namespace ballot::multipaxos {

const EngineTraits& engine_traits() {
    static const EngineTraits traits{
        "multipaxos", "Multi-Paxos", /*has_leader=*/true,
        [](const EngineConfig& config, RecoveredState recovered) -> std::unique_ptr<Engine> {
            return std::make_unique<MultiPaxos>(config, std::move(recovered));
        },
        persisted_codec(),
        "leader read index"};
    return traits;
}

}  // namespace ballot::multipaxos
