// The in-memory Raft log (Figure 2, "log[]": entries from index 1, each with the term in which a
// leader created it), and the bookkeeping of what has changed since the runtime last took a Ready,
// i.e. what its durable log store still has to write.
//
// Invariants: entries are numbered 1..last_index() without gaps; terms never decrease along the
// log (a leader appends only entries of its own term, which is higher than any before it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/assert.h"
#include "common/types.h"
#include "raft/persist.h"

namespace ballot::raft {

// Smallest encoded entry in an AppendEntries message (messages.cc): index, term and the command's
// length. Replication budgets count entries by this plus the command's size.
inline constexpr std::size_t kMinEntryBytes = 8 + 8 + 4;

class RaftLog {
public:
    // Rebuilds the log from the entries the store recovered (decoded by raft/persist.h). Throws
    // std::invalid_argument if the entries are not numbered 1, 2, 3... or their terms decrease.
    explicit RaftLog(std::vector<Entry> recovered = {});

    Index last_index() const { return entries_.size(); }
    std::uint64_t last_term() const { return entries_.empty() ? 0 : entries_.back().term; }
    bool empty() const { return entries_.empty(); }

    // Term of the entry at `index`: 0 for index 0, std::nullopt past the end.
    std::optional<std::uint64_t> term_at(Index index) const;
    // The log holds an entry at `index` with `term` (index 0 matches term 0).
    bool matches(Index index, std::uint64_t term) const { return term_at(index) == term; }
    // Requires 1 <= index <= last_index().
    const Entry& at(Index index) const {
        BALLOT_ASSERT(index >= 1 && index <= last_index(), "log access within 1..last_index");
        return entries_[index - 1];
    }

    // §5.4.1: a log ending at (last_log_index, last_log_term) is at least as up-to-date as this
    // one: a later last term wins; with equal last terms the longer log wins.
    bool is_up_to_date(Index last_log_index, std::uint64_t last_log_term) const;

    // §5.3 hint: the first index this log holds with the same term as the entry at `index`.
    Index first_index_of_term_at(Index index) const;
    // §5.3 hint, leader side: the last index <= `limit` holding an entry of `term`, if any.
    std::optional<Index> last_index_of_term(std::uint64_t term, Index limit) const;

    // Entries from `from` on, as many as fit in `max_bytes` of encoded size, but at least one if
    // there is any (an entry larger than the budget still has to travel).
    std::vector<Entry> slice(Index from, std::size_t max_bytes) const;
    // Entries [from, to]; requires 1 <= from and to <= last_index().
    std::vector<Entry> range(Index from, Index to) const;

    // Leader: appends a new entry of `term` (§5.3 "the leader appends the command to its log as a
    // new entry"). Returns its index.
    Index append(std::uint64_t term, std::string data);

    // Follower, Figure 2 AppendEntries receiver rules 3 and 4: for each entry, if an existing
    // entry at its index has a different term, delete it and all that follow it; then append any
    // entries not already in the log. Entries must follow `prev_log_index`, which must match.
    // Returns the index of the last new entry (prev_log_index + entries.size()).
    Index append_from_leader(Index prev_log_index, std::vector<Entry> entries);
    // The first index at which `entries` (which must follow a matching prev_log_index) disagree
    // with this log, i.e. where append_from_leader would truncate; std::nullopt if nowhere.
    std::optional<Index> first_conflict(const std::vector<Entry>& entries) const;

    // The log's shape (indexes contiguous from 1, terms >= 1 and never decreasing) over its last
    // `window` entries; append() and append_from_leader() assert it at every entry they add.
    // Defined in raft/invariants.cc with the rest of the engine's invariants.
    void check_invariants(Index window) const;

    // What the store has not been told yet: the first index removed from the log (if a suffix
    // was truncated) and every entry written since, both since the last call. Clears them.
    bool has_unstable() const { return truncated_from_.has_value() || unstable_from_.has_value(); }
    // Entries are handed out as log records to persist (raft/persist.h).
    void take_unstable(std::optional<Index>& truncate_from, std::vector<LogRecord>& records);

private:
    void truncate_from(Index index);
    void mark_unstable(Index index);

    std::vector<Entry> entries_;  // entries_[i] holds index i + 1
    std::optional<Index> truncated_from_;
    std::optional<Index> unstable_from_;
};

}  // namespace ballot::raft
