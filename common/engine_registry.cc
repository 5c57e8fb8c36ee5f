// The one place that knows every engine. Adding an engine is one line here.
#include <stdexcept>

#include "common/engine.h"
#ifdef BALLOT_HAVE_RAFT
#include "raft/persist.h"
#include "raft/raft.h"
#endif
#ifdef BALLOT_HAVE_MULTIPAXOS
#include "multipaxos/multipaxos.h"
#include "multipaxos/persist.h"
#endif
#ifdef BALLOT_HAVE_PAXOS
#include "paxos/paxos.h"
#include "paxos/persist.h"
#endif

namespace ballot {

const std::vector<std::string>& engine_names() {
    static const std::vector<std::string> names = {
#ifdef BALLOT_HAVE_RAFT
        "raft",
#endif
#ifdef BALLOT_HAVE_MULTIPAXOS
        "multipaxos",
#endif
#ifdef BALLOT_HAVE_PAXOS
        "paxos",
#endif
    };
    return names;
}

std::unique_ptr<Engine> make_engine(const std::string& protocol, const EngineConfig& config,
                                    RecoveredState recovered) {
#ifdef BALLOT_HAVE_RAFT
    if (protocol == "raft") return std::make_unique<raft::Raft>(config, std::move(recovered));
#endif
#ifdef BALLOT_HAVE_MULTIPAXOS
    if (protocol == "multipaxos")
        return std::make_unique<multipaxos::MultiPaxos>(config, std::move(recovered));
#endif
#ifdef BALLOT_HAVE_PAXOS
    if (protocol == "paxos") return std::make_unique<paxos::Paxos>(config, std::move(recovered));
#endif
    return nullptr;
}

std::optional<PersistedCodec> persisted_codec(const std::string& protocol) {
#ifdef BALLOT_HAVE_RAFT
    if (protocol == "raft") return raft::persisted_codec();
#endif
#ifdef BALLOT_HAVE_MULTIPAXOS
    if (protocol == "multipaxos") return multipaxos::persisted_codec();
#endif
#ifdef BALLOT_HAVE_PAXOS
    if (protocol == "paxos") return paxos::persisted_codec();
#endif
    return std::nullopt;
}

}  // namespace ballot
