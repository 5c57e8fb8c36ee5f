// MEMBER: the cluster's members, changed from a client (SPEC "Membership change, learners,
// leadership transfer"). Admin-only (kv_commands.cc's table):
//
//   MEMBER LIST                         array of "ID@HOST:PORT ROLE", ROLE voter or learner
//   MEMBER ADD ID HOST:PORT [LEARNER]   a learner; without LEARNER the leader promotes it once caught up
//   MEMBER PROMOTE ID | MEMBER REMOVE ID
//   MEMBER TRANSFER ID                  hand leadership to ID
//
// parse_member() checks the arguments as Redis checks a container command's (unknown subcommand,
// wrong number of arguments for 'member|add'); check_member_add() (kv/member_address_check.h)
// resolves MEMBER ADD's address and asks the new node for its identity; kv/resp_server.cc runs
// what they return.
#pragma once

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

// The error reply text (without '-') for an address `text` that does not parse, `why`.
std::string invalid_address_reply(const std::string& text, const std::string& why);

// MEMBER LIST's reply for `config`: one bulk string per member, ascending id.
std::string member_list_reply(const Configuration& config);

}  // namespace ballot::kv
