// The invariants of locks, leases and fenced writes (issue 13; README "Locks and leases"), checked
// on the replicated state in apply order: the simulator hands every log index, the first time any
// node applies it, to LockChecker, with the reply it produced, what the store told lock waiters
// during that apply, and a view of the state machine right after it.
//
// The checker keeps its own model of leases, holders and waiters, built only from the log (the
// commands, their replies, the waiter events) and the clock the state machine reports, and checks
// at every index:
//  - fencing tokens strictly increase: a new grant of a lock (a LOCK or ELECT answered with a
//    token, or a waiter woken with one) carries a token above every token granted for it before;
//  - no stale fenced write is applied: SET ... FENCE name token is applied only while `token` is
//    the holder's, that is the highest token granted for `name`, and the lock is still held; it is
//    refused otherwise (and not refused while the token is the holder's);
//  - at most one holder: a lock is granted only when no other lease holds it (released by UNLOCK,
//    RESIGN, LEASE REVOKE or its lease's end), only to a lease alive at that index, and a woken
//    waiter is the first alive one in the queue; the holder's token the state machine reports
//    (LEADER) is the model's at every index;
//  - leases never expire early in cluster time: a lease granted (or kept alive) with TTL T when the
//    clock read c is alive at every index whose clock is below c + T (the store holds exactly the
//    leases the model holds, and KEEPALIVE, LOCK and LEASE REVOKE never answer "lease not found"
//    for one of them), and gone at the first index whose clock reaches c + T.
// The replies of lock, lease and fenced commands are so checked against a sequential model in log
// order; LockWorkload (tests/sim/lock_workload.h) checks that each acknowledged one got the reply of
// its log position, applied inside its real-time interval, and that LEADER reads return a holder of
// some index in theirs: together, a linearizability check for the lock commands (log order is the
// linearization), which the key-value checker's clock-free model could not do.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/command.h"
#include "common/types.h"
#include "kv/kv_commands.h"
#include "tests/sim/invariants.h"

namespace ballot::kv {
class KvStore;
}

namespace ballot::sim {

// What the store told a lock or election waiter during an apply (KvStore::WaiterListener).
struct WaiterEvent {
    Index waiter = 0;
    std::string reply;
};

// What the checker reads of the state machine after an apply. Tests fake it.
class LockStateView {
public:
    virtual ~LockStateView() = default;
    virtual std::uint64_t clock_ms() const = 0;
    // LEADER name's token: nullopt when no one holds it.
    virtual std::optional<std::uint64_t> holder_token(const std::string& name) const = 0;
    // LEASE TTL id: nullopt when the lease is not there.
    virtual std::optional<std::int64_t> lease_ttl_ms(std::uint64_t lease) const = 0;
    virtual std::size_t lease_count() const = 0;
};

// The view of a real store, through its public read path (KvStore::query).
class KvLockView final : public LockStateView {
public:
    explicit KvLockView(const kv::KvStore& store) : store_(store) {}
    std::uint64_t clock_ms() const override;
    std::optional<std::uint64_t> holder_token(const std::string& name) const override;
    std::optional<std::int64_t> lease_ttl_ms(std::uint64_t lease) const override;
    std::size_t lease_count() const override;

private:
    const kv::KvStore& store_;
};

struct LockCheckStats {
    std::uint64_t grants = 0;          // new holders
    std::uint64_t handoffs = 0;        // ... of which a woken waiter
    std::uint64_t fenced_applied = 0;  // SET FENCE with the holder's token
    std::uint64_t fenced_refused = 0;  // ... with another token
    std::uint64_t leases_expired = 0;  // reached their deadline in cluster time
};

class LockChecker {
public:
    explicit LockChecker(Violations& violations) : violations_(violations) {}

    // Index `index` was applied for the first time anywhere (indices come in order).
    void on_apply(Index index, const Command& command, const std::string& reply,
                  const std::vector<WaiterEvent>& events, const LockStateView& state);

    // The last index seen.
    Index last_index() const { return last_index_; }
    // Whether `token` (0: no holder) held lock `name` at some index in [from, to]: what a LEADER
    // read served between those indices may answer.
    bool held_between(const std::string& name, std::uint64_t token, Index from, Index to) const;
    const LockCheckStats& stats() const { return stats_; }

private:
    struct Lease {
        std::uint64_t ttl_ms = 0;
        std::uint64_t from_ms = 0;  // the clock at its GRANT or last KEEPALIVE
        std::uint64_t deadline_ms = 0;
    };
    struct Holder {
        std::uint64_t lease = 0;
        std::uint64_t token = 0;
        Index since = 0;
    };
    struct Waiter {
        std::string name;
        std::uint64_t lease = 0;
        std::uint64_t deadline_ms = 0;  // WAIT's; 0: none
    };
    struct Lock {
        std::optional<Holder> holder;
        std::uint64_t max_token = 0;
        std::vector<std::pair<Index, std::uint64_t>> history;  // (from index, holder token or 0)
    };

    void expire_leases();
    void release_locks_of(std::uint64_t lease);
    bool executed(const Command& command, const std::string& reply);
    void apply_command(const Command& command, const std::string& reply,
                       const std::vector<WaiterEvent>& events, std::vector<WaiterEvent>& after);
    bool caused_by_command(const WaiterEvent& e) const;
    void lease_command(kv::Op op, const std::vector<std::string>& args, const std::string& reply);
    void lock_command(const std::vector<std::string>& args, bool elect, const std::string& reply);
    void unlock_command(const std::string& name, std::uint64_t token, const std::string& reply);
    void fenced_write(const std::string& name, std::uint64_t token, const std::string& reply);
    void waiter_event(const WaiterEvent& event);
    void grant(const std::string& name, Lock& lock, std::uint64_t lease, std::uint64_t token,
               const char* how);
    bool waiter_alive(const Waiter& w) const;
    void compare_with_state(const LockStateView& state);
    void fail(const std::string& what);
    std::string lease_text(std::uint64_t id) const;
    std::string holder_text(const Lock& lock) const;

    Violations& violations_;
    Index index_ = 0;  // being applied
    Index last_index_ = 0;
    std::uint64_t clock_ms_ = 0;
    std::uint64_t max_lease_id_ = 0;
    std::map<std::uint64_t, Lease> leases_;
    std::map<std::string, Lock> locks_;
    std::map<Index, Waiter> waiters_;
    std::set<std::pair<std::uint64_t, std::uint64_t>> executed_;  // (client, seq) applied once
    LockCheckStats stats_;
};

}  // namespace ballot::sim
