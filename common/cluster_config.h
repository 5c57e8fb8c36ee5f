// Cluster membership as the operator writes it: one `--node HOST:PORT:ID` per member.
// HOST:PORT is where the node serves clients (RESP); peers talk on PORT + kPeerPortOffset
// (Redis Cluster's bus-port rule), so each node needs only one address on the command line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/types.h"

namespace ballot {

inline constexpr std::uint32_t kPeerPortOffset = 10000;
inline constexpr std::uint32_t kMaxClientPort = 65535 - kPeerPortOffset;  // 55535
inline constexpr NodeId kMaxNodeId = 65535;  // ballots pack the node id in 16 bits

struct NodeAddress {
    NodeId id = kNoNode;
    std::string host;
    std::uint16_t client_port = 0;

    std::uint16_t peer_port() const { return static_cast<std::uint16_t>(client_port + kPeerPortOffset); }
    std::string str() const { return host + ":" + std::to_string(client_port); }
};

// Parses "HOST:PORT:ID". On failure returns nullopt and sets `error` to one line naming the
// problem (e.g. "--node 127.0.0.1:70000:1: port 70000 is out of range 1-55535").
std::optional<NodeAddress> parse_node_address(const std::string& text, std::string& error);

// Parses a member's "HOST:PORT" (MEMBER ADD, a configuration's addresses) for node `id`. On failure
// returns nullopt and sets `error` to one line naming the problem ("port 70000 is out of range ...").
std::optional<NodeAddress> parse_host_port(const std::string& text, NodeId id, std::string& error);

struct ClusterConfig {
    NodeId self = kNoNode;
    std::vector<NodeAddress> members;  // sorted by id

    const NodeAddress& member(NodeId id) const;
    const NodeAddress& self_address() const { return member(self); }
    std::vector<NodeId> ids() const;
    // "1@127.0.0.1:7001,2@127.0.0.1:7002,..." as INFO's `members` field shows it.
    std::string members_string() const;
};

// Builds and checks a cluster from the --node values and --id: every address parses, ids and
// HOST:PORT pairs are unique, and `self` is a member. Error: one line naming the problem.
std::optional<ClusterConfig> make_cluster_config(const std::vector<std::string>& nodes, NodeId self,
                                                 std::string& error);

}  // namespace ballot
