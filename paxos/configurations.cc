#include "paxos/configurations.h"

#include <iterator>

#include "common/assert.h"

namespace ballot::paxos {

Configurations::Configurations(NodeId self, Configuration bootstrap)
    : Configurations(SelfId{self}, std::move(bootstrap)) {}

Configurations::Configurations(SelfId self, Configuration bootstrap) : self_(self) {
    add(1, 0, std::move(bootstrap));
}

void Configurations::add(Index from, Index chosen_in, Configuration config) {
    steps_.insert_or_assign(from, Membership(self_, std::move(config)));
    chosen_in_[from] = chosen_in;
}

const Membership& Configurations::at(Index slot) const {
    BALLOT_ASSERT(known(slot), "paxos: config(" + std::to_string(slot) +
                                   ") is asked for only once every slot <= " + std::to_string(slot) +
                                   " - alpha is known chosen (known through " + std::to_string(through_) +
                                   ")");
    auto it = steps_.upper_bound(slot);
    BALLOT_ASSERT(it != steps_.begin(), "paxos: a configuration governs every slot since the history began");
    return std::prev(it)->second;
}

const Membership* Configurations::find(Index slot) const {
    if (!known(slot)) return nullptr;
    auto it = steps_.upper_bound(slot);
    return it == steps_.begin() ? nullptr : &std::prev(it)->second;
}

std::vector<const Membership*> Configurations::governing(Index first, Index last) const {
    std::vector<const Membership*> out;
    auto it = steps_.upper_bound(first);
    if (it != steps_.begin()) --it;
    for (; it != steps_.end() && it->first <= last; ++it) out.push_back(&it->second);
    return out;
}

bool Configurations::knows(NodeId id) const {
    for (const auto& [from, members] : steps_)
        if (members.contains(id)) return true;
    return false;
}

// The basic Paxos guard (README "Membership change"): an entry takes effect only if it is its
// change made to config(slot), and config(slot) is the newest configuration (no change chosen in
// the α slots before it waits to govern). Two proposers that each made a change to the same
// configuration, in different slots, cannot both succeed: the later one finds the configuration
// moved under it, and is void. Every node decides this from the chosen prefix alone, so all agree.
Configurations::Effect Configurations::chosen(Index slot, std::string_view value, bool guard) {
    BALLOT_ASSERT(slot == through_ + 1, "paxos: configurations follow the chosen prefix in slot order");
    through_ = slot;
    std::optional<ConfigEntry> entry = config_entry_of(value);
    if (!entry) return Effect::none;
    // A node started with --join knows no configuration before the first entry it learns (the
    // bootstrap one is not in the log): it takes that one as it is. It never proposes meanwhile.
    const bool knows_none = steps_.size() == 1 && newest().configuration().empty();
    if (guard && !knows_none) {
        const Configuration& governing = at(slot).configuration();
        const bool newest_governs = newest_from() <= slot;
        if (!newest_governs || governing.refuse(entry->change) ||
            governing.with(entry->change) != entry->config)
            return Effect::void_entry;
    }
    add(slot + kAlpha, slot, std::move(entry->config));
    return Effect::applied;
}

std::vector<ConfigStep> Configurations::relevant_after(Index x) const {
    BALLOT_ASSERT(x <= through_, "paxos: a snapshot's configurations are known");
    std::vector<ConfigStep> out;
    auto first = steps_.upper_bound(x + 1);
    if (first != steps_.begin()) --first;
    for (auto it = first; it != steps_.end(); ++it) {
        const Index chosen_in = chosen_in_.at(it->first);
        if (it != first && chosen_in > x) break;  // chosen after the snapshot: not part of its state
        out.push_back(ConfigStep{it->first, chosen_in, it->second.configuration()});
    }
    return out;
}

void Configurations::reset(Index x, const std::vector<ConfigStep>& steps) {
    // A snapshot this node's prefix already covers teaches nothing: its history is a prefix of ours
    // (the same chosen values, the same decisions), and ours may hold steps chosen after it.
    if (x <= through_) return;
    if (!steps.empty()) {
        steps_.clear();
        chosen_in_.clear();
        for (const ConfigStep& s : steps) add(s.from, s.chosen_in, s.config);
    }
    through_ = x;
}

void Configurations::forget_through(Index slot) {
    auto governing = steps_.upper_bound(slot + 1);
    if (governing == steps_.begin()) return;
    --governing;
    for (auto it = steps_.begin(); it != governing;) {
        chosen_in_.erase(it->first);
        it = steps_.erase(it);
    }
}

std::vector<ConfigStep> Configurations::steps() const {
    std::vector<ConfigStep> out;
    for (const auto& [from, members] : steps_)
        out.push_back(ConfigStep{from, chosen_in_.at(from), members.configuration()});
    return out;
}

}  // namespace ballot::paxos
