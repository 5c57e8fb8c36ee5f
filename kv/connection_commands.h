// The commands Redis client libraries send when they connect, answered per connection the way
// Redis 7 answers them, so redis-py, node-redis, hiredis and redis-cli work unchanged:
//
//   HELLO [2 [AUTH user pass] [SETNAME name]]   the RESP2 map as a flat array; HELLO 3 gets
//                                               -NOPROTO, on which clients fall back to RESP2
//   AUTH [user] pass                            users "default" (the data password) and "admin"
//                                               (kv/auth.h); as Redis when none is configured
//   CLIENT SETNAME GETNAME ID INFO LIST SETINFO MAINT_NOTIFICATIONS HELP
//   SELECT 0                                    Ballot has one database
//   COMMAND [COUNT | LIST | INFO name... | DOCS [name...]]
//   ECHO msg
//
// Nothing here touches the replicated state: these are CommandKind::local (kv_commands.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kv/auth.h"
#include "kv/kv_commands.h"

namespace ballot::kv {

// What a connection told the server about itself, and what CLIENT INFO/LIST show.
struct ClientState {
    std::uint64_t id = 0;  // unique per node process, from 1, as Redis's client id
    std::string addr;      // the client's HOST:PORT
    std::string laddr;     // this node's HOST:PORT
    std::string name;      // CLIENT SETNAME / HELLO SETNAME
    std::string lib_name;  // CLIENT SETINFO LIB-NAME
    std::string lib_ver;   // CLIENT SETINFO LIB-VER
    std::string last_command;
    AuthState auth;  // what AUTH / HELLO AUTH granted this connection
};

// The states of every connection of this node, for CLIENT LIST.
using ClientList = std::function<std::vector<const ClientState*>()>;

// The reply to a validated connection command (HELLO AUTH CLIENT SELECT COMMAND ECHO) from
// `client`; CLIENT SETNAME and HELLO SETNAME change it, AUTH and HELLO AUTH its `auth` (checked
// against `secrets`).
std::string connection_reply(const KvCommand& command, ClientState& client, const ClientList& clients,
                             const AuthConfig& secrets);

// One CLIENT INFO / CLIENT LIST line (without the trailing newline), Redis's field names.
std::string client_info_line(const ClientState& client);

}  // namespace ballot::kv
