#include "raft/progress.h"

#include <algorithm>

namespace ballot::raft {

Progress::Progress(Index next_index, std::size_t max_inflight_messages, std::size_t initial_inflight_bytes,
                   std::size_t max_inflight_bytes)
    : nextIndex(std::max<Index>(next_index, 1)),
      max_inflight_messages_(std::max<std::size_t>(max_inflight_messages, 1)),
      initial_window_bytes_(
          std::clamp<std::size_t>(initial_inflight_bytes, 1, std::max<std::size_t>(max_inflight_bytes, 1))),
      max_window_bytes_(std::max<std::size_t>(max_inflight_bytes, 1)),
      window_bytes_(initial_window_bytes_) {}

bool Progress::paused() const {
    if (state_ == State::snapshot) return true;
    if (state_ == State::probe) return probe_sent_;
    return inflight_.size() >= max_inflight_messages_ || inflight_bytes_ >= window_bytes_;
}

std::size_t Progress::message_bytes(std::size_t max_message_bytes) const {
    return std::max<std::size_t>(1, std::min(max_message_bytes, window_bytes_ / 2));
}

void Progress::sent(Index last_index, std::size_t entry_bytes) {
    if (state_ == State::probe) {
        probe_sent_ = true;  // one at a time until we know where the logs match
        probe_last_index_ = last_index;
        probe_bytes_ = entry_bytes;
        return;
    }
    if (entry_bytes == 0) return;
    // Pipelining: assume success and send the next batch without waiting.
    nextIndex = last_index + 1;
    push_inflight(last_index, entry_bytes);
}

void Progress::push_inflight(Index last_index, std::size_t bytes) {
    inflight_.push_back(InFlight{last_index, interval_, bytes});
    inflight_bytes_ += bytes;
    peak_inflight_bytes_ = std::max(peak_inflight_bytes_, inflight_bytes_);
}

void Progress::clear_inflight() {
    inflight_.clear();
    inflight_bytes_ = 0;
}

bool Progress::on_success(Index match_index) {
    const bool advanced = match_index > matchIndex;
    if (advanced) matchIndex = match_index;
    nextIndex = std::max(nextIndex, matchIndex + 1);
    if (state_ == State::snapshot) return advanced;  // the caller decides when it may resume
    if (state_ == State::probe) {
        if (advanced) {
            become_replicate();  // the probe succeeded: the logs match through matchIndex
        } else if (match_index + 1 == nextIndex) {
            // The follower matches right where the probe starts (an empty probe, or a heartbeat
            // at matchIndex, succeeded): the outstanding probe will succeed too. Stream on after it.
            const bool probe_outstanding = probe_sent_ && probe_last_index_ > matchIndex;
            become_replicate();
            if (probe_outstanding) {
                nextIndex = probe_last_index_ + 1;
                push_inflight(probe_last_index_, probe_bytes_);
            }
        } else {
            probe_sent_ = false;  // an answer to something else (a heartbeat): the probe may be lost
        }
        return advanced;
    }
    while (!inflight_.empty() && inflight_.front().last_index <= match_index) {
        inflight_bytes_ -= inflight_.front().bytes;
        inflight_.pop_front();
    }
    return advanced;
}

bool Progress::on_heartbeat_interval(Index last_index) {
    ++interval_;
    adapt_window(last_index);
    if (state_ != State::replicate || inflight_.empty() ||
        inflight_.front().interval + kLostAfterIntervals > interval_)
        return false;
    nextIndex = matchIndex + 1;
    become_probe();
    return true;
}

bool Progress::on_reject(Index rejected, Index next_hint) {
    // Waiting for a snapshot: a rejection answers something sent before; the transfer (or its
    // retry) decides what comes next.
    if (state_ == State::snapshot) return false;
    if (rejected < matchIndex) return false;  // answers a message older than what we know
    if (rejected == matchIndex) {
        // The follower acknowledged matchIndex, yet now rejects it: it lost entries it had made
        // durable (its store dropped a damaged tail at restart). Forget what we knew; probe.
        matchIndex = 0;
        nextIndex = std::max<Index>(1, std::min(rejected, next_hint));
        become_probe();
        return true;
    }
    // In probe only the answer to the outstanding probe (at nextIndex - 1) counts; duplicates and
    // answers to older probes are stale.
    if (state_ == State::probe && rejected + 1 != nextIndex) return false;
    // §5.3: move nextIndex back (to the hint, never below what is known to match) and retry.
    nextIndex = std::max(matchIndex + 1, std::min(rejected, next_hint));
    become_probe();
    return true;
}

void Progress::become_snapshot() {
    state_ = State::snapshot;
    probe_sent_ = false;
    clear_inflight();
}

void Progress::resume_after_snapshot() {
    if (state_ == State::snapshot) become_replicate();
}

void Progress::on_snapshot_sent(Index index, bool ok) {
    if (state_ != State::snapshot) {
        // Replication resumed already (the follower was seen to match); a success is still news
        // of where it matches.
        if (ok) on_success(index);
        return;
    }
    if (ok) {
        matchIndex = std::max(matchIndex, index);
        become_replicate();
        return;
    }
    nextIndex = matchIndex + 1;
    become_probe();
    probe_sent_ = true;  // resumes when the follower next answers (a heartbeat), and asks again
}

void Progress::adapt_window(Index last_index) {
    const std::size_t peak = peak_inflight_bytes_;
    peak_inflight_bytes_ = inflight_bytes_;  // the next interval starts with what is in flight now
    if (state_ != State::replicate) {
        lag_ = kMaxIndex;  // not streaming: nothing to judge the window by; the next interval starts afresh
        return;
    }
    const Index lag = last_index > matchIndex ? last_index - matchIndex : 0;
    if (peak >= window_bytes_ && lag >= lag_)
        window_bytes_ = std::min(window_bytes_ * 2, max_window_bytes_);  // held back, and not gaining
    else if (peak < window_bytes_ / 2)
        window_bytes_ = std::max(window_bytes_ / 2, initial_window_bytes_);  // more than it needs
    lag_ = lag;
}

void Progress::become_probe() {
    state_ = State::probe;
    probe_sent_ = false;
    clear_inflight();
}

void Progress::become_replicate() {
    state_ = State::replicate;
    probe_sent_ = false;
    nextIndex = matchIndex + 1;
    clear_inflight();
}

}  // namespace ballot::raft
