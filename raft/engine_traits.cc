// What the registry (engines/registry.h) knows of Raft.
#include "common/persisted_format.h"
#include "raft/persist.h"
#include "raft/raft.h"

namespace ballot::raft {

const EngineTraits& engine_traits() {
    static const EngineTraits traits{
        "raft", "Raft", /*has_leader=*/true,
        [](const EngineConfig& config, RecoveredState recovered) -> std::unique_ptr<Engine> {
            return std::make_unique<Raft>(config, std::move(recovered));
        },
        persisted_codec<&decode_metadata, &decode_record>(),
        "ReadIndex (§6.4)"};
    return traits;
}

}  // namespace ballot::raft
