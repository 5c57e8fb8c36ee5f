// The replicated key-value state machine every replica applies the chosen log to.
//
// apply() runs writes (SET DEL APPEND INCR and the other string commands of kv_commands.h) — and reads, when
// an engine serves reads through the log — in log order, after the exactly-once check of kv/sessions.h;
// query() serves reads the runtime has already made linearizable (ReadIndex or a quorum check). Replies are
// RESP-encoded, ready for the front end to write to the client.
//
// Deterministic: the state after applying a sequence of commands depends only on that sequence
// (no clocks, no randomness, no iteration-order dependence in replies: KEYS sorts).
//
// Time is cluster time (common/command.h): the clock is the largest Command::time_ms applied, so
// it moves at the same log positions on every replica and is part of the snapshot. Before each
// command, apply() moves the clock and removes what has expired by then: leases in (deadline, id)
// order with the keys tied to them (in key order), then keys in (deadline, key) order. So after any
// apply no expired key or lease is left, and every read at that applied index sees them gone. All
// that is due goes at once: the work of one apply is bounded by what expires at it, not by a
// constant (a million keys with one deadline make one slow apply, the same on every replica).
// A key's TTL (SET EX/PX, PEXPIRE) is an absolute deadline in cluster time; a key tied to a lease
// (SET ... LEASE id) lives until the lease does, or until its own deadline if it also has one.
// SET, MSET, GETSET clear both (SET KEEPTTL keeps them, as Redis does); APPEND and INCR keep them. A log
// entry whose payload does not decode is answered with an -ERR reply and changes nothing but the session
// table: the store never crashes on what the log holds.
//
// Locks and elections (kv_store_locks.cc; SPEC "Coordination"): LOCK name lease [WAIT ms] holds
// `name` for a lease and answers a fencing token, from one counter that only grows, so tokens
// strictly increase over the life of the cluster. An election is the same lock whose holder also
// publishes a value (ELECT, LEADER, RESIGN): locks and elections share one namespace, as etcd's
// concurrency recipes share its keyspace. A LOCK that cannot be granted is queued here, in the
// replicated state, under the log index of its entry (its waiter id): first come, first served.
// UNLOCK, RESIGN, the end of a lease (LEASE REVOKE, expiry) or a waiter's WAIT deadline passing
// in cluster time resolve waiters inside apply(), so every replica hands a lock to the same waiter
// at the same log position, and a release costs no extra log write. The reply a queued LOCK gets
// from apply() is queued_reply(id), not RESP: the node the client is connected to keeps the
// client waiting, and every replica tells its front end each waiter's final reply through the
// WaiterListener (a token, nil after WAIT, or -ERR lease not found), so the one that holds the
// connection answers it, with no polling. SET ... FENCE name token is applied only while `token`
// is the current holder's.
//
// Not thread-safe: the runtime applies, queries and takes snapshot chunks from its one thread.
//
// Snapshots without stalling writes: copy-on-write per key over a sorted key index.
//   The canonical snapshot lists the keys in sorted order. A std::set of string_views into the
//   hash map's keys (nodes of an unordered_map never move, not even on rehash) keeps that order
//   at all times, at the cost of one O(log n) insert or erase when a key is created or deleted
//   (overwrites, the common write, cost nothing). So begin_snapshot() sorts nothing: it records
//   the applied index and the key count, and encodes the session table (bounded and small, so
//   copied whole at begin). snapshot_chunk() then walks the index from a cursor (the last key
//   serialized). While a snapshot is open, the first write to a key AFTER the cursor saves the
//   key's value at begin (or "absent", for a key created since) in a side map; the walk merges
//   the side map with the live index and emits the saved value in place of the live one, and
//   emits keys deleted since begin from it. Keys at or before the cursor are already written out
//   and need no saving. So the bytes equal what snapshot() gave at begin, whatever is applied
//   meanwhile, and the worst stall of any call is bounded by the chunk size, not by the state.
//   Cost: the side map holds at most one old value per key written during the snapshot (in the
//   worst case, a copy of the data, like a fork's copy-on-write pages), and it shrinks as the
//   cursor passes its keys.
// Why not the alternatives: a fork (LogCabin, Redis) copies page tables and doubles memory under
//   a write-heavy load, and is no help to the simulator, which must run it deterministically in
//   one process; an immutable persistent map would slow every write and read; a consistent
//   iterator needs a sorted MVCC structure we do not have.
// Measured (tests/kv_snapshot_test.cc, 100,000 keys x 100-byte values, 11.8 MB of snapshot,
//   thread CPU time on the shared 2-core dev machine): the blocking snapshot() took 28-31 ms
//   (75 ms before the index, which it had to sort); begin_snapshot() 0.006 ms; 256 KiB chunks
//   p50 0.45 ms, worst 1.4-1.8 ms, 20-22 ms for all 45; applies with the snapshot open p50 2.5 us,
//   p99 8.5 us, against 1.9 us and 7 us without. The index costs ~0.3-0.5 us more per NEW key
//   (100,000 new-key SETs: 75-100 ms, 36-67 ms before) and ~48 bytes per key; overwrites and
//   GET are unchanged. Snapshot version 2 (cluster time) adds 16 bytes per key (13.4 MB for the
//   same keys; blocking snapshot() 36 ms, chunks p50 0.49 ms, p99 1.5 ms, one run, same machine).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/codec.h"
#include "common/state_machine.h"
#include "kv/kv_commands.h"
#include "kv/sessions.h"

