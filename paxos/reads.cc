// Linearizable reads in basic Paxos (README "Reads"): no leader holds the latest state, so a read
// asks a majority of acceptors how far the log extends, and is served once the local state machine
// has applied that far. One query serves every read() made before it leaves.
#include <algorithm>

#include "paxos/paxos.h"

namespace ballot::paxos {

// A linearizable read asks a majority of acceptors for the highest slot in which each has
// accepted anything. Any write acknowledged before the read began was chosen, so accepted by a
// majority, which shares an acceptor with this one: the maximum is at or above its slot. The
// runtime serves the read once everything up to that slot is applied (README "Reads").
void Paxos::read(std::uint64_t read_id) {
    if (open_read_round_ == 0) open_read_round_ = query_highest_accepted();
    read_rounds_[open_read_round_].read_ids.push_back(read_id);
}

// Across configurations (README "Membership change", reads): a write this node does not know of
// sits in a slot above its chosen prefix, governed by a configuration it knows (every slot up to
// its prefix + α) or by one a single change further, whose majorities meet those of the newest
// one. So the query asks a majority of the voters of every configuration governing a slot from
// the first unknown one to the prefix + α; on_reply refuses an answer beyond that range.
std::uint64_t Paxos::query_highest_accepted() {
    std::uint64_t round = next_read_round_++;
    ReadRound& r = read_rounds_[round];
    r.deadline = now_ + tuning_.read_timeout_ticks;
    std::set<NodeId> asked;
    for (const Membership* m : configs_.governing(learner_.commit_index() + 1, configs_.through() + kAlpha)) {
        if (m->voters().empty()) continue;  // none known yet (--join): such a round never completes
        r.answered.push_back(m->tally());
        r.asked.push_back(m->configuration());
        asked.insert(m->voters().begin(), m->voters().end());
    }
    // Knowing no configuration (membership.cc, --join), the probe asks the contacts how far the log
    // extends, so that a restarted joined node finds what to relearn; such a round reads nothing.
    if (asked.empty()) asked.insert(contacts_.begin(), contacts_.end());
    for (NodeId to : asked) send(to, ReadQuery{round});
    return round;
}

// A larger answer is never unsafe, so the reply need not wait for the disk (messages.h). The
// trim point rides along: the probe is how a restarted or lagging node finds that the slots it
// lacks are only to be had in a snapshot (snapshots.cc).
void Paxos::on(NodeId from, const ReadQuery& m) {
    const SelfId self = config_.self();
    send(from, ReadReply{m.round, acceptor_.highest_accepted_slot(), acceptor_.trim_point(), self.identity,
                         self.joined});
}

void Paxos::on(NodeId from, const ReadReply& m) {
    heard_trim(from, m.trim);  // snapshots.cc
    auto it = read_rounds_.find(m.round);
    if (it == read_rounds_.end()) return;
    ReadRound& round = it->second;
    if (round.answered.empty()) proposer_.observe(m.highest_accepted);  // asked the contacts
    // An answer counts for a configuration only from the acceptor it names: the same data dir. A
    // node replaced under the same id (or this node itself, relearning the log after it joined)
    // answers for an acceptor that never accepted what the old one did; counted, its low answers
    // served a read far behind the writes already acknowledged (simulator seed 210086).
    const SelfId replier{from, m.identity, m.joined};
    bool counted = false;
    for (std::size_t i = 0; i < round.answered.size(); ++i)
        if (round.asked[i].is_voter(replier)) counted = round.answered[i].record(from, true) || counted;
    if (!counted) return;  // a duplicate, or not a voter asked
    round.highest_accepted = std::max(round.highest_accepted, m.highest_accepted);
    if (round.answered.empty() || !std::all_of(round.answered.begin(), round.answered.end(),
                                               [](const VoteTally& t) { return t.won(); }))
        return;
    // Beyond the prefix + α a configuration two changes away may govern (README "Membership
    // change"): the read fails, the runtime asks again once this node has caught up.
    const Index index = std::max(round.highest_accepted, learner_.commit_index());
    const bool ok = index <= configs_.through() + kAlpha;
    for (std::uint64_t id : round.read_ids) reads_ready_.push_back(ReadState{id, ok ? index : 0, ok});
    // Slots up to the read index are in use: gap filling sees them through.
    proposer_.observe(round.highest_accepted);
    read_rounds_.erase(it);
}

// No majority answered in time: the runtime is told, and may retry.
void Paxos::expire_reads() {
    for (auto it = read_rounds_.begin(); it != read_rounds_.end();) {
        if (now_ < it->second.deadline) {
            ++it;
            continue;
        }
        for (std::uint64_t id : it->second.read_ids) reads_ready_.push_back(ReadState{id, 0, false});
        it = read_rounds_.erase(it);
    }
}

}  // namespace ballot::paxos
