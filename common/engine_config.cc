#include <stdexcept>
#include <string>

#include "common/engine.h"
#include "common/membership.h"

namespace ballot {

Configuration bootstrap_configuration(const EngineConfig& c) {
    if (c.join) return Configuration();
    std::vector<Member> members;
    for (NodeId id : c.members) {
        auto address = c.addresses.find(id);
        members.push_back(
            Member{id, address == c.addresses.end() ? "" : address->second, MemberRole::voter, false});
    }
    return Configuration(std::move(members));
}

void validate_engine_config(const EngineConfig& c, std::string_view engine) {
    auto fail = [&](const std::string& why) {
        throw std::invalid_argument(std::string(engine) + " configuration: " + why);
    };
    if (c.id == kNoNode) fail("node id 0 is reserved for 'no node'");
    try {
        if (!c.join) Membership check(c.id, bootstrap_configuration(c));
        if (!c.join && !Configuration::of_voters(c.members).contains(c.id))
            fail("own id " + std::to_string(c.id) + " is not among the members");
    } catch (const std::invalid_argument& e) {
        fail(e.what());
    }
    if (c.election_timeout_min_ticks == 0 || c.election_timeout_min_ticks > c.election_timeout_max_ticks)
        fail("election timeout must be a range [min, max] with 0 < min <= max ticks");
    if (c.heartbeat_ticks == 0 || c.heartbeat_ticks >= c.election_timeout_min_ticks)
        fail("heartbeat interval must be at least one tick and shorter than the minimum election timeout");
    if (c.max_message_bytes == 0 || c.max_inflight_messages == 0 || c.max_inflight_bytes == 0 ||
        c.max_pending_proposals == 0)
        fail(
            "max_message_bytes, max_inflight_messages, max_inflight_bytes and max_pending_proposals must be "
            "positive");
    if (c.initial_inflight_bytes == 0) fail("initial_inflight_bytes must be positive");
}

}  // namespace ballot
