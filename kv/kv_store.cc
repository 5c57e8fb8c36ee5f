#include "kv/kv_store.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "common/codec.h"
#include "kv/glob.h"
#include "kv/resp.h"

namespace ballot::kv {

namespace {

constexpr std::uint8_t kSnapshotVersion = 1;
constexpr std::size_t kMinPairBytes = 4 + 4;

// Redis's error texts (server.c shared objects and t_string.c).
constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
constexpr std::string_view kOverflow = "ERR increment or decrement would overflow";
constexpr std::string_view kTooBig = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
constexpr std::string_view kUndecodable = "ERR command in the log did not decode; nothing was applied";
constexpr std::string_view kNotRead = "ERR not a read command";

std::string integer_reply(std::int64_t v) {
    std::string out;
    append_integer(out, v);
    return out;
}

}  // namespace

KvStore::KvStore(KvStoreLimits limits) : limits_(limits), sessions_(limits.sessions) {
    data_.reserve(limits_.expected_keys);
}

std::string KvStore::apply(Index index, const Command& command) {
    applied_index_ = index;
    const bool session = command.client_id != 0;
    if (session) {
        if (auto reply = sessions_.check(command)) return std::move(*reply);
    }
    auto decoded = decode_payload(command.payload);
    std::string reply = decoded ? execute(*decoded) : error_reply(kUndecodable);
    // The reply is kept even for an error: a retry must see the answer the first attempt got.
    if (session) sessions_.record(command, reply);
    return reply;
}

std::string KvStore::query(std::string_view payload) const {
    auto decoded = decode_payload(payload);
    if (!decoded) return error_reply("ERR read payload did not decode");
    return execute_read(*decoded);
}

std::string KvStore::execute(const KvCommand& c) {
    switch (c.op) {
        case Op::set:
            return set(c);
        case Op::del:
            return del(c);
        case Op::append:
            return append(c);
        case Op::incr:
            return incr(c);
        default:
            return execute_read(c);
    }
}

std::string KvStore::execute_read(const KvCommand& c) const {
    std::string out;
    switch (c.op) {
        case Op::get: {
            auto it = data_.find(std::string_view(c.args.at(0)));
            if (it == data_.end()) {
                append_nil(out);
            } else {
                append_bulk(out, it->second);
            }
            return out;
        }
        case Op::keys:
            return keys(c.args.at(0));
        case Op::dbsize:
            return integer_reply(static_cast<std::int64_t>(data_.size()));
        default:
            return error_reply(kNotRead);
    }
}

std::string KvStore::set(const KvCommand& c) {
    const std::string& key = c.args.at(0);
    const std::string& value = c.args.at(1);
    if (value.size() > limits_.max_value_bytes) return error_reply(kTooBig);
    auto it = data_.find(std::string_view(key));
    if (it == data_.end()) {
        data_.emplace(key, value);
    } else {
        it->second.assign(value);  // reuses the old value's allocation when it fits
    }
    return simple_reply("OK");
}

std::string KvStore::del(const KvCommand& c) {
    std::int64_t removed = 0;
    for (const std::string& key : c.args) {
        auto it = data_.find(std::string_view(key));
        if (it != data_.end()) {
            data_.erase(it);
            ++removed;
        }
    }
    return integer_reply(removed);
}

std::string KvStore::append(const KvCommand& c) {
    const std::string& key = c.args.at(0);
    const std::string& value = c.args.at(1);
    auto it = data_.find(std::string_view(key));
    if (it == data_.end()) {
        if (value.size() > limits_.max_value_bytes) return error_reply(kTooBig);
        it = data_.emplace(key, value).first;
    } else {
        if (value.size() > limits_.max_value_bytes - std::min(limits_.max_value_bytes, it->second.size())) {
            return error_reply(kTooBig);
        }
        it->second.append(value);
    }
    return integer_reply(static_cast<std::int64_t>(it->second.size()));
}

std::string KvStore::incr(const KvCommand& c) {
    const std::string& key = c.args.at(0);
    auto it = data_.find(std::string_view(key));
    std::int64_t current = 0;
    if (it != data_.end()) {
        auto parsed = parse_redis_integer(it->second);
        if (!parsed) return error_reply(kNotInteger);
        current = *parsed;
    }
    if (current == std::numeric_limits<std::int64_t>::max()) return error_reply(kOverflow);
    const std::int64_t next = current + 1;
    if (it == data_.end()) {
        data_.emplace(key, std::to_string(next));
    } else {
        it->second = std::to_string(next);
    }
    return integer_reply(next);
}

std::string KvStore::keys(std::string_view pattern) const {
    const bool all = pattern == "*";  // Redis's fast path: no matching at all
    std::vector<const std::string*> matched;
    if (all) matched.reserve(data_.size());
    std::size_t bytes = 0;
    for (const auto& [key, value] : data_) {
        if (all || glob_match(pattern, key)) {
            matched.push_back(&key);
            bytes += key.size() + 16;
        }
    }
    // Hash order differs between replicas and runs; sorted order does not.
    std::sort(matched.begin(), matched.end(),
              [](const std::string* a, const std::string* b) { return *a < *b; });
    std::string out;
    out.reserve(bytes + 16);
    append_array_header(out, matched.size());
    for (const std::string* key : matched) append_bulk(out, *key);
    return out;
}

std::optional<std::string> KvStore::get(std::string_view key) const {
    auto it = data_.find(key);
    if (it == data_.end()) return std::nullopt;
    return it->second;
}

std::string KvStore::snapshot() const {
    std::vector<const Map::value_type*> pairs;
    pairs.reserve(data_.size());
    std::size_t bytes = 64;
    for (const auto& kv : data_) {
        pairs.push_back(&kv);
        bytes += 8 + kv.first.size() + kv.second.size();
    }
    std::sort(pairs.begin(), pairs.end(), [](auto* a, auto* b) { return a->first < b->first; });
    Bytes out;
    out.reserve(bytes);
    Writer w(out);
    w.u8(kSnapshotVersion);
    w.u64(applied_index_);
    w.u32(static_cast<std::uint32_t>(pairs.size()));
    for (const auto* kv : pairs) {
        w.str(kv->first);
        w.str(kv->second);
    }
    sessions_.encode(w);
    return std::string(out.begin(), out.end());
}

bool KvStore::restore(std::string_view snapshot) {
    Reader r(snapshot.data(), snapshot.size());
    if (r.u8() != kSnapshotVersion) r.fail("unknown snapshot version");
    const Index applied = r.u64();
    const std::uint32_t n = r.count(kMinPairBytes);
    Map data;
    data.reserve(std::max<std::size_t>(n, limits_.expected_keys));
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        std::string key = r.str();
        std::string value = r.str();
        if (r.ok() && !data.emplace(std::move(key), std::move(value)).second) r.fail("duplicate key");
    }
    Sessions sessions(limits_.sessions);
    if (!r.ok() || !sessions.decode(r) || !r.finish()) return false;
    data_ = std::move(data);
    sessions_ = std::move(sessions);
    applied_index_ = applied;
    return true;
}

}  // namespace ballot::kv
