// What the registry (engines/registry.h) knows of Multi-Paxos.
#include <stdexcept>

#include "multipaxos/multipaxos.h"
#include "multipaxos/persist.h"

namespace ballot::multipaxos {

namespace {

// A backup restored into a new cluster (kv/restore.h) takes the new cluster's configuration, from
// the slot after the snapshot on: the old one names ids and addresses the new cluster does not have.
Bytes metadata_for_new_cluster(const SnapshotMeta& meta, const Configuration& config) {
    std::string why;
    if (!ConfigHistory::decode(meta.engine_metadata, why))
        throw std::invalid_argument("not a Multi-Paxos snapshot: " + why);
    const Index x = meta.last_included_index;
    return ConfigHistory(config, x + 1).encode_after(x);
}

}  // namespace

const EngineTraits& engine_traits() {
    static const EngineTraits traits{
        "multipaxos",
        "Multi-Paxos",
        /*has_leader=*/true,
        [](const EngineConfig& config, RecoveredState recovered) -> std::unique_ptr<Engine> {
            return std::make_unique<MultiPaxos>(config, std::move(recovered));
        },
        persisted_codec(),
        "leader read index",
        &metadata_for_new_cluster};
    return traits;
}

}  // namespace ballot::multipaxos
