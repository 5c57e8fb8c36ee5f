// MEMBER: the cluster's members, changed from a client (SPEC "Membership change, learners,
// leadership transfer"). Admin-only (kv_commands.cc's table):
//
//   MEMBER LIST                         array of "ID@HOST:PORT ROLE", ROLE voter or learner
//   MEMBER ADD ID HOST:PORT [LEARNER]   a learner; without LEARNER the leader promotes it once caught up
//   MEMBER PROMOTE ID | MEMBER REMOVE ID
//   MEMBER TRANSFER ID                  hand leadership to ID
//
// parse_member() checks the arguments as Redis checks a container command's (unknown subcommand,
// wrong number of arguments for 'member|add'); check_member_address() resolves MEMBER ADD's
// address; kv/resp_server.cc runs what they return.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <variant>
#include <vector>

#include "common/configuration.h"
#include "common/types.h"

namespace ballot::kv {

struct MemberList {};
struct MemberTransfer {
    NodeId target = kNoNode;
};
// A change, or the error reply text (without '-') for arguments that do not parse.
using MemberRequest = std::variant<MemberList, ConfigChange, MemberTransfer, std::string>;

// `args`: the arguments after MEMBER (at least one: the table's arity says so).
MemberRequest parse_member(const std::vector<std::string>& args);

// MEMBER ADD's address, checked before anything is proposed: it must resolve, and to no endpoint
// of another member of `config` (localhost:7001 is 127.0.0.1:7001: common/address_check.h). The
// error reply text (without '-'), or empty. A member of the same id is left to the engine, which
// refuses it as "already a member". Names resolve on Asio's resolver thread: the node's loop never
// waits on DNS. The change keeps the address as the operator typed it, not what it resolved to:
// every node resolves a member's name itself when it dials it, so a node moved to a new IP under
// the same name is found again, and MEMBER LIST shows the name the operator knows.
boost::asio::awaitable<std::string> check_member_address(ConfigChange add, Configuration config);

// MEMBER LIST's reply for `config`: one bulk string per member, ascending id.
std::string member_list_reply(const Configuration& config);

}  // namespace ballot::kv
