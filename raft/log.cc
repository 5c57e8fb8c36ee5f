#include "raft/log.h"

#include <algorithm>
#include <stdexcept>

namespace ballot::raft {

RaftLog::RaftLog(std::vector<Entry> recovered, Index base_index, std::uint64_t base_term)
    : base_index_(base_index), base_term_(base_term), entries_(std::move(recovered)) {
    if ((base_index_ == 0) != (base_term_ == 0))
        throw std::invalid_argument("raft: log base (" + std::to_string(base_index_) + ", term " +
                                    std::to_string(base_term_) + ") is not a log position");
    std::uint64_t previous_term = base_term_;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        const Entry& e = entries_[i];
        if (e.index != base_index_ + 1 + i)
            throw std::invalid_argument("raft: recovered log has index " + std::to_string(e.index) +
                                        " where index " + std::to_string(base_index_ + 1 + i) +
                                        " was expected");
        if (e.term == 0 || e.term < previous_term)
            throw std::invalid_argument("raft: recovered log has term " + std::to_string(e.term) +
                                        " at index " + std::to_string(e.index) + " after term " +
                                        std::to_string(previous_term));
        previous_term = e.term;
    }
}

std::optional<std::uint64_t> RaftLog::term_at(Index index) const {
    if (index == base_index_) return base_term_;
    if (index == 0) return 0;  // before every log
    if (index < base_index_ || index > last_index()) return std::nullopt;
    return at(index).term;
}

bool RaftLog::is_up_to_date(Index last_log_index, std::uint64_t last_log_term) const {
    if (last_log_term != last_term()) return last_log_term > last_term();
    return last_log_index >= last_index();
}

Index RaftLog::first_index_of_term_at(Index index) const {
    if (index == base_index_) return base_index_;
    const std::uint64_t term = at(index).term;
    // Terms never decrease along the log, so the entries of one term are contiguous.
    auto first = std::lower_bound(entries_.begin(),
                                  entries_.begin() + static_cast<std::ptrdiff_t>(index - base_index_), term,
                                  [](const Entry& e, std::uint64_t t) { return e.term < t; });
    return first->index;
}

std::optional<Index> RaftLog::last_index_of_term(std::uint64_t term, Index limit) const {
    if (limit < base_index_) return std::nullopt;
    auto end = entries_.begin() + static_cast<std::ptrdiff_t>(std::min(limit, last_index()) - base_index_);
    auto after = std::upper_bound(entries_.begin(), end, term,
                                  [](std::uint64_t t, const Entry& e) { return t < e.term; });
    if (after != entries_.begin() && std::prev(after)->term == term) return std::prev(after)->index;
    if (after == entries_.begin() && base_index_ != 0 && base_term_ == term) return base_index_;
    return std::nullopt;
}

std::vector<Entry> RaftLog::slice(Index from, std::size_t max_bytes) const {
    std::vector<Entry> out;
    std::size_t bytes = 0;
    for (Index i = std::max(from, first_index()); i <= last_index(); ++i) {
        std::size_t size = entry_bytes(at(i));
        if (!out.empty() && bytes + size > max_bytes) break;
        bytes += size;
        out.push_back(at(i));
    }
    return out;
}

std::vector<Entry> RaftLog::range(Index from, Index to) const {
    if (from > to) return {};
    BALLOT_ASSERT(from > base_index_ && to <= last_index(), "log range within first..last index");
    return {entries_.begin() + static_cast<std::ptrdiff_t>(from - base_index_ - 1),
            entries_.begin() + static_cast<std::ptrdiff_t>(to - base_index_)};
}

Index RaftLog::append(std::uint64_t term, std::string data) {
    BALLOT_ASSERT(term >= 1 && term >= last_term(), "log terms never decrease");
    Index index = last_index() + 1;
    entries_.push_back(Entry{index, term, std::move(data)});
    mark_unstable(index);
    return index;
}

Index RaftLog::append_from_leader(Index prev_log_index, std::vector<Entry> entries) {
    BALLOT_ASSERT(prev_log_index >= base_index_, "entries from a leader follow the log's base");
    const Index last_new = prev_log_index + entries.size();
    for (Entry& e : entries) {
        if (e.index <= last_index()) {
            // Log Matching (§5.3): same index and term means the same entry and the same prefix.
            if (at(e.index).term == e.term) continue;
            // Rule 3: a conflicting entry and all that follow it are removed.
            truncate_from(e.index);
        }
        BALLOT_ASSERT(e.index == last_index() + 1, "log indexes contiguous");
        BALLOT_ASSERT(e.term >= 1 && e.term >= last_term(), "log terms never decrease");
        mark_unstable(e.index);
        entries_.push_back(std::move(e));
    }
    return last_new;
}

std::optional<Index> RaftLog::first_conflict(const std::vector<Entry>& entries) const {
    for (const Entry& e : entries) {
        BALLOT_ASSERT(e.index > base_index_, "entries compared with the log follow its base");
        if (e.index > last_index()) return std::nullopt;
        if (at(e.index).term != e.term) return e.index;
    }
    return std::nullopt;
}

void RaftLog::compact(Index index) {
    BALLOT_ASSERT(index > base_index_ && index <= last_index(), "compaction within the log");
    base_term_ = at(index).term;
    compact_front(entries_, static_cast<std::size_t>(index - base_index_), graveyard_);
    base_index_ = index;
    compacted_below_ = index + 1;
    if (unstable_from_ && *unstable_from_ <= index) unstable_from_ = index + 1;
}

void RaftLog::reset(Index index, std::uint64_t term) {
    BALLOT_ASSERT(index > base_index_ && term >= 1, "a new base is a later log position");
    if (!entries_.empty()) truncate_from(first_index());
    base_index_ = index;
    base_term_ = term;
    compacted_below_ = index + 1;
    unstable_from_.reset();
}

void RaftLog::discard_persisted(bool at_or_below_base, bool above_base) {
    if (at_or_below_base && base_index_ > 0) compacted_below_ = first_index();
    if (above_base) {
        BALLOT_ASSERT(entries_.empty(), "records above the base are discarded only with the whole log");
        truncated_from_ = first_index();
    }
}

void RaftLog::truncate_from(Index index) {
    BALLOT_ASSERT(index > base_index_ && index <= last_index(), "truncation within the log");
    truncate_back(entries_, static_cast<std::size_t>(index - base_index_ - 1), graveyard_);
    truncated_from_ = std::min(truncated_from_.value_or(index), index);
}

void RaftLog::mark_unstable(Index index) {
    unstable_from_ = std::min(unstable_from_.value_or(index), index);
}

void RaftLog::take_unstable(std::optional<Index>& truncate_from, std::optional<Index>& compact_below,
                            std::vector<LogRecord>& records) {
    truncate_from = truncated_from_;
    compact_below = compacted_below_;
    records.clear();
    if (unstable_from_ && *unstable_from_ <= last_index()) {
        const Index from = std::max(*unstable_from_, first_index());
        records.reserve(last_index() - from + 1);
        for (Index i = from; i <= last_index(); ++i) records.push_back(encode_record(at(i)));
    }
    truncated_from_.reset();
    compacted_below_.reset();
    unstable_from_.reset();
}

}  // namespace ballot::raft
