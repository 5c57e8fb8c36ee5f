// Log replication (§5.3) and commitment (§5.4.2), both sides: the follower's consistency check
// and repair of its log, and the dissertation's practical leader: pipelined, batched
// AppendEntries under a bounded window per follower, and the leader writing its own log in
// parallel with sending it (§10.2.1).
#include <algorithm>

#include "common/assert.h"
#include "raft/raft.h"

namespace ballot::raft {

// ---------------------------------------------------------------------------------------------
// Follower: §5.3 AppendEntries, receiver side (Figure 2, "AppendEntries RPC, Receiver implementation")

bool Raft::on(NodeId from, AppendEntries&& m) {
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
    // §7: entries at or below our base are covered by a snapshot of committed entries, which
    // every leader holds too (Leader Completeness): the message is read from our base on. An entry
    // it carries at the base with another term would contradict a committed entry.
    if (m.prev_log_index < log_.base_index()) {
        std::erase_if(m.entries, [&](const Entry& e) { return e.index < log_.base_index(); });
        if (!m.entries.empty() && m.entries.front().index == log_.base_index()) {
            if (m.entries.front().term != log_.base_term()) return false;
            m.entries.erase(m.entries.begin());
        }
        m.prev_log_index = log_.base_index();
        m.prev_log_term = log_.base_term();
    }
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
// Leader: sending entries and heartbeats, counting acknowledgements, committing

void Raft::tick_heartbeat() {
    // §5.2: "leaders send periodic heartbeats (AppendEntries RPCs that carry no log entries) to
    // all followers in order to maintain their authority".
    if (++heartbeat_elapsed_ < config_.heartbeat_ticks) return;
    heartbeat_elapsed_ = 0;
    for (NodeId peer : members_.peers()) {
        send_heartbeat(peer);
        if (progress_.at(peer).on_heartbeat_interval(log_.last_index()))
            send_append(peer);  // resend what was lost
    }
}

void Raft::send_heartbeat(NodeId to) {
    // Sent at prev = matchIndex, where the follower's log is known to match ours: a heartbeat is
    // never rejected and never truncates anything. It carries commitIndex (the follower applies
    // min(leaderCommit, prev)) and the latest ReadIndex context (§6.4).
    Progress& pr = progress_.at(to);
    AppendEntries m;
    m.term = currentTerm;
    m.prev_log_index = heartbeat_index(pr);
    m.prev_log_term = *log_.term_at(m.prev_log_index);
    m.leader_commit = commitIndex;
    m.read_context = read_context_;
    pr.commit_sent = std::max(pr.commit_sent, std::min(commitIndex, m.prev_log_index));
    send(to, std::move(m));
}

Index Raft::heartbeat_index(const Progress& pr) const {
    // matchIndex, unless we compacted its term away (§7; a follower that needs a snapshot): then
    // (0, 0), the start of every log, which every follower matches (below its base it reads from
    // its base on). Never a rejection, so a follower waiting for a snapshot is kept quiet without
    // being pushed into probing.
    return log_.compacted(pr.matchIndex) ? 0 : pr.matchIndex;
}

bool Raft::behind_on_commit(const Progress& pr) const {
    return std::min(commitIndex, heartbeat_index(pr)) > pr.commit_sent;
}

// A follower that forwarded a command it has not yet been told is committed: its client waits
// until the follower applies it, so every step of commitIndex is news to it.
bool Raft::waits_for_commit(const Progress& pr) const {
    return behind_on_commit(pr) && pr.forwarded_through > pr.commit_sent;
}

bool Raft::send_append(NodeId to) {
    // Figure 2, leaders: "If last log index >= nextIndex for a follower: send AppendEntries RPC
    // with log entries starting at nextIndex". In probe one message at a time (it may be an empty
    // probe); in replicate as many as the window allows, each as large as Progress::message_bytes.
    Progress& pr = progress_.at(to);
    bool sent = false;
    while (!pr.paused()) {
        if (log_.compacted(pr.nextIndex - 1)) {
            send_snapshot(to);  // §7: what it needs next was compacted away
            break;
        }
        AppendEntries m;
        m.term = currentTerm;
        m.prev_log_index = pr.nextIndex - 1;
        m.prev_log_term = *log_.term_at(m.prev_log_index);
        m.entries = log_.slice(pr.nextIndex, pr.message_bytes(config_.max_message_bytes));
        if (m.entries.empty() && pr.state() == Progress::State::replicate) break;  // up to date
        m.leader_commit = commitIndex;
        m.read_context = read_context_;
        const bool had_entries = !m.entries.empty();
        const Index last = had_entries ? m.entries.back().index : m.prev_log_index;
        const std::size_t entry_bytes = entries_bytes(m.entries);
        if (pr.state() == Progress::State::replicate)
            pr.commit_sent = std::max(pr.commit_sent, std::min(commitIndex, last));
        // §10.2.1: sent before our own copy of these entries is durable (after_persist, messages.h):
        // followers do not rely on the leader's disk, and the leader does not count itself until
        // its own write is done (on_own_append).
        send(to, std::move(m));
        pr.sent(last, entry_bytes);
        sent = true;
    }
    return sent;
}

void Raft::flush_leader() {
    // Called from take_ready(): everything appended since the last batch goes out now, in as few
    // AppendEntries as max_message_bytes allows. Followers that got nothing new hear a heartbeat
    // if a ReadIndex round started, or if a command they forwarded is now committed (their client
    // waits for it). Other followers learn a new commit index with the next entries or heartbeat,
    // as Figure 2 has it: a heartbeat to every follower after every commit was, at one client,
    // two messages and two answers more per write than the write itself needs, and made the
    // leader and followers share two cores with work nobody waited for (issue 15).
    for (NodeId peer : members_.peers()) {
        const bool sent = append_pending_ && send_append(peer);
        if (!sent && (read_round_pending_ || (commit_news_ && waits_for_commit(progress_.at(peer)))))
            send_heartbeat(peer);
    }
    append_pending_ = commit_news_ = read_round_pending_ = false;
    // §10.2.1: a note to ourselves, delivered back once this batch's entries are durable here.
    if (log_.has_unstable()) {
        AppendEntriesResponse own;
        own.term = currentTerm;
        own.request_term = currentTerm;
        own.success = true;
        own.match_index = log_.last_index();
        send(id_, own);
    }
}

void Raft::on(NodeId from, const AppendEntriesResponse& m) {
    if (m.term > currentTerm) {
        become_follower(m.term, kNoNode);  // Figure 2: a later term exists; we are deposed
        return;
    }
    // A stale answer: to a request of an earlier term (even one of our own, should we have led
    // that term too), or from a node that has not caught up with our term. Counted, its read
    // context would confirm this term's reads with another term's counter (§6.4).
    if (role_ != Role::leader || m.term < currentTerm || m.request_term != currentTerm) return;
    // Anything the follower cannot have been sent by us is ignored.
    if (m.match_index > log_.last_index() || m.rejected_index > log_.last_index()) return;
    auto known = progress_.find(from);
    if (known == progress_.end()) return;  // not (or no longer) a member we replicate to
    Progress& pr = known->second;
    pr.recent_active = true;  // §6.2
    pr.last_heard_tick = ticks_;
    if (m.read_context > pr.read_context_acked && m.read_context <= read_context_) {
        pr.read_context_acked = m.read_context;  // §6.4: the follower still follows us
        confirm_reads();
    }
    if (m.success) {
        // Figure 2: "If successful: update nextIndex and matchIndex for follower".
        if (pr.on_success(m.match_index)) maybe_commit();
        catch_up_progressed(from, pr.matchIndex);
        maybe_send_timeout_now(from);
        // §7: a follower waiting for a snapshot that now matches where our log still reaches (it
        // installed one, perhaps from another leader) needs it no more.
        if (pr.state() == Progress::State::snapshot && !log_.compacted(pr.matchIndex))
            pr.resume_after_snapshot();
    } else if (!pr.on_reject(m.rejected_index, next_index_hint(m))) {
        return;  // stale rejection
    }
    // "If AppendEntries fails because of log inconsistency: decrement nextIndex and retry";
    // after a success keep the pipeline full. A follower whose match just passed the commit
    // index it knows hears it with the next batch if it waits for a forwarded command
    // (flush_leader), else with the next heartbeat.
    if (!send_append(from) && behind_on_commit(pr)) commit_news_ = true;
}

void Raft::on_own_append(const AppendEntriesResponse& m) {
    if (role_ != Role::leader || m.term != currentTerm || !m.success) return;
    own_durable_index_ = std::max(own_durable_index_, std::min(m.match_index, log_.last_index()));
    maybe_commit();
}

Index Raft::next_index_hint(const AppendEntriesResponse& m) const {
    // §5.3 ("if desired, the protocol can be optimized to reduce the number of rejected
    // AppendEntries RPCs"): with a conflicting term, resume after our last entry of that term if
    // we have one, else at the first index the follower holds for it; with a short log, resume
    // at the follower's last index + 1. One round trip per conflicting term, not per entry.
    if (m.conflict_term != 0) {
        if (std::optional<Index> last = log_.last_index_of_term(m.conflict_term, m.rejected_index))
            return *last + 1;
    }
    return std::max<Index>(m.conflict_index, 1);
}

void Raft::maybe_commit() {
    // Figure 2, leaders: "If there exists an N such that N > commitIndex, a majority of
    // matchIndex[i] >= N, and log[N].term == currentTerm: set commitIndex = N".
    // (A majority of the voters: learners receive the log but are not counted, membership.cc.)
    const Index n = voter_quorum_value(own_durable_index_, [](const Progress& pr) { return pr.matchIndex; });
    // §5.4.2: "Raft never commits log entries from previous terms by counting replicas"; they
    // commit indirectly, beneath the first entry of this term (Figure 8).
    if (n <= commitIndex || log_.term_at(n) != currentTerm) return;
    BALLOT_ASSERT(log_.term_at(n) == currentTerm,
                  "§5.4.2 a leader commits by counting replicas only entries of its own term");
    const bool first_commit_of_term = !committed_in_current_term();
    commitIndex = n;
    commit_news_ = true;
    if (first_commit_of_term) start_reads_waiting_for_commit();
}

bool Raft::committed_in_current_term() const {
    return log_.term_at(commitIndex) == currentTerm;
}

}  // namespace ballot::raft
