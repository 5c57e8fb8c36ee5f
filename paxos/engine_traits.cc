// What the registry (engines/registry.h) knows of basic Paxos (no leader: every node proposes).
#include "common/persisted_format.h"
#include "paxos/paxos.h"
#include "paxos/persist.h"

namespace ballot::paxos {

const EngineTraits& engine_traits() {
    static const EngineTraits traits{
        "paxos",
        "basic Paxos",
        /*has_leader=*/false,
        [](const EngineConfig& config, RecoveredState recovered) -> std::unique_ptr<Engine> {
            return std::make_unique<Paxos>(config, std::move(recovered));
        },
        persisted_codec<&decode_metadata, &decode_record>(),
        "acceptor quorum read"};
    return traits;
}

}  // namespace ballot::paxos
