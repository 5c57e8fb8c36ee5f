// The registry of engines: the one place that lists them. It sits above the engines (common/
// knows none of them); the runtime's main, the bench, the simulator and the tests ask it.
//
// Adding an engine: a folder with the protocol and an engine_traits.cc defining
// `ballot::<folder>::engine_traits()`, plus its folder name in BALLOT_ENGINES (CMakeLists.txt).
// The build generates the list this registry reads (ballot_engine_list.inc).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/engine.h"

namespace ballot {

// Every engine built in, in the order of BALLOT_ENGINES (the order the bench runs them).
const std::vector<const EngineTraits*>& engines();

// The engine called `name` (its --protocol), or nullptr.
const EngineTraits* find_engine(std::string_view name);

// The protocol names, in registry order.
const std::vector<std::string>& engine_names();

// Builds the engine called `protocol` from its configuration and what it recovered from disk.
// Returns nullptr for an unknown protocol.
std::unique_ptr<Engine> make_engine(const std::string& protocol, const EngineConfig& config,
                                    RecoveredState recovered);

}  // namespace ballot
