#include "kv/member_command.h"

#include <cctype>
#include <charconv>

#include "common/cluster_config.h"
#include "kv/resp.h"

namespace ballot::kv {

namespace {

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// A node id as --id takes it: 1 to kMaxNodeId.
std::optional<NodeId> parse_id(const std::string& text) {
    NodeId id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || id < 1 || id > kMaxNodeId)
        return std::nullopt;
    return id;
}

std::string bad_id(const std::string& text) {
    return "ERR invalid node id '" + text + "': expected a number from 1 to " + std::to_string(kMaxNodeId);
}

// MEMBER ADD ID HOST:PORT [LEARNER]
MemberRequest parse_add(const std::vector<std::string>& args) {
    auto id = parse_id(args[1]);
    if (!id) return bad_id(args[1]);
    std::string error;
    auto address = parse_host_port(args[2], *id, error);
    if (!address) return invalid_address_reply(args[2], error);
    const bool learner = args.size() == 4;
    if (learner && upper(args[3]) != "LEARNER") return std::string("ERR syntax error");
    return ConfigChange{ConfigChange::Kind::add_learner, *id, address->str(), !learner};
}

}  // namespace

MemberRequest parse_member(const std::vector<std::string>& args) {
    const std::string sub = upper(args.at(0));
    const std::size_t n = args.size();
    auto wrong_arity = [&] {
        return "ERR wrong number of arguments for 'member|" + lower(args[0]) + "' command";
    };
    if (sub == "LIST") return n == 1 ? MemberRequest{MemberList{}} : wrong_arity();
    if (sub == "ADD") return n == 3 || n == 4 ? parse_add(args) : wrong_arity();
    if (sub != "PROMOTE" && sub != "REMOVE" && sub != "TRANSFER")
        return "ERR unknown subcommand '" + args[0].substr(0, 128) +
               "'. Try MEMBER LIST|ADD|PROMOTE|REMOVE|TRANSFER.";
    if (n != 2) return wrong_arity();
    auto id = parse_id(args[1]);
    if (!id) return bad_id(args[1]);
    if (sub == "TRANSFER") return MemberTransfer{*id};
    return ConfigChange{sub == "PROMOTE" ? ConfigChange::Kind::promote : ConfigChange::Kind::remove, *id, "",
                        false};
}

std::string invalid_address_reply(const std::string& text, const std::string& why) {
    return "ERR invalid address '" + text + "': " + why;
}

std::string member_list_reply(const Configuration& config) {
    std::string out;
    append_array_header(out, config.members().size());
    for (const Member& m : config.members())
        append_bulk(out, std::to_string(m.id) + "@" + m.address + " " + member_role_name(m.role));
    return out;
}

}  // namespace ballot::kv
