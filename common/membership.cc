#include "common/membership.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace ballot {

Membership::Membership(NodeId self, std::vector<NodeId> members) : self_(self), members_(std::move(members)) {
    std::sort(members_.begin(), members_.end());
    if (std::adjacent_find(members_.begin(), members_.end()) != members_.end())
        throw std::invalid_argument("a member is listed twice");
    if (!members_.empty() && members_.front() == kNoNode)
        throw std::invalid_argument("node id 0 is reserved for 'no node'");
    if (!std::binary_search(members_.begin(), members_.end(), self_))
        throw std::invalid_argument("own id " + std::to_string(self_) + " is not among the members");
    for (NodeId m : members_)
        if (m != self_) peers_.push_back(m);
}

bool Membership::contains(NodeId id) const {
    return std::binary_search(members_.begin(), members_.end(), id);
}

}  // namespace ballot
