// Client sessions: exactly-once application of commands (Raft dissertation §6.3, "Implementing
// linearizable semantics").
//
// Every replica keeps, per client id, the replies of the commands it applied and that the client
// may still ask about. A retried command (same client_id and seq, perhaps through another node,
// perhaps proposed twice and so present twice in the log) is not applied again: the reply of its
// first application is returned. Because the table is part of the replicated state, every
// replica makes the same decision for the same log entry.
//
//   seq < acked_below             the client already has this reply: a stale duplicate, never
//                                 applied; reply "-ERR stale request (already acknowledged)".
//   seq has a kept reply          a duplicate: not applied; the kept reply is returned.
//   otherwise                     applied; its reply is kept; then acked_below rises to the
//                                 command's acked_below and kept replies below it are forgotten.
//
// client_id 0 means "no session": the caller applies without asking.
//
// Bounds (both must be identical on every replica, like the rest of the state machine):
//  - max_sessions: when a new client would exceed it, the session least recently used IN APPLY
//    ORDER is forgotten (never wall-clock time, so every replica evicts the same one).
//    CONSEQUENCE: a client whose session was evicted is unknown again, so if it retries a
//    command that was already applied, the retry is applied a second time. Only a client idle
//    for `max_sessions` other clients' commands can be hit; §6.3 accepts the same trade-off.
//  - max_kept_per_session: a session keeping more replies than this forgets its lowest seq.
//    To stay at-most-once, a forgotten seq is then refused rather than re-applied: any seq at or
//    below the highest evicted one that has no kept reply gets "-ERR stale request (result no
//    longer kept)". Only a client with more than this many requests in flight can be hit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/codec.h"
#include "common/command.h"

namespace ballot::kv {

struct SessionLimits {
    std::size_t max_sessions = 100000;
    std::size_t max_kept_per_session = 4096;
};

class Sessions {
public:
    struct Session {
        std::uint64_t acked_below = 0;              // the client has replies for every seq below this
        std::uint64_t evicted_through = 0;          // highest seq whose kept reply was dropped for room
        std::map<std::uint64_t, std::string> kept;  // seq -> RESP reply, seq >= acked_below
    };

    explicit Sessions(SessionLimits limits = {});
    // Entries hold iterators into lru_: a copy would point into the wrong list. Moves are safe
    // (list nodes, and so iterators, move with the list).
    Sessions(const Sessions&) = delete;
    Sessions& operator=(const Sessions&) = delete;
    Sessions(Sessions&&) = default;
    Sessions& operator=(Sessions&&) = default;

    // Called, in apply order, for a command with client_id != 0 before it is applied. nullopt:
    // apply it (then call record()). Otherwise the reply to return instead of applying.
    std::optional<std::string> check(const Command& command);
    // Keeps the reply of a command just applied and advances the session's acked_below.
    void record(const Command& command, std::string reply);

    std::size_t size() const { return sessions_.size(); }
    const Session* find(std::uint64_t client_id) const;
    // Client ids from least to most recently used (in apply order).
    const std::list<std::uint64_t>& lru_order() const { return lru_; }

    // Canonical encoding (the same state always encodes to the same bytes): for snapshots and
    // for comparing replicas.
    void encode(Writer& w) const;
    // Replaces the table; false (table unchanged) if the bytes are malformed.
    bool decode(Reader& r);

    friend bool operator==(const Sessions& a, const Sessions& b);

private:
    struct Entry {
        Session session;
        std::list<std::uint64_t>::iterator lru_position;
    };
    void touch(Entry& entry);
    void evict_least_recent();

    SessionLimits limits_;
    std::unordered_map<std::uint64_t, Entry> sessions_;
    std::list<std::uint64_t> lru_;  // front = least recently used
};

inline constexpr std::string_view kStaleAcknowledged = "ERR stale request (already acknowledged)";
inline constexpr std::string_view kStaleEvicted = "ERR stale request (result no longer kept)";

}  // namespace ballot::kv
