// KvStore's cluster time: the clock, keys' TTLs and leases (the top of kv_store.h says what; the
// SPEC's "Coordination: expiry, leases, locks, elections" says why). Everything here runs inside
// apply() or query(), and depends only on the log: the clock is the largest stamp applied.
#include <algorithm>
#include <limits>

#include "kv/kv_store.h"
#include "kv/resp.h"

namespace ballot::kv {

namespace {

constexpr std::string_view kTooBig = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
constexpr std::size_t kLeaseRecordBytes = 3 * 8;

// Redis's PTTL and TTL for a missing key and for a key without a deadline.
constexpr std::int64_t kNoKey = -2;
constexpr std::int64_t kNoDeadline = -1;

std::string invalid_expire_time(std::string_view command) {
    return error_reply("ERR invalid expire time in '" + std::string(command) + "' command");
}

}  // namespace

// ---- the clock and expiry

std::optional<std::uint64_t> KvStore::next_expiry_ms() const {
    std::optional<std::uint64_t> next;
    auto consider = [&next](const auto& deadlines) {
        if (deadlines.empty()) return;
        const std::uint64_t first = deadlines.begin()->first;
        next = next ? std::min(*next, first) : first;
    };
    consider(time_.key_deadlines);
    consider(time_.lease_deadlines);
    consider(time_.waiter_deadlines);  // a WAIT running out answers its client
    return next;
}

void KvStore::advance_clock(std::uint64_t time_ms) {
    // A stamp behind the clock (a lagging proposer, a retry, an old log without stamps) is no
    // news: cluster time never goes back.
    if (time_ms <= time_.clock_ms) return;
    time_.clock_ms = time_ms;
    expire_due();
}

// Leases first (they take their keys, locks and waiters with them), then lock waiters whose WAIT
// ran out, then keys: each in (deadline, name) order, so every replica deletes the same keys and
// hands the same locks over in the same order at the same log position.
void KvStore::expire_due() {
    while (!time_.lease_deadlines.empty() && time_.lease_deadlines.begin()->first <= time_.clock_ms)
        drop_lease(time_.lease_deadlines.begin()->second);
    expire_waiters();
    while (!time_.key_deadlines.empty() && time_.key_deadlines.begin()->first <= time_.clock_ms) {
        const std::string key = time_.key_deadlines.begin()->second;
        delete_key(key);
    }
}

std::optional<std::int64_t> KvStore::deadline_after(std::int64_t amount_ms) const {
    const auto now = static_cast<std::int64_t>(time_.clock_ms);
    std::int64_t deadline = 0;
    if (__builtin_add_overflow(now, amount_ms, &deadline)) return std::nullopt;
    return deadline;
}

// ---- keys' meta

KvStore::KeyMeta KvStore::meta_of(std::string_view key) const {
    auto it = time_.meta.find(key);
    return it == time_.meta.end() ? KeyMeta{} : it->second;
}

void KvStore::set_meta(const std::string& key, KeyMeta meta) {
    const KeyMeta old = meta_of(key);
    if (old == meta) return;
    if (old.deadline_ms != 0) time_.key_deadlines.erase({old.deadline_ms, key});
    if (old.lease != 0) time_.leases.at(old.lease).keys.erase(key);
    if (meta.empty()) {
        time_.meta.erase(key);
        return;
    }
    time_.meta[key] = meta;
    if (meta.deadline_ms != 0) time_.key_deadlines.emplace(meta.deadline_ms, key);
    if (meta.lease != 0) time_.leases.at(meta.lease).keys.insert(key);
}

void KvStore::delete_key(const std::string& key) {
    auto it = data_.find(std::string_view(key));
    if (it == data_.end()) return;
    before_write(key);
    erase_key(it);
}

void KvStore::drop_lease(std::uint64_t id) {
    auto it = time_.leases.find(id);
    if (it == time_.leases.end()) return;
    const std::set<std::string, std::less<>> keys = it->second.keys;  // delete_key edits the set
    for (const std::string& key : keys) delete_key(key);
    // Its waiters first, so that none of its own locks is handed to it on the way out.
    const std::set<Index> waiting = it->second.waiting;
    for (Index waiter : waiting) drop_waiter(waiter, error_reply(kLeaseNotFound));
    const std::set<std::string, std::less<>> held = it->second.held;
    for (const std::string& name : held) release(name);
    time_.lease_deadlines.erase({it->second.deadline_ms, id});
    time_.leases.erase(it);
}

// ---- commands

// SET with options (normalized by validate(): [key, value, condition, get, expiry, lease]).
std::string KvStore::set_options(const KvCommand& c) {
    const std::string& key = c.args.at(0);
    const std::string& value = c.args.at(1);
    const std::string& condition = c.args.at(2);
    const bool get = c.args.at(3) == "GET";
    const std::string& expiry = c.args.at(4);
    if (value.size() > limits_.max_value_bytes) return error_reply(kTooBig);
    KeyMeta meta;
    if (!expiry.empty() && expiry != "KEEPTTL") {
        auto deadline = deadline_after(*parse_redis_integer(expiry));  // validated: positive
        if (!deadline) return invalid_expire_time("set");
        meta.deadline_ms = static_cast<std::uint64_t>(*deadline);
    }
    if (!c.args.at(5).empty()) {
        meta.lease = static_cast<std::uint64_t>(*parse_redis_integer(c.args[5]));  // validated
        if (!time_.leases.contains(meta.lease)) return error_reply(kLeaseNotFound);
    }
    const bool exists = data_.find(std::string_view(key)) != data_.end();
    std::string reply = get ? value_reply(key) : simple_reply("OK");
    // An unmet NX or XX changes nothing: nil, or with GET the old value (Redis 7).
    if ((condition == "NX" && exists) || (condition == "XX" && !exists)) return get ? reply : nil_reply();
    const bool keep_ttl = expiry == "KEEPTTL";
    put(key, value, keep_ttl);
    if (!keep_ttl) set_meta(key, meta);
    return reply;
}

// PEXPIRE / EXPIRE key amount [NX|XX|GT|LT], as Redis's expireGenericCommand: a key without a
// deadline counts as an infinite one for GT and LT, and a deadline already past deletes the key.
// Only the key's own deadline is compared and set; a lease it is tied to stays.
std::string KvStore::pexpire(const KvCommand& c) {
    const std::string& key = c.args.at(0);
    std::int64_t amount = *parse_redis_integer(c.args.at(1));  // validated, and so is EXPIRE's x 1000
    if (c.op == Op::expire) amount *= 1000;
    const auto when = deadline_after(amount);
    if (!when) return invalid_expire_time(spec_of(c.op).name);
    if (data_.find(std::string_view(key)) == data_.end()) return integer_reply(0);
    const ExpireOptions o = *parse_expire_options(c.args, 2);  // validated
    const KeyMeta meta = meta_of(key);
    const bool has = meta.deadline_ms != 0;
    const auto current = static_cast<std::int64_t>(meta.deadline_ms);
    if ((o.nx && has) || (o.xx && !has) || (o.gt && (!has || *when <= current)) ||
        (o.lt && has && *when >= current)) {
        return integer_reply(0);
    }
    if (*when <= static_cast<std::int64_t>(time_.clock_ms)) {
        delete_key(key);
        return integer_reply(1);
    }
    before_write(key);
    set_meta(key, KeyMeta{static_cast<std::uint64_t>(*when), meta.lease});
    return integer_reply(1);
}

std::string KvStore::persist(const KvCommand& c) {
    const std::string& key = c.args.at(0);
    const KeyMeta meta = meta_of(key);
    if (meta.deadline_ms == 0) return integer_reply(0);  // no key, or no deadline of its own
    before_write(key);
    set_meta(key, KeyMeta{0, meta.lease});
    return integer_reply(1);
}

// PTTL / TTL: the time until the key goes, by its own deadline or its lease's, whichever is first.
std::string KvStore::pttl(const KvCommand& c) const {
    const std::string& key = c.args.at(0);
    if (data_.find(std::string_view(key)) == data_.end()) return integer_reply(kNoKey);
    const KeyMeta meta = meta_of(key);
    std::uint64_t deadline = meta.deadline_ms;
    if (meta.lease != 0) {
        const std::uint64_t lease = time_.leases.at(meta.lease).deadline_ms;
        deadline = deadline == 0 ? lease : std::min(deadline, lease);
    }
    if (deadline == 0) return integer_reply(kNoDeadline);
    // Positive: nothing expired is left after an apply.
    const auto ms = static_cast<std::int64_t>(deadline - time_.clock_ms);
    return integer_reply(c.op == Op::ttl ? (ms + 500) / 1000 : ms);  // Redis rounds TTL
}

std::string KvStore::lease_grant(const KvCommand& c) {
    const std::int64_t ttl = *parse_redis_integer(c.args.at(0));  // validated: positive
    const auto deadline = deadline_after(ttl);
    if (!deadline) return error_reply("ERR invalid lease TTL: too large");
    const std::uint64_t id = time_.next_lease_id++;
    Lease& lease = time_.leases[id];
    lease.ttl_ms = static_cast<std::uint64_t>(ttl);
    lease.deadline_ms = static_cast<std::uint64_t>(*deadline);
    time_.lease_deadlines.emplace(lease.deadline_ms, id);
    return integer_reply(static_cast<std::int64_t>(id));
}

// A keep-alive is an ordinary logged command: the lease lives its whole TTL again from the
// cluster time of this log position. The reply is the TTL it now has left.
std::string KvStore::lease_keepalive(const KvCommand& c) {
    auto it = time_.leases.find(static_cast<std::uint64_t>(*parse_redis_integer(c.args.at(0))));
    if (it == time_.leases.end()) return error_reply(kLeaseNotFound);
    Lease& lease = it->second;
    time_.lease_deadlines.erase({lease.deadline_ms, it->first});
    lease.deadline_ms = time_.clock_ms + lease.ttl_ms;  // did not overflow at GRANT, with an earlier clock
    time_.lease_deadlines.emplace(lease.deadline_ms, it->first);
    return integer_reply(static_cast<std::int64_t>(lease.ttl_ms));
}

std::string KvStore::lease_ttl(const KvCommand& c) const {
    auto it = time_.leases.find(static_cast<std::uint64_t>(*parse_redis_integer(c.args.at(0))));
    if (it == time_.leases.end()) return error_reply(kLeaseNotFound);
    return integer_reply(static_cast<std::int64_t>(it->second.deadline_ms - time_.clock_ms));
}

std::string KvStore::lease_revoke(const KvCommand& c) {
    const auto id = static_cast<std::uint64_t>(*parse_redis_integer(c.args.at(0)));
    if (!time_.leases.contains(id)) return error_reply(kLeaseNotFound);
    drop_lease(id);
    return simple_reply("OK");
}

// ---- snapshots

std::string KvStore::encode_time() const {
    Bytes bytes;
    Writer w(bytes);
    w.u64(time_.clock_ms);
    w.u64(time_.next_lease_id);
    w.u32(static_cast<std::uint32_t>(time_.leases.size()));
    for (const auto& [id, lease] : time_.leases) {
        w.u64(id);
        w.u64(lease.ttl_ms);
        w.u64(lease.deadline_ms);
    }
    encode_locks(w);
    return std::string(bytes.begin(), bytes.end());
}

bool KvStore::decode_time(Reader& r, TimeState& time) {
    time.clock_ms = r.u64();
    time.next_lease_id = r.u64();
    const std::uint32_t n = r.count(kLeaseRecordBytes);
    std::uint64_t previous = 0;
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        const std::uint64_t id = r.u64();
        Lease lease;
        lease.ttl_ms = r.u64();
        lease.deadline_ms = r.u64();
        // Ids ascend and were handed out; nothing expired is left in a snapshot.
        if (id <= previous || id >= time.next_lease_id || lease.ttl_ms == 0 ||
            lease.deadline_ms <= time.clock_ms)
            r.fail("bad lease record");
        previous = id;
        time.lease_deadlines.emplace(lease.deadline_ms, id);
        time.leases.emplace(id, std::move(lease));
    }
    if (!r.ok()) return false;
    for (const auto& [key, meta] : time.meta) {
        if (meta.deadline_ms != 0 && meta.deadline_ms <= time.clock_ms) return false;
        if (meta.deadline_ms != 0) time.key_deadlines.emplace(meta.deadline_ms, key);
        if (meta.lease == 0) continue;
        auto lease = time.leases.find(meta.lease);
        if (lease == time.leases.end()) return false;
        lease->second.keys.insert(key);
    }
    return true;
}

}  // namespace ballot::kv
