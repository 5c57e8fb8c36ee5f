// See registry.h. The engine list comes from the build (BALLOT_ENGINES in CMakeLists.txt), as one
// BALLOT_ENGINE(folder) line per engine; each engine defines its traits in its own folder.
#include "engines/registry.h"

namespace ballot {

#define BALLOT_ENGINE(folder)            \
    namespace folder {                   \
    const EngineTraits& engine_traits(); \
    }
#include "ballot_engine_list.inc"
#undef BALLOT_ENGINE

const std::vector<const EngineTraits*>& engines() {
    static const std::vector<const EngineTraits*> all = {
#define BALLOT_ENGINE(folder) &folder::engine_traits(),
#include "ballot_engine_list.inc"
#undef BALLOT_ENGINE
    };
    return all;
}

const EngineTraits* find_engine(std::string_view name) {
    for (const EngineTraits* e : engines())
        if (e->name == name) return e;
    return nullptr;
}

const std::vector<std::string>& engine_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const EngineTraits* e : engines()) out.emplace_back(e->name);
        return out;
    }();
    return names;
}

std::unique_ptr<Engine> make_engine(const std::string& protocol, const EngineConfig& config,
                                    RecoveredState recovered) {
    const EngineTraits* e = find_engine(protocol);
    return e ? e->make(config, std::move(recovered)) : nullptr;
}

}  // namespace ballot
