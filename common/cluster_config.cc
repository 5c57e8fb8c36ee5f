#include "common/cluster_config.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <stdexcept>

namespace ballot {

namespace {

// Parses a decimal integer that must fill the whole string.
std::optional<std::uint64_t> parse_number(const std::string& s) {
    if (s.empty() || s.size() > 19) return std::nullopt;
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace

std::optional<NodeAddress> parse_host_port(const std::string& text, NodeId id, std::string& error) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) {
        error = "expected HOST:PORT";
        return std::nullopt;
    }
    NodeAddress a;
    a.id = id;
    a.host = text.substr(0, colon);
    if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']')
        a.host = a.host.substr(1, a.host.size() - 2);
    std::string port = text.substr(colon + 1);
    if (a.host.empty()) {
        error = "missing host";
        return std::nullopt;
    }
    auto p = parse_number(port);
    if (!p) {
        error = "port '" + port + "' is not a number";
        return std::nullopt;
    }
    if (*p < 1 || *p > kMaxClientPort) {
        error = "port " + port + " is out of range 1-" + std::to_string(kMaxClientPort) +
                " (peers use PORT+" + std::to_string(kPeerPortOffset) + ")";
        return std::nullopt;
    }
    a.client_port = static_cast<std::uint16_t>(*p);
    return a;
}

std::optional<NodeAddress> parse_node_address(const std::string& text, std::string& error) {
    const std::string where = "--node " + text + ": ";
    auto last = text.rfind(':');
    if (last == std::string::npos || last == 0 || text.rfind(':', last - 1) == std::string::npos) {
        error = where + "expected HOST:PORT:ID";
        return std::nullopt;
    }
    std::string id = text.substr(last + 1);
    auto a = parse_host_port(text.substr(0, last), kNoNode, error);
    if (!a) {
        error = where + error;
        return std::nullopt;
    }
    auto i = parse_number(id);
    if (!i) {
        error = where + "id '" + id + "' is not a number";
        return std::nullopt;
    }
    if (*i < 1 || *i > kMaxNodeId) {
        error = where + "id " + id + " is out of range 1-" + std::to_string(kMaxNodeId);
        return std::nullopt;
    }
    a->id = *i;
    return a;
}

const NodeAddress& ClusterConfig::member(NodeId id) const {
    for (auto& m : members)
        if (m.id == id) return m;
    throw std::out_of_range("node " + std::to_string(id) + " is not a member");
}

std::vector<NodeId> ClusterConfig::ids() const {
    std::vector<NodeId> out;
    for (auto& m : members) out.push_back(m.id);
    return out;
}

std::string ClusterConfig::members_string() const {
    std::string out;
    for (auto& m : members) {
        if (!out.empty()) out += ",";
        out += std::to_string(m.id) + "@" + m.str();
    }
    return out;
}

std::optional<ClusterConfig> make_cluster_config(const std::vector<std::string>& nodes, NodeId self,
                                                 std::string& error) {
    if (nodes.empty()) {
        error = "missing --node: give one --node HOST:PORT:ID per member, self included";
        return std::nullopt;
    }
    ClusterConfig c;
    c.self = self;
    std::set<NodeId> ids;
    std::set<std::pair<std::string, std::uint16_t>> addresses;
    for (auto& text : nodes) {
        auto a = parse_node_address(text, error);
        if (!a) return std::nullopt;
        if (!ids.insert(a->id).second) {
            error = "duplicate node id " + std::to_string(a->id) + " in --node " + text;
            return std::nullopt;
        }
        if (!addresses.insert({a->host, a->client_port}).second) {
            error = "duplicate address " + a->str() + " in --node " + text;
            return std::nullopt;
        }
        c.members.push_back(*a);
    }
    if (!ids.count(self)) {
        error = "--id " + std::to_string(self) + " is not among the --node ids";
        return std::nullopt;
    }
    std::sort(c.members.begin(), c.members.end(), [](auto& a, auto& b) { return a.id < b.id; });
    return c;
}

}  // namespace ballot
