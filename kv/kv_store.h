// The replicated key-value state machine every replica applies the chosen log to.
//
// apply() runs writes (SET DEL APPEND INCR and the other string commands of kv_commands.h) — and reads, when
// an engine serves reads through the log — in log order, after the exactly-once check of kv/sessions.h;
// query() serves reads the runtime has already made linearizable (ReadIndex or a quorum check). Replies are
// RESP-encoded, ready for the front end to write to the client.
//
// Deterministic: the state after applying a sequence of commands depends only on that sequence
// (no clocks, no randomness, no iteration-order dependence in replies: KEYS sorts). A log entry
// whose payload does not decode is answered with an -ERR reply and changes nothing but the
// session table: the store never crashes on what the log holds.
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
//   GET are unchanged.
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

#include "common/state_machine.h"
#include "kv/kv_commands.h"
#include "kv/sessions.h"

namespace ballot::kv {

struct KvStoreLimits {
    SessionLimits sessions;
    // A value APPEND may grow to; Redis's proto-max-bulk-len. Must match on every replica.
    std::size_t max_value_bytes = 512u * 1024 * 1024;
    // Buckets reserved up front, so the first rehashes (each a latency spike) happen later.
    std::size_t expected_keys = 4096;
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

    // The whole state as canonical bytes: equal states give equal bytes. Format (common/codec.h
    // integers and strings): u8 version, u64 applied index, u32 key count, then key and value
    // strings in sorted key order, then the session table (kv/sessions.h, LRU order).
    std::string snapshot() const override;
    // The point-in-time snapshot of StateMachine, by copy-on-write (see the top of this file).
    Index begin_snapshot() override;
    SnapshotChunk snapshot_chunk(std::size_t max_bytes) override;
    void abort_snapshot() override { open_.reset(); }
    bool snapshot_open() const override { return open_ != nullptr; }
    // Replaces the state with a snapshot; false (state unchanged) if the bytes are malformed.
    bool restore(std::string_view snapshot) override;

    // The applied index a snapshot was taken at, read from its header; nullopt if the bytes do not
    // start like a snapshot.
    static std::optional<Index> snapshot_index(std::string_view snapshot);
    // Old values saved for the open snapshot (for tests and INFO); 0 with none open.
    std::size_t snapshot_saved_keys() const { return open_ ? open_->saved.size() : 0; }

private:
    // Creates or overwrites `key` (the caller checked the value's size).
    void put(const std::string& key, std::string_view value);
    std::string set(const KvCommand& c);
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

    // The snapshot being produced by snapshot_chunk().
    struct OpenSnapshot {
        Index index = 0;
        std::uint32_t key_count = 0;  // keys at begin
        std::uint32_t keys_emitted = 0;
        std::string sessions;  // the session table's encoding at begin
        // The last key serialized; nullopt before the first.
        std::optional<std::string> cursor;
        // The value at begin (nullopt: absent at begin) of keys after the cursor written since.
        std::map<std::string, std::optional<std::string>, std::less<>> saved;
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
};

}  // namespace ballot::kv
