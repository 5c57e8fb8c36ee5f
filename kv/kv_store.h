// The replicated key-value state machine every replica applies the chosen log to.
//
// apply() runs writes (SET DEL APPEND INCR) — and reads, when an engine serves reads through the
// log — in log order, after the exactly-once check of kv/sessions.h; query() serves reads the
// runtime has already made linearizable (ReadIndex or a quorum check). Replies are RESP-encoded,
// ready for the front end to write to the client.
//
// Deterministic: the state after applying a sequence of commands depends only on that sequence
// (no clocks, no randomness, no iteration-order dependence in replies: KEYS sorts). A log entry
// whose payload does not decode is answered with an -ERR reply and changes nothing but the
// session table: the store never crashes on what the log holds.
//
// Not thread-safe: the runtime applies and queries from its one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
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
    std::string execute_read(const KvCommand& command) const;

    std::size_t size() const { return data_.size(); }
    std::optional<std::string> get(std::string_view key) const;
    const Map& data() const { return data_; }
    const Sessions& sessions() const { return sessions_; }
    // The index of the last command applied (0: none yet).
    Index applied_index() const { return applied_index_; }

    // The whole state (keys sorted, sessions in LRU order) as canonical bytes: equal states give
    // equal bytes. For snapshots and for checking that replicas agree.
    std::string snapshot() const;
    // Replaces the state with a snapshot; false (state unchanged) if the bytes are malformed.
    bool restore(std::string_view snapshot);

private:
    std::string set(const KvCommand& c);
    std::string del(const KvCommand& c);
    std::string append(const KvCommand& c);
    std::string incr(const KvCommand& c);
    std::string keys(std::string_view pattern) const;

    KvStoreLimits limits_;
    Map data_;
    Sessions sessions_;
    Index applied_index_ = 0;
};

}  // namespace ballot::kv
