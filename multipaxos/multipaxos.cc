#include "multipaxos/multipaxos.h"

#include <algorithm>
#include <utility>

namespace ballot::multipaxos {

MultiPaxos::MultiPaxos(const EngineConfig& config, RecoveredState recovered)
    : MultiPaxos(config, decode_recovered(recovered), recovered_snapshot(recovered),
                 recovered_configs(config, recovered)) {}

MultiPaxos::MultiPaxos(const EngineConfig& config, const Recovered& recovered, Index snapshot,
                       ConfigHistory configs)
    : MultiPaxos(config, recovered, snapshot, recovered_trim_point(recovered, snapshot), std::move(configs)) {
}

MultiPaxos::MultiPaxos(const EngineConfig& config, const Recovered& recovered, Index snapshot, Index trimmed,
                       ConfigHistory configs)
    : config_((validate_engine_config(config, "multipaxos"), config)),
      configs_(std::move(configs)),
      members_(config.self(), Configuration()),
      rng_(config.seed),
      acceptor_(config.max_message_bytes, recovered, trimmed),
      learner_(acceptor_, configs_, recovered.metadata.commit, snapshot, !config.unsafe_skip_config_change_guard),
      forwarded_reads_(config.max_pending_proposals) {
    highest_seen_ = acceptor_.promised();
    commit_at_last_take_ = learner_.commit_index();
    persisted_commit_ = recovered.metadata.commit;
    snapshot_index_ = snapshot;
    compacted_below_ = trimmed + 1;
    // Records at or below the trim point that survived a crash before their compaction go now.
    if (!recovered.records.empty() && recovered.records.front().index <= trimmed)
        compact_below_ = trimmed + 1;
    refresh_membership();
    reset_election_timer();
}

// ---------------------------------------------------------------- inputs

void MultiPaxos::tick() {
    ++now_;
    acceptor_.collect_garbage();
    if (leader_) leader_->tick(now_);  // candidate: re-asks for lost pages; leader: heartbeats
    expire_transfers();
    tick_transfer();
    tick_auto_promotion();
    if (active_leader()) {
        if (leader_->lost_majority(now_)) step_down();
    } else if (++election_elapsed_ >= election_timeout_) {
        on_election_timeout();  // no leader heard (follower), or phase 1 made no progress (candidate)
    }
    for (std::uint64_t id : forwarded_reads_.expire(now_)) reads_done_.push_back(ReadState{id, 0, false});
}

// One dispatch for every message: decoded, from a node it may come from, plausible, then its
// handler on(from, m); then what the input changed in the configuration governing now.
bool MultiPaxos::step(NodeId from, std::span<const std::uint8_t> payload) {
    std::optional<Message> message = decode(payload);
    if (!message || from == kNoNode || !admitted(from, *message) || !plausible(from, *message)) return false;
    std::visit([&](const auto& m) { on(from, m); }, *message);
    // A promise above our own ballot (given to another proposer) ends our attempt.
    if (leader_ && acceptor_.promised() > leader_->ballot()) step_down();
    refresh_membership();
    if (from == transfer_target_) maybe_hand_over();  // it may have reported what it holds
    return true;
}

// From a member of a configuration that governs now or will (configs.h), except a leader's Accept,
// Heartbeat and Chosen, and a peer's ChosenValues, taken from anyone, as Raft takes AppendEntries
// from anyone: the configurations this node knows may be far behind (a replaced node relearning
// the log meets the configurations of its old identity long before the one that added the leader;
// refusing its Chosen left it stuck there, simulator seed 3 with membership changes), and taking a
// value learned chosen, or answering an Accept, is safe from anyone: an acceptor's answers depend
// only on ballots, and what a non-voter says never counts. So are a Prepare and a Poll, from
// anyone, as Raft takes vote requests (raft.cc): a voter whose chosen prefix is far behind does
// not know the voter that was added since, and refusing its Prepare left the two voters of three
// that were up without a leader for ever (simulator seeds 305 and 558 with membership changes); a
// promise binds only this acceptor, and the proposer counts it only if this node is a voter of
// what it knows governs. But a node that knows no configuration yet promises nobody, for the
// reason Raft's votes for nobody (raft.cc, simulator seed 5416: a replaced node relearning the log
// takes itself for a voter of its old identity's configuration, and promises from nodes that know
// nothing would complete its phase 1); nor, with identities in the configuration, a node one of
// whose configurations still to govern names its id for another data dir. Both take such a
// Prepare or Poll and answer it with a ChosenRequest, not a promise or a vote (knows_itself;
// on(Prepare), on(Poll), catch_up.cc): a joined voter restarted with no chosen prefix (so no
// configuration) once left every Poll unanswered, and the only other live voter could not lead
// without it (simulator seed 56000557). Also a TakeOver from the leader this node follows, which a
// leader whose removal took effect sends.
bool MultiPaxos::admitted(NodeId from, const Message& m) const {
    if (members_.contains(from) || configs_.latest().contains(from)) return true;
    if (std::holds_alternative<Accept>(m) || std::holds_alternative<Heartbeat>(m) ||
        std::holds_alternative<Chosen>(m) || std::holds_alternative<ChosenValues>(m))
        return true;
    if (std::holds_alternative<Prepare>(m) || std::holds_alternative<Poll>(m)) return true;
    return std::holds_alternative<TakeOver>(m) && from == known_leader_;
}

// A replaced node relearning the log (common/configuration.h, SelfId) meets the configurations of
// its old identity first; until none of those governs a slot it does not know chosen, a promise
// from it would be counted as its old identity's, which it cannot keep (simulator seed 272).
bool MultiPaxos::knows_itself() const {
    if (configs_.empty()) return false;
    for (const Configuration* c : configs_.governing_from(learner_.commit_index() + 1))
        if (c->names_another(members_.self_id())) return false;
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
                          std::is_same_v<T, Poll> || std::is_same_v<T, TakeOver>)
                return m.ballot.node == from;
            else if constexpr (std::is_same_v<T, PollReply>)
                return m.ballot.node == members_.self();
            else
                return true;
        },
        message);
}

