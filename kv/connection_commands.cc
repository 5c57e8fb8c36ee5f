#include "kv/connection_commands.h"

#include <cctype>
#include <string_view>

#include "kv/resp.h"

namespace ballot::kv {

namespace {

// HELLO's "version": the Redis release whose replies and error texts Ballot follows.
constexpr std::string_view kRedisVersion = "7.0.0";

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}
std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Redis's subcommand errors (server.c): unknown subcommand, and arity named "command|sub".
std::string unknown_subcommand(std::string_view command, std::string_view sub) {
    return error_reply("ERR unknown subcommand '" + std::string(sub) + "'. Try " + upper(command) + " HELP.");
}
std::string wrong_subcommand_arity(std::string_view command, std::string_view sub) {
    return error_reply("ERR wrong number of arguments for '" + std::string(command) + "|" + lower(sub) +
                       "' command");
}

// Redis's validateClientAttr: names and library fields are printable ASCII without spaces.
bool valid_client_attribute(std::string_view s) {
    for (char c : s) {
        if (c < '!' || c > '~') return false;
    }
    return true;
}

// ---- AUTH and HELLO ----------------------------------------------------------------------

std::string auth_reply(const KvCommand& c, ClientState& client, const AuthConfig& secrets) {
    std::string refused = authenticate(secrets, client.auth, c.args);
    return refused.empty() ? simple_reply("OK") : refused;
}

// Redis's helloCommand: protocol version first, then AUTH and SETNAME options, then the map
// (in RESP2 a flat array of keys and values).
std::string hello_reply(const KvCommand& c, ClientState& client, const AuthConfig& secrets) {
    const std::vector<std::string>& a = c.args;
    std::size_t next = 0;
    if (!a.empty()) {
        auto version = parse_redis_integer(a[next++]);
        if (!version) return error_reply("ERR Protocol version is not an integer or out of range");
        // RESP3 clients (node-redis, redis-py protocol=3) retry in RESP2 on -NOPROTO.
        if (*version == 3) return error_reply("NOPROTO sorry, this protocol version is not supported");
        if (*version != 2) return error_reply("NOPROTO unsupported protocol version");
    }
    std::vector<std::string> credentials;
    const std::string* name = nullptr;
    for (std::size_t j = next; j < a.size(); ++j) {
        const std::size_t more = a.size() - 1 - j;
        const std::string opt = upper(a[j]);
        if (opt == "AUTH" && more >= 2) {
            credentials = {a[j + 1], a[j + 2]};
            j += 2;
        } else if (opt == "SETNAME" && more >= 1) {
            name = &a[++j];
        } else {
            return error_reply("ERR Syntax error in HELLO option '" + a[j] + "'");
        }
    }
    if (!credentials.empty()) {
        std::string refused = authenticate(secrets, client.auth, credentials);
        if (!refused.empty()) return refused;
    } else if (secrets.data_password && client.auth.granted == Access::anyone) {
        return error_reply(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> "
            "AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol "
            "version at the same time");
    }
    if (name != nullptr) {
        if (!valid_client_attribute(*name))
            return error_reply("ERR Client names cannot contain spaces, newlines or special characters.");
        client.name = *name;
    }
    std::string out;
    append_array_header(out, 14);
    append_bulk(out, "server");
    append_bulk(out, "ballot");
    append_bulk(out, "version");
    append_bulk(out, kRedisVersion);
    append_bulk(out, "proto");
    append_integer(out, 2);
    append_bulk(out, "id");
    append_integer(out, static_cast<std::int64_t>(client.id));
    append_bulk(out, "mode");
    append_bulk(out, "standalone");
    append_bulk(out, "role");
    append_bulk(out, "master");  // every node accepts writes (it forwards to the leader)
    append_bulk(out, "modules");
    append_array_header(out, 0);
    return out;
}

// ---- CLIENT --------------------------------------------------------------------------------

std::string client_setinfo(const std::vector<std::string>& a, ClientState& client) {
    const std::string attr = upper(a[1]);
    std::string* field = attr == "LIB-NAME"  ? &client.lib_name
                         : attr == "LIB-VER" ? &client.lib_ver
                                             : nullptr;
    if (field == nullptr) return error_reply("ERR Unrecognized option '" + a[1] + "'");
    if (!valid_client_attribute(a[2]))
        return error_reply("ERR " + lower(a[1]) + " cannot contain spaces, newlines or special characters.");
    *field = a[2];
    return simple_reply("OK");
}

std::string client_list(const ClientList& clients) {
    std::string text;
    for (const ClientState* c : clients()) text += client_info_line(*c) + "\n";
    return bulk_reply(text);
}

// Redis 8's maintenance notifications are RESP3 push messages, which Ballot does not speak.
// Turning them off is a no-op; turning them on is refused, which node-redis and redis-py (in
// their default "auto" mode) take as "not supported here" and go on.
std::string client_maint_notifications(const std::vector<std::string>& a) {
    const std::string mode = upper(a[1]);
    if (mode == "OFF") return simple_reply("OK");
    if (mode == "ON")
        return error_reply(
            "ERR CLIENT MAINT_NOTIFICATIONS needs RESP3 push messages, which Ballot does not support");
    return error_reply("ERR syntax error");
}

const std::vector<std::string> kClientHelp = {
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "LIST",
    "    Return information about client connections.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "HELP",
    "    Print this help.",
};

std::string status_lines(const std::vector<std::string>& lines) {
    std::string out;
    append_array_header(out, lines.size());
    for (const std::string& l : lines) append_simple(out, l);
    return out;
}

// Each CLIENT subcommand: its Redis arity (counting CLIENT and the subcommand) and its answer.
std::string client_reply(const KvCommand& c, ClientState& client, const ClientList& clients) {
    const std::vector<std::string>& a = c.args;  // a[0] is the subcommand
    const std::string sub = upper(a[0]);
    auto arity = [&](std::size_t n, bool at_least = false) {
        return at_least ? a.size() + 1 >= n : a.size() + 1 == n;
    };
    if (sub == "SETNAME") {
        if (!arity(3)) return wrong_subcommand_arity("client", a[0]);
        if (!valid_client_attribute(a[1]))
            return error_reply("ERR Client names cannot contain spaces, newlines or special characters.");
        client.name = a[1];
        return simple_reply("OK");
    }
    if (sub == "GETNAME") {
        if (!arity(2)) return wrong_subcommand_arity("client", a[0]);
        if (client.name.empty()) return "$-1\r\n";
        return bulk_reply(client.name);
    }
    if (sub == "ID")
        return arity(2) ? integer_reply(static_cast<std::int64_t>(client.id))
                        : wrong_subcommand_arity("client", a[0]);
    if (sub == "INFO")
        return arity(2) ? bulk_reply(client_info_line(client) + "\n")
                        : wrong_subcommand_arity("client", a[0]);
    if (sub == "LIST") return arity(2, true) ? client_list(clients) : wrong_subcommand_arity("client", a[0]);
    if (sub == "SETINFO")
        return arity(4) ? client_setinfo(a, client) : wrong_subcommand_arity("client", a[0]);
    if (sub == "MAINT_NOTIFICATIONS")
        return arity(3, true) ? client_maint_notifications(a) : wrong_subcommand_arity("client", a[0]);
    if (sub == "HELP") return arity(2) ? status_lines(kClientHelp) : wrong_subcommand_arity("client", a[0]);
    return unknown_subcommand("client", a[0]);
}

// ---- COMMAND -------------------------------------------------------------------------------

struct CommandDoc {
    Op op;
    std::string_view summary;
    std::string_view since;  // the Redis release that introduced it
    std::string_view group;
};

// What COMMAND DOCS and COMMAND INFO say of each command (Redis's summaries and groups).
constexpr CommandDoc kDocs[] = {
    {Op::set, "Sets the string value of a key.", "1.0.0", "string"},
    {Op::get, "Returns the string value of a key.", "1.0.0", "string"},
    {Op::del, "Deletes one or more keys.", "1.0.0", "generic"},
    {Op::append, "Appends a string to the value of a key. Creates the key if it doesn't exist.", "2.0.0",
     "string"},
    {Op::incr, "Increments the integer value of a key by one.", "1.0.0", "string"},
    {Op::keys, "Returns all key names that match a pattern.", "1.0.0", "generic"},
    {Op::dbsize, "Returns the number of keys in the database.", "1.0.0", "server"},
    {Op::ping, "Returns the server's liveliness response.", "1.0.0", "connection"},
    {Op::info, "Returns information and statistics about the server.", "1.0.0", "server"},
    {Op::bgsave, "Takes a snapshot of the state machine (Ballot: of this node).", "1.0.0", "server"},
    {Op::lastsave, "Returns the Unix timestamp of the last successful save.", "1.0.0", "server"},
    {Op::exists, "Determines whether one or more keys exist.", "1.0.0", "generic"},
    {Op::mget, "Atomically returns the string values of one or more keys.", "1.0.0", "string"},
    {Op::strlen, "Returns the length of a string value.", "2.2.0", "string"},
    {Op::mset, "Atomically creates or modifies the string values of one or more keys.", "1.0.1", "string"},
    {Op::getset, "Returns the previous string value of a key after setting it to a new value.", "1.0.0",
     "string"},
    {Op::getdel, "Returns the string value of a key after deleting the key.", "6.2.0", "string"},
    {Op::incrby, "Increments the integer value of a key by a number.", "1.0.0", "string"},
    {Op::decr, "Decrements the integer value of a key by one.", "1.0.0", "string"},
    {Op::decrby, "Decrements a number from the integer value of a key.", "1.0.0", "string"},
    {Op::setnx, "Set the string value of a key only when the key doesn't exist.", "1.0.0", "string"},
    {Op::echo, "Returns the given string.", "1.0.0", "connection"},
    {Op::select, "Changes the selected database (Ballot has only database 0).", "1.0.0", "connection"},
    {Op::hello, "Handshakes with the server (RESP2 only).", "6.0.0", "connection"},
    {Op::auth, "Authenticates the connection.", "1.0.0", "connection"},
    {Op::client, "A container for client connection commands.", "2.4.0", "connection"},
    {Op::command, "Returns detailed information about all commands.", "2.8.13", "server"},
    {Op::pttl, "Returns the expiration time in milliseconds of a key (Ballot: in cluster time).", "2.6.0",
     "generic"},
    {Op::ttl, "Returns the expiration time in seconds of a key (Ballot: in cluster time).", "1.0.0",
     "generic"},
    {Op::pexpire, "Sets the expiration time of a key in milliseconds.", "2.6.0", "generic"},
    {Op::expire, "Sets the expiration time of a key in seconds.", "1.0.0", "generic"},
    {Op::persist, "Removes the expiration time of a key.", "2.2.0", "generic"},
    {Op::lease, "Ballot's leases: GRANT ttl_ms, KEEPALIVE id, TTL id, REVOKE id.", "0.0.0", "generic"},
    {Op::member, "Lists or changes the cluster's members, or hands leadership away (Ballot).", "1.0.0",
     "server"},
};

CommandDoc doc_of(Op op) {
    for (const CommandDoc& doc : kDocs)
        if (doc.op == op) return doc;
    return {op, "", "1.0.0", "generic"};
}

// The keys a command names, as Redis's (first, last, step); (0, 0, 0): none.
struct KeyRange {
    int first = 0, last = 0, step = 0;
};
KeyRange key_range(Op op) {
    switch (op) {
        case Op::del:
        case Op::exists:
        case Op::mget:
            return {1, -1, 1};
        case Op::mset:
            return {1, -1, 2};
        case Op::keys:
        case Op::dbsize:
        case Op::ping:
        case Op::info:
        case Op::bgsave:
        case Op::lastsave:
        case Op::echo:
        case Op::select:
        case Op::hello:
        case Op::auth:
        case Op::client:
        case Op::command:
        case Op::lease:
        case Op::member:
            return {};
        default:
            return {1, 1, 1};
    }
}

// One entry of COMMAND / COMMAND INFO, Redis 7's ten fields.
void append_command_info(std::string& out, const CommandSpec& spec) {
    append_array_header(out, 10);
    append_bulk(out, spec.name);
    append_integer(out, spec.arity);
    const std::string_view flag = spec.kind == CommandKind::write  ? "write"
                                  : spec.kind == CommandKind::read ? "readonly"
                                                                   : "fast";
    append_array_header(out, 1);
    append_simple(out, flag);
    const KeyRange keys = key_range(spec.op);
    append_integer(out, keys.first);
    append_integer(out, keys.last);
    append_integer(out, keys.step);
    append_array_header(out, 1);
    append_simple(out, "@" + std::string(doc_of(spec.op).group));
    append_array_header(out, 0);  // tips
    append_array_header(out, 0);  // key specs
    append_array_header(out, 0);  // subcommands
}

// COMMAND DOCS: a map (in RESP2 a flat array) of name to its summary, since and group.
void append_command_doc(std::string& out, const CommandSpec& spec) {
    const CommandDoc doc = doc_of(spec.op);
    append_bulk(out, spec.name);
    append_array_header(out, 6);
    append_bulk(out, "summary");
    append_bulk(out, doc.summary);
    append_bulk(out, "since");
    append_bulk(out, doc.since);
    append_bulk(out, "group");
    append_bulk(out, doc.group);
}

// The table's commands that `names` asks for (all of them when `names` is empty); unknown
// names as nullptr, in order.
std::vector<const CommandSpec*> asked_for(const std::vector<std::string>& names) {
    std::vector<const CommandSpec*> out;
    if (names.empty()) {
        for (const CommandSpec& spec : command_table()) out.push_back(&spec);
    } else {
        for (const std::string& n : names) out.push_back(find_command(n));
    }
    return out;
}

std::string command_reply(const KvCommand& c) {
    std::string out;
    if (c.args.empty()) {  // COMMAND: every command's info
        append_array_header(out, command_table().size());
        for (const CommandSpec& spec : command_table()) append_command_info(out, spec);
        return out;
    }
    const std::string sub = upper(c.args[0]);
    const std::vector<std::string> names(c.args.begin() + 1, c.args.end());
    if (sub == "COUNT") {
        if (!names.empty()) return wrong_subcommand_arity("command", c.args[0]);
        return integer_reply(static_cast<std::int64_t>(command_table().size()));
    }
    if (sub == "LIST") {
        append_array_header(out, command_table().size());
        for (const CommandSpec& spec : command_table()) append_bulk(out, spec.name);
        return out;
    }
    if (sub == "INFO") {
        auto specs = asked_for(names);
        append_array_header(out, specs.size());
        for (const CommandSpec* spec : specs) {
            if (spec == nullptr)
                append_nil(out);  // Redis: a null entry for an unknown name
            else
                append_command_info(out, *spec);
        }
        return out;
    }
    if (sub == "DOCS") {
        std::vector<const CommandSpec*> specs;
        for (const CommandSpec* spec : asked_for(names))
            if (spec != nullptr) specs.push_back(spec);  // Redis leaves unknown names out
        append_array_header(out, specs.size() * 2);
        for (const CommandSpec* spec : specs) append_command_doc(out, *spec);
        return out;
    }
    return unknown_subcommand("command", c.args[0]);
}

std::string select_reply(const KvCommand& c) {
    auto index = parse_redis_integer(c.args[0]);
    if (!index) return error_reply("ERR value is not an integer or out of range");
    if (*index != 0) return error_reply("ERR DB index is out of range");
    return simple_reply("OK");
}

}  // namespace

std::string client_info_line(const ClientState& c) {
    return "id=" + std::to_string(c.id) + " addr=" + c.addr + " laddr=" + c.laddr + " name=" + c.name +
           " db=0 user=" + c.auth.user + " resp=2 cmd=" + c.last_command + " lib-name=" + c.lib_name +
           " lib-ver=" + c.lib_ver;
}

std::string connection_reply(const KvCommand& command, ClientState& client, const ClientList& clients,
                             const AuthConfig& secrets) {
    switch (command.op) {
        case Op::echo:
            return bulk_reply(command.args.at(0));
        case Op::select:
            return select_reply(command);
        case Op::hello:
            return hello_reply(command, client, secrets);
        case Op::auth:
            return auth_reply(command, client, secrets);
        case Op::client:
            return client_reply(command, client, clients);
        case Op::command:
            return command_reply(command);
        default:
            return error_reply("ERR internal error: not a connection command");
    }
}

}  // namespace ballot::kv
