#include "kv/kv_commands.h"

#include <cctype>
#include <limits>
#include <optional>
#include <utility>

#include "common/codec.h"
#include "kv/resp.h"

namespace ballot::kv {

namespace {

// Version 1: the ops up to LASTSAVE; version 2: the same layout, for the ops added after it;
// version 3: again, for the ops of cluster time (SET with options and after); version 4: locks,
// elections and fenced writes (LOCK and after).
constexpr std::uint8_t kPayloadV1 = 1;
constexpr std::uint8_t kPayloadV2 = 2;
constexpr std::uint8_t kPayloadV3 = 3;
constexpr std::uint8_t kPayloadV4 = 4;
constexpr Op kLastV1Op = Op::lastsave;
constexpr Op kLastV2Op = Op::command;
constexpr Op kLastV3Op = Op::member;
constexpr std::string_view kNotAnInteger = "ERR value is not an integer or out of range";
// A string in the payload is at least its u32 length.
constexpr std::size_t kMinStringBytes = 4;

bool equals_ignore_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::uint8_t payload_version(Op op) {
    const auto n = static_cast<std::uint8_t>(op);
    if (n <= static_cast<std::uint8_t>(kLastV1Op)) return kPayloadV1;
    if (n <= static_cast<std::uint8_t>(kLastV2Op)) return kPayloadV2;
    return n <= static_cast<std::uint8_t>(kLastV3Op) ? kPayloadV3 : kPayloadV4;
}

bool arity_ok(const CommandSpec& spec, std::size_t argc) {
    const auto n = static_cast<long>(argc);
    if (spec.arity > 0 && n != spec.arity) return false;
    if (spec.arity < 0 && n < -spec.arity) return false;
    if (spec.max_args > 0 && n > spec.max_args) return false;
    // MSET takes key-value pairs; Redis answers an odd count with the arity error too.
    if (spec.op == Op::mset && n % 2 == 0) return false;
    return true;
}

std::string wrong_arity(const CommandSpec& spec) {
    return "ERR wrong number of arguments for '" + std::string(spec.name) + "' command";
}

// Redis 7 (server.c, commandCheckExistence): the name and the first arguments, each quoted and
// followed by a space, until 128 characters of arguments have been shown.
std::string unknown_command(const std::vector<std::string>& args) {
    std::string shown;
    for (std::size_t i = 1; i < args.size() && shown.size() < 128; ++i) {
        const std::size_t room = 128 - shown.size();  // Redis's "'%.*s' " with 128 - sdslen(args)
        shown += '\'';
        shown += args[i].substr(0, room);
        shown += "' ";
    }
    return "ERR unknown command '" + args[0].substr(0, 128) + "', with args beginning with: " + shown;
}

// SET's options as the log carries them (KvCommand's normalized set_options).
struct SetOptions {
    std::string condition;  // "", NX or XX
    std::string get;        // "" or GET
    std::string expiry;     // "", KEEPTTL or the TTL in milliseconds
    std::string lease;      // "" or the lease id
    // FENCE name token (Ballot's): applied only while token holds the lock or election `name`.
    std::optional<std::pair<std::string, std::string>> fence;
};

std::string invalid_expire_time(std::string_view command) {
    return "ERR invalid expire time in '" + std::string(command) + "' command";
}

// An expiry amount in milliseconds, from EX's seconds or PX's milliseconds: Redis's
// getExpireMillisecondsOrReply (positive, and seconds must survive the conversion).
std::string expiry_ms(const std::string& option, const std::string& amount, std::string& ms) {
    auto v = parse_redis_integer(amount);
    if (!v) return std::string(kNotAnInteger);
    const bool seconds = option == "EX" || option == "EXAT";
    if (*v <= 0 || (seconds && *v > std::numeric_limits<std::int64_t>::max() / 1000))
        return invalid_expire_time("set");
    ms = std::to_string(seconds ? *v * 1000 : *v);
    return {};
}

// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ts|KEEPTTL] [LEASE id], parsed like Redis's
// parseExtendedStringArgumentsOrReply so a bad combination gets Redis's "syntax error". LEASE
// (Ballot's) ties the key to a lease instead of a TTL of its own, so it excludes EX PX KEEPTTL.
// FENCE name token (Ballot's) makes the write conditional on the holder of lock `name`.
// EXAT and PXAT name Unix times, which cluster time is not: "not supported by Ballot".
std::string parse_set_options(const std::vector<std::string>& args, SetOptions& out) {
    bool keepttl = false;
    std::string expire_option;  // EX PX EXAT or PXAT, once seen
    const std::string* expire_value = nullptr;
    const std::string* lease_value = nullptr;
    for (std::size_t j = 3; j < args.size(); ++j) {
        const std::string opt = upper(args[j]);
        const bool has_next = j + 1 < args.size();
        if (opt == "NX" && out.condition != "XX") {
            out.condition = opt;
        } else if (opt == "XX" && out.condition != "NX") {
            out.condition = opt;
        } else if (opt == "GET") {
            out.get = opt;
        } else if (opt == "KEEPTTL" && expire_option.empty() && lease_value == nullptr) {
            keepttl = true;
        } else if ((opt == "EX" || opt == "PX" || opt == "EXAT" || opt == "PXAT") && !keepttl &&
                   lease_value == nullptr && (expire_option.empty() || expire_option == opt) && has_next) {
            expire_option = opt;
            expire_value = &args[++j];
        } else if (opt == "LEASE" && expire_option.empty() && !keepttl && has_next) {
            lease_value = &args[++j];
        } else if (opt == "FENCE" && !out.fence && j + 2 < args.size()) {
            out.fence.emplace(args[j + 1], args[j + 2]);
            j += 2;
        } else {
            return "ERR syntax error";
        }
    }
    if (expire_value != nullptr) {
        if (std::string error = expiry_ms(expire_option, *expire_value, out.expiry); !error.empty())
            return error;
        if (expire_option == "EXAT" || expire_option == "PXAT")
            return "ERR SET option '" + expire_option + "' is not supported by Ballot";
    }
    if (keepttl) out.expiry = "KEEPTTL";
    if (lease_value != nullptr) {
        auto id = parse_redis_integer(*lease_value);
        if (!id || *id <= 0) return std::string(kNotAnInteger);
        out.lease = std::to_string(*id);
    }
    if (out.fence) {
        auto token = parse_redis_integer(out.fence->second);
        if (!token || *token <= 0) return std::string(kNotAnInteger);
        out.fence->second = std::to_string(*token);
    }
    return {};
}

// SET's arguments as the log carries them: plain SET keeps [SET, key, value] (the version-1
// entry); with any option it becomes set_options with the normalized options after the value.
std::string normalize_set(std::vector<std::string>& args, Op& op) {
    SetOptions options;
    if (std::string error = parse_set_options(args, options); !error.empty()) return error;
    args.resize(3);
    const bool plain =
        options.condition.empty() && options.get.empty() && options.expiry.empty() && options.lease.empty();
    if (plain && !options.fence) return {};
    op = Op::set_options;
    args.insert(args.end(), {options.condition, options.get, options.expiry, options.lease});
    if (options.fence) {
        op = Op::set_fenced;
        args.insert(args.end(), {options.fence->first, options.fence->second});
    }
    return {};
}

// A logged set_options (set_fenced) holds exactly what parse_set_options produces.
bool set_options_well_formed(const std::vector<std::string>& a, Op op) {
    if (op == Op::set_fenced) {
        auto token = parse_redis_integer(a.size() == 8 ? a[7] : "");
        if (!token || *token <= 0) return false;
    } else if (a.size() != 6) {
        return false;
    }
    const bool condition_ok = a[2].empty() || a[2] == "NX" || a[2] == "XX";
    const bool get_ok = a[3].empty() || a[3] == "GET";
    auto ms = parse_redis_integer(a[4]);
    const bool expiry_ok = a[4].empty() || a[4] == "KEEPTTL" || (ms && *ms > 0);
    auto lease = parse_redis_integer(a[5]);
    const bool lease_ok = a[5].empty() || (lease && *lease > 0 && a[4].empty());
    return condition_ok && get_ok && expiry_ok && lease_ok;
}

// PEXPIRE / EXPIRE key amount [NX|XX|GT|LT]: options first, then the amount, as Redis's
// expireGenericCommand; the addition of the current time is checked when applied.
std::string check_expire(const CommandSpec& spec, const std::vector<std::string>& args) {
    std::string error;
    if (!parse_expire_options(args, 3, &error)) return error;
    auto v = parse_redis_integer(args[2]);
    if (!v) return std::string(kNotAnInteger);
    const std::int64_t limit = std::numeric_limits<std::int64_t>::max() / 1000;
    if (spec.op == Op::expire && (*v > limit || *v < -limit)) return invalid_expire_time(spec.name);
    return {};
}

// LEASE GRANT's TTL (positive) and the lease id of the others (an integer).
std::string check_lease_argument(const CommandSpec& spec, const std::string& arg) {
    auto v = parse_redis_integer(arg);
    if (!v) return std::string(kNotAnInteger);
    if (spec.op == Op::lease_grant && *v <= 0)
        return "ERR invalid lease TTL: it must be a positive number of ms";
    return {};
}

// LOCK name lease [WAIT ms] and ELECT name lease value [WAIT ms]: the optional WAIT becomes one
// last argument, "" (wait until held) or the milliseconds (0: try once), so the log carries a
// fixed shape (KvCommand).
std::string normalize_wait(std::vector<std::string>& args, Op op) {
    const std::size_t options = op == Op::lock ? 3 : 4;
    if (args.size() == options) {
        args.emplace_back();
        return {};
    }
    if (args.size() != options + 2 || upper(args[options]) != "WAIT") return "ERR syntax error";
    auto ms = parse_redis_integer(args[options + 1]);
    if (!ms || *ms < 0) return "ERR invalid WAIT: it must be a number of ms, 0 or more";
    args.erase(args.begin() + static_cast<long>(options));
    args.back() = std::to_string(*ms);
    return {};
}

// The normalized LOCK / ELECT (validate() or the log): a lease id and a wait as normalize_wait makes.
std::string check_lock(const CommandSpec& spec, const std::vector<std::string>& args) {
    const std::size_t size = spec.op == Op::lock ? 4 : 5;
    if (args.size() != size) return "ERR syntax error";
    auto lease = parse_redis_integer(args[2]);
    if (!lease || *lease <= 0) return "ERR invalid lease id: it must be a positive integer";
    auto wait = parse_redis_integer(args.back());
    if (!args.back().empty() && (!wait || *wait < 0)) return "ERR syntax error";
    return {};
}

// UNLOCK's and RESIGN's fencing token: a positive integer.
std::string check_token(const std::string& token) {
    auto v = parse_redis_integer(token);
    if (!v || *v <= 0) return "ERR invalid fencing token: it must be a positive integer";
    return {};
}

// INCRBY's and DECRBY's amount, checked as Redis does before it looks at the key (t_string.c).
std::string check_amount(const CommandSpec& spec, const std::string& amount) {
    auto v = parse_redis_integer(amount);
    if (!v) return "ERR value is not an integer or out of range";
    // DECRBY negates it, which LLONG_MIN cannot survive.
    if (spec.op == Op::decrby && *v == std::numeric_limits<std::int64_t>::min())
        return "ERR decrement would overflow";
    return {};
}

}  // namespace

const std::vector<CommandSpec>& command_table() {
    static const std::vector<CommandSpec> table = {
        {"ping", Op::ping, CommandKind::local, -1, 2, Access::anyone},
        {"set", Op::set, CommandKind::write, -3, 0},
        {"get", Op::get, CommandKind::read, 2, 0},
        {"del", Op::del, CommandKind::write, -2, 0},
        {"append", Op::append, CommandKind::write, 3, 0},
        {"incr", Op::incr, CommandKind::write, 2, 0},
        {"keys", Op::keys, CommandKind::read, 2, 0},
        {"dbsize", Op::dbsize, CommandKind::read, 1, 0},
        {"info", Op::info, CommandKind::local, -1, 0},
        {"bgsave", Op::bgsave, CommandKind::local, 1, 0, Access::admin},
        {"lastsave", Op::lastsave, CommandKind::local, 1, 0},
        {"exists", Op::exists, CommandKind::read, -2, 0},
        {"mget", Op::mget, CommandKind::read, -2, 0},
        {"strlen", Op::strlen, CommandKind::read, 2, 0},
        {"mset", Op::mset, CommandKind::write, -3, 0},
        {"getset", Op::getset, CommandKind::write, 3, 0},
        {"getdel", Op::getdel, CommandKind::write, 2, 0},
        {"incrby", Op::incrby, CommandKind::write, 3, 0},
        {"decr", Op::decr, CommandKind::write, 2, 0},
        {"decrby", Op::decrby, CommandKind::write, 3, 0},
        {"setnx", Op::setnx, CommandKind::write, 3, 0},
        {"echo", Op::echo, CommandKind::local, 2, 0},
        {"select", Op::select, CommandKind::local, 2, 0},
        {"hello", Op::hello, CommandKind::local, -1, 0, Access::anyone},
        {"auth", Op::auth, CommandKind::local, -2, 3, Access::anyone},
        {"client", Op::client, CommandKind::local, -2, 0},
        {"command", Op::command, CommandKind::local, -1, 0},
        {"pttl", Op::pttl, CommandKind::read, 2, 0},
        {"ttl", Op::ttl, CommandKind::read, 2, 0},
        {"pexpire", Op::pexpire, CommandKind::write, -3, 0},
        {"expire", Op::expire, CommandKind::write, -3, 0},
        {"persist", Op::persist, CommandKind::write, 2, 0},
        {"lease", Op::lease, CommandKind::write, -2, 0},
        {"member", Op::member, CommandKind::local, -2, 0, Access::admin},
        {"lock", Op::lock, CommandKind::write, -3, 5},
        {"unlock", Op::unlock, CommandKind::write, 3, 0},
        {"elect", Op::elect, CommandKind::write, -4, 6},
        {"leader", Op::leader, CommandKind::read, 2, 0},
        {"resign", Op::resign, CommandKind::write, 3, 0},
    };
    return table;
}

namespace {

// What validate() turns some commands into: not listed by COMMAND, but logged and applied.
const std::vector<CommandSpec>& derived_specs() {
    static const std::vector<CommandSpec> specs = {
        {"set", Op::set_options, CommandKind::write, -3, 0},
        {"set", Op::set_fenced, CommandKind::write, -3, 0},
        {"lease|grant", Op::lease_grant, CommandKind::write, 3, 0},
        {"lease|keepalive", Op::lease_keepalive, CommandKind::write, 3, 0},
        {"lease|ttl", Op::lease_ttl, CommandKind::read, 3, 0},
        {"lease|revoke", Op::lease_revoke, CommandKind::write, 3, 0},
    };
    return specs;
}

const CommandSpec* find_spec(Op op) {
    for (const auto* specs : {&command_table(), &derived_specs()}) {
        for (const CommandSpec& spec : *specs)
            if (spec.op == op) return &spec;
    }
    return nullptr;
}

// LEASE GRANT|KEEPALIVE|TTL|REVOKE: the subcommand's spec, or Redis's error for an unknown one.
const CommandSpec* lease_subcommand(const std::string& name, std::string& error) {
    const std::string full = "lease|" + name;
    for (const CommandSpec& spec : derived_specs()) {
        if (equals_ignore_case(spec.name, full)) return &spec;
    }
    error =
        "ERR unknown subcommand '" + name.substr(0, 128) + "'. LEASE takes GRANT, KEEPALIVE, TTL or REVOKE.";
    return nullptr;
}

// The checks of a command's arguments beyond its arity, shared by validate() and by
// decode_payload() (a log entry is held to the same rules as a request).
std::string check_arguments(const CommandSpec& spec, const std::vector<std::string>& args) {
    switch (spec.op) {
        case Op::incrby:
        case Op::decrby:
            return check_amount(spec, args[2]);
        case Op::pexpire:
        case Op::expire:
            return check_expire(spec, args);
        case Op::lease_grant:
        case Op::lease_keepalive:
        case Op::lease_ttl:
        case Op::lease_revoke:
            return check_lease_argument(spec, args[2]);
        case Op::lock:
        case Op::elect:
            return check_lock(spec, args);
        case Op::unlock:
        case Op::resign:
            return check_token(args[2]);
        default:
            return {};
    }
}

}  // namespace

std::optional<ExpireOptions> parse_expire_options(const std::vector<std::string>& args, std::size_t first,
                                                  std::string* error) {
    ExpireOptions o;
    auto fail = [&](std::string text) -> std::optional<ExpireOptions> {
        if (error != nullptr) *error = std::move(text);
        return std::nullopt;
    };
    for (std::size_t j = first; j < args.size(); ++j) {
        const std::string opt = upper(args[j]);
        if (opt == "NX") {
            o.nx = true;
        } else if (opt == "XX") {
            o.xx = true;
        } else if (opt == "GT") {
            o.gt = true;
        } else if (opt == "LT") {
            o.lt = true;
        } else {
            return fail("ERR Unsupported option " + args[j]);
        }
    }
    if (o.nx && (o.xx || o.gt || o.lt))
        return fail("ERR NX and XX, GT or LT options at the same time are not compatible");
    if (o.gt && o.lt) return fail("ERR GT and LT options at the same time are not compatible");
    return o;
}

const CommandSpec* find_command(std::string_view name) {
    for (const CommandSpec& spec : command_table()) {
        if (equals_ignore_case(spec.name, name)) return &spec;
    }
    return nullptr;
}

const CommandSpec& spec_of(Op op) {
    const CommandSpec* spec = find_spec(op);
    return spec != nullptr ? *spec : command_table().front();  // unreachable for a valid Op
}

Validation validate(std::vector<std::string> args) {
    Validation v;
    if (args.empty()) {
        v.error = "ERR empty command";
        return v;
    }
    const CommandSpec* spec = find_command(args[0]);
    if (spec == nullptr) {
        v.error = unknown_command(args);
        return v;
    }
    if (!arity_ok(*spec, args.size())) {
        v.error = wrong_arity(*spec);
        return v;
    }
    std::size_t names = 1;  // the command name, and a subcommand's
    if (spec->op == Op::lease) {
        spec = lease_subcommand(args[1], v.error);
        if (spec == nullptr) return v;
        if (!arity_ok(*spec, args.size())) {
            v.error = wrong_arity(*spec);
            return v;
        }
        names = 2;
    }
    if (spec->op == Op::lock || spec->op == Op::elect) {
        v.error = normalize_wait(args, spec->op);
        if (!v.ok()) return v;
    }
    v.error = check_arguments(*spec, args);
    if (!v.ok()) return v;
    v.command.op = spec->op;
    if (spec->op == Op::set) {
        v.error = normalize_set(args, v.command.op);
        if (!v.ok()) return v;
    }
    if (spec->op == Op::pexpire || spec->op == Op::expire) {
        for (std::size_t j = 3; j < args.size(); ++j) args[j] = upper(args[j]);
    }
    args.erase(args.begin(), args.begin() + static_cast<long>(names));
    v.command.args = std::move(args);
    return v;
}

std::string encode_payload(const KvCommand& command) {
    std::size_t bytes = 1 + 1 + 4;
    for (const std::string& a : command.args) bytes += 4 + a.size();
    Bytes out;
    out.reserve(bytes);
    Writer w(out);
    w.u8(payload_version(command.op));
    w.u8(static_cast<std::uint8_t>(command.op));
    w.u32(static_cast<std::uint32_t>(command.args.size()));
    for (const std::string& a : command.args) w.str(a);
    return std::string(out.begin(), out.end());
}

std::optional<KvCommand> decode_payload(std::string_view payload) {
    Reader r(payload.data(), payload.size());
    const std::uint8_t version = r.u8();
    const std::uint8_t op = r.u8();
    if (!r.ok()) return std::nullopt;
    const CommandSpec* spec = find_spec(static_cast<Op>(op));
    // Each op travels under exactly one version: the one that introduced it. The LEASE container
    // is never logged (its subcommands are).
    if (spec == nullptr || spec->kind == CommandKind::local || spec->op == Op::lease ||
        version != payload_version(spec->op)) {
        return std::nullopt;
    }
    const std::uint32_t count = r.count(kMinStringBytes);
    KvCommand command;
    command.op = spec->op;
    command.args.reserve(count);  // bounded by the payload's size (Reader::count)
    for (std::uint32_t i = 0; i < count && r.ok(); ++i) command.args.push_back(r.str());
    if (!r.finish()) return std::nullopt;
    // The arguments as a request would have them: the name(s) first.
    std::vector<std::string> request(spec->name.starts_with("lease|") ? 2 : 1);
    request.insert(request.end(), command.args.begin(), command.args.end());
    if (!arity_ok(*spec, request.size())) return std::nullopt;
    // Normalized SET has exactly key and value; with options, exactly what validate() makes.
    if (spec->op == Op::set && command.args.size() != 2) return std::nullopt;
    const bool set_with_options = spec->op == Op::set_options || spec->op == Op::set_fenced;
    if (set_with_options && !set_options_well_formed(command.args, spec->op)) return std::nullopt;
    // Amounts and options were checked before they were logged; a log entry is held to the same rules.
    if (!check_arguments(*spec, request).empty()) return std::nullopt;
    return command;
}

}  // namespace ballot::kv
