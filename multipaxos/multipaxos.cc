#include "multipaxos/multipaxos.h"

#include <algorithm>
#include <utility>

#include "common/assert.h"

namespace ballot::multipaxos {

MultiPaxos::MultiPaxos(const EngineConfig& config, RecoveredState recovered)
    : MultiPaxos(config, decode_recovered(recovered)) {}

MultiPaxos::MultiPaxos(const EngineConfig& config, const Recovered& recovered)
    : config_((validate_engine_config(config, "multipaxos"), config)),
      members_(config.id, config.members),
      rng_(config.seed),
      acceptor_(config.max_message_bytes, recovered),
      learner_(acceptor_, recovered.metadata.commit),
      forwarded_reads_(config.max_pending_proposals) {
    highest_seen_ = acceptor_.promised();
    commit_at_last_take_ = learner_.commit_index();
    persisted_commit_ = recovered.metadata.commit;
    reset_election_timer();
}

// ---------------------------------------------------------------- inputs

void MultiPaxos::tick() {
    ++now_;
    if (leader_) leader_->tick(now_);  // candidate: re-asks for lost pages; leader: heartbeats
    if (active_leader()) {
        if (leader_->lost_majority(now_)) step_down();
    } else if (++election_elapsed_ >= election_timeout_) {
        on_election_timeout();  // no leader heard (follower), or phase 1 made no progress (candidate)
    }
    for (std::uint64_t id : forwarded_reads_.expire(now_)) reads_done_.push_back(ReadState{id, 0, false});
}

// One dispatch for every message: a member's, decoded, plausible, then its handler on(from, m).
bool MultiPaxos::step(NodeId from, std::span<const std::uint8_t> payload) {
    if (!members_.contains(from)) return false;
    std::optional<Message> message = decode(payload);
    if (!message || !plausible(from, *message)) return false;
    std::visit([&](const auto& m) { on(from, m); }, *message);
    // A promise above our own ballot (given to another proposer) ends our attempt.
    if (leader_ && acceptor_.promised() > leader_->ballot()) step_down();
    return true;
}

// A ballot is its proposer's: a Prepare, Accept, Heartbeat, Chosen or Poll in another node's
// ballot is forged or corrupt, and so is a PollReply to a poll this node did not send.
bool MultiPaxos::plausible(NodeId from, const Message& message) const {
    return std::visit(
        [&](const auto& m) {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, Prepare> || std::is_same_v<T, Accept> ||
                          std::is_same_v<T, Heartbeat> || std::is_same_v<T, Chosen> ||
                          std::is_same_v<T, Poll>)
                return m.ballot.node == from;
            else if constexpr (std::is_same_v<T, PollReply>)
                return m.ballot.node == members_.self();
            else
                return true;
        },
        message);
}

ProposeResult MultiPaxos::propose(std::string command) {
    if (leader_) return leader_->propose(std::move(command));  // candidate: no_leader
    if (known_leader_ == kNoNode) return ProposeResult::no_leader;
    send(known_leader_, Forward{std::move(command)});
    return ProposeResult::accepted;
}

void MultiPaxos::read(std::uint64_t read_id) {
    if (active_leader()) return leader_->read(members_.self(), read_id, now_);
    if (leader_ || known_leader_ == kNoNode || forwarded_reads_.full())
        return read_done(ReadState{read_id, 0, false});
    forwarded_reads_.add(read_id, now_ + config_.election_timeout_max_ticks);
    send(known_leader_, ReadRequest{read_id});
}

// ---------------------------------------------------------------- handlers

