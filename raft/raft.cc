// Raft's inputs and outputs, and the follower side of AppendEntries. Elections are in
// election.cc, the leader's replication in replication.cc, reads in reads.cc.
#include "raft/raft.h"

#include <algorithm>
#include <stdexcept>

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
      members_(config.id, config.members),
      rng_(config.seed),
      forwarded_reads_(config.max_pending_proposals) {
    Recovered persisted = decode_recovered<&decode_metadata, &decode_record>(recovered, "raft");
    currentTerm = persisted.metadata.term;
    votedFor = persisted.metadata.vote;
    log_ = RaftLog(std::move(persisted.records));
    if (log_.last_term() > currentTerm)
        throw std::invalid_argument("raft: recovered log holds an entry of term " +
                                    std::to_string(log_.last_term()) + " but currentTerm is only " +
                                    std::to_string(currentTerm));
    if (votedFor != kNoNode && !members_.contains(votedFor))
        throw std::invalid_argument("raft: recovered vote for node " + std::to_string(votedFor) +
                                    ", which is not a member");
    // Everyone starts as a follower (§5.2); commitIndex is volatile and is learned again from the
    // leader, so the runtime re-applies the log from index 1 as entries become known committed.
    reset_election_timer();
}

// ---------------------------------------------------------------------------------------------
// Inputs

void Raft::tick() {
    ++ticks_;
    expire_forwarded_reads();
    if (role_ != Role::leader) {
        tick_election();
        return;
    }
    tick_leader_lease();
    if (role_ == Role::leader) tick_heartbeat();
}

bool Raft::step(NodeId from, std::span<const std::uint8_t> payload) {
    std::optional<Message> decoded = decode(payload);
    if (!decoded || !members_.contains(from)) return false;
    Message& msg = *decoded;
    if (from == id_) {
        // Our own note, handed back by the runtime once the batch that carried it is durable.
        if (auto* m = std::get_if<AppendEntriesResponse>(&msg)) handle_own_append(*m);
        return true;
    }
    if (auto* m = std::get_if<RequestVote>(&msg)) {
        if (m->pre_vote)
            handle_pre_vote(from, *m);
        else
            handle_request_vote(from, *m);
    } else if (auto* m = std::get_if<RequestVoteResponse>(&msg)) {
        handle_vote_response(from, *m);
    } else if (auto* m = std::get_if<AppendEntries>(&msg)) {
        return handle_append_entries(from, std::move(*m));
    } else if (auto* m = std::get_if<AppendEntriesResponse>(&msg)) {
        handle_append_response(from, *m);
    } else if (auto* m = std::get_if<Propose>(&msg)) {
        handle_propose(std::move(*m));
    } else if (auto* m = std::get_if<ReadIndex>(&msg)) {
        handle_read_index(from, *m);
    } else if (auto* m = std::get_if<ReadIndexResponse>(&msg)) {
        handle_read_index_response(*m);
    }
    return true;
}

