// The in-memory Raft log (Figure 2, "log[]": each entry with the term in which a leader created
// it), and the bookkeeping of what has changed since the runtime last took a Ready, i.e. what its
// durable log store still has to write.
//
// The log starts after a BASE (extended paper §7, "Log compaction"): the last entry a snapshot
// covers that this log no longer holds, kept as (index, term) so that the consistency check of
// the entry after it still works ("the last included index and term ... are kept to support the
// AppendEntries consistency check for the first log entry following the snapshot"). Without a
// snapshot the base is (0, 0), "before the log". The term of an index below the base is unknown.
//
// Invariants: entries are numbered base+1..last_index() without gaps; terms never decrease along
// the log, from the base term on (a leader appends only entries of its own term, which is higher
// than any before it); the base is (0, 0) or has a term >= 1.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/assert.h"
#include "common/graveyard.h"
#include "common/types.h"
#include "raft/persist.h"

namespace ballot::raft {

// Smallest encoded entry in an AppendEntries message (messages.cc): index, term and the command's
// length. Replication budgets count entries by this plus the command's size.
inline constexpr std::size_t kMinEntryBytes = 8 + 8 + 4;
inline std::size_t entry_bytes(const Entry& e) { return kMinEntryBytes + e.data.size(); }
inline std::size_t entries_bytes(const std::vector<Entry>& entries) {
    std::size_t bytes = 0;
    for (const Entry& e : entries) bytes += entry_bytes(e);
    return bytes;
}

class RaftLog {
public:
    // Rebuilds the log from the entries the store recovered (decoded by raft/persist.h), following
    // a base (base_index, base_term) that a snapshot covers. Throws std::invalid_argument if the
    // entries are not numbered base_index+1, +2, ... or their terms decrease (from base_term on).
    explicit RaftLog(std::vector<Entry> recovered = {}, Index base_index = 0, std::uint64_t base_term = 0);

    // The last index a snapshot covers that the log no longer holds, and its term (0, 0: none).
    Index base_index() const { return base_index_; }
    std::uint64_t base_term() const { return base_term_; }
    // §7: `index` is below the base, so the entry after it is not in the log and (index 0 aside)
    // its own term is no longer known: a follower that needs it next needs a snapshot.
    bool compacted(Index index) const { return index < base_index_; }
    // The first index the log holds (when it holds any).
    Index first_index() const { return base_index_ + 1; }
    // The last index of the log, or the base when the log holds no entry.
    Index last_index() const { return base_index_ + entries_.size(); }
    std::uint64_t last_term() const { return entries_.empty() ? base_term_ : entries_.back().term; }
    bool empty() const { return entries_.empty(); }

    // Term of the entry at `index`: the base term at the base, 0 for index 0 (before every log),
    // std::nullopt otherwise below the base (compacted away, §7) and past the end.
    std::optional<std::uint64_t> term_at(Index index) const;
    // The log holds an entry at `index` with `term`, or `index` is the base and `term` its term
    // (index 0 matches term 0).
    bool matches(Index index, std::uint64_t term) const { return term_at(index) == term; }
    // Requires first_index() <= index <= last_index().
    const Entry& at(Index index) const {
        BALLOT_ASSERT(index > base_index_ && index <= last_index(), "log access within first..last index");
        return entries_[index - base_index_ - 1];
    }

    // §5.4.1: a log ending at (last_log_index, last_log_term) is at least as up-to-date as this
    // one: a later last term wins; with equal last terms the longer log wins.
    bool is_up_to_date(Index last_log_index, std::uint64_t last_log_term) const;

    // §5.3 hint: the first index this log holds with the same term as the entry at `index`
    // (base_index() <= index <= last_index(); the base itself for the base).
    Index first_index_of_term_at(Index index) const;
    // §5.3 hint, leader side: the last index <= `limit` holding an entry of `term` (the base
    // counts), if any.
    std::optional<Index> last_index_of_term(std::uint64_t term, Index limit) const;

    // Entries from `from` on, as many as fit in `max_bytes` of encoded size, but at least one if
    // there is any (an entry larger than the budget still has to travel).
    std::vector<Entry> slice(Index from, std::size_t max_bytes) const;
    // Entries [from, to]; requires first_index() <= from and to <= last_index().
    std::vector<Entry> range(Index from, Index to) const;

    // Leader: appends a new entry of `term` (§5.3 "the leader appends the command to its log as a
    // new entry"). Returns its index.
    Index append(std::uint64_t term, std::string data);

    // Follower, Figure 2 AppendEntries receiver rules 3 and 4: for each entry, if an existing
    // entry at its index has a different term, delete it and all that follow it; then append any
    // entries not already in the log. Entries must follow `prev_log_index`, which must match.
    // Returns the index of the last new entry (prev_log_index + entries.size()).
    Index append_from_leader(Index prev_log_index, std::vector<Entry> entries);
    // The first index at which `entries` (which must follow a matching prev_log_index >= the base) disagree
    // with this log, i.e. where append_from_leader would truncate; std::nullopt if nowhere.
    std::optional<Index> first_conflict(const std::vector<Entry>& entries) const;

    // §7 log compaction: drops every entry up to and including `index` (base_index() < index <=
    // last_index()), which becomes the new base, and tells the store (compact_below = index + 1).
    // Figure 13 rule 6 is compact(last included index) when the entry there matches.
    void compact(Index index);
    // Frees a tick's share of what compaction and truncation buried (common/graveyard.h).
    void collect_garbage() { graveyard_.collect(); }
    // Figure 13 rule 7: "discard the entire log". The log becomes empty after a new base
    // (index, term), index > base_index(); the store deletes every record it holds (those above
    // the old base by truncation, those up to `index` by compaction).
    void reset(Index index, std::uint64_t term);
    // At recovery: records the store still holds that this log dropped (at or below the base,
    // covered by a snapshot; above it, discarded by Figure 13 rule 7) are deleted with the next
    // batch.
    void discard_persisted(bool at_or_below_base, bool above_base);

    // The log's shape (indexes contiguous from the base, terms >= 1 and never decreasing from the
    // base term) over its last `window` entries; append() and append_from_leader() assert it at
    // every entry they add. Defined in raft/invariants.cc with the rest of the engine's invariants.
    void check_invariants(Index window) const;

    // What the store has not been told yet: the first index removed from the log (if a suffix
    // was truncated), the index below which everything was compacted away (if the base moved),
    // and every entry written since, all since the last call. Clears them.
    bool has_unstable() const {
        return truncated_from_.has_value() || compacted_below_.has_value() || unstable_from_.has_value();
    }
    // Entries are handed out as log records to persist (raft/persist.h).
    void take_unstable(std::optional<Index>& truncate_from, std::optional<Index>& compact_below,
                       std::vector<LogRecord>& records);

private:
    void truncate_from(Index index);
    void mark_unstable(Index index);

    Index base_index_ = 0;
    std::uint64_t base_term_ = 0;
    Graveyard graveyard_;         // compacted entries, freed a tick at a time
    std::vector<Entry> entries_;  // entries_[i] holds index base_index_ + 1 + i
    std::optional<Index> truncated_from_;
    std::optional<Index> compacted_below_;
    std::optional<Index> unstable_from_;
};

}  // namespace ballot::raft
