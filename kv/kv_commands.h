// The KV command table: which commands exist, how many arguments each takes, and which path a
// command takes through a node:
//
//   write   goes through the replicated log and is applied by every replica (SET DEL APPEND INCR
//           MSET GETSET GETDEL INCRBY DECR DECRBY SETNX PEXPIRE EXPIRE PERSIST, LEASE GRANT
//           KEEPALIVE REVOKE, LOCK UNLOCK ELECT RESIGN)
//   read    linearizable read of the state machine (GET KEYS DBSIZE EXISTS MGET STRLEN PTTL TTL,
//           LEASE TTL, LEADER); the
//           runtime decides how (ReadIndex, a quorum check or the log) and then calls
//           KvStore::query()
//   local   answered by the node itself, never replicated (PING INFO BGSAVE LASTSAVE ECHO, and
//           the connection commands client libraries send: HELLO AUTH CLIENT SELECT COMMAND);
//           MEMBER too, whose changes the node hands to the engine (kv/member_command.h)
//
// validate() checks a request the way Redis would and gives Redis's error text when it is bad;
// encode_payload()/decode_payload() turn a validated command into the bytes a log entry carries
// (Command::payload) and back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ballot::kv {

enum class CommandKind { write, read, local };

// Who may run a command when passwords are set (kv/auth.h), least first: anyone (before AUTH),
// a client with the data password, or one with the admin secret. Membership, maintenance and
// DEBUG-like commands declare `admin` in the table and need nothing else.
enum class Access { anyone, data, admin };

// Stable numbers: they are written into the log, so never renumber one.
enum class Op : std::uint8_t {
    set = 1,
    del = 2,
    append = 3,
    incr = 4,
    get = 5,
    keys = 6,
    dbsize = 7,
    ping = 8,
    info = 9,
    bgsave = 10,    // local: never written into the log
    lastsave = 11,  // local
    // Payload version 2 (kv_commands.cc): the Redis string commands client libraries expect.
    exists = 12,
    mget = 13,
    strlen = 14,
    mset = 15,
    getset = 16,
    getdel = 17,
    incrby = 18,
    decr = 19,
    decrby = 20,
    setnx = 21,
    // Local, answered per connection by the front end (kv/resp_server.cc).
    echo = 22,
    select = 23,
    hello = 24,
    auth = 25,
    client = 26,
    command = 27,
    // Payload version 3: cluster time, expiry and leases (kv_store.h).
    set_options = 28,  // SET with any option; normalized as described at KvCommand
    pttl = 29,
    ttl = 30,
    pexpire = 31,
    expire = 32,
    persist = 33,
    lease = 34,  // the LEASE container: only in the table, validate() picks a subcommand
    lease_grant = 35,
    lease_keepalive = 36,
    lease_ttl = 37,
    lease_revoke = 38,
    // Local: MEMBER LIST|ADD|PROMOTE|REMOVE|TRANSFER (kv/member_command.h); a change goes through
    // the log as a configuration entry, never as a KV payload.
    member = 39,
    // Payload version 4: locks, elections and fenced writes (kv/kv_store_locks.cc).
    lock = 40,
    unlock = 41,
    elect = 42,
    leader = 43,
    resign = 44,
    set_fenced = 45,  // SET ... FENCE name token; normalized as described at KvCommand
};

struct CommandSpec {
    std::string_view name;  // lower case, as Redis names it in errors
    Op op;
    CommandKind kind;
    // Redis's convention, counting the command name: N > 0 exactly N, N < 0 at least -N.
    int arity;
    int max_args;  // upper bound where Redis has one (PING takes at most one argument); 0: none
    Access access = Access::data;
};

// The table, in SPEC order.
const std::vector<CommandSpec>& command_table();
// Case-insensitive lookup; nullptr if the command does not exist.
const CommandSpec* find_command(std::string_view name);
// Also the ops the table does not list: SET with options, and LEASE's subcommands ("lease|grant",
// Redis's name for a subcommand).
const CommandSpec& spec_of(Op op);

// A validated command: the operation and its arguments without the command name.
// Normalized: SET carries exactly [key, value]. SET with any option becomes set_options with
// exactly [key, value, condition ("" NX XX), get ("" GET), expiry ("" KEEPTTL or the TTL in
// milliseconds, EX converted), lease ("" or the lease id)]. SET with FENCE name token becomes
// set_fenced with those six and then [name, token]. PEXPIRE / EXPIRE carry [key, amount,
// options in upper case]; LEASE subcommands their argument alone. LOCK carries [name, lease id,
// wait ("" or the WAIT in milliseconds)], ELECT [name, lease id, value, wait].
struct KvCommand {
    Op op = Op::ping;
    std::vector<std::string> args;

    CommandKind kind() const { return spec_of(op).kind; }
    friend bool operator==(const KvCommand&, const KvCommand&) = default;
};

struct Validation {
    KvCommand command;  // meaningful only if ok()
    std::string error;  // Redis's reply text without the '-' (e.g. "ERR syntax error")

    bool ok() const { return error.empty(); }
};

// Checks `args` (the command name first, any case) like Redis: unknown command, wrong number of
// arguments (MSET: key-value pairs), SET's options, the integer argument of INCRBY/DECRBY and of
// the expiry commands. SET's EXAT and PXAT (Unix times, which cluster time is not) are refused with
// "ERR SET option 'EXAT' is not supported by Ballot".
Validation validate(std::vector<std::string> args);

// PEXPIRE's and EXPIRE's NX XX GT LT, parsed as Redis's parseExtendedExpireArgumentsOrReply.
struct ExpireOptions {
    bool nx = false, xx = false, gt = false, lt = false;
};
// From the arguments after the amount; the error text (Redis's) when they are bad.
std::optional<ExpireOptions> parse_expire_options(const std::vector<std::string>& args, std::size_t first,
                                                  std::string* error = nullptr);

// The log's encoding of a write (or a read sent through the log): u8 version, u8 op, u32 count,
// then `count` strings (common/codec.h). Only write and read commands are encoded. Version 1
// carries the ops up to LASTSAVE, byte for byte as before version 2 existed; version 2 is the
// same layout for the ops added since (EXISTS and after); version 3 the same again for the ops of
// cluster time (SET with options, PTTL and after); version 4 for locks, elections and fenced SET
// (LOCK and after). So a log written before still decodes,
// and old and new builds agree on every version-1 entry. A node of an older build cannot apply a
// version-2, 3 or 4 entry (it answers -ERR and changes nothing, while upgraded replicas apply it), so
// upgrade every node before clients use the new commands.
std::string encode_payload(const KvCommand& command);
// nullopt unless `payload` is exactly one well-formed encoding of a write or read command with a
// valid number of arguments.
std::optional<KvCommand> decode_payload(std::string_view payload);

}  // namespace ballot::kv
