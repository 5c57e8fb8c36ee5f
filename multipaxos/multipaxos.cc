#include "multipaxos/multipaxos.h"

#include <algorithm>
#include <stdexcept>

#include "common/assert.h"

namespace ballot::multipaxos {

namespace {

// The persist-before-send rule, per message type (common/engine.h). True when the message
// reveals or relies on state that must survive a crash first:
//   Prepare  the sender's own promise of this ballot: were it lost, a restarted node could pick
//            the same ballot again and propose different values under it.
//   Promise, Accepted, Nack  the acceptor's promise and accepted values (PMS §2.2: an acceptor
//            must remember what it answered "even if it fails and then restarts").
// The others rely on nothing local that is not yet durable: an Accept's ballot was promised
// durably before any peer could promise it (Prepare above), and a lost own acceptance only makes
// the leader's vote missing, never wrong; chosen points and Chosen values are facts established
// by other nodes' durable votes; heartbeats, forwards and read replies carry no votes.
bool after_persist(const Message& m) {
    return std::holds_alternative<Prepare>(m) || std::holds_alternative<Promise>(m) ||
           std::holds_alternative<Accepted>(m) || std::holds_alternative<Nack>(m);
}

}  // namespace

MultiPaxos::MultiPaxos(const EngineConfig& config, RecoveredState recovered)
    : MultiPaxos(config, decode_recovered(recovered)) {}

MultiPaxos::MultiPaxos(const EngineConfig& config, const Recovered& recovered)
    : config_(config),
      rng_(config.seed),
      acceptor_(config.max_message_bytes, recovered),
      learner_(acceptor_, recovered.metadata.commit) {
    if (std::find(config_.members.begin(), config_.members.end(), config_.id) == config_.members.end())
        throw std::invalid_argument("multipaxos: own id " + std::to_string(config_.id) + " is not a member");
    if (config_.election_timeout_min_ticks == 0 ||
        config_.election_timeout_min_ticks > config_.election_timeout_max_ticks)
        throw std::invalid_argument("multipaxos: election timeout range is empty");
    if (config_.heartbeat_ticks == 0 || config_.max_inflight_messages == 0)
        throw std::invalid_argument("multipaxos: heartbeat_ticks and max_inflight_messages must be positive");
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
    for (auto it = forwarded_reads_.begin(); it != forwarded_reads_.end();) {
        if (it->second > now_) {
            ++it;
            continue;
        }
        ready_.reads.push_back(ReadState{it->first, 0, false});
        it = forwarded_reads_.erase(it);
    }
}

bool MultiPaxos::step(NodeId from, std::span<const std::uint8_t> payload) {
    if (!is_member(from)) return false;
    std::optional<Message> m = decode(payload);
    if (!m) return false;
    // A ballot is its proposer's: a Prepare, Accept, Heartbeat, Chosen or Poll in another node's
    // ballot is forged or corrupt.
    bool forged = std::visit(
        [&](const auto& msg) {
            using T = std::decay_t<decltype(msg)>;
            if constexpr (std::is_same_v<T, Prepare> || std::is_same_v<T, Accept> ||
                          std::is_same_v<T, Heartbeat> || std::is_same_v<T, Chosen> ||
                          std::is_same_v<T, Poll>)
                return msg.ballot.node != from;
            else if constexpr (std::is_same_v<T, PollReply>)
                return msg.ballot.node != config_.id;  // it answers one of our own polls
            else
                return false;
        },
        *m);
    if (forged) return false;
    std::visit([&](const auto& msg) { on(from, msg); }, *m);
    // A promise above our own ballot (given to another proposer) ends our attempt.
    if (leader_ && acceptor_.promised() > leader_->ballot()) step_down();
    return true;
}

ProposeResult MultiPaxos::propose(std::string command) {
    if (leader_) return leader_->propose(std::move(command));  // candidate: no_leader
    if (known_leader_ == kNoNode) return ProposeResult::no_leader;
    send(known_leader_, Forward{std::move(command)});
    return ProposeResult::accepted;
}

void MultiPaxos::read(std::uint64_t read_id) {
    if (active_leader()) return leader_->read(config_.id, read_id, now_);
    if (leader_ || known_leader_ == kNoNode || forwarded_reads_.size() >= config_.max_pending_proposals)
        return read_done(ReadState{read_id, 0, false});
    forwarded_reads_[read_id] = now_ + config_.election_timeout_max_ticks;
    send(known_leader_, ReadRequest{read_id});
}

// ---------------------------------------------------------------- handlers

// Phase 1b (acceptor). Granting a promise also restarts the election timer: a proposer is at
// work, and starting a rival phase 1 now would only duel with it.
void MultiPaxos::on(NodeId from, const Prepare& m) {
    note_ballot(m.ballot);
    auto reply = acceptor_.on_prepare(m, learner_.commit_index());
    if (std::holds_alternative<Promise>(reply) && from != config_.id) {
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
        if (from != config_.id) {
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
    auto it = forwarded_reads_.find(m.read_id);
    if (it == forwarded_reads_.end()) return;  // timed out already, or not ours
    forwarded_reads_.erase(it);
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
    Ballot b{std::max({acceptor_.promised().round, highest_seen_.round, poll_ballot_.round}) + 1, config_.id};
    polling_ = true;
    poll_ballot_ = b;
    poll_votes_ = VoteTally(config_.members.size(), config_.quorum());
    known_leader_ = kNoNode;
    reset_election_timer();
    for (NodeId id : config_.members)
        if (id != config_.id) send(id, Poll{b});
    poll_votes_.record(config_.id, true);   // it has lost the leader itself
    if (poll_votes_.won()) start_phase1();  // a cluster of one
}

// A ballot above every one this node has promised or seen, so that phase 1 can succeed.
void MultiPaxos::start_phase1() {
    polling_ = false;
    if (leader_) leader_->abandon();
    Ballot b{std::max(acceptor_.promised().round, highest_seen_.round) + 1, config_.id};
    highest_seen_ = b;
    known_leader_ = kNoNode;
    reset_election_timer();
    Outbox& outbox = *this;
    leader_ = std::make_unique<Leader>(config_, b, acceptor_, learner_, outbox);
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
    if (to == config_.id) {
        if (auto* prepare = std::get_if<Prepare>(&m)) return on(to, *prepare);
        if (auto* accept = std::get_if<Accept>(&m)) return on(to, *accept);
    }
    bool held = after_persist(m);
    ready_.messages.push_back(Envelope{to, encode(m), held});
}

void MultiPaxos::read_done(ReadState rs) {
    ready_.reads.push_back(rs);
}

Ready MultiPaxos::take_ready() {
    if (leader_) leader_->flush(now_);
    Ready r = std::move(ready_);
    ready_ = Ready{};
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
    return !ready_.messages.empty() || !ready_.reads.empty() || acceptor_.has_unsaved() ||
           learner_.has_committed() || (leader_ && leader_->has_unsent());
}

EngineStatus MultiPaxos::status() const {
    EngineStatus s;
    s.role = leader_ ? (leader_->active() ? Role::leader : Role::candidate)
                     : (polling_ ? Role::pre_candidate : Role::follower);
    s.leader = active_leader() ? config_.id : leader_ ? kNoNode : known_leader_;
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

bool MultiPaxos::is_member(NodeId id) const {
    return std::find(config_.members.begin(), config_.members.end(), id) != config_.members.end();
}

// Every role's local invariants (acceptor.cc, learner.cc, leader.cc), then the glue's.
void MultiPaxos::check_invariants() const {
    acceptor_.check_invariants();
    learner_.check_invariants();
    if (leader_) leader_->check_invariants();
    BALLOT_ASSERT(!(active_leader() && known_leader_ != kNoNode), "multipaxos: a leader follows no other");
    BALLOT_ASSERT(forwarded_reads_.size() <= config_.max_pending_proposals,
                  "multipaxos: forwarded reads bounded by max_pending_proposals");
}

}  // namespace ballot::multipaxos