namespace ballot::kv {

// Replies of cluster time and locks that clients (ballot-client, tests) match on.
inline constexpr std::string_view kLeaseNotFound = "ERR lease not found";
inline constexpr std::string_view kStaleToken = "ERR fenced: stale token";

struct KvStoreLimits {
    SessionLimits sessions;
    // A value APPEND may grow to; Redis's proto-max-bulk-len. Must match on every replica.
    std::size_t max_value_bytes = 512u * 1024 * 1024;
    // Buckets reserved up front, so the first rehashes (each a latency spike) happen later.
    std::size_t expected_keys = 4096;
    // Lock and election waiters queued in the whole store; beyond it LOCK and ELECT are refused.
    // Must match on every replica.
    std::size_t max_lock_waiters = 100000;
};

class KvStore : public StateMachine {
public:
    // Transparent hashing: lookups by std::string_view allocate nothing.
    struct KeyHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using Map = std::unordered_map<std::string, std::string, KeyHash, std::equal_to<>>;

    explicit KvStore(KvStoreLimits limits = {});

    // Told, during apply(), the final RESP reply of each lock or election waiter (see the top).
    using WaiterListener = std::function<void(Index waiter, const std::string& reply)>;
    void set_waiter_listener(WaiterListener listener) { waiter_listener_ = std::move(listener); }
    // The reply of a LOCK or ELECT that was queued as waiter `id`, and the id back from it.
    static std::string queued_reply(Index id);
    static std::optional<Index> queued_waiter(std::string_view reply);
    // Waiter `id` of lock `name`: nullopt while it is queued, else the reply it got (its token if
    // it holds the lock now, else nil). For a front end that learns of a waiter late (a retry).
    std::optional<std::string> waiter_outcome(Index id, std::string_view name) const;
    // Locks and elections held, and waiters queued (for tests and INFO).
    std::size_t lock_count() const { return time_.locks.size(); }
    std::size_t lock_waiter_count() const { return time_.waiter_locks.size(); }

    std::string apply(Index index, const Command& command) override;
    std::string query(std::string_view payload) const override;

    // Runs a decoded command against the state (no session check); reads do not change state.
    std::string execute(const KvCommand& command);
    std::string execute_payload(std::string_view payload);
    static std::string config_entry_reply();
    std::string execute_read(const KvCommand& command) const;

    std::size_t size() const { return data_.size(); }
    std::optional<std::string> get(std::string_view key) const;
    const Map& data() const { return data_; }
    const Sessions& sessions() const { return sessions_; }
    // The index of the last command applied (0: none yet).
    Index applied_index() const override { return applied_index_; }
    // The clock: the largest cluster-time stamp applied (0 before any).
    std::uint64_t cluster_time_ms() const override { return time_.clock_ms; }
    std::optional<std::uint64_t> next_expiry_ms() const override;
    // Keys with a TTL or a lease, and leases alive (for tests and INFO).
    std::size_t volatile_keys() const { return time_.meta.size(); }
    std::size_t lease_count() const { return time_.leases.size(); }

