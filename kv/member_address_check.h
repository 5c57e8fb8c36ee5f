// MEMBER ADD's checks, apart from kv/member_command.cc because they are a coroutine: the fuzz
// build (clang 14 with the fuzzer's instrumentation) cannot compile coroutines and leaves this file
// out, as it leaves out kv/resp_server.cc, its one caller (kv/CMakeLists.txt).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "common/configuration.h"
#include "common/transport.h"

namespace ballot::kv {

// What MEMBER ADD's checks found: a refusal (the error reply without '-'), or the data dir
// identity of the node to add.
struct MemberAddCheck {
    std::string refusal;
    std::uint64_t identity = 0;
};

// Asks the node at a peer port for its data dir identity (Node::probe_peer in the server).
using ProbePeer =
    std::function<void(const boost::asio::ip::tcp::endpoint&, NodeId, std::function<void(PeerProbe)>)>;

// MEMBER ADD, checked before anything is proposed:
// - Its address must resolve, and to no endpoint of another member of `config` (localhost:7001 is
//   127.0.0.1:7001: common/address_check.h). A member of the same id is left to the engine, which
//   refuses it as "already a member". Names resolve on Asio's resolver thread: the node's loop
//   never waits on DNS. The change keeps the address as the operator typed it, not what it
//   resolved to: every node resolves a member's name itself when it dials it, so a node moved to a
//   new IP under the same name is found again, and MEMBER LIST shows the name the operator knows.
// - The node must be up there (started with --join), with this id and protocol: `probe` asks it
//   for its data dir identity at its peer port (client port + 10000), again every kProbeRetryMs
//   for kProbePatienceMs while nothing answers there (a node started a moment before may not
//   listen yet; the reply to a node that never started comes after that), and the change carries that
//   identity into the configuration (SPEC "Node identities are part of the configuration"), so
//   that the members admit that data dir and no other under this id, and the new node tells its
//   own entries from those of a data dir its id had before (common/configuration.h, SelfId).
constexpr std::uint32_t kProbeRetryMs = 100;
constexpr std::uint32_t kProbePatienceMs = 2000;
boost::asio::awaitable<MemberAddCheck> check_member_add(ConfigChange add, Configuration config, ProbePeer probe);

}  // namespace ballot::kv
