// Catching up in basic Paxos (README "Gap filling", "Restart: relearning"): slots are chosen out
// of order, so a slot can stay unknown below a chosen one (another proposer's slot in flight, a
// lost Learn, a proposer that crashed between its phases, a restart). §3 fills such a gap with
// 'a special "no-op" command that leaves the state unchanged'; the probe finds how far the log
// extends when no message says so. A peer that knows a slot is chosen answers its Prepare with
// Learn (Paxos::on(Prepare), election.cc).
#include <algorithm>

#include "paxos/paxos.h"

namespace ballot::paxos {

// Hands out the proposer's window after every input: holes below the chosen prefix first, then
// new commands. The order matters. §3: a server cannot execute commands above a gap until it is
// filled, so a hole blocks every learner; if a decision's freed window slot went to a new command
// first, a window of one or two slots could stay full of new commands for ever and the hole would
// never be retried (a livelock the simulator found, see README "Gap filling").
void Paxos::use_window() {
    fill_gaps();
    proposer_.start_queued();
}

// Here any node fills a gap, by running Paxos in the slot with a no-op: phase 1 either finds a
// value accepted (or chosen) there and completes it, or the no-op is chosen. We wait
// gap_timeout_ticks first, because a gap is usually another proposer's slot still in flight; once
// filling starts it continues until the prefix reaches the slot that was known in use, the window
// permitting.
void Paxos::fill_gaps() {
    const Index commit = learner_.commit_index();
    const Index horizon = proposer_.next_slot() - 1;  // the highest slot known in use
    if (commit != last_commit_ || horizon <= commit) {
        last_commit_ = commit;
        behind_since_ = now_;
    }
    if (horizon > commit && now_ - behind_since_ >= tuning_.gap_timeout_ticks)
        fill_until_ = std::max(fill_until_, horizon);

    // Never a slot at or below a trim point heard of: it is chosen, and an acceptor that trimmed it
    // can no longer take part (README "Snapshots and compaction"); a snapshot brings it instead.
    Index slot = std::max({fill_next_, commit + 1, proposer_.floor() + 1});
    for (; slot <= fill_until_; ++slot)
        if (!learner_.chosen(slot) && !proposer_.fill(slot)) break;  // the window is full
    fill_next_ = slot;
}

// A read with no reader (reads.cc): learns how far the log extends, so that a node that restarted
// or missed the last Learn of a quiet cluster finds the slots it does not know and fills them.
void Paxos::probe() {
    next_probe_ = now_ + tuning_.probe_interval_ticks;
    if (open_read_round_ == 0) open_read_round_ = query_highest_accepted();
}

bool Proposer::fill(Index slot) {
    if (instances_.count(slot) || slot <= floor_) return true;
    if (instances_.size() >= tuning_.max_inflight_slots) return false;
    start(slot, std::nullopt);
    return true;
}

void Proposer::skip_through(Index slot) {
    if (slot <= floor_) return;
    floor_ = slot;
    observe(slot);
    std::vector<std::string> lost;  // in slot order
    for (auto it = instances_.begin(); it != instances_.end() && it->first <= slot;) {
        if (it->second.own) lost.push_back(std::move(*it->second.own));
        it = instances_.erase(it);
    }
    for (auto it = lost.rbegin(); it != lost.rend(); ++it) queued_.push_front(std::move(*it));
}

}  // namespace ballot::paxos
