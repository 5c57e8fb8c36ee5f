// Membership change (dissertation §4.1, single-server changes) and learners.
#include "raft/raft.h"

namespace ballot::raft {

std::optional<std::string> Raft::propose_config_change(std::string /*request*/) {
    return std::string("membership change is not built for Raft yet");
}

std::optional<std::string> Raft::transfer_leadership(NodeId /*target*/) {
    return std::string("leadership transfer is not built for Raft yet");
}

}  // namespace ballot::raft
