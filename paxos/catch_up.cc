// Catching up in basic Paxos (README "Restart: relearning", "Gap filling"): slots are chosen out
// of order, so a slot can stay unknown below a chosen one (another proposer's slot in flight, a
// lost Learn, a proposer that crashed between its phases, a restart). A node that finds itself
// behind first asks a peer for the chosen values it lacks, in bulk (ChosenRequest, answered with
// pages of ChosenValues): a learner learning facts from another learner (§2.3), which promises and
// writes nothing. Only a slot no peer reports chosen is then filled with §3's 'special "no-op"
// command that leaves the state unchanged', by running Paxos in it. The probe finds how far the
// log extends when no message says so.
#include <algorithm>

#include "paxos/paxos.h"

namespace ballot::paxos {

// After every input: catching up, then the proposer's window, holes below the chosen prefix
// first, then new commands. The order matters. §3: a server cannot execute commands above a gap
// until it is filled, so a hole blocks every learner; if a decision's freed window slot went to a
// new command first, a window of one or two slots could stay full of new commands for ever and
// the hole would never be retried (a livelock the simulator found, see README "Gap filling").
void Paxos::use_window() {
    reopen_unserved_trims();
    const Index known = first_unknown() - 1;
    const Index horizon = proposer_.next_slot() - 1;  // the highest slot known in use
    watch_progress(known, horizon);
    fetch_chosen(known, horizon);
    fill_gaps(known);
    proposer_.start_queued();
    settle_dropped_changes();  // membership.cc
}

// The first slot above the chosen prefix and above every trim point heard of (those are chosen,
// and a snapshot brings them) that this node does not know chosen. Only moves up, but for
// reopen_unserved_trims, which sets it back to the prefix when it forgets trim points.
Index Paxos::first_unknown() {
    unknown_ = std::max({unknown_, learner_.commit_index() + 1, proposer_.floor() + 1});
    while (learner_.chosen(unknown_)) ++unknown_;
    return unknown_;
}

// This node is behind while a slot above its known prefix is in use; from when the prefix last
// grew (or it fell behind), and which slots were in use then, decide when it asks and fills.
void Paxos::watch_progress(Index known, Index horizon) {
    if (horizon > known && known == last_known_ && in_use_then_ > known) return;  // stuck since then
    last_known_ = known;
    behind_since_ = now_;
    in_use_then_ = horizon;
}

// A trim point heard of sends this node to a snapshot for the slots at or below it, and keeps
// Paxos out of them (heard_trim, snapshots.cc). If no snapshot has come within
// snapshot_retry_ticks, the peers that trimmed those slots are down, or gone for good: the one
// node that had trimmed past its peers' prefixes lost its disk, and they, each missing a slot only
// it had learned, asked it for a snapshot for ever while its replacement waited on that slot
// (simulator seed 883705403). So this node forgets those trim points and relearns the slots above
// its prefix like any others: it asks its peers for them (one that has not trimmed them holds them:
// simulator seed 210620), and fills what none reports chosen by Paxos, whose phase 1 needs a
// majority of acceptors that still hold the slot (an acceptor that trimmed it answers Trimmed,
// whose trim point, heard again, sends this node back to a snapshot; README "Snapshots and
// compaction").
void Paxos::reopen_unserved_trims() {
    const Index prefix = learner_.commit_index();
    if (prefix >= proposer_.floor()) {
        below_trim_since_.reset();
        return;
    }
    if (!below_trim_since_) below_trim_since_ = now_;
    if (now_ - *below_trim_since_ < config_.snapshot_retry_ticks) return;
    std::erase_if(peer_trims_, [prefix](const auto& peer) { return peer.second > prefix; });
    proposer_.reopen_above(prefix);  // this node's own trim point and snapshot are at or below it
    unknown_ = prefix + 1;
    fill_next_ = std::min(fill_next_, prefix + 1);
    below_trim_since_.reset();
}

// Bulk catch-up: once the known prefix has not grown for chosen_wait_ticks, ask a peer for the
// chosen values from the first unknown slot on: the peer heard from last, which was up
// a moment ago (the likeliest cause of a stall is a proposer that crashed, and asking it would
// only wait).
// While its answers teach something and it knows more, ask it again at once (one page per round
// trip, each within max_message_bytes). One request is in flight at a time. An unanswered one is
// taken as lost after chosen_timeout_ticks and the next peer in id order is asked; after an answer
// that taught nothing, the next peer, and not before gap_timeout_ticks (gap filling goes first).
void Paxos::fetch_chosen(Index known, Index horizon) {
    const bool lost = fetch_.from != 0;
    if (lost) {
        if (now_ < fetch_.deadline) return;
        fetch_.from = 0;  // lost, or the peer is down
        fetch_.more = false;
        fetch_.next = next_peer(fetch_.asked);
    }
    if (horizon <= known || now_ < fetch_.idle_until) return;
    if (!fetch_.more && now_ - behind_since_ < tuning_.chosen_wait_ticks) return;
    const NodeId to = fetch_.next != kNoNode   ? fetch_.next
                      : heard_from_ != kNoNode ? heard_from_
                                               : next_peer(kNoNode);
    if (to == kNoNode) return;  // a cluster of one
    fetch_.asked = to;
    fetch_.from = known + 1;
    fetch_.deadline = now_ + tuning_.chosen_timeout_ticks;
    fetch_.retry = lost;
    send(to, ChosenRequest{fetch_.from});
}

// The peer after `after` in id order, wrapping around (kNoNode: no peers): the newest
// configuration's, and whoever told this node chosen values lately without being in it (a node
// added while this one was away, accepts_from in membership.cc), which can answer when every peer
// this node knows was removed.
NodeId Paxos::next_peer(NodeId after) const {
    const std::vector<NodeId>& known = configs_.newest().peers();  // ascending
    std::vector<NodeId> peers = known.empty() ? contacts_ : known;
    for (const auto& [id, at] : last_heard_)
        if (id != configs_.self() && reachable(id) && !std::binary_search(known.begin(), known.end(), id))
            peers.push_back(id);
    std::sort(peers.begin(), peers.end());
    peers.erase(std::unique(peers.begin(), peers.end()), peers.end());
    if (peers.empty()) return kNoNode;
    auto it = std::upper_bound(peers.begin(), peers.end(), after);
    return it != peers.end() ? *it : peers.front();
}

// The chosen values this node knows from m.from on, contiguous. Nothing is promised or written:
// chosen values are facts, the same this node would put in a Learn. Where its values begin rides
// along (forgotten_through, snapshots.cc), so that an asker whose slots are gone here fetches a
// snapshot.
// Several pages, each a message within max_message_bytes (Tuning::chosen_pages_per_request),
// travel in one payload; the asker takes the first as its answer and learns from every one. The
// pages of one answer stop at Tuning::chosen_answer_bytes of values as encoded (max_inflight_bytes
// if less), which also bounds each page: the answer is built here in one step, and this node's
// clients wait for that step. Sixteen full pages (16 MiB) built at once for a restarted peer took
// this node's RSS up by 70 MiB and its clients' p99 to 160 ms (ballot-bench --fail-follower-for
// 60); answers of 2 MiB still doubled their p99 for the catch-up (tuning.h). Encoded, so that a
// run of no-ops (empty values, four bytes each) is bounded too.
void Paxos::on(NodeId from, const ChosenRequest& m) {
    if (from == configs_.self()) return;
    note_progress(from, m.from - 1);  // membership.cc: a learner asking is not caught up
    catch_up_progressed(from, m.from - 1);  // snapshots.cc
    Index first = m.from;
    std::size_t bytes = 0;
    // A page's bound is its message's (values and header), the answer's the values' (tuning.h).
    const std::size_t page_bytes =
        std::min(config_.max_message_bytes, tuning_.chosen_answer_bytes + kChosenValuesHeaderBytes);
    const std::size_t answer_bytes = std::min(tuning_.chosen_answer_bytes, config_.max_inflight_bytes);
    for (std::uint32_t page = 0; page < tuning_.chosen_pages_per_request && bytes < answer_bytes; ++page) {
        std::vector<std::string> values = learner_.chosen_from(first, page_bytes);
        const std::size_t n = values.size();
        if (n == 0 && page > 0) break;
        for (const std::string& v : values) bytes += chosen_value_bytes(v);  // a no-op counts too
        send(from, ChosenValues{first, forgotten_through(), learner_.commit_index(), std::move(values)});
        if (n == 0) break;
        first += n;
    }
}

// Every value is learned whoever sent it and whenever (a late or repeated answer too): a chosen
// value stays chosen (§2.3). Only the answer awaited moves the request on.
void Paxos::on(NodeId from, const ChosenValues& m) {
    const Index before = first_unknown() - 1, prefix_before = learner_.commit_index();
    heard_trim(from, m.trim);  // snapshots.cc
    for (std::size_t i = 0; i < m.values.size(); ++i) learn(m.first + i, m.values[i]);
    if (from != fetch_.asked || m.first != fetch_.from) return;
    fetch_.from = 0;
    const Index known = first_unknown() - 1, prefix = learner_.commit_index();
    const bool taught = known > before || prefix > prefix_before;  // above a trim point, or below it
    fetch_.more = taught && m.commit > prefix;
    if (taught) {
        fetch_.next = fetch_.more ? from : kNoNode;
        return;
    }
    fetch_.next = next_peer(from);
    fetch_.idle_until = now_ + tuning_.gap_timeout_ticks;
}

// Gap filling: any node fills a gap by running Paxos in the slot with a no-op: phase 1 either
// finds a value accepted (or chosen) there and completes it, or the no-op is chosen. It starts
// once the known prefix has not grown for gap_timeout_ticks and the bulk catch-up has had its
// answer (or its request was lost once), and only in the slots that were already in use when the
// wait began: a gap is usually another proposer's slot still in flight, which a premature no-op
// would only preempt (its phase 1 outbids that proposer's Accepts). Once filling starts it
// continues until the prefix reaches the slot that was known in use, the window permitting.
void Paxos::fill_gaps(Index known) {
    if (fetch_.from != 0 && !fetch_.retry) return;  // a peer may yet report these slots chosen
    if (now_ - behind_since_ >= gap_wait_ticks()) fill_until_ = std::max(fill_until_, in_use_then_);
    // Never a slot at or below a trim point heard of: it is chosen, and an acceptor that trimmed it
    // can no longer take part (README "Snapshots and compaction"); a snapshot brings it instead.
    // first_unknown() starts above them.
    // While a change waits to govern (it governs once every slot before s + α is decided), the
    // slots up to there may be filled with a wider window (Tuning::max_inflight_fills).
    const bool wide = configs_.change_pending();
    Index slot = std::max(fill_next_, known + 1);
    for (; slot <= fill_until_; ++slot)
        if (!learner_.chosen(slot) && !proposer_.fill(slot, wide)) break;  // the window is full
    fill_next_ = slot;
}

// Two nodes filling the same slots duel: both run phase 1 in the same slots in the same order,
// each Prepare preempts the other's Accepts, and the backoffs only slow both (simulator seed 4
// with membership changes: after a change chosen in slot s every node sees slots up to s + α - 1
// in use, each one's prefix stalled once for its wait during the faults, and all five filled the
// α-range together, about 1,500 Nacks a second, ~60 slots a second). So one filler goes on: a
// node that learns a no-op it was about to fill from a lower-id peer yields to it, abandoning
// its own no-op instances and waiting again (gap_wait_ticks) before it fills. The lower one's
// Learns keep this node's prefix growing, so it steps in again only if they stop (the filler
// crashed or was cut off). Yielding only to a lower id makes the choice asymmetric: of any two
// fillers that hear each other, the higher one stops and the lower one does not.
void Paxos::yield_filling(NodeId from, Index slot, const std::string& value) {
    if (from == configs_.self() || from > configs_.self() || !value.empty()) return;
    if (slot > fill_until_ || learner_.chosen(slot)) return;  // not a slot this node is filling
    fill_until_ = 0;
    fill_next_ = 1;  // the slots abandoned are filled again, should it come to that
    behind_since_ = now_;
    proposer_.abandon_fills();
}

// How long a stalled prefix waits before this node fills: gap_timeout_ticks times its rank among
// the voters (1 for the lowest id). After a whole-cluster restart every node is behind on the same
// slots at once; filling them all together, their Prepares preempted one another slot after slot,
// with backoffs between (simulator seed 58234966: five nodes relearned a 987-slot log at a few
// slots per second). Staggered, the lowest live voter fills, its Learns keep the others' prefixes
// growing, and a later one steps in only while the earlier ones are silent.
std::uint64_t Paxos::gap_wait_ticks() const {
    const std::vector<NodeId>& voters = configs_.newest().voters();  // ascending
    const auto rank = std::lower_bound(voters.begin(), voters.end(), configs_.self()) - voters.begin();
    return tuning_.gap_timeout_ticks * static_cast<std::uint64_t>(rank + 1);
}

// A read with no reader (reads.cc): learns how far the log extends, so that a node that restarted
// or missed the last Learn of a quiet cluster finds the slots it does not know and fills them.
void Paxos::probe() {
    next_probe_ = now_ + tuning_.probe_interval_ticks;
    if (open_read_round_ == 0) open_read_round_ = query_highest_accepted();
}

bool Proposer::fill(Index slot, bool wide) {
    if (instances_.count(slot) || slot <= floor_) return true;
    const std::size_t window =
        wide ? std::max(tuning_.max_inflight_slots, tuning_.max_inflight_fills) : tuning_.max_inflight_slots;
    if (instances_.size() >= window || !may_run(slot)) return false;
    start(slot, std::nullopt);
    return true;
}

void Proposer::reopen_above(Index slot) {
    floor_ = std::min(floor_, slot);
}

void Proposer::abandon_fills() {
    std::erase_if(instances_, [](const auto& e) { return !e.second.own; });
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
    for (auto it = lost.rbegin(); it != lost.rend(); ++it) requeue(std::move(*it));
}

}  // namespace ballot::paxos