    // The whole state as canonical bytes: equal states give equal bytes. Format (common/codec.h
    // integers and strings), version 3: u8 version, u64 applied index, u32 key count, then per key
    // in sorted key order its key and value strings, u64 deadline (0: none) and u64 lease id (0:
    // none), then the session table (kv/sessions.h, LRU order), then the time: u64 clock, u64 next
    // lease id, u32 lease count and per lease in id order u64 id, u64 TTL, u64 deadline; then the
    // locks: u64 next token, u32 lock count and per lock in name order its name, u8 held, if held
    // u64 lease, u64 token, value string, u64 waiter id (0: granted at once), then u32 waiter count
    // and per waiter in id order u64 id, u64 lease, u64 WAIT deadline (0: none), value string.
    // Version 2 has no locks, version 1 (before cluster time) no per-key deadline and lease and no
    // time either; both still load.
    std::string snapshot() const override;
    // The point-in-time snapshot of StateMachine, by copy-on-write (see the top of this file).
    Index begin_snapshot() override;
    SnapshotChunk snapshot_chunk(std::size_t max_bytes) override;
    void abort_snapshot() override { open_.reset(); }
    bool snapshot_open() const override { return open_ != nullptr; }
    // Replaces the state with a snapshot; false (state unchanged) if the bytes are malformed.
    bool restore(std::string_view snapshot) override;
    // Decodes a snapshot as its bytes come, on any thread, into a new state that adopt() swaps in
    // (StateMachine::snapshot_decoder; kv_snapshot_decoder.cc). restore() is the two at once.
    std::unique_ptr<SnapshotDecoder> snapshot_decoder() const override;
    bool adopt(SnapshotDecoder& decoded) override;

    // The applied index a snapshot was taken at, read from its header; nullopt if the bytes do not
    // start like a snapshot.
    static std::optional<Index> snapshot_index(std::string_view snapshot);
    // Old values saved for the open snapshot (for tests and INFO); 0 with none open.
    std::size_t snapshot_saved_keys() const { return open_ ? open_->saved.size() : 0; }

private:
    // What a key carries besides its value: its own deadline in cluster time (0: none) and the
    // lease it is tied to (0: none). Only keys with one of them have an entry in meta_.
    struct KeyMeta {
        std::uint64_t deadline_ms = 0;
        std::uint64_t lease = 0;
        bool empty() const { return deadline_ms == 0 && lease == 0; }
        friend bool operator==(const KeyMeta&, const KeyMeta&) = default;
    };
    struct Lease {
        std::uint64_t ttl_ms = 0;
        std::uint64_t deadline_ms = 0;
        std::set<std::string, std::less<>> keys;  // tied to it, in key order
        std::set<std::string, std::less<>> held;  // locks and elections it holds
        std::set<Index> waiting;                  // its waiters' ids
    };
    // A lock or election: its holder, if any, and its waiters in arrival (= id = log) order.
    struct Holder {
        std::uint64_t lease = 0;
        std::uint64_t token = 0;
        std::string value;  // ELECT's; empty for LOCK
        Index waiter = 0;   // the waiter it was granted to; 0 if granted at once
    };
    struct Waiter {
        std::uint64_t lease = 0;
        std::uint64_t deadline_ms = 0;  // WAIT's, in cluster time; 0: none
        std::string value;
    };
    struct Lock {
        std::optional<Holder> holder;
        std::map<Index, Waiter> waiters;
    };

    // Creates or overwrites `key` (the caller checked the value's size); a plain write also drops
    // the key's TTL and lease, as Redis's setKey does unless KEEPTTL.
    void put(const std::string& key, std::string_view value, bool keep_meta = false);
    std::string set(const KvCommand& c);
    std::string set_options(const KvCommand& c);
    std::string mset(const KvCommand& c);
    std::string getset(const KvCommand& c);
    std::string getdel(const KvCommand& c);
    std::string setnx(const KvCommand& c);
    std::string del(const KvCommand& c);
    std::string append(const KvCommand& c);
    std::string incr_by(const std::string& key, std::int64_t delta);
    // GET's reply: the value as a bulk string, or nil.
    std::string value_reply(std::string_view key) const;
    std::string exists(const KvCommand& c) const;
    std::string mget(const KvCommand& c) const;
    std::string keys(std::string_view pattern) const;

    // ---- cluster time (kv_store_time.cc) ----
    // Moves the clock to `time_ms` if later, and removes what has expired by then.
    void advance_clock(std::uint64_t time_ms);
    void expire_due();
    KeyMeta meta_of(std::string_view key) const;
    // Replaces the key's deadline and lease (the caller called before_write); keeps the indexes.
    void set_meta(const std::string& key, KeyMeta meta);
    // Deletes a key that exists, with its meta.
    void delete_key(const std::string& key);
    void drop_lease(std::uint64_t id);
    // The deadline `amount_ms` after now, or nullopt if it would overflow.
    std::optional<std::int64_t> deadline_after(std::int64_t amount_ms) const;
    std::string pexpire(const KvCommand& c);
    std::string persist(const KvCommand& c);
    std::string pttl(const KvCommand& c) const;
    std::string lease_grant(const KvCommand& c);
    std::string lease_keepalive(const KvCommand& c);
    std::string lease_ttl(const KvCommand& c) const;
    std::string lease_revoke(const KvCommand& c);
    // The time section of the snapshot (see snapshot()), and reading it back.
    std::string encode_time() const;

