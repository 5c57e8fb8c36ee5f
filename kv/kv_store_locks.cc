// KvStore's locks, elections and fenced writes (the top of kv_store.h says what; the SPEC's
// "Coordination: expiry, leases, locks, elections" says why). Everything here runs inside apply()
// or query() and depends only on the log: waiters are queued in the replicated state, so a release
// hands the lock to the same waiter at the same log position on every replica.
//
// Where the SPEC leaves a choice open, this follows etcd's concurrency recipes (Mutex, Election):
// a lease that already holds a lock gets the same token again (Mutex.Lock with a session that
// holds the key), ELECT by the leader's own lease proclaims the new value and keeps the token
// (Election.Campaign, then Proclaim), and a waiter whose lease ends is dropped with the lease's
// error rather than granted a lock it could not keep (the Jepsen etcd 3.4.3 finding: re-check the
// lease after waiting).
#include <charconv>

#include "kv/kv_store.h"
#include "kv/resp.h"

namespace ballot::kv {

namespace {

constexpr std::string_view kNotHolder = "ERR lock not held with this token";
// Not RESP: no RESP reply starts with a NUL byte, so the front end cannot mistake one for this.
constexpr std::string_view kQueuedPrefix{"\0queued ", 8};

std::uint64_t id_argument(const std::string& arg) {
    return static_cast<std::uint64_t>(*parse_redis_integer(arg));  // validated: positive
}

}  // namespace

std::string KvStore::queued_reply(Index id) {
    return std::string(kQueuedPrefix) + std::to_string(id);
}

std::optional<Index> KvStore::queued_waiter(std::string_view reply) {
    if (!reply.starts_with(kQueuedPrefix)) return std::nullopt;
    reply.remove_prefix(kQueuedPrefix.size());
    Index id = 0;
    auto [end, ec] = std::from_chars(reply.data(), reply.data() + reply.size(), id);
    if (ec != std::errc{} || end != reply.data() + reply.size()) return std::nullopt;
    return id;
}

std::optional<std::string> KvStore::waiter_outcome(Index id, std::string_view name) const {
    auto it = time_.locks.find(name);
    if (it == time_.locks.end()) return nil_reply();
    const Lock& lock = it->second;
    if (lock.waiters.contains(id)) return std::nullopt;
    if (lock.holder && lock.holder->waiter == id)
        return integer_reply(static_cast<std::int64_t>(lock.holder->token));
    return nil_reply();
}

bool KvStore::lease_due(std::uint64_t lease) const {
    auto it = time_.leases.find(lease);
    return it == time_.leases.end() || it->second.deadline_ms <= time_.clock_ms;
}

void KvStore::tell_waiter(Index id, const std::string& reply) const {
    if (waiter_listener_) waiter_listener_(id, reply);
}

// LOCK name lease [WAIT ms] and ELECT name lease value [WAIT ms] (normalized: the wait last).
std::string KvStore::lock(const KvCommand& c) {
    const std::string& name = c.args.at(0);
    const std::uint64_t lease_id = id_argument(c.args.at(1));
    std::string value = c.op == Op::elect ? c.args.at(2) : std::string();
    const std::string& wait = c.args.back();
    auto lease = time_.leases.find(lease_id);
    if (lease == time_.leases.end()) return error_reply(kLeaseNotFound);
    Lock& lock = time_.locks[name];
    if (!lock.holder)  // one log write for an uncontended acquire: this one
        return integer_reply(static_cast<std::int64_t>(grant(name, lock, lease_id, std::move(value), 0)));
    if (lock.holder->lease == lease_id) {
        if (c.op == Op::elect) lock.holder->value = std::move(value);
        return integer_reply(static_cast<std::int64_t>(lock.holder->token));
    }
    if (wait == "0") return nil_reply();
    // A lease waits once per lock: asking again (a client that lost its connection, or whose
    // exactly-once session was evicted, retrying) joins the same place in the queue.
    for (Index id : lease->second.waiting) {
        if (time_.waiter_locks.at(id) != name) continue;
        if (c.op == Op::elect) lock.waiters.at(id).value = std::move(value);
        return queued_reply(id);
    }
    std::uint64_t deadline = 0;
    if (!wait.empty()) {
        auto at = deadline_after(*parse_redis_integer(wait));  // validated: 0 or more
        if (!at) return error_reply("ERR invalid WAIT: too large");
        deadline = static_cast<std::uint64_t>(*at);
    }
    if (time_.waiter_locks.size() >= limits_.max_lock_waiters)
        return error_reply("ERR too many lock waiters (" + std::to_string(limits_.max_lock_waiters) +
                           " on this cluster); try again later");
    // The entry's own log index names the waiter: the same on every replica, and in arrival order.
    const Index id = applied_index_;
    lock.waiters.emplace(id, Waiter{lease_id, deadline, std::move(value)});
    time_.waiter_locks.emplace(id, name);
    if (deadline != 0) time_.waiter_deadlines.emplace(deadline, id);
    lease->second.waiting.insert(id);
    return queued_reply(id);
}

std::uint64_t KvStore::grant(const std::string& name, Lock& lock, std::uint64_t lease, std::string value,
                             Index waiter) {
    const std::uint64_t token = time_.next_token++;  // the fencing token: never handed out twice
    lock.holder = Holder{lease, token, std::move(value), waiter};
    time_.leases.at(lease).held.insert(name);
    return token;
}

// The first waiter still alive gets the lock: exactly one is woken. Waiters whose lease or WAIT
// is due at this clock are passed over (they are dropped by expire_due() in this same apply).
void KvStore::release(const std::string& name) {
    auto it = time_.locks.find(name);
    Lock& lock = it->second;
    time_.leases.at(lock.holder->lease).held.erase(name);
    lock.holder.reset();
    for (auto next = lock.waiters.begin(); next != lock.waiters.end(); ++next) {
        const bool wait_over = next->second.deadline_ms != 0 && next->second.deadline_ms <= time_.clock_ms;
        if (wait_over || lease_due(next->second.lease)) continue;
        const Index granted = next->first;
        Waiter w = unlink_waiter(lock, next);
        const std::uint64_t token = grant(name, lock, w.lease, std::move(w.value), granted);
        tell_waiter(granted, integer_reply(static_cast<std::int64_t>(token)));
        return;
    }
    if (lock.waiters.empty()) time_.locks.erase(it);
}

KvStore::Waiter KvStore::unlink_waiter(Lock& lock, std::map<Index, Waiter>::iterator w) {
    const Index id = w->first;
    Waiter waiter = std::move(w->second);
    if (waiter.deadline_ms != 0) time_.waiter_deadlines.erase({waiter.deadline_ms, id});
    if (auto lease = time_.leases.find(waiter.lease); lease != time_.leases.end())
        lease->second.waiting.erase(id);
    time_.waiter_locks.erase(id);
    lock.waiters.erase(w);
    return waiter;
}

void KvStore::drop_waiter(Index id, const std::string& reply) {
    auto it = time_.locks.find(time_.waiter_locks.at(id));
    Lock& lock = it->second;
    unlink_waiter(lock, lock.waiters.find(id));
    if (!lock.holder && lock.waiters.empty()) time_.locks.erase(it);
    tell_waiter(id, reply);
}

// A WAIT that ran out answers nil, as the SPEC says (and as Redis's blocking commands time out).
void KvStore::expire_waiters() {
    while (!time_.waiter_deadlines.empty() && time_.waiter_deadlines.begin()->first <= time_.clock_ms)
        drop_waiter(time_.waiter_deadlines.begin()->second, nil_reply());
}

// UNLOCK name token and RESIGN name token.
std::string KvStore::unlock(const KvCommand& c) {
    const std::string& name = c.args.at(0);
    auto it = time_.locks.find(name);
    if (it == time_.locks.end() || !it->second.holder ||
        it->second.holder->token != id_argument(c.args.at(1)))
        return error_reply(kNotHolder);
    release(name);  // one log write for a release, with the handoff to the next waiter in it
    return simple_reply("OK");
}

// LEADER name: [value, token] of the holder, or nil.
std::string KvStore::leader(const KvCommand& c) const {
    auto it = time_.locks.find(std::string_view(c.args.at(0)));
    if (it == time_.locks.end() || !it->second.holder) return nil_reply();
    std::string out;
    append_array_header(out, 2);
    append_bulk(out, it->second.holder->value);
    append_integer(out, static_cast<std::int64_t>(it->second.holder->token));
    return out;
}

// SET ... FENCE name token: the write of a holder that may have lost its lock without knowing it
// (paused past its TTL) is refused once anyone else has held the lock since, and while no one does.
std::string KvStore::set_fenced(const KvCommand& c) {
    auto it = time_.locks.find(std::string_view(c.args.at(6)));
    if (it == time_.locks.end() || !it->second.holder ||
        it->second.holder->token != id_argument(c.args.at(7)))
        return error_reply(kStaleToken);
    KvCommand set{Op::set_options, {c.args.begin(), c.args.begin() + 6}};
    return set_options(set);
}

// ---- snapshots

void KvStore::encode_locks(Writer& w) const {
    w.u64(time_.next_token);
    w.u32(static_cast<std::uint32_t>(time_.locks.size()));
    for (const auto& [name, lock] : time_.locks) {
        w.str(name);
        w.boolean(lock.holder.has_value());
        if (lock.holder) {
            w.u64(lock.holder->lease);
            w.u64(lock.holder->token);
            w.str(lock.holder->value);
            w.u64(lock.holder->waiter);
        }
        w.u32(static_cast<std::uint32_t>(lock.waiters.size()));
        for (const auto& [id, waiter] : lock.waiters) {
            w.u64(id);
            w.u64(waiter.lease);
            w.u64(waiter.deadline_ms);
            w.str(waiter.value);
        }
    }
}

bool KvStore::decode_locks(Reader& r, TimeState& time) {
    constexpr std::size_t kMinLockBytes = 4 + 1 + 4;
    constexpr std::size_t kMinWaiterBytes = 3 * 8 + 4;
    time.next_token = r.u64();
    const std::uint32_t n = r.count(kMinLockBytes);
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        std::string name = r.str();
        if (!time.locks.empty() && !(time.locks.rbegin()->first < name)) r.fail("locks not in name order");
        Lock lock;
        if (r.boolean()) {
            Holder h{r.u64(), r.u64(), r.str(), r.u64()};
            if (!time.leases.contains(h.lease) || h.token == 0 || h.token >= time.next_token)
                r.fail("bad lock holder");
            else
                time.leases.at(h.lease).held.insert(name);
            lock.holder = std::move(h);
        }
        const std::uint32_t waiters = r.count(kMinWaiterBytes);
        for (std::uint32_t j = 0; j < waiters && r.ok(); ++j) {
            const Index id = r.u64();
            Waiter w{r.u64(), r.u64(), r.str()};
            // A free lock has no waiters after any apply; nothing due is left in a snapshot.
            if (!lock.holder || !time.leases.contains(w.lease) || time.waiter_locks.contains(id) ||
                (w.deadline_ms != 0 && w.deadline_ms <= time.clock_ms)) {
                r.fail("bad lock waiter");
                break;
            }
            time.leases.at(w.lease).waiting.insert(id);
            time.waiter_locks.emplace(id, name);
            if (w.deadline_ms != 0) time.waiter_deadlines.emplace(w.deadline_ms, id);
            lock.waiters.emplace(id, std::move(w));
        }
        if (r.ok() && !lock.holder) r.fail("a lock neither held nor waited for");
        time.locks.emplace(std::move(name), std::move(lock));
    }
    return r.ok();
}

}  // namespace ballot::kv
