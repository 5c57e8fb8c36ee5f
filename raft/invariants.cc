// Raft's local invariants in one place, in the manner of LogCabin's RaftConsensusInvariants:
// what this node's own state must satisfy between any two inputs. Cluster-wide properties
// (Election Safety, Log Matching across nodes, Leader Completeness) need several nodes' state and
// are the simulator's (tests/sim/invariants_raft.cc).
//
// Cost is bounded so the simulator can call this after every step: the log's shape is checked
// over its last kLogWindow entries (append() and append_from_leader() assert it at every entry
// they add, so the rest was checked when it was written).
#include <algorithm>

#include "common/assert.h"
#include "raft/raft.h"

namespace ballot::raft {

namespace {

constexpr Index kLogWindow = 64;

std::string str(std::uint64_t v) {
    return std::to_string(v);
}

}  // namespace

// The log's shape, over its last `window` entries (raft/log.h).
void RaftLog::check_invariants(Index window) const {
    BALLOT_ASSERT((base_index_ == 0) == (base_term_ == 0), "the log's base is (0, 0) or has a term >= 1");
    const Index first = std::max(first_index(), last_index() > window ? last_index() - window + 1 : 1);
    for (Index i = first; i <= last_index(); ++i) {
        const Entry& e = entries_[i - base_index_ - 1];
        BALLOT_ASSERT(e.index == i, "log indexes contiguous from the base: index " + std::to_string(e.index) +
                                        " stored at position " + std::to_string(i));
        BALLOT_ASSERT(e.term >= 1, "log entry terms >= 1");
        const std::uint64_t previous = i == first_index() ? base_term_ : entries_[i - base_index_ - 2].term;
        BALLOT_ASSERT(previous <= e.term,
                      "log terms non-decreasing (from the base) at index " + std::to_string(i));
    }
}

void Raft::check_invariants() const {
    // ---- Figure 2 persistent state ----
    log_.check_invariants(kLogWindow);
    BALLOT_ASSERT(log_.last_term() <= currentTerm,
                  "last log term <= currentTerm (" + str(log_.last_term()) + " > " + str(currentTerm) + ")");
    // (votedFor and the known leader need not be members of the configuration applied here: a
    // vote may have gone to a node removed since, a leader may be one added by an entry not yet
    // applied here.)

    // ---- Figure 2 volatile state ----
    BALLOT_ASSERT(commitIndex <= log_.last_index(), "commitIndex <= last log index (" + str(commitIndex) +
                                                        " > " + str(log_.last_index()) + ")");
    BALLOT_ASSERT(lastApplied <= commitIndex, "lastApplied <= commitIndex");
    check_snapshot_invariants();

    // ---- roles ----
    BALLOT_ASSERT((role_ == Role::leader) == (leader_ == id_), "a node names itself leader iff it leads");
    // Every configuration applied since the latest snapshot differs from the one before it by one
    // server (dissertation §4.1): that is what keeps any two majorities in use overlapping.
    for (auto it = configs_.begin(); std::next(it) != configs_.end(); ++it)
        BALLOT_ASSERT(single_server_change(it->second, std::next(it)->second),
                      "the configuration applied at " + str(std::next(it)->first) + " (" +
                          std::next(it)->second.str() + ") differs from the one before (" + it->second.str() +
                          ") by one server");
    BALLOT_ASSERT(configs_.rbegin()->second == members_.configuration(), "the latest configuration rules");
    BALLOT_ASSERT(role_ == Role::follower || members_.self_is_voter(),
                  "only a voter campaigns or leads (learners and non-members stay followers)");
    if (role_ == Role::candidate || role_ == Role::leader) {
        // §5.2: a candidate votes for itself in the term it starts; a leader won that election.
        BALLOT_ASSERT(votedFor == id_, "a candidate's or leader's vote in its term is for itself");
        BALLOT_ASSERT(currentTerm >= 1, "a candidate or leader is in a term >= 1");
    }
    if (role_ == Role::pre_candidate || role_ == Role::candidate)
        BALLOT_ASSERT(leader_ == kNoNode, "a (pre-)candidate knows no leader");

    if (role_ != Role::leader) {
        BALLOT_ASSERT(progress_.empty(), "only a leader keeps follower progress");
        BALLOT_ASSERT(pending_reads_.empty() && reads_waiting_commit_.empty(),
                      "only a leader holds ReadIndex reads (§6.4)");
    } else {
        check_leader_invariants();
    }

    // ---- follower reads ----
    BALLOT_ASSERT(forwarded_reads_.size() <= forwarded_reads_.limit(),
                  "forwarded reads bounded by max_pending_proposals");
    BALLOT_ASSERT(forwarded_reads_.size() == 0 || role_ != Role::leader,
                  "a leader has no reads forwarded to another leader");
}

// §7: the snapshot, the log's base and what was handed out to apply.
void Raft::check_snapshot_invariants() const {
    BALLOT_ASSERT(log_.base_index() <= snapshot_index_,
                  "the log is compacted only below a durable snapshot (base " + str(log_.base_index()) +
                      " > snapshot " + str(snapshot_index_) + ")");
    // Nothing at or below a snapshot (made or installed) is handed out again, and the next entry
    // handed out (lastApplied + 1) is still in the log.
    BALLOT_ASSERT(snapshot_index_ <= lastApplied,
                  "snapshot index <= lastApplied (" + str(snapshot_index_) + " > " + str(lastApplied) + ")");
    for (const auto& [peer, transfer] : transfers_) {
        BALLOT_ASSERT(transfer.index <= snapshot_index_ && transfer.index > 0,
                      "a transfer in flight sends a snapshot this node has");
        BALLOT_ASSERT(log_.base_index() <= transfer.index,
                      "never compacted past a transfer in flight (peer " + str(peer) + ": snapshot " +
                          str(transfer.index) + ", base " + str(log_.base_index()) + ")");
        BALLOT_ASSERT(transfer.elapsed_ticks < config_.snapshot_retry_ticks,
                      "a transfer not reported within snapshot_retry_ticks is retried");
    }
    if (std::optional<Index> needs = catch_up_holds_.floor())
        BALLOT_ASSERT(log_.base_index() < *needs, "never compacted past what a catching-up follower needs");
    if (role_ == Role::leader) {
        for (const auto& [id, pr] : progress_)
            BALLOT_ASSERT(pr.state() != Progress::State::snapshot || transfers_.contains(id),
                          "a follower waits for a snapshot only while a transfer to it is in flight");
    }
}

void Raft::check_leader_invariants() const {
    BALLOT_ASSERT(progress_.size() == members_.peers().size(), "a leader tracks progress for every peer");
    for (NodeId peer : members_.peers()) BALLOT_ASSERT(progress_.contains(peer), "... and only for them");
    BALLOT_ASSERT(pending_config_index_ <= log_.last_index(), "a pending configuration entry is in the log");
    const Index last = log_.last_index();
    // §8: the no-op appended at the start of the term is in the log (and never truncated).
    BALLOT_ASSERT(log_.last_term() == currentTerm, "a leader's log ends in its own term (its no-op, §8)");
    BALLOT_ASSERT(own_durable_index_ <= last, "a leader's own durable index <= last log index");
    for (const auto& [id, pr] : progress_) {
        // Built only when a check fails (BALLOT_ASSERT evaluates its message lazily).
        auto who = [&, id = id, &pr = pr] {
            return " (peer " + str(id) + ": match " + str(pr.matchIndex) + ", next " + str(pr.nextIndex) +
                   ", last " + str(last) + ")";
        };
        BALLOT_ASSERT(pr.matchIndex < pr.nextIndex, "matchIndex < nextIndex" + who());
        BALLOT_ASSERT(pr.nextIndex <= last + 1, "nextIndex <= last log index + 1" + who());
        BALLOT_ASSERT(pr.inflight() <= pr.max_inflight(),
                      "in-flight AppendEntries within the window" + who());
        BALLOT_ASSERT(pr.read_context_acked <= read_context_, "a peer acknowledged only read contexts sent");
    }
    std::uint64_t previous = 0;
    for (const PendingRead& r : pending_reads_) {
        BALLOT_ASSERT(r.context >= previous, "pending reads ordered by context (§6.4)");
        BALLOT_ASSERT(r.context <= read_context_, "a pending read's context was handed out");
        BALLOT_ASSERT(r.read_index <= commitIndex, "a read index is a commit index of this leader");
        previous = r.context;
    }
    BALLOT_ASSERT(pending_reads_.empty() || committed_in_current_term(),
                  "a read is confirmed only after the leader committed in its term (§6.4 step 1)");
    BALLOT_ASSERT(pending_reads_.size() + reads_waiting_commit_.size() <= config_.max_pending_proposals,
                  "leader reads bounded by max_pending_proposals");
}

}  // namespace ballot::raft