    // ---- locks and elections (kv_store_locks.cc) ----
    std::string lock(const KvCommand& c);
    std::string unlock(const KvCommand& c);
    std::string leader(const KvCommand& c) const;
    std::string set_fenced(const KvCommand& c);
    // Grants `name` to `lease` (the lock is free): the new token.
    std::uint64_t grant(const std::string& name, Lock& lock, std::uint64_t lease, std::string value,
                        Index waiter);
    // The holder of `name` lets go; the lock goes to its first waiter still alive, if any.
    void release(const std::string& name);
    // Takes waiter `w` out of `lock`'s queue and out of every index of waiters (lease, deadline,
    // lock name); the lock itself stays.
    Waiter unlink_waiter(Lock& lock, std::map<Index, Waiter>::iterator w);
    // Removes a queued waiter and tells the listener its reply.
    void drop_waiter(Index id, const std::string& reply);
    void expire_waiters();
    void tell_waiter(Index id, const std::string& reply) const;
    bool lease_due(std::uint64_t lease) const;
    void encode_locks(Writer& w) const;

    // A snapshot being decoded (kv_snapshot_decoder.cc).
    class Decoder;

    // The snapshot being produced by snapshot_chunk().
    struct OpenSnapshot {
        Index index = 0;
        std::uint32_t key_count = 0;  // keys at begin
        std::uint32_t keys_emitted = 0;
        std::string tail;  // the session table's and the time's encoding at begin
        // The last key serialized; nullopt before the first.
        std::optional<std::string> cursor;
        // The value and meta at begin (nullopt: absent at begin) of keys after the cursor written since.
        struct Saved {
            std::string value;
            KeyMeta meta;
        };
        std::map<std::string, std::optional<Saved>, std::less<>> saved;
        std::string pending;  // encoded bytes; those before handed_out were handed out
        std::size_t handed_out = 0;
        bool keys_done = false;
        bool sessions_done = false;
    };
    // Inserts a new key into data_ and the sorted index.
    Map::iterator insert_key(const std::string& key, std::string_view value);
    void erase_key(Map::iterator it);
    // Copy-on-write: called before `key` is changed (created, overwritten or deleted).
    void before_write(std::string_view key);
    void fill_pending(std::size_t want);

    KvStoreLimits limits_;
    Map data_;
    // data_'s entries in key order: pointers to the map's own nodes, which never move (not even
    // on rehash), so walking it reaches each value without a hash lookup.
    struct ByKey {
        using is_transparent = void;
        static std::string_view key(const Map::value_type* e) { return e->first; }
        static std::string_view key(std::string_view k) { return k; }
        template <typename A, typename B>
        bool operator()(const A& a, const B& b) const {
            return key(a) < key(b);
        }
    };
    std::set<const Map::value_type*, ByKey> order_;
    std::unique_ptr<OpenSnapshot> open_;
    Sessions sessions_;
    Index applied_index_ = 0;

    // Cluster time: the clock, keys' meta and their deadlines in expiry order, leases. One struct,
    // so that a snapshot's decoder builds a whole new one and adopt() swaps it in.
    struct TimeState {
        std::uint64_t clock_ms = 0;
        std::unordered_map<std::string, KeyMeta, KeyHash, std::equal_to<>> meta;
        std::set<std::pair<std::uint64_t, std::string>> key_deadlines;
        std::map<std::uint64_t, Lease> leases;
        std::set<std::pair<std::uint64_t, std::uint64_t>> lease_deadlines;  // (deadline, id)
        std::uint64_t next_lease_id = 1;
        // Locks and elections by name (held or waited for), the next fencing token, and every
        // queued waiter: its lock, and its WAIT deadline in expiry order.
        std::map<std::string, Lock, std::less<>> locks;
        std::uint64_t next_token = 1;
        std::map<Index, std::string> waiter_locks;
        std::set<std::pair<std::uint64_t, Index>> waiter_deadlines;
    };
    // The time section of a version-2 snapshot into `time`, whose meta the keys filled in; false if
    // malformed or inconsistent (a key tied to a lease that is not there, something already expired).
    static bool decode_time(Reader& r, TimeState& time);
    // The locks of a version-3 snapshot into `time`, whose leases are decoded; false if malformed or
    // inconsistent (a lease that is not there, a token not below the next one, a waiter twice).
    static bool decode_locks(Reader& r, TimeState& time);
    TimeState time_;
    WaiterListener waiter_listener_;
};

}  // namespace ballot::kv