// Phase 1b (acceptor). Granting a promise also restarts the election timer: a proposer is at
// work, and starting a rival phase 1 now would only duel with it.
void MultiPaxos::on(NodeId from, const Prepare& m) {
    note_ballot(m.ballot);
    auto reply = acceptor_.on_prepare(m, learner_.commit_index());
    if (std::holds_alternative<Promise>(reply) && from != members_.self()) {
        if (m.ballot > known_leader_ballot_) known_leader_ = kNoNode;  // it can no longer lead
        polling_ = false;  // another proposer is at work: our own poll round is moot
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

// Phase 2b (acceptor), then the learner's rule (2): the chosen point of the ballot just accepted.
void MultiPaxos::on(NodeId from, const Accept& m) {
    note_ballot(m.ballot);
    auto reply = acceptor_.on_accept(m, learner_);
    if (auto* accepted = std::get_if<Accepted>(&reply)) {
        if (from != members_.self()) {
            follow(m.ballot);
            learner_.on_chosen_point(m.ballot, m.chosen);
        }
        accepted->chosen = learner_.commit_index();
        accepted->behind = learner_.behind();
    }
    std::visit([&](auto& r) { send(from, std::move(r)); }, reply);
}

void MultiPaxos::on(NodeId from, const Accepted& m) {
    if (leader_) leader_->on_accepted(from, m, now_);
}

// PMMC: a leader that is preempted by a higher ballot stops. It backs off a random timeout
// before trying again, which is what separates dueling proposers.
void MultiPaxos::on(NodeId, const Nack& m) {
    note_ballot(m.promised);
    if (leader_ && m.ballot == leader_->ballot()) step_down();
}

void MultiPaxos::on(NodeId from, const Heartbeat& m) {
    note_ballot(m.ballot);
    if (!acceptor_.admits(m.ballot)) return send(from, Nack{m.ballot, acceptor_.promised()});
    follow(m.ballot);
    learner_.on_chosen_point(m.ballot, m.chosen);
    send(from, HeartbeatAck{m.ballot, m.read_seq, learner_.commit_index(), learner_.behind()});
}

void MultiPaxos::on(NodeId from, const HeartbeatAck& m) {
    if (leader_) leader_->on_heartbeat_ack(from, m, now_);
}

// Catch-up values are chosen whoever sends them; the acknowledgement (read_seq 0, which confirms
// no read) asks for the next batch. Learning from the leader of m.ballot also promises m.ballot:
// the values were chosen in that ballot or below it, so every ballot that could still carry
// another value for those slots is below it too, and a deposed leader's delayed Accept is now
// refused (README, "Chosen values in the acceptor").
void MultiPaxos::on(NodeId from, const Chosen& m) {
    for (const Entry& e : m.values) learner_.learn(e.index, Ballot::unpack(e.ballot), e.data);
    if (!acceptor_.admits(m.ballot)) return;
    if (!m.values.empty()) acceptor_.promise_at_least(m.ballot);
    follow(m.ballot);
    send(from, HeartbeatAck{m.ballot, 0, learner_.commit_index(), learner_.behind()});
}

// A forwarded command is proposed if this node leads; otherwise it is dropped, and the
// follower's runtime retries it (commands are deduplicated by their stamp).
void MultiPaxos::on(NodeId, const Forward& m) {
    if (active_leader()) leader_->propose(m.command);
}

void MultiPaxos::on(NodeId from, const ReadRequest& m) {
    if (active_leader()) return leader_->read(from, m.read_id, now_);
    send(from, ReadReply{m.read_id, 0, false});
}

void MultiPaxos::on(NodeId, const ReadReply& m) {
    if (!forwarded_reads_.answer(m.read_id)) return;  // timed out already, or not ours
    read_done(ReadState{m.read_id, m.ok ? m.index : 0, m.ok});
}

// The poll before phase 1 (README "Disruptive nodes"). Granted by a node that has not heard from
// an active leader for the minimum election timeout and is not an active leader itself, as Raft's
// PreVote (dissertation §9.6). It changes nothing here: no promise, no timer, no ballot noted.
void MultiPaxos::on(NodeId from, const Poll& m) {
    send(from, PollReply{m.ballot, !hears_a_leader()});
}

void MultiPaxos::on(NodeId from, const PollReply& m) {
    if (!polling_ || leader_ || m.ballot != poll_ballot_) return;  // not polling, or an old round
    poll_votes_.record(from, m.granted);
    if (poll_votes_.won()) start_phase1();
}

// ---------------------------------------------------------------- leadership

bool MultiPaxos::hears_a_leader() const {
    if (active_leader()) return true;  // it steps down once it has not heard a majority (tick)
    return leader_heard_tick_ && now_ < *leader_heard_tick_ + config_.election_timeout_min_ticks;
}

// No leader heard for an election timeout (follower), or phase 1 stopped making progress
// (candidate). A candidate abandons its ballot; either way the node first polls (PreVote).
void MultiPaxos::on_election_timeout() {
    if (leader_) {
        leader_->abandon();
        leader_.reset();
    }
    start_poll();
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
    for (NodeId id : members_.peers()) send(id, Poll{b});
    poll_votes_.record(members_.self(), true);  // it has lost the leader itself
    if (poll_votes_.won()) start_phase1();      // a cluster of one
}

// A ballot above every one this node has promised or seen, so that phase 1 can succeed.
void MultiPaxos::start_phase1() {
    polling_ = false;
    if (leader_) leader_->abandon();
    Ballot b{std::max(acceptor_.promised().round, highest_seen_.round) + 1, members_.self()};
    highest_seen_ = b;
    known_leader_ = kNoNode;
    reset_election_timer();
    LeaderOutput& output = *this;
    leader_ = std::make_unique<Leader>(config_, members_, b, acceptor_, learner_, output);
    leader_->start(now_);
}

void MultiPaxos::step_down() {
    if (!leader_) return;
    leader_->abandon();
    leader_.reset();
    known_leader_ = kNoNode;
    reset_election_timer();  // the randomized backoff
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

void MultiPaxos::reset_election_timer() {
    election_elapsed_ = 0;
    election_timeout_ = rng_.between(config_.election_timeout_min_ticks, config_.election_timeout_max_ticks);
}

// ---------------------------------------------------------------- output

// Requests to this node's own acceptor are handled at once (their replies then wait for the
// fsync like any other); everything else is queued in the Ready.
void MultiPaxos::send(NodeId to, Message m) {
    if (to == members_.self()) {
        if (auto* prepare = std::get_if<Prepare>(&m)) return on(to, *prepare);
        if (auto* accept = std::get_if<Accept>(&m)) return on(to, *accept);
    }
    const bool held = after_persist(m);
    outbox_.send(to, std::move(m), held);
}

void MultiPaxos::read_done(ReadState rs) {
    reads_done_.push_back(rs);
}

Ready MultiPaxos::take_ready() {
    if (leader_) leader_->flush(now_);
    Ready r;
    outbox_.take(r.messages, [](const Message& m) { return encode(m); });
    r.reads = std::exchange(reads_done_, {});
    for (const Entry& e : acceptor_.take_unsaved()) r.records.push_back(encode_record(e));
    bool promise_changed = acceptor_.take_promise_changed();
    // The commit hint may only cover values written in earlier batches (durable before this
    // one), so it lags one batch; it rides on batches that are written anyway.
    Index hint = std::max(persisted_commit_, commit_at_last_take_);
    commit_at_last_take_ = learner_.commit_index();
    if (promise_changed || (!r.records.empty() && hint > persisted_commit_)) {
        r.metadata = encode_metadata(Metadata{acceptor_.promised(), hint});
        persisted_commit_ = hint;
    }
    for (Entry& e : learner_.take_committed()) r.committed.push_back(Committed{e.index, std::move(e.data)});
    return r;
}

bool MultiPaxos::has_ready() const {
    return !outbox_.empty() || !reads_done_.empty() || acceptor_.has_unsaved() || learner_.has_committed() ||
           (leader_ && leader_->has_unsent());
}

EngineStatus MultiPaxos::status() const {
    EngineStatus s;
    s.role = leader_ ? (leader_->active() ? Role::leader : Role::candidate)
                     : (polling_ ? Role::pre_candidate : Role::follower);
    s.leader = active_leader() ? members_.self() : leader_ ? kNoNode : known_leader_;
    s.epoch = Epoch::ballot(acceptor_.promised());
    s.commit_index = learner_.commit_index();
    s.log_last_index = std::max(acceptor_.last_slot(), learner_.commit_index());
    s.log_first_index = s.log_last_index == 0 ? 0 : std::max<Index>(1, acceptor_.first_slot());
    return s;
}

std::string MultiPaxos::describe(std::span<const std::uint8_t> payload) const {
    std::optional<Message> m = decode(payload);
    return m ? multipaxos::describe(*m)
             : "malformed multipaxos message (" + std::to_string(payload.size()) + " bytes)";
}

// Every role's local invariants (acceptor.cc, learner.cc, leader.cc), then the glue's.
void MultiPaxos::check_invariants() const {
    acceptor_.check_invariants();
    learner_.check_invariants();
    if (leader_) leader_->check_invariants();
    BALLOT_ASSERT(!(active_leader() && known_leader_ != kNoNode), "multipaxos: a leader follows no other");
    BALLOT_ASSERT(forwarded_reads_.size() <= forwarded_reads_.limit(),
                  "multipaxos: forwarded reads bounded by max_pending_proposals");
}

}  // namespace ballot::multipaxos
