#include "kv/kv_store.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "common/assert.h"
#include "common/codec.h"
#include "common/configuration.h"
#include "kv/glob.h"
#include "kv/kv_snapshot_format.h"
#include "kv/resp.h"

namespace ballot::kv {

namespace {

// Redis's error texts (server.c shared objects and t_string.c).
constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
constexpr std::string_view kOverflow = "ERR increment or decrement would overflow";
constexpr std::string_view kTooBig = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
constexpr std::string_view kUndecodable = "ERR command in the log did not decode; nothing was applied";
constexpr std::string_view kNotRead = "ERR not a read command";

// The snapshot's integers and strings, as common/codec.h's Writer writes them (little-endian,
// u32 length before a string), straight into a std::string.
void put_u32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put_u64(std::string& out, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put_str(std::string& out, std::string_view s) {
    put_u32(out, static_cast<std::uint32_t>(s.size()));
    out.append(s);
}
void put_header(std::string& out, Index applied, std::uint32_t key_count) {
    out.push_back(static_cast<char>(kSnapshotVersion));
    put_u64(out, applied);
    put_u32(out, key_count);
}
void put_key(std::string& out, std::string_view key, std::string_view value, std::uint64_t deadline_ms,
             std::uint64_t lease) {
    put_str(out, key);
    put_str(out, value);
    put_u64(out, deadline_ms);
    put_u64(out, lease);
}
std::string encode_sessions(const Sessions& sessions) {
    Bytes bytes;
    Writer w(bytes);
    sessions.encode(w);
    return std::string(bytes.begin(), bytes.end());
}

}  // namespace

KvStore::KvStore(KvStoreLimits limits) : limits_(limits), sessions_(limits.sessions) {
    data_.reserve(limits_.expected_keys);
}

std::string KvStore::apply(Index index, const Command& command) {
    applied_index_ = index;
    // Expiry happens here, at this log position, before the command sees the state.
    advance_clock(command.time_ms);
    if (command.is_clock_tick()) return {};
    const bool session = command.client_id != 0;
    if (session) {
        if (auto reply = sessions_.check(command)) return std::move(*reply);
    }
    std::string reply =
        is_config_entry(command.payload) ? config_entry_reply() : execute_payload(command.payload);
    // The reply is kept even for an error: a retry must see the answer the first attempt got.
    if (session) sessions_.record(command, reply);
    return reply;
}

// A membership change's entry (common/configuration.h): the engine made the change when it handed
// the entry out; the store only answers the client that asked, once, like any write.
std::string KvStore::config_entry_reply() {
    return simple_reply("OK");
}

std::string KvStore::execute_payload(std::string_view payload) {
    auto decoded = decode_payload(payload);
    return decoded ? execute(*decoded) : error_reply(kUndecodable);
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
            return incr_by(c.args.at(0), 1);
        case Op::incrby:
            return incr_by(c.args.at(0), *parse_redis_integer(c.args.at(1)));  // validated
        case Op::decr:
            return incr_by(c.args.at(0), -1);
        case Op::decrby:
            return incr_by(c.args.at(0), -*parse_redis_integer(c.args.at(1)));  // validated, not LLONG_MIN
        case Op::mset:
            return mset(c);
        case Op::getset:
            return getset(c);
        case Op::getdel:
            return getdel(c);
        case Op::setnx:
            return setnx(c);
        case Op::set_options:
            return set_options(c);
        case Op::pexpire:
        case Op::expire:
            return pexpire(c);
        case Op::persist:
            return persist(c);
        case Op::lease_grant:
            return lease_grant(c);
        case Op::lease_keepalive:
            return lease_keepalive(c);
        case Op::lease_revoke:
            return lease_revoke(c);
        case Op::lock:
        case Op::elect:
            return lock(c);
        case Op::unlock:
        case Op::resign:
            return unlock(c);
        case Op::set_fenced:
            return set_fenced(c);
        default:
            return execute_read(c);
    }
}

std::string KvStore::execute_read(const KvCommand& c) const {
    switch (c.op) {
        case Op::get:
            return value_reply(c.args.at(0));
        case Op::keys:
            return keys(c.args.at(0));
        case Op::dbsize:
            return integer_reply(static_cast<std::int64_t>(data_.size()));
        case Op::exists:
            return exists(c);
        case Op::mget:
            return mget(c);
        case Op::strlen: {
            auto it = data_.find(std::string_view(c.args.at(0)));
            return integer_reply(it == data_.end() ? 0 : static_cast<std::int64_t>(it->second.size()));
        }
        case Op::pttl:
        case Op::ttl:
            return pttl(c);
        case Op::lease_ttl:
            return lease_ttl(c);
        case Op::leader:
            return leader(c);
        default:
            return error_reply(kNotRead);
    }
}

void KvStore::put(const std::string& key, std::string_view value, bool keep_meta) {
    before_write(key);
    if (!keep_meta && !time_.meta.empty()) set_meta(key, {});
    auto it = data_.find(std::string_view(key));
    if (it == data_.end()) {
        insert_key(key, value);
    } else {
        it->second.assign(value);  // reuses the old value's allocation when it fits
    }
}

std::string KvStore::set(const KvCommand& c) {
    const std::string& value = c.args.at(1);
    if (value.size() > limits_.max_value_bytes) return error_reply(kTooBig);
    put(c.args.at(0), value);
    return simple_reply("OK");
}

// One log entry, applied all or nothing: every value is checked before any key changes.
std::string KvStore::mset(const KvCommand& c) {
    for (std::size_t i = 1; i < c.args.size(); i += 2) {
        if (c.args[i].size() > limits_.max_value_bytes) return error_reply(kTooBig);
    }
    for (std::size_t i = 0; i + 1 < c.args.size(); i += 2) put(c.args[i], c.args[i + 1]);
    return simple_reply("OK");
}

std::string KvStore::getset(const KvCommand& c) {
    const std::string& value = c.args.at(1);
    if (value.size() > limits_.max_value_bytes) return error_reply(kTooBig);
    std::string out = value_reply(c.args.at(0));
    put(c.args.at(0), value);
    return out;
}

std::string KvStore::getdel(const KvCommand& c) {
    const std::string& key = c.args.at(0);
    std::string out = value_reply(key);
    auto it = data_.find(std::string_view(key));
    if (it != data_.end()) {
        before_write(key);
        erase_key(it);
    }
    return out;
}

std::string KvStore::setnx(const KvCommand& c) {
    const std::string& key = c.args.at(0);
    if (data_.find(std::string_view(key)) != data_.end()) return integer_reply(0);
    if (c.args.at(1).size() > limits_.max_value_bytes) return error_reply(kTooBig);
    put(key, c.args.at(1));
    return integer_reply(1);
}

std::string KvStore::del(const KvCommand& c) {
    std::int64_t removed = 0;
    for (const std::string& key : c.args) {
        auto it = data_.find(std::string_view(key));
        if (it != data_.end()) {
            before_write(key);
            erase_key(it);
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
        before_write(key);
        it = insert_key(key, value);
    } else {
        if (value.size() > limits_.max_value_bytes - std::min(limits_.max_value_bytes, it->second.size())) {
            return error_reply(kTooBig);
        }
        before_write(key);
        it->second.append(value);
    }
    return integer_reply(static_cast<std::int64_t>(it->second.size()));
}

// INCR INCRBY DECR DECRBY, as Redis's incrDecrCommand: the stored value must be a Redis integer,
// and a result outside int64 is refused.
std::string KvStore::incr_by(const std::string& key, std::int64_t delta) {
    auto it = data_.find(std::string_view(key));
    std::int64_t current = 0;
    if (it != data_.end()) {
        auto parsed = parse_redis_integer(it->second);
        if (!parsed) return error_reply(kNotInteger);
        current = *parsed;
    }
    std::int64_t next = 0;
    if (__builtin_add_overflow(current, delta, &next)) return error_reply(kOverflow);
    before_write(key);
    if (it == data_.end()) {
        insert_key(key, std::to_string(next));
    } else {
        it->second = std::to_string(next);
    }
    return integer_reply(next);
}

std::string KvStore::value_reply(std::string_view key) const {
    std::string out;
    auto it = data_.find(key);
    if (it == data_.end()) {
        append_nil(out);
    } else {
        append_bulk(out, it->second);
    }
    return out;
}

// Counts a key once for each time it is named, as Redis does.
std::string KvStore::exists(const KvCommand& c) const {
    std::int64_t found = 0;
    for (const std::string& key : c.args) found += data_.count(std::string_view(key));
    return integer_reply(found);
}

std::string KvStore::mget(const KvCommand& c) const {
    std::string out;
    append_array_header(out, c.args.size());
    for (const std::string& key : c.args) out += value_reply(key);
    return out;
}

std::string KvStore::keys(std::string_view pattern) const {
    const bool all = pattern == "*";  // Redis's fast path: no matching at all
    std::vector<std::string_view> matched;
    if (all) matched.reserve(order_.size());
    std::size_t bytes = 0;
    // Sorted (order_): hash order differs between replicas and runs; sorted order does not.
    for (const Map::value_type* entry : order_) {
        const std::string& key = entry->first;
        if (all || glob_match(pattern, key)) {
            matched.push_back(key);
            bytes += key.size() + 16;
        }
    }
    std::string out;
    out.reserve(bytes + 16);
    append_array_header(out, matched.size());
    for (std::string_view key : matched) append_bulk(out, key);
    return out;
}

std::optional<std::string> KvStore::get(std::string_view key) const {
    auto it = data_.find(key);
    if (it == data_.end()) return std::nullopt;
    return it->second;
}

KvStore::Map::iterator KvStore::insert_key(const std::string& key, std::string_view value) {
    auto it = data_.emplace(key, std::string(value)).first;
    order_.insert(&*it);
    return it;
}

void KvStore::erase_key(Map::iterator it) {
    if (!time_.meta.empty()) set_meta(it->first, {});
    order_.erase(&*it);
    data_.erase(it);
}

void KvStore::before_write(std::string_view key) {
    if (!open_ || open_->keys_done) return;
    if (open_->cursor && key <= *open_->cursor) return;        // already serialized
    if (open_->saved.find(key) != open_->saved.end()) return;  // the value at begin is saved
    auto it = data_.find(key);
    std::optional<OpenSnapshot::Saved> at_begin;
    if (it != data_.end()) at_begin = OpenSnapshot::Saved{it->second, meta_of(key)};
    open_->saved.emplace(std::string(key), std::move(at_begin));
}

std::string KvStore::snapshot() const {
    std::size_t bytes = 64;
    for (const auto& kv : data_) bytes += 24 + kv.first.size() + kv.second.size();
    const std::string tail = encode_sessions(sessions_) + encode_time();
    std::string out;
    out.reserve(bytes + tail.size());
    put_header(out, applied_index_, static_cast<std::uint32_t>(data_.size()));
    for (const Map::value_type* entry : order_) {
        const KeyMeta meta = meta_of(entry->first);
        put_key(out, entry->first, entry->second, meta.deadline_ms, meta.lease);
    }
    out.append(tail);
    return out;
}

Index KvStore::begin_snapshot() {
    open_ = std::make_unique<OpenSnapshot>();
    open_->index = applied_index_;
    open_->key_count = static_cast<std::uint32_t>(data_.size());
    open_->tail = encode_sessions(sessions_) + encode_time();
    put_header(open_->pending, applied_index_, open_->key_count);
    return applied_index_;
}

// Encodes keys after the cursor into `pending` until it holds `want` bytes or the keys are done:
// the merge of the live index (keys unchanged since begin, unless saved) and the saved values.
void KvStore::fill_pending(std::size_t want) {
    OpenSnapshot& s = *open_;
    auto live = s.cursor ? order_.upper_bound(std::string_view(*s.cursor)) : order_.begin();
    std::optional<std::string_view> last;
    while (s.pending.size() < want) {
        auto saved = s.saved.begin();  // every saved key is after the cursor
        const bool live_left = live != order_.end();
        const bool saved_left = saved != s.saved.end();
        if (!live_left && !saved_left) {
            s.keys_done = true;
            break;
        }
        if (saved_left && (!live_left || saved->first <= (*live)->first)) {
            if (live_left && (*live)->first == saved->first) ++live;
            if (saved->second) {
                const OpenSnapshot::Saved& at_begin = *saved->second;
                put_key(s.pending, saved->first, at_begin.value, at_begin.meta.deadline_ms,
                        at_begin.meta.lease);
                ++s.keys_emitted;
            }
            // The cursor must own its key: the saved entry is about to go.
            s.cursor = saved->first;
            last.reset();
            s.saved.erase(saved);
        } else {
            const KeyMeta meta = meta_of((*live)->first);
            put_key(s.pending, (*live)->first, (*live)->second, meta.deadline_ms, meta.lease);
            ++s.keys_emitted;
            last = (*live)->first;
            ++live;
        }
    }
    if (last) s.cursor = std::string(*last);
    BALLOT_ASSERT(!s.keys_done || s.keys_emitted == s.key_count, "a snapshot lists the keys it began with");
}

SnapshotChunk KvStore::snapshot_chunk(std::size_t max_bytes) {
    BALLOT_ASSERT(open_ != nullptr && max_bytes > 0, "snapshot_chunk: a snapshot is open, max_bytes > 0");
    OpenSnapshot& s = *open_;
    // Drop what was handed out once it is most of the buffer: a value far larger than a chunk is
    // then handed out in linear, not quadratic, time.
    if (s.handed_out > 0 && s.handed_out * 2 >= s.pending.size()) {
        s.pending.erase(0, s.handed_out);
        s.handed_out = 0;
    }
    if (!s.keys_done) fill_pending(s.handed_out + max_bytes);
    if (s.keys_done && !s.sessions_done) {
        s.pending.append(s.tail);
        s.sessions_done = true;
    }
    SnapshotChunk chunk;
    chunk.bytes = s.pending.substr(s.handed_out, max_bytes);
    s.handed_out += chunk.bytes.size();
    chunk.last = s.sessions_done && s.handed_out == s.pending.size();
    if (chunk.last) open_.reset();
    return chunk;
}

std::optional<Index> KvStore::snapshot_index(std::string_view snapshot) {
    Reader r(snapshot.data(), snapshot.size());
    const std::uint8_t version = r.u8();
    if (version < kSnapshotV1 || version > kSnapshotVersion) return std::nullopt;
    const Index index = r.u64();
    if (!r.ok()) return std::nullopt;
    return index;
}

}  // namespace ballot::kv
