// What the registry (engines/registry.h) knows of Raft.
#include <stdexcept>

#include "common/persisted_format.h"
#include "raft/persist.h"
#include "raft/raft.h"

namespace ballot::raft {

namespace {

// A backup restored into a new cluster (kv/restore.h) keeps its last included term and takes the
// new cluster's configuration: the old one names ids and addresses the new cluster does not have.
Bytes metadata_for_new_cluster(const SnapshotMeta& meta, const Configuration& config) {
    std::string why;
    std::optional<SnapshotInfo> info = decode_snapshot_metadata(meta, &why);
    if (!info) throw std::invalid_argument("not a Raft snapshot: " + why);
    return encode_snapshot_metadata(info->last_included_term, config);
}

}  // namespace

const EngineTraits& engine_traits() {
    static const EngineTraits traits{
        "raft", "Raft", /*has_leader=*/true,
        [](const EngineConfig& config, RecoveredState recovered) -> std::unique_ptr<Engine> {
            return std::make_unique<Raft>(config, std::move(recovered));
        },
        persisted_codec<&decode_metadata, &decode_record>(),
        "ReadIndex (§6.4)", &metadata_for_new_cluster};
    return traits;
}

}  // namespace ballot::raft
