#include "kv/kv_commands.h"

#include <cctype>
#include <limits>

#include "common/codec.h"
#include "kv/resp.h"

namespace ballot::kv {

namespace {

// Version 1: the ops up to LASTSAVE; version 2: the same layout, for the ops added after it.
constexpr std::uint8_t kPayloadV1 = 1;
constexpr std::uint8_t kPayloadV2 = 2;
constexpr Op kLastV1Op = Op::lastsave;
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
    return static_cast<std::uint8_t>(op) <= static_cast<std::uint8_t>(kLastV1Op) ? kPayloadV1 : kPayloadV2;
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

// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ts|KEEPTTL], parsed like Redis's
// parseExtendedStringArgumentsOrReply so a bad option gets Redis's "syntax error"; a good one
// gets our "not supported".
std::string check_set_options(const std::vector<std::string>& args) {
    bool nx = false, xx = false, get = false, keepttl = false;
    std::string expire_option;  // EX PX EXAT or PXAT, once seen
    std::string first_option;
    const std::string* expire_value = nullptr;
    for (std::size_t j = 3; j < args.size(); ++j) {
        const std::string opt = upper(args[j]);
        const bool has_next = j + 1 < args.size();
        if (opt == "NX" && !xx) {
            nx = true;
        } else if (opt == "XX" && !nx) {
            xx = true;
        } else if (opt == "GET") {
            get = true;
        } else if (opt == "KEEPTTL" && expire_option.empty()) {
            keepttl = true;
        } else if ((opt == "EX" || opt == "PX" || opt == "EXAT" || opt == "PXAT") && !keepttl &&
                   (expire_option.empty() || expire_option == opt) && has_next) {
            expire_option = opt;
            expire_value = &args[++j];
        } else {
            return "ERR syntax error";
        }
        if (first_option.empty()) first_option = opt;
    }
    (void)get;
    if (expire_value != nullptr) {
        auto v = parse_redis_integer(*expire_value);
        if (!v) return "ERR value is not an integer or out of range";
        if (*v <= 0) return "ERR invalid expire time in 'set' command";
    }
    if (!first_option.empty()) return "ERR SET option '" + first_option + "' is not supported by Ballot";
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
        {"member", Op::member, CommandKind::local, -2, 0, Access::admin},
    };
    return table;
}

const CommandSpec* find_command(std::string_view name) {
    for (const CommandSpec& spec : command_table()) {
        if (equals_ignore_case(spec.name, name)) return &spec;
    }
    return nullptr;
}

const CommandSpec& spec_of(Op op) {
    for (const CommandSpec& spec : command_table()) {
        if (spec.op == op) return spec;
    }
    return command_table().front();  // unreachable for a valid Op
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
    if (spec->op == Op::set) {
        v.error = check_set_options(args);
        if (!v.ok()) return v;
        args.resize(3);
    }
    if (spec->op == Op::incrby || spec->op == Op::decrby) {
        v.error = check_amount(*spec, args[2]);
        if (!v.ok()) return v;
    }
    v.command.op = spec->op;
    args.erase(args.begin());
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
    const CommandSpec* spec = nullptr;
    for (const CommandSpec& s : command_table()) {
        if (static_cast<std::uint8_t>(s.op) == op && s.kind != CommandKind::local) spec = &s;
    }
    // Each op travels under exactly one version: the one that introduced it.
    if (spec == nullptr || version != payload_version(spec->op)) return std::nullopt;
    const std::uint32_t count = r.count(kMinStringBytes);
    KvCommand command;
    command.op = spec->op;
    command.args.reserve(count);  // bounded by the payload's size (Reader::count)
    for (std::uint32_t i = 0; i < count && r.ok(); ++i) command.args.push_back(r.str());
    if (!r.finish()) return std::nullopt;
    // Normalized SET has exactly key and value.
    if (!arity_ok(*spec, command.args.size() + 1) || (spec->op == Op::set && command.args.size() != 2)) {
        return std::nullopt;
    }
    // Amounts were checked before they were logged; a log entry is held to the same rule.
    if ((spec->op == Op::incrby || spec->op == Op::decrby) && !check_amount(*spec, command.args[1]).empty()) {
        return std::nullopt;
    }
    return command;
}

}  // namespace ballot::kv
