#include "tests/sim/lock_invariants.h"

#include "kv/kv_commands.h"
#include "kv/kv_store.h"
#include "kv/resp.h"
#include "kv/sessions.h"

namespace ballot::sim {

namespace {

std::optional<kv::RespValue> parse(const std::string& reply) {
    kv::RespReplyParser parser;
    parser.feed(reply);
    kv::RespValue v;
    if (parser.next(v) != kv::RespStatus::ok) return std::nullopt;
    return v;
}

std::optional<std::int64_t> integer_of(const std::string& reply) {
    auto v = parse(reply);
    if (!v || v->type != kv::RespValue::Type::integer) return std::nullopt;
    return v->integer;
}

bool is_error(const std::string& reply, std::string_view message) {
    auto v = parse(reply);
    return v && v->is_error() && v->str == message;
}

bool is_nil(const std::string& reply) {
    auto v = parse(reply);
    return v && v->type == kv::RespValue::Type::nil;
}

std::uint64_t number(const std::string& arg) {
    auto v = kv::parse_redis_integer(arg);
    return v && *v > 0 ? static_cast<std::uint64_t>(*v) : 0;
}

std::string query(const kv::KvStore& store, kv::Op op, std::vector<std::string> args) {
    return store.query(kv::encode_payload(kv::KvCommand{op, std::move(args)}));
}

}  // namespace

// ---- the view of a real store

std::uint64_t KvLockView::clock_ms() const {
    return store_.cluster_time_ms();
}

std::optional<std::uint64_t> KvLockView::holder_token(const std::string& name) const {
    auto v = parse(query(store_, kv::Op::leader, {name}));
    if (!v || v->type != kv::RespValue::Type::array || v->elements.size() != 2) return std::nullopt;
    return static_cast<std::uint64_t>(v->elements[1].integer);
}

std::optional<std::int64_t> KvLockView::lease_ttl_ms(std::uint64_t lease) const {
    return integer_of(query(store_, kv::Op::lease_ttl, {std::to_string(lease)}));
}

std::size_t KvLockView::lease_count() const {
    return store_.lease_count();
}

// ---- the checker

void LockChecker::fail(const std::string& what) {
    violations_.add("lock invariant at index " + std::to_string(index_) + " (cluster time " +
                    std::to_string(clock_ms_) + " ms): " + what);
}

std::string LockChecker::lease_text(std::uint64_t id) const {
    auto it = leases_.find(id);
    if (it == leases_.end()) return "lease " + std::to_string(id) + " (ended)";
    return "lease " + std::to_string(id) + " (TTL " + std::to_string(it->second.ttl_ms) + " ms from " +
           std::to_string(it->second.from_ms) + " ms: alive until " + std::to_string(it->second.deadline_ms) +
           " ms)";
}

std::string LockChecker::holder_text(const Lock& lock) const {
    if (!lock.holder) return "no one";
    return lease_text(lock.holder->lease) + " with token " + std::to_string(lock.holder->token) +
           " (granted at index " + std::to_string(lock.holder->since) + ")";
}

void LockChecker::on_apply(Index index, const Command& command, const std::string& reply,
                           const std::vector<WaiterEvent>& events, const LockStateView& state) {
    index_ = index;
    const std::uint64_t clock = state.clock_ms();
    if (clock < clock_ms_)
        fail("the clock went back from " + std::to_string(clock_ms_) + " to " + std::to_string(clock) +
             " ms");
    clock_ms_ = clock;
    // Inside apply, what is due goes first (leases, their locks and waiters), then the command.
    expire_leases();
    std::vector<WaiterEvent> after;  // what the command's own release caused
    if (executed(command, reply)) {
        apply_command(command, reply, events, after);
    } else {
        for (const WaiterEvent& e : events) waiter_event(e);
    }
    for (const WaiterEvent& e : after) waiter_event(e);
    compare_with_state(state);
    for (auto& [name, lock] : locks_) {
        const std::uint64_t token = lock.holder ? lock.holder->token : 0;
        if (lock.history.empty() || lock.history.back().second != token)
            lock.history.emplace_back(index, token);
    }
    last_index_ = index;
}

// A lease is alive while the clock is below its deadline: the store drops it at the first index
// whose clock reaches it, with its locks (their waiters are told by the store: waiter_event).
void LockChecker::expire_leases() {
    for (auto it = leases_.begin(); it != leases_.end();) {
        if (it->second.deadline_ms > clock_ms_) {
            ++it;
            continue;
        }
        const std::uint64_t id = it->first;
        it = leases_.erase(it);
        ++stats_.leases_expired;
        release_locks_of(id);
    }
}

void LockChecker::release_locks_of(std::uint64_t lease) {
    for (auto& [name, lock] : locks_)
        if (lock.holder && lock.holder->lease == lease) lock.holder.reset();
}

// A retry the session table answered from its record (or refused as stale) changed nothing.
bool LockChecker::executed(const Command& command, const std::string& reply) {
    if (command.client_id == 0) return true;
    if (reply.starts_with("-" + std::string(kv::kStaleAcknowledged)) ||
        reply.starts_with("-" + std::string(kv::kStaleEvicted)))
        return false;
    return executed_.emplace(command.client_id, command.seq).second;
}

// Runs the command against the model and checks its reply. Waiter events caused by the command's
// own release (UNLOCK, RESIGN, LEASE REVOKE) go to `after`; the others happened before it.
void LockChecker::apply_command(const Command& command, const std::string& reply,
                                const std::vector<WaiterEvent>& events, std::vector<WaiterEvent>& after) {
    auto decoded = command.payload.empty() ? std::nullopt : kv::decode_payload(command.payload);
    // The store tells its events in the order they happen: the expiry's, then the command's.
    bool command_began = false;
    for (const WaiterEvent& e : events) {
        command_began = command_began || caused_by_command(e);
        if (command_began)
            after.push_back(e);
        else
            waiter_event(e);
    }
    if (!decoded) return;
    const std::vector<std::string>& a = decoded->args;
    switch (decoded->op) {
        case kv::Op::lease_grant:
        case kv::Op::lease_keepalive:
        case kv::Op::lease_revoke:
            return lease_command(decoded->op, a, reply);
        case kv::Op::lock:
        case kv::Op::elect:
            return lock_command(a, decoded->op == kv::Op::elect, reply);
        case kv::Op::unlock:
        case kv::Op::resign:
            return unlock_command(a.at(0), number(a.at(1)), reply);
        case kv::Op::set_fenced:
            return fenced_write(a.at(6), number(a.at(7)), reply);
        default:
            return;
    }
}

// Whether the store's event `e` can only have come from the command, the expiry before it having
// been told already: a lock handed over that the model still sees held (only the command's UNLOCK,
// RESIGN or LEASE REVOKE frees it now), or "lease not found" for a lease the model still sees
// alive (only LEASE REVOKE ends it now). Judged on the model as the events before it left it, not
// on the command alone: in one apply, a lease's expiry handed a lock to a waiter of the very lease
// the command then revoked (simulator seed 51768), and that handoff came before the revoke.
// Were the store wrong instead (a held lock handed over, a lease ended early by the expiry), the
// event, checked after the command, fails there.
bool LockChecker::caused_by_command(const WaiterEvent& e) const {
    auto w = waiters_.find(e.waiter);
    if (w == waiters_.end()) return false;  // waiter_event reports it
    if (integer_of(e.reply)) {
        auto lock = locks_.find(w->second.name);
        return lock != locks_.end() && lock->second.holder.has_value();
    }
    return is_error(e.reply, kv::kLeaseNotFound) && leases_.contains(w->second.lease);
}

void LockChecker::lease_command(kv::Op op, const std::vector<std::string>& args, const std::string& reply) {
    if (op == kv::Op::lease_grant) {
        auto id = integer_of(reply);
        if (!id) return;
        const auto granted = static_cast<std::uint64_t>(*id);
        if (granted <= max_lease_id_)
            fail("LEASE GRANT answered lease " + std::to_string(granted) +
                 ", not above the last one granted (" + std::to_string(max_lease_id_) + ")");
        max_lease_id_ = std::max(max_lease_id_, granted);
        const std::uint64_t ttl = number(args.at(0));
        leases_[granted] = Lease{ttl, clock_ms_, clock_ms_ + ttl};
        return;
    }
    const std::uint64_t id = number(args.at(0));
    const bool not_found = is_error(reply, kv::kLeaseNotFound);
    auto lease = leases_.find(id);
    if (not_found && lease != leases_.end())
        return fail("\"lease not found\" for " + lease_text(id) + ": it expired early");
    if (!not_found && lease == leases_.end())
        return fail("lease " + std::to_string(id) + " answered as alive (" + reply +
                    ") but it was never granted or has ended");
    if (not_found) return;
    if (op == kv::Op::lease_keepalive) {
        lease->second.from_ms = clock_ms_;
        lease->second.deadline_ms = clock_ms_ + lease->second.ttl_ms;
        return;
    }
    release_locks_of(id);  // LEASE REVOKE
    leases_.erase(lease);
}

void LockChecker::lock_command(const std::vector<std::string>& args, bool elect, const std::string& reply) {
    const std::string& name = args.at(0);
    const std::uint64_t lease = number(args.at(1));
    const std::string& wait = args.back();
    const bool alive = leases_.contains(lease);
    Lock& lock = locks_[name];
    const bool held_by_other = lock.holder && lock.holder->lease != lease;
    const char* what = elect ? "ELECT" : "LOCK";
    if (is_error(reply, kv::kLeaseNotFound)) {
        if (alive)
            fail(std::string(what) + " " + name + " answered \"lease not found\" for " + lease_text(lease) +
                 ": it expired early");
        return;
    }
    if (auto token = integer_of(reply)) {
        if (!alive)
            return fail(std::string(what) + " " + name + " granted token " + std::to_string(*token) + " to " +
                        lease_text(lease));
        if (lock.holder && lock.holder->lease == lease) {
            if (static_cast<std::uint64_t>(*token) != lock.holder->token)
                fail(std::string(what) + " " + name + " by its holder answered token " +
                     std::to_string(*token) + ", but the holder is " + holder_text(lock));
            return;
        }
        return grant(name, lock, lease, static_cast<std::uint64_t>(*token), what);
    }
    if (auto waiter = kv::KvStore::queued_waiter(reply)) {
        if (!held_by_other || wait == "0")
            fail(std::string(what) + " " + name + " WAIT '" + wait + "' by lease " + std::to_string(lease) +
                 " was queued while the lock is held by " + holder_text(lock));
        if (!waiters_.contains(*waiter)) {
            const std::uint64_t deadline = wait.empty() ? 0 : clock_ms_ + number(wait);
            waiters_.emplace(*waiter, Waiter{name, lease, deadline});
        }
        return;
    }
    if (is_nil(reply) && !(held_by_other && wait == "0"))
        fail(std::string(what) + " " + name + " WAIT '" + wait + "' by lease " + std::to_string(lease) +
             " answered nil while the lock is held by " + holder_text(lock));
}

void LockChecker::unlock_command(const std::string& name, std::uint64_t token, const std::string& reply) {
    Lock& lock = locks_[name];
    const bool holds = lock.holder && lock.holder->token == token;
    const bool ok = reply == kv::simple_reply("OK");
    if (ok && !holds)
        return fail("UNLOCK " + name + " " + std::to_string(token) + " succeeded, but the holder is " +
                    holder_text(lock));
    if (!ok && holds)
        return fail("UNLOCK " + name + " " + std::to_string(token) + " by the holder was refused: " + reply);
    if (ok) lock.holder.reset();
}

// SET ... FENCE name token is applied only while `token` is the holder's: the highest token granted
// for the lock, and the lock still held (its lease alive at this index).
void LockChecker::fenced_write(const std::string& name, std::uint64_t token, const std::string& reply) {
    Lock& lock = locks_[name];
    const bool holds = lock.holder && lock.holder->token == token;
    const bool refused = is_error(reply, kv::kStaleToken);
    if (!refused && !holds)
        return fail("a fenced write with stale token " + std::to_string(token) + " was applied to " + name +
                    " (reply " + reply.substr(0, reply.find('\r')) + "; highest token granted " +
                    std::to_string(lock.max_token) + "; holder: " + holder_text(lock) + ")");
    if (refused && holds)
        return fail("a fenced write with the holder's token " + std::to_string(token) + " was refused on " +
                    name);
    ++(refused ? stats_.fenced_refused : stats_.fenced_applied);
}

bool LockChecker::waiter_alive(const Waiter& w) const {
    return leases_.contains(w.lease) && (w.deadline_ms == 0 || w.deadline_ms > clock_ms_);
}

// The store told a waiter its outcome: a token (it holds the lock now), nil (its WAIT ran out) or
// "lease not found" (its lease ended).
void LockChecker::waiter_event(const WaiterEvent& e) {
    auto it = waiters_.find(e.waiter);
    if (it == waiters_.end())
        return fail("the store told waiter " + std::to_string(e.waiter) + " " + e.reply +
                    ", but no LOCK or ELECT was queued under that id");
    const Waiter w = it->second;
    waiters_.erase(it);
    Lock& lock = locks_[w.name];
    if (auto token = integer_of(e.reply)) {
        if (!leases_.contains(w.lease))
            return fail("waiter " + std::to_string(e.waiter) + " on " + w.name +
                        " was handed the lock with " + lease_text(w.lease));
        for (const auto& [id, other] : waiters_)
            if (id < e.waiter && other.name == w.name && waiter_alive(other))
                return fail("waiter " + std::to_string(e.waiter) + " on " + w.name +
                            " was woken before waiter " + std::to_string(id) +
                            ", queued earlier and still alive");
        ++stats_.handoffs;
        return grant(w.name, lock, w.lease, static_cast<std::uint64_t>(*token), "a woken waiter");
    }
    if (is_nil(e.reply) && (w.deadline_ms == 0 || w.deadline_ms > clock_ms_))
        return fail("waiter " + std::to_string(e.waiter) + " on " + w.name +
                    " was told nil before its WAIT " + "ran out (at " + std::to_string(w.deadline_ms) +
                    " ms)");
    if (is_error(e.reply, kv::kLeaseNotFound) && leases_.contains(w.lease))
        return fail("waiter " + std::to_string(e.waiter) + " on " + w.name +
                    " was told \"lease not found\" for " + lease_text(w.lease) + ": it expired early");
}

void LockChecker::grant(const std::string& name, Lock& lock, std::uint64_t lease, std::uint64_t token,
                        const char* how) {
    if (lock.holder)
        fail(name + " granted to lease " + std::to_string(lease) + " with token " + std::to_string(token) +
             " (" + how + ") while held by " + holder_text(lock) + ": two holders");
    if (token <= lock.max_token)
        fail(name + " granted with token " + std::to_string(token) + " (" + how +
             "), not above the highest granted before (" + std::to_string(lock.max_token) + ")");
    lock.max_token = std::max(lock.max_token, token);
    lock.holder = Holder{lease, token, index_};
    ++stats_.grants;
}

// The store holds exactly the holders and leases of the model: nothing granted unseen, no lease
// gone before its deadline or kept past it.
void LockChecker::compare_with_state(const LockStateView& state) {
    for (const auto& [name, lock] : locks_) {
        const std::optional<std::uint64_t> token = state.holder_token(name);
        const std::optional<std::uint64_t> expected =
            lock.holder ? std::optional<std::uint64_t>(lock.holder->token) : std::nullopt;
        if (token != expected)
            fail("the state machine's holder of " + name + " has token " +
                 (token ? std::to_string(*token) : "none") + ", but the log's grants and releases say " +
                 holder_text(lock));
    }
    if (state.lease_count() == leases_.size()) return;
    for (const auto& [id, lease] : leases_)
        if (!state.lease_ttl_ms(id))
            return fail("lease " + std::to_string(id) + " is gone, but " + lease_text(id) +
                        ": it expired early");
    fail("the state machine holds " + std::to_string(state.lease_count()) + " leases, the log says " +
         std::to_string(leases_.size()) + " (a lease kept past its deadline?)");
}

bool LockChecker::held_between(const std::string& name, std::uint64_t token, Index from, Index to) const {
    auto it = locks_.find(name);
    if (it == locks_.end()) return token == 0;
    const auto& history = it->second.history;
    std::uint64_t at_from = 0;  // the holder at `from`: the last change at or before it
    for (const auto& [since, holder] : history) {
        if (since <= from) {
            at_from = holder;
            continue;
        }
        if (since > to) break;
        if (holder == token) return true;
    }
    return at_from == token;
}

}  // namespace ballot::sim
