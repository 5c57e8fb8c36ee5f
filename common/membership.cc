#include "common/membership.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace ballot {

Membership::Membership(NodeId self, Configuration config) : Membership(SelfId{self}, std::move(config)) {}

Membership::Membership(SelfId self, Configuration config)
    : self_(self.id),
      self_id_(self),
      config_(std::move(config)),
      members_(config_.ids()),
      voters_(config_.voters()) {
    for (NodeId m : members_)
        if (m != self_) peers_.push_back(m);
    for (NodeId m : voters_)
        if (m != self_) voter_peers_.push_back(m);
}

namespace {
Configuration checked_voters(NodeId self, const std::vector<NodeId>& voters) {
    auto config = Configuration::of_voters(voters);
    if (!config.contains(self))
        throw std::invalid_argument("own id " + std::to_string(self) + " is not among the members");
    return config;
}
}  // namespace

Membership::Membership(NodeId self, const std::vector<NodeId>& voters)
    : Membership(self, checked_voters(self, voters)) {}

}  // namespace ballot
