// What the registry (engines/registry.h) knows of basic Paxos (no leader: every node proposes).
#include <stdexcept>

#include "common/persisted_format.h"
#include "paxos/paxos.h"
#include "paxos/persist.h"

namespace ballot::paxos {

namespace {

// A backup restored into a new cluster (kv/restore.h) takes the new cluster's configuration, which
// governs every slot after the snapshot: the old history names ids and addresses the new cluster
// does not have.
Bytes metadata_for_new_cluster(const SnapshotMeta& meta, const Configuration& config) {
    std::string why;
    if (!decode_snapshot_metadata(meta.engine_metadata, &why))
        throw std::invalid_argument("not a basic Paxos snapshot: " + why);
    return encode_snapshot_metadata({ConfigStep{1, 0, config}});
}

}  // namespace

const EngineTraits& engine_traits() {
    static const EngineTraits traits{
        "paxos",
        "basic Paxos",
        /*has_leader=*/false,
        [](const EngineConfig& config, RecoveredState recovered) -> std::unique_ptr<Engine> {
            return std::make_unique<Paxos>(config, std::move(recovered));
        },
        persisted_codec<&decode_metadata, &decode_record>(),
        "acceptor quorum read",
        &metadata_for_new_cluster};
    return traits;
}

}  // namespace ballot::paxos
