// Raft's inputs (tick, step and its dispatch, propose) and outputs (take_ready, status,
// describe). Elections are in election.cc, replication in replication.cc, reads in reads.cc.
#include "raft/raft.h"

#include <algorithm>
#include <stdexcept>
#include <type_traits>
#include <variant>

#include "common/assert.h"

namespace ballot::raft {

namespace {

// The configuration, once every engine's checks passed (common/engine.h): before members_ is built.
const EngineConfig& validated(const EngineConfig& config) {
    validate_engine_config(config, "raft");
    return config;
}

}  // namespace

Raft::Raft(const EngineConfig& config, RecoveredState recovered)
    : config_(validated(config)),
      id_(config.id),
      members_(config.self(), bootstrap_configuration(config)),
      rng_(config.seed),
      forwarded_reads_(config.max_pending_proposals) {
    Recovered persisted = decode_recovered<&decode_metadata, &decode_record>(recovered, "raft");
    currentTerm = persisted.metadata.term;
    votedFor = persisted.metadata.vote;
    recover_log(std::move(persisted.records), recovered.snapshot, recovered.compacted_below);
    if (log_.last_term() > currentTerm)
        throw std::invalid_argument("raft: recovered log holds an entry of term " +
                                    std::to_string(log_.last_term()) + " but currentTerm is only " +
                                    std::to_string(currentTerm));
    commit_hint_ = persisted.metadata.commit;
    recover_configuration(commit_hint_);
    // Everyone starts as a follower (§5.2). commitIndex is volatile in Figure 2, but the hint is a
    // fact: every entry through it was committed, and a log never loses or replaces a committed
    // entry it holds (the store may drop a damaged tail: hence the min). So commitIndex starts
    // there (as etcd's HardState.Commit), the runtime re-applies the log from after its snapshot
    // through it at once, and vote requests carry it (learn_commit): a node that applied a change
    // before the whole cluster restarted tells it to a voter that never learned it committed,
    // instead of both waiting for ever on the configuration before it (simulator seed raft 131822:
    // a removal committed, its leader stopped before the last voter heard, then a full crash).
    commitIndex = std::max(commitIndex, std::min(commit_hint_, log_.last_index()));
    reset_election_timer();
}

// ---------------------------------------------------------------------------------------------
// Inputs

void Raft::tick() {
    ++ticks_;
    log_.collect_garbage();
    expire_forwarded_reads();
    tick_snapshot_transfers();
    if (role_ != Role::leader) {
        tick_election();
        return;
    }
    tick_leader_lease();
    if (role_ != Role::leader) return;
    tick_heartbeat();
    tick_transfer();
    tick_auto_promotion();
}

bool Raft::step(NodeId from, std::span<const std::uint8_t> payload) {
    std::optional<Message> decoded = decode(payload);
    // From members of the configuration this node has applied, except a leader's AppendEntries
    // and a candidate's RequestVote (and PreVote), taken from anyone: the configuration applied
    // here may be far behind the cluster's (a leader or candidate added by an entry this node has
    // not applied yet; a joining node knows nobody, membership.cc), and refusing them left a cluster
    // that counts this node as a voter without a leader (simulator seed 2226 with membership
    // changes). A candidate counts only its own voters' answers (Membership::tally), and a removed
    // server cannot disrupt with its vote requests because of PreVote and the leader stickiness of
    // §4.2.3, not because of this filter. (A TimeoutNow from our leader too: a leader that applied
    // its own removal hands over with one.) But a node that knows no configuration yet (--join,
    // nothing applied) votes for nobody: a replaced node relearning the log applies the
    // configurations of its old identity first and takes itself for a voter; with the votes of new
    // nodes that know nothing it elected itself in a configuration long gone and overwrote committed
    // entries (simulator seed 5416). Nor does a node whose configuration names its id for another
    // data dir: the same replaced node, with identities in the configuration (common/
    // configuration.h, SelfId), until it applies its own addition (simulator seed 21259).
    if (!decoded || from == kNoNode) return false;
    const bool vote_request =
        std::holds_alternative<RequestVote>(*decoded) && !members_.configuration().empty();
    if (vote_request && members_.names_another_self()) return true;  // taken, and left unanswered
    if (!members_.contains(from) && !std::holds_alternative<AppendEntries>(*decoded) && !vote_request &&
        !(std::holds_alternative<TimeoutNow>(*decoded) && from == leader_))
        return false;
    if (from == id_) {
        // Our own note, handed back by the runtime once the batch that carried it is durable.
        if (auto* m = std::get_if<AppendEntriesResponse>(&*decoded)) on_own_append(*m);
        return true;
    }
    // One handler per message type (raft.h). Only AppendEntries can be refused: its handler
    // returns false when the message proves its sender broke the protocol.
    return std::visit(
        [&](auto& m) -> bool {
            if constexpr (std::is_same_v<decltype(on(from, std::move(m))), bool>) {
                return on(from, std::move(m));
            } else {
                on(from, std::move(m));
                return true;
            }
        },
        *decoded);
}

ProposeResult Raft::propose(std::string command) {
    if (role_ == Role::leader) {
        if (transfer_target_ != kNoNode) return ProposeResult::no_leader;  // paused: membership.cc
        // Bound the leader's backlog of entries not yet committed, so a leader that cannot reach
        // a majority does not grow its log without limit.
        if (log_.last_index() - commitIndex >= config_.max_pending_proposals)
            return ProposeResult::overloaded;
        // §5.3: "the leader appends the command to its log as a new entry". It goes out with the
        // next batch, together with every other proposal made before take_ready().
        log_.append(currentTerm, std::move(command));
        append_pending_ = true;
        return ProposeResult::accepted;
    }
    if (role_ == Role::follower && leader_ != kNoNode) {
        // §8: clients may talk to any server; a follower passes the command on to its leader.
        send(leader_, Propose{std::move(command)});
        return ProposeResult::accepted;
    }
    return ProposeResult::no_leader;  // an election is under way
}

void Raft::on(NodeId from, Propose&& m) {
    // A proposal forwarded to a node that is no longer the leader (or whose backlog is full) is
    // dropped: the forwarding node's client times out and retries, and the command envelope's
    // client id and sequence number make the retry safe.
    // Paused during a leadership transfer likewise (membership.cc).
    if (role_ != Role::leader || transfer_target_ != kNoNode ||
        log_.last_index() - commitIndex >= config_.max_pending_proposals)
        return;
    log_.append(currentTerm, std::move(m.command));
    append_pending_ = true;
    note_forwarded(from);
}

void Raft::note_forwarded(NodeId from) {
    if (auto it = progress_.find(from); it != progress_.end())
        it->second.forwarded_through = log_.last_index();
}

// ---------------------------------------------------------------------------------------------
// Outputs

Ready Raft::take_ready() {
    if (role_ == Role::leader) flush_leader();
    Ready rd;
    log_.take_unstable(rd.truncate_from, rd.compact_below, rd.records);
    if (commitIndex > lastApplied) {
        rd.committed.reserve(commitIndex - lastApplied);
        for (Index i = lastApplied + 1; i <= commitIndex; ++i) {
            rd.committed.push_back({i, log_.at(i).data});
            apply_configuration(i, log_.at(i).data);  // a change takes effect when applied
        }
        lastApplied = commitIndex;
    }
    // After the committed entries: applying a configuration asks for the commit hint to be durable
    // before the runtime applies it (membership.cc).
    commit_hint_ = std::max(commit_hint_, commitIndex);
    if (hard_state_dirty_) rd.metadata = encode_metadata(HardState{currentTerm, votedFor, commit_hint_});
    hard_state_dirty_ = false;
    outbox_.take(rd.messages, [](const Message& m) { return encode(m); });
    rd.reads = std::move(reads_);
    reads_.clear();
    rd.snapshot_to = std::move(snapshot_to_);
    snapshot_to_.clear();
    rd.refusals = std::move(refusals_);
    refusals_.clear();
    return rd;
}

bool Raft::has_ready() const {
    if (hard_state_dirty_ || log_.has_unstable() || commitIndex > lastApplied) return true;
    if (!outbox_.empty() || !reads_.empty() || !snapshot_to_.empty() || !refusals_.empty()) return true;
    return role_ == Role::leader && (append_pending_ || commit_news_ || read_round_pending_);
}

EngineStatus Raft::status() const {
    EngineStatus s;
    s.role = role_;
    s.leader = leader_;
    s.epoch = Epoch::term(currentTerm);
    s.commit_index = commitIndex;
    // The first index the log holds: past 1 once compacted (§7); 0 while it holds nothing.
    s.log_first_index = log_.empty() ? 0 : log_.first_index();
    s.log_last_index = log_.last_index();
    s.snapshot_index = snapshot_index_;
    if (role_ == Role::leader) s.peers = peer_progress();
    return s;
}

// Figure 2's nextIndex[] and matchIndex[] with the flow control around them (raft/progress.h), for
// the live view's lag bars.
std::vector<PeerProgress> Raft::peer_progress() const {
    std::vector<PeerProgress> out;
    for (const auto& [id, p] : progress_) {
        if (id == id_) continue;
        PeerProgress pp;
        pp.id = id;
        pp.match_index = p.matchIndex;
        pp.next_index = p.nextIndex;
        pp.state = p.state() == Progress::State::probe       ? "probe"
                   : p.state() == Progress::State::replicate ? "replicate"
                                                             : "snapshot";
        pp.inflight = p.inflight();
        pp.inflight_bytes = p.inflight_bytes();
        pp.window_bytes = p.window_bytes();
        pp.paused = p.paused();
        pp.snapshotting = transfers_.count(id) > 0;
        out.push_back(std::move(pp));
    }
    return out;
}

std::string Raft::describe(std::span<const std::uint8_t> payload) const {
    std::string error;
    std::optional<Message> m = decode(payload, &error);
    return m ? raft::describe(*m) : "malformed raft message (" + error + ")";
}

// Raft has no heartbeat message of its own: a heartbeat is an AppendEntries without entries
// (§5.2), and its ack an AppendEntriesResponse that acknowledges nothing new. What is new depends
// on who looks: for the leader, a match beyond what it knows the peer holds (Progress::matchIndex);
// for anyone else (the follower sending it), a match beyond its own commitIndex, since a
// heartbeat's prev is the follower's known match, through which it commits at once. Rejections
// are never heartbeats.
bool Raft::is_heartbeat(NodeId peer, std::span<const std::uint8_t> payload) const {
    std::optional<Message> m = decode(payload);
    if (!m) return false;
    if (auto* append = std::get_if<AppendEntries>(&*m)) return append->entries.empty();
    auto* response = std::get_if<AppendEntriesResponse>(&*m);
    if (!response || !response->success) return false;
    auto known = progress_.find(peer);
    const Index known_match =
        role_ == Role::leader && known != progress_.end() ? known->second.matchIndex : commitIndex;
    return response->match_index <= known_match;
}

// ---------------------------------------------------------------------------------------------
// Helpers

void Raft::send(NodeId to, Message m) {
    const bool wait_for_persist = after_persist(m);
    outbox_.send(to, std::move(m), wait_for_persist);
}

void Raft::set_leader(NodeId leader) {
    if (leader == leader_) return;
    // Reads forwarded to the old leader may never be answered now; let the runtime retry them.
    fail_forwarded_reads();
    leader_ = leader;
}

}  // namespace ballot::raft
