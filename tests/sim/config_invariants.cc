#include "tests/sim/config_invariants.h"

#include <utility>

#include "multipaxos/configs.h"
#include "paxos/configurations.h"

namespace ballot::sim {

ConfigChecker::ConfigChecker(const std::string& engine, Configuration bootstrap, Violations& violations)
    : voids_(engine == "paxos"),
      alpha_(engine == "paxos"        ? paxos::kAlpha
             : engine == "multipaxos" ? multipaxos::kAlpha
                                      : 1),
      current_(std::move(bootstrap)),
      violations_(violations) {}

void ConfigChecker::on_apply(Index index, const Command& command) {
    if (!is_config_entry(command.payload)) return;
    const std::optional<ConfigEntry> entry = decode_config_entry(command.payload);
    if (!entry) {
        violations_.add("index " + std::to_string(index) +
                        " holds a configuration entry that does not decode");
        return;
    }
    if (entry->config == current_) {
        ++stats_.repeats;
        return;
    }
    const bool made_to_current =
        !current_.refuse(entry->change) && current_.with(entry->change) == entry->config;
    // paxos/configurations.cc: void unless made to the newest configuration, which governs the slot.
    if (voids_ && (!made_to_current || index < current_governs_from_)) {
        ++stats_.voided;
        return;
    }
    if (!made_to_current || !single_server_change(current_, entry->config)) {
        violations_.add("index " + std::to_string(index) + " commits configuration " + entry->config.str() +
                        " (" + describe(entry->change) + ") after " + current_.str() +
                        ": not a single-server change of the configuration in force");
        return;
    }
    ++stats_.changes;
    current_ = entry->config;
    if (trace)
        trace("CONFIG index " + std::to_string(index) + ": " + describe(entry->change) + " -> " +
              current_.str());
    current_governs_from_ = index + alpha_;
}

}  // namespace ballot::sim
