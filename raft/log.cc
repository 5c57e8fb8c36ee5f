#include "raft/log.h"

#include <algorithm>
#include <stdexcept>

namespace ballot::raft {

RaftLog::RaftLog(std::vector<Entry> recovered) : entries_(std::move(recovered)) {
    std::uint64_t previous_term = 0;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        const Entry& e = entries_[i];
        if (e.index != i + 1)
            throw std::invalid_argument("raft: recovered log has index " + std::to_string(e.index) +
                                        " where index " + std::to_string(i + 1) + " was expected");
        if (e.term == 0 || e.term < previous_term)
            throw std::invalid_argument("raft: recovered log has term " + std::to_string(e.term) +
                                        " at index " + std::to_string(e.index) + " after term " +
                                        std::to_string(previous_term));
        previous_term = e.term;
    }
}

std::optional<std::uint64_t> RaftLog::term_at(Index index) const {
    if (index == 0) return 0;
    if (index > last_index()) return std::nullopt;
    return at(index).term;
}

bool RaftLog::is_up_to_date(Index last_log_index, std::uint64_t last_log_term) const {
    if (last_log_term != last_term()) return last_log_term > last_term();
    return last_log_index >= last_index();
}

Index RaftLog::first_index_of_term_at(Index index) const {
    const std::uint64_t term = at(index).term;
    // Terms never decrease along the log, so the entries of one term are contiguous.
    auto first = std::lower_bound(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(index),
                                  term, [](const Entry& e, std::uint64_t t) { return e.term < t; });
    return first->index;
}

std::optional<Index> RaftLog::last_index_of_term(std::uint64_t term, Index limit) const {
    auto end = entries_.begin() + static_cast<std::ptrdiff_t>(std::min(limit, last_index()));
    auto after = std::upper_bound(entries_.begin(), end, term,
                                  [](std::uint64_t t, const Entry& e) { return t < e.term; });
    if (after == entries_.begin() || std::prev(after)->term != term) return std::nullopt;
    return std::prev(after)->index;
}

std::vector<Entry> RaftLog::slice(Index from, std::size_t max_bytes) const {
    std::vector<Entry> out;
    std::size_t bytes = 0;
    for (Index i = std::max<Index>(from, 1); i <= last_index(); ++i) {
        std::size_t size = kMinEntryBytes + at(i).data.size();
        if (!out.empty() && bytes + size > max_bytes) break;
        bytes += size;
        out.push_back(at(i));
    }
    return out;
}

std::vector<Entry> RaftLog::range(Index from, Index to) const {
    if (from > to) return {};
    BALLOT_ASSERT(from >= 1 && to <= last_index(), "log range within 1..last_index");
    return {entries_.begin() + static_cast<std::ptrdiff_t>(from - 1),
            entries_.begin() + static_cast<std::ptrdiff_t>(to)};
}

Index RaftLog::append(std::uint64_t term, std::string data) {
    BALLOT_ASSERT(term >= 1 && term >= last_term(), "log terms never decrease");
    Index index = last_index() + 1;
    entries_.push_back(Entry{index, term, std::move(data)});
    mark_unstable(index);
    return index;
}

Index RaftLog::append_from_leader(Index prev_log_index, std::vector<Entry> entries) {
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
        if (e.index > last_index()) return std::nullopt;
        if (at(e.index).term != e.term) return e.index;
    }
    return std::nullopt;
}

void RaftLog::truncate_from(Index index) {
    BALLOT_ASSERT(index >= 1 && index <= last_index(), "truncation within the log");
    entries_.resize(index - 1);
    truncated_from_ = std::min(truncated_from_.value_or(index), index);
}

void RaftLog::mark_unstable(Index index) {
    unstable_from_ = std::min(unstable_from_.value_or(index), index);
}

void RaftLog::take_unstable(std::optional<Index>& truncate_from, std::vector<LogRecord>& records) {
    truncate_from = truncated_from_;
    records.clear();
    if (unstable_from_ && *unstable_from_ <= last_index()) {
        records.reserve(last_index() - *unstable_from_ + 1);
        for (Index i = *unstable_from_; i <= last_index(); ++i) records.push_back(encode_record(at(i)));
    }
    truncated_from_.reset();
    unstable_from_.reset();
}

}  // namespace ballot::raft
