// Leader election is phase 1 (README "Leader election is phase 1", "Disruptive nodes"): the
// follower's timer, the poll before phase 1 (the counterpart of Raft's PreVote, dissertation
// §9.6), phase 1 itself (PMS §2.2 and §3; PMMC "Scout": Prepare, Promise, adoption of the
// highest-ballot value per slot, paged reports), and stepping down when preempted (PMMC
// "preempted", PMS §2.4 "Progress") or cut off from a majority (the counterpart of Raft's
// check-quorum, dissertation §6.2).
#include <algorithm>

#include "multipaxos/multipaxos.h"

namespace ballot::multipaxos {

// ---------------------------------------------------------------- the follower's timer and the poll

// No leader heard for an election timeout (follower), or phase 1 stopped making progress
// (candidate). A candidate abandons its ballot; either way the node first polls (PreVote).
void MultiPaxos::on_election_timeout() {
    if (leader_) {
        leader_->abandon();
        leader_.reset();
    }
    if (!may_lead()) return reset_election_timer();  // a learner, a removed node, a joining node
    start_poll();
}

// A voter of the configuration that governs now and of the latest one chosen: a learner never
// leads, and a node whose removal is chosen stops campaigning even before the removal governs.
bool MultiPaxos::may_lead() const {
    return members_.self_is_voter() && members_.self_is_voter_of(configs_.latest());
}

// The leader this node follows, or a candidate whose phase 1 is at work: a poll is refused while
// one was heard within the minimum election timeout. A candidate's report may take many pages
// ("A long phase 1 is not a failed one", README): the acceptors it still asks restart their timers
// as they promise, but one whose report is complete hears nothing more until phase 2, times out,
// and would depose the candidate with a poll the others grant; the next candidate pages through
// the same reports, and so on (simulator seed 40790: one slot per page, two candidates in turn
// for 20 s). A candidate itself refuses while its phase 1 runs: it times out when that stops
// making progress. The candidate's own poll, once its phase 1 stopped, is granted: it disturbs no
// one but itself.
bool MultiPaxos::hears_a_leader(NodeId poller) const {
    if (active_leader() || leader_) return true;  // an active leader steps down once it has not heard a majority (tick)
    auto recent = [&](const std::optional<std::uint64_t>& tick) {
        return tick && now_ < *tick + config_.election_timeout_min_ticks;
    };
    return recent(leader_heard_tick_) || (promised_to_ != poller && recent(promised_tick_));
}

// PMS §2.4 makes progress depend on a single distinguished proposer; a node that merely cannot
// hear the leader (its own link is bad, its disk too slow to keep up, it was cut off) would, by
// starting phase 1 at once, raise every acceptor's promise above the working leader's ballot and
// depose it: then try again, and again. So it first asks whether a majority has also lost the
// leader, and starts phase 1 only if so. Refusing is always safe (phase 1 is merely not started);
// for liveness see README "Disruptive nodes".
void MultiPaxos::start_poll() {
    Ballot b{std::max({acceptor_.promised().round, highest_seen_.round, poll_ballot_.round}) + 1,
             members_.self()};
    polling_ = true;
    poll_ballot_ = b;
    poll_votes_ = members_.tally();
    known_leader_ = kNoNode;
    reset_election_timer();
    for (NodeId id : members_.voter_peers()) send(id, Poll{b});
    poll_votes_.record(members_.self(), true);  // it has lost the leader itself
    if (poll_votes_.won()) start_phase1();      // a cluster of one
}

// The poll before phase 1 (README "Disruptive nodes"). Granted by a node that has not heard from
// an active leader for the minimum election timeout and is not an active leader itself, as Raft's
// PreVote (dissertation §9.6). It changes nothing here: no promise, no timer, no ballot noted.
void MultiPaxos::on(NodeId from, const Poll& m) {
    if (!knows_itself()) return ask_for_chosen(from);  // multipaxos.cc, admitted; catch_up.cc
    send(from, PollReply{m.ballot, !hears_a_leader(from)});
}

void MultiPaxos::on(NodeId from, const PollReply& m) {
    if (!polling_ || leader_ || m.ballot != poll_ballot_) return;  // not polling, or an old round
    poll_votes_.record(from, m.granted);
    if (poll_votes_.won()) start_phase1();
}

void MultiPaxos::reset_election_timer() {
    election_elapsed_ = 0;
    election_timeout_ = rng_.between(config_.election_timeout_min_ticks, config_.election_timeout_max_ticks);
}

// ---------------------------------------------------------------- phase 1

// A ballot above every one this node has promised or seen, so that phase 1 can succeed.
void MultiPaxos::start_phase1() {
    polling_ = false;
    if (leader_) leader_->abandon();
    Ballot b{std::max(acceptor_.promised().round, highest_seen_.round) + 1, members_.self()};
    highest_seen_ = b;
    known_leader_ = kNoNode;
    reset_election_timer();
    LeaderOutput& output = *this;
    leader_ = std::make_unique<Leader>(config_, members_, configs_, b, acceptor_, learner_, output);
    leader_->start(now_);
}

Leader::Leader(const EngineConfig& config, const Membership& members, const ConfigHistory& configs,
               Ballot ballot, Acceptor& acceptor, Learner& learner, LeaderOutput& out)
    : config_(config),
      members_(members),
      configs_(configs),
      ballot_(ballot),
      acceptor_(acceptor),
      learner_(learner),
      out_(out),
      retry_ticks_(
          std::max<std::uint64_t>(2 * config.heartbeat_ticks, config.election_timeout_min_ticks / 2)) {}

// PMS §3: "A newly chosen leader executes phase 1 for infinitely many instances": one Prepare covers
// every slot from the first one this node does not know chosen. Sent to itself too: its own
// acceptor promises like any other (and its Promise comes back only once durable). Sent to the
// voters of every configuration known to govern one of those slots (README "Membership change").
void Leader::start(std::uint64_t now) {
    from_slot_ = learner_.commit_index() + 1;
    next_slot_ = own_next_ = from_slot_;
    active_since_ = now;
    track_peers(now);
    extend_phase1(now);
}

// The configurations known govern every slot up to the chosen prefix + α; one chosen since phase 1
// began (adopted, or proposed by this leader) governs slots further on, whose values its voters
// must report before this leader proposes there (fill_window waits for covers()).
void Leader::extend_phase1(std::uint64_t now) {
    const Index from = std::max(from_slot_, learner_.commit_index() + 1);
    for (const Configuration* c : configs_.governing_from(from))
        for (NodeId id : c->voters())
            if (reports_.count(id) == 0) ask_page(id, from, now);
}

bool Leader::covers(const Configuration& c) const {
    std::size_t reported = 0;
    for (const Member& m : c.members()) reported += m.role == MemberRole::voter ? promised_.count(m.id) : 0;
    return !c.empty() && reported >= voter_quorum(c);
}

bool Leader::covers_every_governing() const {
    for (const Configuration* c : configs_.governing_from(learner_.commit_index() + 1))
        if (!covers(*c)) return false;
    return true;
}

bool Leader::settled() const {
    return active() && learner_.commit_index() >= reported_last_ && covers_every_governing();
}

void Leader::ask_page(NodeId id, Index from_slot, std::uint64_t now) {
    Report& r = reports_[id];
    r.asked_from = from_slot;
    r.asked_tick = now;
    out_.send(id, Prepare{ballot_, from_slot});
}

// A Prepare or Promise page lost on the way would otherwise stall this acceptor's report until the
// election timeout, and a report of many pages over a lossy network would then almost never
// complete. PMMC's scout assumes reliable links; over lossy ones it asks again. Not the own
// acceptor: messages to self are not lost (only a crash, which ends this Leader, loses them).
void Leader::resend_pages(std::uint64_t now) {
    for (auto& [id, r] : reports_)
        if (id != members_.self() && !r.complete && now >= r.asked_tick + retry_ticks_)
            ask_page(id, r.asked_from, now);
}

// Phase 1b (acceptor). Granting a promise also restarts the election timer: a proposer is at
// work, and starting a rival phase 1 now would only duel with it.
void MultiPaxos::on(NodeId from, const Prepare& m) {
    // It promises nothing in its old identity's name (multipaxos.cc, admitted), but learns on.
    if (!knows_itself()) return ask_for_chosen(from);
    note_ballot(m.ballot);
    auto reply = acceptor_.on_prepare(m, learner_.commit_index());
    if (std::holds_alternative<Promise>(reply) && from != members_.self()) {
        if (m.ballot > known_leader_ballot_) known_leader_ = kNoNode;  // it can no longer lead
        polling_ = false;  // another proposer is at work: our own poll round is moot
        promised_tick_ = now_;
        promised_to_ = from;
        reset_election_timer();
    }
    std::visit([&](auto& r) { send(from, std::move(r)); }, reply);
}

// A candidate whose phase 1 is making progress (a new page of some acceptor's report) does not
// time out: a report of many pages (small max_message_bytes, or a candidate far behind, whose
// phase 1 starts at its own first unchosen slot) takes many round trips, and restarting it with a
// higher ballot would only start it over, for ever. Reports are finite, so the progress ends: then
// either a majority completed (phase 2) or the timer runs out as before. The acceptors that
// answered restarted their own timers when they promised (on(Prepare)), so no rival starts.
void MultiPaxos::on(NodeId from, const Promise& m) {
    if (leader_ && leader_->on_promise(from, m, now_) && !leader_->active()) election_elapsed_ = 0;
}

bool Leader::on_promise(NodeId from, const Promise& m, std::uint64_t now) {
    if (m.ballot != ballot_) return false;  // a stale answer
    Report& report = reports_[from];
    // Only the page asked for: a duplicate or a retransmission's second answer changes nothing.
    if (report.complete || m.from_slot != report.asked_from) return false;
    // This acceptor deleted its records of slots this node does not know chosen (README
    // "Snapshots and compaction"): its report cannot say what it accepted there, so it does not
    // count for them. Those slots are decided; this node fetches the snapshot that covers them,
    // and resend_pages() asks this acceptor again until its report can count.
    if (m.trimmed > learner_.commit_index()) {
        out_.need_snapshot(from);
        return false;
    }
    for (const Entry& e : m.accepted) {
        // The acceptor's values up to its chosen prefix are chosen: learn them outright.
        if (e.index <= m.chosen) {
            learner_.learn(e.index, Ballot::unpack(e.ballot), e.data);
            continue;
        }
        // Proposed already (after a majority of its configuration reported): a later report
        // changes nothing, and comes from a node that is no acceptor of that slot or was not needed.
        if (active() && e.index < next_slot_) continue;
        // Nor one for a slot whose configuration a majority has reported on in full: what they
        // reported is all P2c asks this leader to propose there, and nothing reported later can
        // have been chosen. Adopting it anyway re-proposed a deposed leader's configuration change
        // made to a configuration since replaced, here the same addition a second time, and the
        // history stopped being one change at a time (simulator seed 41141 with membership changes).
        if (active() && covers(configs_.at(e.index))) continue;
        // PMS §2.2 P2c: adopt, per slot, the value accepted in the highest ballot.
        reported_last_ = std::max(reported_last_, e.index);
        auto [it, fresh] = reported_.try_emplace(e.index, e);
        if (!fresh && e.ballot > it->second.ballot) it->second = e;
    }
    if (m.next_slot != 0) {  // the report did not fit one message: ask for the rest
        ask_page(from, m.next_slot, now);
        return true;
    }
    report.complete = true;
    promised_.insert(from);
    if (!active() && covers_every_governing()) begin_phase2(now);
    return true;
}

// Phase 1 is complete for every configuration known: propose, under this ballot, the adopted
// value of every slot not known chosen up to the highest reported one, and a no-op where nothing
// was reported (a hole: no value can have been chosen there, since a majority of its configuration
// reported nothing for it). fill_window() proposes them as the α window allows.
void Leader::begin_phase2(std::uint64_t now) {
    phase_ = Phase::two;
    active_since_ = now;
    Index first = learner_.commit_index() + 1;
    next_slot_ = first;
    own_next_ = first;
    for (auto& [id, peer] : peers_) {
        peer.next = first;
        peer.heard_tick = now;
    }
    fill_window();
    heartbeat_all();  // followers learn the new leader at once
}

// ---------------------------------------------------------------- stepping down, following

// PMMC: a leader that is preempted by a higher ballot stops. It backs off a random timeout
// before trying again, which is what separates dueling proposers.
void MultiPaxos::on(NodeId, const Nack& m) {
    note_ballot(m.promised);
    if (!leader_ || m.ballot != leader_->ballot()) return;
    ++preempted_;
    step_down();
}

void MultiPaxos::step_down() {
    if (!leader_) return;
    transfer_target_ = kNoNode;  // done, or moot: proposals go to whoever leads now
    change_placed_ = false;      // a new leader's guard covers a change left half-way
    leader_->abandon();
    leader_.reset();
    known_leader_ = kNoNode;
    reset_election_timer();  // the randomized backoff
}

bool Leader::lost_majority(std::uint64_t now) const {
    if (!active() || now < active_since_ + config_.election_timeout_max_ticks) return false;
    return reachable_voters(members_.configuration(), now) < members_.quorum();
}

// An Accept, Heartbeat or Chosen from the leader of `ballot`, which this acceptor admits.
void MultiPaxos::follow(Ballot ballot) {
    if (leader_ && ballot > leader_->ballot()) step_down();
    if (leader_) return;
    if (ballot >= known_leader_ballot_) {
        known_leader_ = ballot.node;
        known_leader_ballot_ = ballot;
    }
    if (ballot == known_leader_ballot_) {
        election_elapsed_ = 0;
        leader_heard_tick_ = now_;
        polling_ = false;
    }
}

}  // namespace ballot::multipaxos
