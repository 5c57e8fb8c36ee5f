#include "common/configuration.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <stdexcept>

#include "common/codec.h"
#include "common/command.h"

namespace ballot {

namespace {

// Version 2 adds each member's identity; version 1 (written before identities) still loads, with none.
constexpr std::uint8_t kConfigurationVersion = 2;
constexpr std::size_t kMaxAddressBytes = 300;  // HOST:PORT; a DNS name is at most 253 bytes

bool valid_kind(std::uint8_t kind) {
    return kind >= static_cast<std::uint8_t>(ConfigChange::Kind::add_learner) &&
           kind <= static_cast<std::uint8_t>(ConfigChange::Kind::remove);
}

bool valid_role(std::uint8_t role) {
    return role == static_cast<std::uint8_t>(MemberRole::voter) ||
           role == static_cast<std::uint8_t>(MemberRole::learner);
}

}  // namespace

Configuration Configuration::of_voters(const std::vector<NodeId>& ids) {
    std::vector<Member> members;
    for (NodeId id : ids) members.push_back(Member{id, "", MemberRole::voter, false});
    return Configuration(std::move(members));
}

Configuration::Configuration(std::vector<Member> members) : members_(std::move(members)) {
    std::sort(members_.begin(), members_.end(), [](const Member& a, const Member& b) { return a.id < b.id; });
    std::set<std::string> addresses;
    for (std::size_t i = 0; i < members_.size(); ++i) {
        const Member& m = members_[i];
        if (m.id == kNoNode) throw std::invalid_argument("node id 0 is reserved for 'no node'");
        if (i > 0 && members_[i - 1].id == m.id)
            throw std::invalid_argument("node " + std::to_string(m.id) + " is listed twice");
        if (!m.address.empty() && !addresses.insert(m.address).second)
            throw std::invalid_argument("address " + m.address + " is listed twice");
        if (m.role == MemberRole::voter && m.auto_promote)
            throw std::invalid_argument("node " + std::to_string(m.id) + " is a voter waiting for promotion");
    }
}

std::vector<NodeId> Configuration::ids() const {
    std::vector<NodeId> out;
    for (const Member& m : members_) out.push_back(m.id);
    return out;
}

std::vector<NodeId> Configuration::voters() const {
    std::vector<NodeId> out;
    for (const Member& m : members_)
        if (m.role == MemberRole::voter) out.push_back(m.id);
    return out;
}

std::vector<NodeId> Configuration::learners() const {
    std::vector<NodeId> out;
    for (const Member& m : members_)
        if (m.role == MemberRole::learner) out.push_back(m.id);
    return out;
}

const Member* Configuration::find(NodeId id) const {
    auto it = std::lower_bound(members_.begin(), members_.end(), id,
                               [](const Member& m, NodeId want) { return m.id < want; });
    return it != members_.end() && it->id == id ? &*it : nullptr;
}

bool Configuration::is_voter(NodeId id) const {
    const Member* m = find(id);
    return m != nullptr && m->role == MemberRole::voter;
}

bool Configuration::is_voter(const SelfId& self) const {
    const Member* m = find(self.id);
    return m != nullptr && m->role == MemberRole::voter && self.is(*m);
}

bool Configuration::names_another(const SelfId& self) const {
    const Member* m = find(self.id);
    return m != nullptr && !self.is(*m);
}

std::optional<std::string> Configuration::refuse_unreachable(std::size_t reachable,
                                                             std::size_t quorum) const {
    if (reachable >= quorum) return std::nullopt;
    return "only " + std::to_string(reachable) + " of the " + std::to_string(voters().size()) +
           " voters it leaves are reachable, fewer than the quorum of " + std::to_string(quorum) +
           " it needs";
}

namespace {

// A promote or remove made for another data dir than the member now under that id (ConfigChange::
// member_identity).
std::optional<std::string> replaced_since(const ConfigChange& change, const Member& m) {
    if (!change.member_identity || *change.member_identity == m.identity) return std::nullopt;
    if (*change.member_identity == ConfigChange::kNotAMember)
        return "node " + std::to_string(change.id) +
               " was not a member when this request was made: it joined since (send it again to act on it)";
    return "node " + std::to_string(change.id) +
           " is not the member this request was made for: it was replaced since (another data dir)";
}

}  // namespace

std::optional<std::string> Configuration::refuse(const ConfigChange& change) const {
    const std::string node = "node " + std::to_string(change.id);
    if (change.id == kNoNode) return std::string("node id 0 is reserved for 'no node'");
    const Member* m = find(change.id);
    switch (change.kind) {
        case ConfigChange::Kind::add_learner:
            if (m != nullptr) return node + " is already a member";
            if (change.address.empty()) return node + " needs an address";
            for (const Member& other : members_)
                if (other.address == change.address)
                    return "address " + change.address + " is already used by node " +
                           std::to_string(other.id);
            return std::nullopt;
        case ConfigChange::Kind::promote:
            if (m == nullptr) return node + " is not a member";
            if (auto replaced = replaced_since(change, *m)) return replaced;
            if (m->role == MemberRole::voter) return node + " is already a voter";
            return std::nullopt;
        case ConfigChange::Kind::remove:
            if (m == nullptr) return node + " is not a member";
            if (auto replaced = replaced_since(change, *m)) return replaced;
            if (m->role == MemberRole::voter && voters().size() == 1) return node + " is the last voter";
            return std::nullopt;
    }
    return std::string("unknown change");
}

Configuration Configuration::with(const ConfigChange& change) const {
    std::vector<Member> members = members_;
    switch (change.kind) {
        case ConfigChange::Kind::add_learner:
            members.push_back(
                Member{change.id, change.address, MemberRole::learner, change.auto_promote, change.identity});
            break;
        case ConfigChange::Kind::promote:
            for (Member& m : members)
                if (m.id == change.id) m = Member{m.id, m.address, MemberRole::voter, false, m.identity};
            break;
        case ConfigChange::Kind::remove:
            std::erase_if(members, [&](const Member& m) { return m.id == change.id; });
            break;
    }
    return Configuration(std::move(members));
}

bool single_server_change(const Configuration& prev, const Configuration& next) {
    std::set<NodeId> changed;
    for (const Member& m : prev.members_) {
        const Member* now = next.find(m.id);
        if (now == nullptr || now->role != m.role || now->address != m.address) changed.insert(m.id);
    }
    for (const Member& m : next.members_)
        if (!prev.contains(m.id)) changed.insert(m.id);
    return changed.size() == 1;
}

std::string Configuration::str() const {
    std::string out;
    for (const Member& m : members_) {
        if (!out.empty()) out += ",";
        out += std::to_string(m.id);
        if (!m.address.empty()) out += "@" + m.address;
        out += " ";
        out += member_role_name(m.role);
        if (m.auto_promote) out += "(promote when caught up)";
        if (m.identity != 0) {
            char dir[32];
            std::snprintf(dir, sizeof dir, " [data dir %016llx]",
                          static_cast<unsigned long long>(m.identity));
            out += dir;
        }
    }
    return out.empty() ? "(none)" : out;
}

void encode_configuration(const Configuration& config, Bytes& out) {
    Writer w(out);
    w.u8(kConfigurationVersion);
    w.u32(static_cast<std::uint32_t>(config.members().size()));
    for (const Member& m : config.members()) {
        w.u64(m.id);
        w.str(m.address);
        w.u8(static_cast<std::uint8_t>(m.role));
        w.boolean(m.auto_promote);
        w.u64(m.identity);
    }
}

std::optional<Configuration> decode_configuration(std::span<const std::uint8_t> bytes, std::string& why) {
    Reader r(bytes);
    const std::uint8_t version = r.u8();
    if (version != 1 && version != kConfigurationVersion) {
        why = "unknown configuration version";
        return std::nullopt;
    }
    const bool identities = version >= 2;
    std::vector<Member> members(r.count(8 + 4 + 1 + 1 + (identities ? 8 : 0)));
    for (Member& m : members) {
        m.id = r.u64();
        m.address = r.str();
        const std::uint8_t role = r.u8();
        m.auto_promote = r.boolean();
        if (identities) m.identity = r.u64();
        if (!valid_role(role)) r.fail("unknown member role");
        if (m.address.size() > kMaxAddressBytes) r.fail("address too long");
        m.role = static_cast<MemberRole>(role);
    }
    if (!r.finish()) {
        why = r.error();
        return std::nullopt;
    }
    try {
        return Configuration(std::move(members));
    } catch (const std::invalid_argument& e) {
        why = e.what();
        return std::nullopt;
    }
}

namespace {

void write_change(Writer& w, const ConfigChange& change) {
    w.u8(static_cast<std::uint8_t>(change.kind));
    w.u64(change.id);
    w.str(change.address);
    w.boolean(change.auto_promote);
}

std::optional<ConfigChange> read_change(Reader& r) {
    ConfigChange c;
    const std::uint8_t kind = r.u8();
    c.id = r.u64();
    c.address = r.str();
    c.auto_promote = r.boolean();
    if (!r.ok() || !valid_kind(kind) || c.id == kNoNode || c.address.size() > kMaxAddressBytes)
        return std::nullopt;
    c.kind = static_cast<ConfigChange::Kind>(kind);
    if (c.kind != ConfigChange::Kind::add_learner && (!c.address.empty() || c.auto_promote))
        return std::nullopt;
    return c;
}

// The entry's configuration is what `change` leaves: consistent, or the bytes are not ours.
bool change_shows_in(const ConfigChange& change, const Configuration& config) {
    const Member* m = config.find(change.id);
    switch (change.kind) {
        case ConfigChange::Kind::add_learner:
            return m != nullptr && m->role == MemberRole::learner && m->address == change.address;
        case ConfigChange::Kind::promote:
            return m != nullptr && m->role == MemberRole::voter;
        case ConfigChange::Kind::remove:
            return m == nullptr && !config.voters().empty();
    }
    return false;
}

}  // namespace

// A request also carries the new member's identity (an entry's configuration holds it), and, for a
// promote or remove, optionally the identity of the member it means:
//     tag | change | u64 identity [| u64 member identity]
std::optional<ConfigChange> decode_config_request(std::string_view payload) {
    Reader r(payload.data(), payload.size());
    if (r.u8() != kConfigRequestTag) return std::nullopt;
    auto change = read_change(r);
    const std::uint64_t identity = r.u64();
    std::optional<std::uint64_t> member_identity;
    if (r.ok() && r.remaining() > 0) member_identity = r.u64();
    if (!r.finish() || !change) return std::nullopt;
    const bool adds = change->kind == ConfigChange::Kind::add_learner;
    if ((identity != 0 && !adds) || (member_identity && adds)) return std::nullopt;
    change->identity = identity;
    change->member_identity = member_identity;
    return change;
}

std::string encode_config_request(const ConfigChange& change) {
    Bytes out;
    Writer w(out);
    w.u8(kConfigRequestTag);
    write_change(w, change);
    w.u64(change.identity);
    if (change.member_identity) w.u64(*change.member_identity);
    return std::string(out.begin(), out.end());
}

// An entry keeps the identity a promote or remove was made for (ConfigChange::member_identity),
// so that the engines that void entries when they apply them (basic Paxos, Multi-Paxos: one
// placed against an older configuration than the one it lands in) refuse one that reaches the log
// after its member was replaced or a newcomer took the id. The field goes between the change and the
// configuration, marked by a byte no configuration version takes, so entries written before it decode as
// before:
//     tag | change | [kMemberIdentityMark | u64 member identity] | configuration
namespace {
constexpr std::uint8_t kMemberIdentityMark = 0x80;
}  // namespace

std::string encode_config_entry(const ConfigEntry& entry) {
    Bytes out;
    Writer w(out);
    w.u8(kConfigEntryTag);
    write_change(w, entry.change);
    if (entry.change.member_identity) {
        w.u8(kMemberIdentityMark);
        w.u64(*entry.change.member_identity);
    }
    encode_configuration(entry.config, out);
    return std::string(out.begin(), out.end());
}

bool is_config_entry(std::string_view payload) {
    return !payload.empty() && static_cast<std::uint8_t>(payload.front()) == kConfigEntryTag;
}

std::optional<ConfigEntry> decode_config_entry(std::string_view payload) {
    Reader r(payload.data(), payload.size());
    if (r.u8() != kConfigEntryTag) return std::nullopt;
    auto change = read_change(r);
    if (!change) return std::nullopt;
    if (r.remaining() > 0 &&
        static_cast<std::uint8_t>(payload[payload.size() - r.remaining()]) == kMemberIdentityMark) {
        (void)r.u8();
        change->member_identity = r.u64();
        if (!r.ok() || change->kind == ConfigChange::Kind::add_learner) return std::nullopt;
    }
    const std::size_t used = payload.size() - r.remaining();
    std::string why;
    auto config =
        decode_configuration(std::span<const std::uint8_t>(
                                 reinterpret_cast<const std::uint8_t*>(payload.data()) + used, r.remaining()),
                             why);
    if (!config || !change_shows_in(*change, *config)) return std::nullopt;
    if (change->kind == ConfigChange::Kind::add_learner)
        change->identity = config->find(change->id)->identity;
    return ConfigEntry{std::move(*change), std::move(*config)};
}

std::optional<ConfigEntry> config_entry_of(std::string_view entry_data) {
    // Most entries are client writes: look at the payload's first byte before decoding anything.
    if (!is_config_entry(peek_command_payload(entry_data))) return std::nullopt;
    auto command = decode_command(entry_data);
    if (!command) return std::nullopt;
    return decode_config_entry(command->payload);
}

std::optional<std::string> make_config_entry_command(std::string_view request, const Configuration& current,
                                                     std::string& why) {
    auto command = decode_command(request);
    auto change = command ? decode_config_request(command->payload) : std::nullopt;
    if (!change) {
        why = "not a membership change request";
        return std::nullopt;
    }
    if (auto refused = current.refuse(*change)) {
        why = *refused;
        return std::nullopt;
    }
    command->payload = encode_config_entry(ConfigEntry{*change, current.with(*change)});
    return encode_command(*command);
}

std::string describe(const ConfigChange& change) {
    const std::string id = std::to_string(change.id);
    switch (change.kind) {
        case ConfigChange::Kind::add_learner:
            return "add learner " + id + "@" + change.address +
                   (change.auto_promote ? " (promote when caught up)" : "");
        case ConfigChange::Kind::promote:
            return "promote " + id;
        case ConfigChange::Kind::remove:
            return "remove " + id;
    }
    return "unknown change";
}

}  // namespace ballot