ProposeResult Raft::propose(std::string command) {
    if (role_ == Role::leader) {
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

void Raft::handle_propose(Propose m) {
    // A proposal forwarded to a node that is no longer the leader (or whose backlog is full) is
    // dropped: the forwarding node's client times out and retries, and the command envelope's
    // client id and sequence number make the retry safe.
    if (role_ != Role::leader || log_.last_index() - commitIndex >= config_.max_pending_proposals) return;
    log_.append(currentTerm, std::move(m.command));
    append_pending_ = true;
}

// ---------------------------------------------------------------------------------------------
// §5.3 AppendEntries, receiver side (Figure 2, "AppendEntries RPC, Receiver implementation")

bool Raft::handle_append_entries(NodeId from, AppendEntries m) {
    AppendEntriesResponse r;
    r.request_term = m.term;  // the leader counts this reply only for the term it asked in
    r.read_context = m.read_context;
    if (m.term < currentTerm) {
        // Rule 1: reply false to a stale leader; our term in the reply makes it step down.
        r.term = currentTerm;
        r.rejected_index = m.prev_log_index;
        send(from, r);
        return true;
    }
    // Proof that the sender broke the protocol. Two cases, both refused the same way: step()
    // returns false, nothing here changes, nothing is answered, and the runtime drops the
    // connection and logs it (the simulator reports it as a safety violation).
    //  - A second leader in our own term: Election Safety (§5.2) says there is at most one, and it
    //    is us. Only a node that voted twice in a term (lost durable state, a lying fsync) or a
    //    hostile one can send this.
    //  - Entries that would truncate what we know is committed: Leader Completeness (§5.4.1)
    //    puts every committed entry in every later leader's log, so an honest leader never
    //    conflicts at or below our commitIndex.
    // Neither is a LOCAL invariant of this node, so neither is a BALLOT_ASSERT: a peer's input
    // must never stop this node (SPEC: a hostile peer frame changes no state). Nor is either
    // silently accepted: obeying the first would make a leader truncate its own log or a follower
    // switch leaders within a term, the second would un-commit entries that may have been applied
    // and acknowledged. (leader_ is only ever the sender of an AppendEntries of currentTerm, or
    // this node while it leads, or none; see set_leader's callers.)
    if (m.term == currentTerm && leader_ != kNoNode && leader_ != from) return false;
    if (log_.matches(m.prev_log_index, m.prev_log_term)) {
        const std::optional<Index> conflict = log_.first_conflict(m.entries);
        if (conflict && *conflict <= commitIndex) return false;
    }
    // A leader of our term or a later one exists: a candidate returns to follower (§5.2).
    if (m.term > currentTerm || role_ != Role::follower)
        become_follower(m.term, from);
    else
        set_leader(from);
    election_elapsed_ = 0;
    r.term = currentTerm;

    if (m.prev_log_index > log_.last_index()) {
        // Rule 2: our log is too short. Hint: our last index + 1.
        r.rejected_index = m.prev_log_index;
        r.conflict_index = log_.last_index() + 1;
    } else if (!log_.matches(m.prev_log_index, m.prev_log_term)) {
        // Rule 2: the entry at prev_log_index is from another term. Hint: that term and the first
        // index we hold for it, so the leader can skip the whole term in one round trip.
        r.rejected_index = m.prev_log_index;
        r.conflict_term = *log_.term_at(m.prev_log_index);
        r.conflict_index = log_.first_index_of_term_at(m.prev_log_index);
    } else {
        // Rules 3-5: append (removing a conflicting suffix), then learn the commit index, but
        // never beyond what this message showed to match the leader's log.
        BALLOT_ASSERT(role_ == Role::follower, "a leader never truncates or overwrites its own log");
        const std::optional<Index> conflict = log_.first_conflict(m.entries);
        BALLOT_ASSERT(!conflict || *conflict > commitIndex, "a committed entry is never removed");
        const Index last_new = log_.append_from_leader(m.prev_log_index, std::move(m.entries));
        if (m.leader_commit > commitIndex)
            commitIndex = std::max(commitIndex, std::min(m.leader_commit, last_new));
        r.success = true;
        r.match_index = last_new;
    }
    send(from, r);  // after persist: a success says the entries are durable here
    return true;
}

// ---------------------------------------------------------------------------------------------
// Outputs

Ready Raft::take_ready() {
    if (role_ == Role::leader) flush_leader();
    Ready rd;
    if (hard_state_dirty_) rd.metadata = encode_metadata(HardState{currentTerm, votedFor, commitIndex});
    hard_state_dirty_ = false;
    log_.take_unstable(rd.truncate_from, rd.records);
    if (commitIndex > lastApplied) {
        rd.committed.reserve(commitIndex - lastApplied);
        for (Index i = lastApplied + 1; i <= commitIndex; ++i) rd.committed.push_back({i, log_.at(i).data});
        lastApplied = commitIndex;
    }
    outbox_.take(rd.messages, [](const Message& m) { return encode(m); });
    rd.reads = std::move(reads_);
    reads_.clear();
    return rd;
}

bool Raft::has_ready() const {
    if (hard_state_dirty_ || log_.has_unstable() || commitIndex > lastApplied) return true;
    if (!outbox_.empty() || !reads_.empty()) return true;
    return role_ == Role::leader && (append_pending_ || commit_news_ || read_round_pending_);
}

EngineStatus Raft::status() const {
    EngineStatus s;
    s.role = role_;
    s.leader = leader_;
    s.epoch = Epoch::term(currentTerm);
    s.commit_index = commitIndex;
    // No snapshots: the log always starts at index 1 (0 while it is empty).
    s.log_first_index = log_.empty() ? 0 : 1;
    s.log_last_index = log_.last_index();
    return s;
}

std::string Raft::describe(std::span<const std::uint8_t> payload) const {
    std::string error;
    std::optional<Message> m = decode(payload, &error);
    return m ? raft::describe(*m) : "malformed raft message (" + error + ")";
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
