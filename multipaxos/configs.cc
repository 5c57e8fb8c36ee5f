#include "multipaxos/configs.h"

#include <algorithm>
#include <string_view>

#include "common/codec.h"

namespace ballot::multipaxos {

namespace {
constexpr std::uint8_t kHistoryVersion = 1;
const Configuration kNone;
}  // namespace

std::size_t voter_quorum(const Configuration& c) {
    std::size_t voters = 0;
    for (const Member& m : c.members()) voters += m.role == MemberRole::voter ? 1 : 0;
    return voters / 2 + 1;
}

Index ConfigHistory::governing_since(Index slot) const {
    auto it = by_first_slot_.upper_bound(slot);
    return it == by_first_slot_.begin() ? 0 : std::prev(it)->first;
}

ConfigHistory::ConfigHistory(const Configuration& config, Index from) {
    if (!config.empty()) by_first_slot_[from] = config;
}

const Configuration& ConfigHistory::at(Index slot) const {
    auto it = by_first_slot_.upper_bound(slot);
    return it == by_first_slot_.begin() ? kNone : std::prev(it)->second;
}

const Configuration& ConfigHistory::latest() const {
    return empty() ? kNone : by_first_slot_.rbegin()->second;
}

std::vector<const Configuration*> ConfigHistory::governing_from(Index slot) const {
    std::vector<const Configuration*> out;
    if (!at(slot).empty()) out.push_back(&at(slot));
    for (auto it = by_first_slot_.upper_bound(slot); it != by_first_slot_.end(); ++it)
        out.push_back(&it->second);
    return out;
}

std::vector<NodeId> ConfigHistory::members_from(Index slot) const {
    std::vector<NodeId> ids;
    for (const Configuration* c : governing_from(slot))
        for (NodeId id : c->ids())
            if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    return ids;
}

bool ConfigHistory::chosen(Index slot, const ConfigEntry& entry, bool guard) {
    if (guard && !empty()) {
        const Configuration& newest = latest();
        if (latest_from() > slot || newest.refuse(entry.change) || newest.with(entry.change) != entry.config)
            return false;
    }
    by_first_slot_[slot + kAlpha] = entry.config;
    return true;
}

Bytes ConfigHistory::encode_after(Index last_slot) const {
    Bytes out;
    Writer w(out);
    std::vector<std::pair<Index, const Configuration*>> kept;
    for (const auto& [from, config] : by_first_slot_) {
        if (from > last_slot + kAlpha) break;     // made by a command chosen after the snapshot
        if (from <= last_slot + 1) kept.clear();  // governs nothing after the snapshot but this one
        kept.emplace_back(from, &config);
    }
    w.u8(kHistoryVersion);
    w.u32(static_cast<std::uint32_t>(kept.size()));
    for (const auto& [from, config] : kept) {
        Bytes bytes;
        encode_configuration(*config, bytes);
        w.u64(from);
        w.str(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    }
    return out;
}

std::optional<ConfigHistory> ConfigHistory::decode(std::span<const std::uint8_t> bytes, std::string& why) {
    ConfigHistory history;
    if (bytes.empty()) return history;
    Reader r(bytes);
    if (r.u8() != kHistoryVersion) {
        why = "unknown configuration history version";
        return std::nullopt;
    }
    std::uint32_t n = r.count(8 + 4);
    Index previous = 0;
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        const Index from = r.u64();
        const std::string config_bytes = r.str();
        if (!r.ok()) break;
        if (from <= previous) {
            why = "configuration history not in ascending slot order";
            return std::nullopt;
        }
        previous = from;
        std::optional<Configuration> config = decode_configuration(
            std::span(reinterpret_cast<const std::uint8_t*>(config_bytes.data()), config_bytes.size()), why);
        if (!config) return std::nullopt;
        history.by_first_slot_[from] = std::move(*config);
    }
    if (!r.finish()) {
        why = "configuration history does not decode";
        return std::nullopt;
    }
    return history;
}

std::string ConfigHistory::str() const {
    std::string out;
    for (const auto& [from, config] : by_first_slot_)
        out += (out.empty() ? "" : "; ") + std::string("from ") + std::to_string(from) + ": " + config.str();
    return out.empty() ? "none" : out;
}

}  // namespace ballot::multipaxos
