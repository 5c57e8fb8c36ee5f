// Roles and elections: §5.2 (leader election), §5.4.1 (election restriction), dissertation §9.6
// (PreVote), §4.2.3 (ignoring disruptive vote requests) and §6.2 (check-quorum).
//
//   follower --timeout--> pre-candidate --majority of pre-votes--> candidate --majority--> leader
//       ^                      |                                      |                  |
//       +---- leader heard, higher term seen, or no majority possible +------------------+
#include "raft/raft.h"

namespace ballot::raft {

void Raft::reset_election_timer() {
    // §5.2: "election timeouts are chosen randomly from a fixed interval", so that in most cases
    // only a single server times out, wins the election and sends heartbeats before any other
    // server times out: split votes are rare and resolve quickly.
    election_elapsed_ = 0;
    randomized_election_timeout_ = static_cast<std::uint32_t>(
        rng_.between(config_.election_timeout_min_ticks, config_.election_timeout_max_ticks));
}

bool Raft::heard_from_leader_recently() const {
    if (role_ == Role::leader) return true;
    return leader_ != kNoNode && election_elapsed_ < config_.election_timeout_min_ticks;
}

void Raft::tick_election() {
    // §5.2: "If a follower receives no communication over a period of time called the election
    // timeout, then it assumes there is no viable leader and begins an election." A candidate
    // whose election timed out (a split vote) starts another one the same way.
    if (++election_elapsed_ < randomized_election_timeout_) return;
    // Only a voter campaigns: a learner, a joining node and a removed one wait for a leader. But
    // it no longer has one: heard_from_leader_recently() must not stay true for ever, or it refuses
    // every PreVote, and a node whose applied configuration is behind (it takes itself for a learner
    // while the cluster counts it a voter) left the voters without a leader (simulator seed 6296).
    if (!members_.self_is_voter()) {
        leader_ = kNoNode;
        reset_election_timer();
        return;
    }
    become_pre_candidate();
}

void Raft::tick_leader_lease() {
    // §6.2 check-quorum: a leader that has not heard from a majority within an election timeout
    // steps down. Clients then stop waiting on a leader that can no longer commit, and a leader
    // cut off in a minority stops claiming leadership while the majority elects another.
    if (++quorum_check_elapsed_ < config_.election_timeout_min_ticks) return;
    quorum_check_elapsed_ = 0;
    std::size_t active = members_.self_is_voter() ? 1 : 0;  // this node
    for (auto& [id, pr] : progress_) {
        if (pr.recent_active && members_.is_voter(id)) ++active;
        pr.recent_active = false;
    }
    if (active < members_.quorum()) become_follower(currentTerm, kNoNode);
}

// ---------------------------------------------------------------------------------------------
// Role changes

void Raft::become_follower(std::uint64_t term, NodeId leader) {
    const bool was_leader = role_ == Role::leader;
    if (term > currentTerm) {
        // Figure 2, all servers: "If RPC request or response contains term T > currentTerm: set
        // currentTerm = T, convert to follower". A new term starts with no vote cast.
        currentTerm = term;
        votedFor = kNoNode;
        hard_state_dirty_ = true;
    }
    role_ = Role::follower;
    set_leader(leader);
    reset_election_timer();
    if (was_leader) {
        fail_leader_reads();  // §6.4: leadership was lost before these reads were confirmed
        progress_.clear();
        append_pending_ = commit_news_ = read_round_pending_ = false;
        // A change appended but not applied is the next leader's to commit or overwrite; its
        // guard (membership.cc) makes either safe.
        pending_config_index_ = 0;
        caught_up_ticks_.clear();
        transfer_target_ = kNoNode;
    }
}

void Raft::become_pre_candidate() {
    // §9.6 PreVote: first ask whether we could win, without touching currentTerm. A node that
    // cannot win (cut off from a majority, or with a stale log) then never forces the cluster to
    // a higher term and never deposes a working leader when it reconnects.
    role_ = Role::pre_candidate;
    set_leader(kNoNode);
    reset_election_timer();
    votes_ = members_.tally();
    votes_.record(id_, true);
    for (NodeId peer : members_.voter_peers()) send(peer, vote_request(true, currentTerm + 1));
    if (votes_.won()) become_candidate();  // a one-node cluster
}

void Raft::become_candidate(bool transfer) {
    // §5.2: "To begin an election, a follower increments its current term and transitions to
    // candidate state. It then votes for itself and issues RequestVote RPCs in parallel".
    role_ = Role::candidate;
    currentTerm += 1;
    votedFor = id_;
    hard_state_dirty_ = true;
    set_leader(kNoNode);
    reset_election_timer();
    votes_ = members_.tally();
    votes_.record(id_, true);
    // They leave after persist (messages.h): a crash must not let us vote twice in this term.
    for (NodeId peer : members_.voter_peers()) send(peer, vote_request(false, currentTerm, transfer));
    if (votes_.won()) become_leader();
}

void Raft::become_leader() {
    // §5.2: a candidate "wins an election if it receives votes from a majority of the servers in
    // the full cluster for the same term".
    role_ = Role::leader;
    set_leader(id_);
    // Figure 2, volatile state on leaders, "reinitialized after election": nextIndex = last log
    // index + 1, matchIndex = 0. Every follower starts in probe until its log is known to match.
    progress_.clear();
    track_configured_peers();
    own_durable_index_ = 0;
    heartbeat_elapsed_ = 0;
    quorum_check_elapsed_ = 0;
    read_context_ = 0;
    // §8: "each leader commit a blank no-op entry into the log at the start of its term". Entries
    // of earlier terms can only commit beneath an entry of the current term (§5.4.2), and ReadIndex
    // needs an entry of this term committed (§6.4).
    log_.append(currentTerm, "");
    term_start_index_ = log_.last_index();
    append_pending_ = true;
}

// Dissertation §3.10: our leader hands leadership to us. We campaign at once, skipping PreVote
// (which voters that still hear the leader would refuse), in a term the leader's own entries
// cannot be missing from: it asked only once our log matched its own.
void Raft::on(NodeId from, const TimeoutNow& m) {
    if (from != leader_ || m.term != currentTerm || role_ != Role::follower || !members_.self_is_voter())
        return;
    become_candidate(/*transfer=*/true);
}

// ---------------------------------------------------------------------------------------------
// Vote requests (Figure 2, "RequestVote RPC, Receiver implementation")

RequestVote Raft::vote_request(bool pre_vote, std::uint64_t term, bool transfer) const {
    const std::uint64_t commit_term = log_.term_at(commitIndex).value_or(0);
    const Index commit = commit_term != 0 ? commitIndex : 0;  // below the log (compacted): say none
    return RequestVote{pre_vote, term, log_.last_index(), log_.last_term(), transfer, commit, commit_term};
}

// A candidate's commitIndex is a fact about its log: if ours holds the same entry there, our log is
// the same up to it (Log Matching, §5.3) and all of it is committed. Learned from any candidate, of
// any term, before the vote is judged. Configurations take effect when applied: a voter that never
// heard that a removal committed still counted the removed voter, and with it down the two
// voters left, a majority of the new configuration, could not elect (the other one's log was
// shorter, so it was refused; simulator seed 110749). Learning the commit from the other's vote
// request applies the removal, and the longer log wins in the new configuration.
void Raft::learn_commit(Index commit, std::uint64_t commit_term) {
    if (commit <= commitIndex || !log_.matches(commit, commit_term)) return;
    commitIndex = commit;
}

void Raft::on(NodeId from, const RequestVote& m) {
    learn_commit(m.commit, m.commit_term);
    if (m.pre_vote)
        handle_pre_vote(from, m);
    else
        handle_request_vote(from, m);
}

void Raft::handle_request_vote(NodeId from, const RequestVote& m) {
    if (m.term > currentTerm) {
        // §4.2.3: while we hear from a leader we ignore vote requests altogether (without even
        // adopting the term), so a server that cannot see the leader cannot depose it.
        // A transfer's election is the exception: the leader itself asked for it (§3.10).
        if (heard_from_leader_recently() && !m.transfer) return;
        become_follower(m.term, kNoNode);
    }
    // Rule 2: grant if we have not voted for someone else in this term and the candidate's log is
    // at least as up-to-date as ours (§5.4.1, the election restriction).
    const bool grant = m.term == currentTerm && (votedFor == kNoNode || votedFor == from) &&
                       log_.is_up_to_date(m.last_log_index, m.last_log_term);
    if (grant) {
        votedFor = from;
        hard_state_dirty_ = true;
        election_elapsed_ = 0;  // Figure 2: granting a vote resets the election timer
    }
    // After persist (messages.h): a granted vote is a promise only once votedFor is durable.
    send(from, RequestVoteResponse{false, currentTerm, grant});
}

void Raft::handle_pre_vote(NodeId from, const RequestVote& m) {
    // §9.6: grant if the candidate could win a real election: its term would be ahead of ours,
    // its log is up to date (§5.4.1), and we have not heard from a leader within the minimum
    // election timeout. Nothing of ours changes: not our term, not our vote.
    const bool grant = m.term > currentTerm && !heard_from_leader_recently() &&
                       log_.is_up_to_date(m.last_log_index, m.last_log_term);
    send(from, RequestVoteResponse{true, grant ? m.term : currentTerm, grant});
}

void Raft::on(NodeId from, const RequestVoteResponse& m) {
    // A granted pre-vote echoes the term we asked about, one ahead of ours by design; anything
    // else from a later term means we are behind.
    if (m.term > currentTerm && !(m.pre_vote && m.vote_granted)) {
        become_follower(m.term, kNoNode);
        return;
    }
    if (m.pre_vote) {
        if (role_ != Role::pre_candidate || (m.vote_granted && m.term != currentTerm + 1)) return;
    } else if (role_ != Role::candidate || m.term != currentTerm) {
        return;  // an answer to an election that is over
    }
    votes_.record(from, m.vote_granted);
    if (votes_.won()) {
        if (m.pre_vote)
            become_candidate();
        else
            become_leader();
    } else if (votes_.lost()) {
        become_follower(currentTerm, kNoNode);
    }
}

}  // namespace ballot::raft