ProposeResult MultiPaxos::propose(std::string command) {
    if (transfer_target_ != kNoNode) return ProposeResult::no_leader;  // paused: transfer.cc
    if (leader_) return leader_->propose(std::move(command));          // candidate: no_leader
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

// ---------------------------------------------------------------- output

// Requests to this node's own acceptor are handled at once (their replies then wait for the
// fsync like any other); everything else is queued in the outbox with its after_persist flag
// (messages.h) until take_ready().
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
    if (promise_changed || (!r.records.empty() && hint > persisted_commit_) || config_hint_due(hint)) {
        r.metadata = encode_metadata(Metadata{acceptor_.promised(), hint});
        persisted_commit_ = hint;
    }
    for (Entry& e : learner_.take_committed()) r.committed.push_back(Committed{e.index, std::move(e.data)});
    r.compact_below = std::exchange(compact_below_, std::nullopt);
    r.snapshot_to = std::exchange(snapshot_to_, {});
    r.refusals = std::exchange(refusals_, {});
    return r;
}

// A change took effect below `hint` since the last hint written: the hint goes to disk even in a
// batch without records, so that a restart finds the change in effect, as it was before (Raft
// writes its commit hint with a configuration entry it applies likewise).
bool MultiPaxos::config_hint_due(Index hint) const {
    return hint > persisted_commit_ && configs_.at(hint + 1) != configs_.at(persisted_commit_ + 1);
}

bool MultiPaxos::has_ready() const {
    return config_hint_due(learner_.commit_index()) || !outbox_.empty() || !reads_done_.empty() ||
           acceptor_.has_unsaved() || learner_.has_committed() || (leader_ && leader_->has_unsent()) ||
           compact_below_ || !snapshot_to_.empty() || !refusals_.empty();
}

EngineStatus MultiPaxos::status() const {
    EngineStatus s;
    s.role = leader_ ? (leader_->active() ? Role::leader : Role::candidate)
                     : (polling_ ? Role::pre_candidate : Role::follower);
    s.leader = active_leader() ? members_.self() : leader_ ? kNoNode : known_leader_;
    s.epoch = Epoch::ballot(acceptor_.promised());
    s.commit_index = learner_.commit_index();
    s.log_last_index = std::max(acceptor_.last_slot(), learner_.commit_index());
    // The first slot still held: after the trim point once there is one (every slot up to it is
    // covered by the snapshot), else the lowest record, as before snapshots.
    s.log_first_index = acceptor_.trimmed() > 0 ? acceptor_.trimmed() + 1
                        : s.log_last_index == 0 ? 0
                                                : std::max<Index>(1, acceptor_.first_slot());
    s.snapshot_index = snapshot_index_;
    s.config_governs_from = configs_.latest_from();
    s.proposals_preempted = preempted_;
    if (active_leader()) {
        s.peers = leader_->peer_progress();
        for (PeerProgress& p : s.peers) p.snapshotting = transfers_.count(p.id) > 0;
    }
    return s;
}

std::string MultiPaxos::describe(std::span<const std::uint8_t> payload) const {
    std::optional<Message> m = decode(payload);
    return m ? multipaxos::describe(*m)
             : "malformed multipaxos message (" + std::to_string(payload.size()) + " bytes)";
}

// PMS §3's distinguished proposer shows it is alive with Heartbeat; HeartbeatAck answers it (and
// a Chosen catch-up). Accept, Promise and the rest always carry something.
bool MultiPaxos::is_heartbeat(NodeId /*peer*/, std::span<const std::uint8_t> payload) const {
    std::optional<Message> m = decode(payload);
    return m && (std::holds_alternative<Heartbeat>(*m) || std::holds_alternative<HeartbeatAck>(*m));
}

}  // namespace ballot::multipaxos
