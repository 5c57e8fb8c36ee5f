// Leadership transfer (README "Leadership transfer"). Paxos has no leader to hand over in the
// papers: a distinguished proposer leads until a higher ballot preempts it (PMS §3, PMMC
// "preempted"). A transfer is therefore a planned preemption: the leader stops taking proposals,
// lets every slot it proposed be decided, waits until the target reports holding everything
// chosen, and asks it (TakeOver) to run phase 1 at once, skipping the poll. The target's ballot
// is above every one it has seen, so its Prepare preempts the old leader, whose acceptor promises
// it like any other. Phase 1 keeps the transfer safe whatever happens meanwhile: a slot chosen
// under the old ballot is reported by every majority the target can assemble (PMS §2.2, P2c), so
// the drain and the catch-up only make the new leader's phase 1 short (one page from where the
// old leader stood), they are not needed for safety. Aborted after the maximum election timeout
// (the target may be down or cut off), when proposals resume.
#include "multipaxos/multipaxos.h"

namespace ballot::multipaxos {

// A follower that knows its leader passes the request on (SPEC: any node accepts MEMBER); the
// leader answers only a refusal, which comes back as Ready::refusals under `request_id`.
std::optional<std::string> MultiPaxos::transfer_leadership(std::uint64_t request_id, NodeId target) {
    if (!leader_ && known_leader_ != kNoNode) {
        send(known_leader_, ForwardTransfer{request_id, target});
        return std::nullopt;
    }
    return start_transfer(target);
}

void MultiPaxos::on(NodeId from, const ForwardTransfer& m) {
    std::optional<std::string> refused =
        active_leader() ? start_transfer(m.target) : forwarded_to_a_non_leader();
    if (refused) send(from, ForwardRefused{m.request_id, std::move(*refused)});
}

void MultiPaxos::on(NodeId /*from*/, const ForwardRefused& m) {
    refusals_.push_back(ForwardedRefusal{m.request_id, m.why});
}

std::optional<std::string> MultiPaxos::start_transfer(NodeId target) {
    if (!active_leader())
        return known_leader_ != kNoNode ? "not the leader: node " + std::to_string(known_leader_) + " leads"
                                        : std::string("no leader known; try again");
    if (target == members_.self()) return std::nullopt;  // done already
    if (!members_.is_voter(target)) return "node " + std::to_string(target) + " is not a voter";
    if (transfer_target_ != kNoNode)
        return "a leadership transfer to node " + std::to_string(transfer_target_) + " is under way";
    transfer_target_ = target;
    transfer_since_ = now_;
    take_over_sent_ = false;
    leader_->heartbeat(target);  // its answer reports its chosen prefix
    maybe_hand_over();
    return std::nullopt;
}

// Once the target holds everything: TakeOver, once. Until then proposals stay paused and the
// leader's Accepts, Chosen values and heartbeats bring the target up to date.
void MultiPaxos::maybe_hand_over() {
    if (transfer_target_ == kNoNode || take_over_sent_ || !active_leader()) return;
    if (!leader_->handed_all_to(transfer_target_)) return;
    take_over_sent_ = true;
    send(transfer_target_, TakeOver{leader_->ballot()});
}

void MultiPaxos::tick_transfer() {
    if (transfer_target_ == kNoNode) return;
    if (now_ - transfer_since_ >= config_.election_timeout_max_ticks) {
        transfer_target_ = kNoNode;  // the target did not take over: lead on
        return;
    }
    maybe_hand_over();
    // Not yet: ask the target for its chosen prefix every tick rather than every heartbeat
    // interval, so that the pause ends as soon as it has caught up.
    if (!take_over_sent_ && active_leader()) leader_->heartbeat(transfer_target_);
}

// Only from the leader this node follows, in the ballot it follows: a late or replayed TakeOver
// from an older ballot, or from a leader already replaced, is ignored. A learner never leads.
void MultiPaxos::on(NodeId from, const TakeOver& m) {
    if (leader_ || from != known_leader_ || m.ballot != known_leader_ballot_ || !may_lead()) return;
    start_phase1();
}

bool Leader::handed_all_to(NodeId id) const {
    auto it = peers_.find(id);
    return active() && pending_.empty() && queued_.empty() && it != peers_.end() &&
           it->second.chosen >= learner_.commit_index();
}

void Leader::heartbeat(NodeId id) {
    out_.send(id, Heartbeat{ballot_, learner_.commit_index(), read_seq_});
}

}  // namespace ballot::multipaxos
