// Membership change by α-reconfiguration (README "Membership change"; Lamport's α as in Paxos Made
// Moderately Complex §3; the configuration history is multipaxos/configs.h).
//
//   MEMBER ADD/PROMOTE/REMOVE -> propose_config_change(): a follower passes it on to its leader
//     (ForwardChange, as it passes a write with Forward); the leader checks it may start one now
//     (refuse_change_now), makes the command (the change and the whole new configuration) and
//     queues it like any command, or answers a forwarded one with its refusal (ForwardRefused)
//   chosen in slot s and delivered -> the learner records that it governs from s + α on; the leader
//     fills the slots up to s + α - 1 with no-ops so that it does at once (replication.cc).
//     configuration() reports it from now on (INFO, MEMBER LIST: the committed configuration, as
//     Raft and basic Paxos report theirs), and the runtime connects to a member it adds
//     (members_to_connect)
//   every slot up to s + α - 1 chosen -> refresh_membership(): the new configuration governs the
//     next slot; quorums are counted over it, the runtime lets go of a member it removed, a
//     leader it removed steps down (handing over with TakeOver), and the node the change was
//     submitted at answers it (configuration_in_effect)
//   a learner to promote that has caught up -> tick_auto_promotion() proposes its promotion
//
// One change at a time: a change chosen but not yet governing still counts as in flight. And the
// Multi-Paxos form of the 2015 guard: a leader proposes a change only once every value its phase 1
// adopted is chosen and applied (Leader::settled), so a change an earlier leader left half-way is
// part of the configuration the new change is made to.
#include <algorithm>

#include "common/assert.h"
#include "common/command.h"
#include "multipaxos/multipaxos.h"

namespace ballot::multipaxos {

namespace {

// As Raft (raft/membership.cc): a learner added to be promoted is caught up when its chosen prefix
// is within this many slots of the leader's, and is promoted once it has stayed so for the maximum
// election timeout.
constexpr Index kPromotionLagSlots = 1000;

}  // namespace

// ---------------------------------------------------------------- proposing a change

// What a node that is not the leader answers a forwarded request: its sender took it for the leader
// and will learn the real one soon, so it may ask again (the runtime retries "; try again").
std::string MultiPaxos::forwarded_to_a_non_leader() const {
    return "node " + std::to_string(members_.self()) +
           ", to which it was forwarded, is not the leader; try again";
}

std::optional<std::string> MultiPaxos::propose_config_change(std::uint64_t request_id, std::string request) {
    if (!leader_ && known_leader_ != kNoNode) {
        send(known_leader_, ForwardChange{request_id, std::move(request)});
        return std::nullopt;
    }
    return place_config_change(std::move(request));
}

void MultiPaxos::on(NodeId from, const ForwardChange& m) {
    std::optional<std::string> refused =
        active_leader() ? place_config_change(m.request, from) : forwarded_to_a_non_leader();
    if (refused) send(from, ForwardRefused{m.request_id, std::move(*refused)});
}

bool MultiPaxos::change_in_flight() const {
    // Chosen, not governing yet: the slots before it takes effect are still being decided.
    if (configs_.latest_from() > learner_.commit_index() + 1) return true;
    // Proposed by this leader, not chosen yet.
    return change_placed_ && configs_.latest_from() == change_placed_from_;
}

std::optional<std::string> MultiPaxos::refuse_change_now() const {
    if (!active_leader())
        return known_leader_ != kNoNode ? "not the leader: node " + std::to_string(known_leader_) + " leads"
                                        : std::string("no leader known; try again");
    if (change_in_flight()) return std::string("a membership change is still in progress; try again");
    if (transfer_target_ != kNoNode) return std::string("a leadership transfer is under way; try again");
    if (!leader_->settled() && !config_.unsafe_skip_config_change_guard)
        return std::string("the leader has not had every value its phase 1 adopted chosen yet; try again");
    return std::nullopt;
}

std::optional<std::string> MultiPaxos::place_config_change(std::string request, NodeId origin) {
    if (auto refused = refuse_change_now()) return refused;
    std::string why;
    std::optional<std::string> command = make_config_entry_command(request, configs_.latest(), why);
    if (!command) return why;
    const std::optional<ConfigEntry> entry = config_entry_of(*command);
    BALLOT_ASSERT(entry.has_value(), "the command made from a request carries its configuration");
    // A learner is promoted only once it has caught up, as in Raft (raft/membership.cc).
    if (entry->change.kind == ConfigChange::Kind::promote && !learner_caught_up(entry->change.id))
        return "node " + std::to_string(entry->change.id) +
               " has not caught up with the leader yet (it knows " +
               std::to_string(leader_->peer_chosen(entry->change.id)) + " chosen of " +
               std::to_string(learner_.commit_index()) + "); try again";
    // Refuse a change that would leave fewer reachable voters than its quorum (etcd's strict
    // reconfiguration check, as Raft): it could never govern, and would stall the cluster behind it.
    const std::size_t reachable = leader_->reachable_voters(entry->config, now_);
    if (auto refused = entry->config.refuse_unreachable(reachable, voter_quorum(entry->config)))
        return refused;
    if (leader_->propose(std::move(*command), origin) != ProposeResult::accepted)
        return std::string("the leader is overloaded; try again");
    change_placed_ = true;
    change_placed_from_ = configs_.latest_from();
    return std::nullopt;
}

// Near the leader, and knowing the slot of the newest configuration's command, which made it a
// member: with a short log "near" alone holds of a learner that has learned nothing.
bool MultiPaxos::learner_caught_up(NodeId id) const {
    const Index peer_chosen = leader_->peer_chosen(id);
    return peer_chosen + kPromotionLagSlots >= learner_.commit_index() &&
           peer_chosen + kAlpha >= configs_.latest_from();
}

void MultiPaxos::tick_auto_promotion() {
    if (!active_leader()) return;
    for (const Member& m : configs_.latest().members()) {
        if (!m.auto_promote || m.role != MemberRole::learner) continue;
        std::uint32_t& ticks = caught_up_ticks_[m.id];
        ticks = learner_caught_up(m.id) ? ticks + 1 : 0;
        if (ticks < config_.election_timeout_max_ticks || refuse_change_now()) continue;
        // An engine-made command carries no client session (client id 0): nobody waits for it.
        const ConfigChange promote{ConfigChange::Kind::promote, m.id, "", false};
        place_config_change(encode_command(Command{0, 0, 0, encode_config_request(promote)}));
        return;  // one change at a time
    }
}

// ---------------------------------------------------------------- a change governs

// Called after every input: the configuration governing the first unchosen slot may have changed
// (the chosen prefix passed s + α - 1), or a new one been chosen.
void MultiPaxos::refresh_membership() {
    const Index since = configs_.governing_since(learner_.commit_index() + 1);
    if (since == governing_since_ && configs_.latest_from() == configs_seen_from_) return;  // the usual case
    const Configuration& governing = configs_.at(learner_.commit_index() + 1);
    governing_since_ = since;
    if (!governing.empty() && governing != members_.configuration())
        members_ = Membership(members_.self_id(), governing);
    configs_seen_from_ = configs_.latest_from();
    std::erase_if(caught_up_ticks_, [&](const auto& e) { return !configs_.latest().contains(e.first); });
    if (!leader_) return;
    leader_->track_peers(now_);
    if (members_.self_is_voter()) return leader_->extend_phase1(now_);
    // Its removal governs (dissertation §4.2.2's rule, here at s + α): it managed the cluster until
    // now. It asks the voter that holds the most to run phase 1 at once rather than leave the rest
    // to wait out an election timeout, then steps down for good (may_lead() is false from now on).
    NodeId heir = active_leader() ? leader_->best_successor() : kNoNode;
    if (heir != kNoNode) send(heir, TakeOver{leader_->ballot()});
    step_down();
}

// The members of every configuration governing a slot not known chosen: the one governing now
// until the latest governs, then the latest alone. The latest's entry of a member in both.
std::vector<Member> MultiPaxos::members_to_connect() const {
    std::vector<Member> members = configs_.latest().members();
    for (const Member& m : members_.configuration().members())
        if (!configs_.latest().contains(m.id)) members.push_back(m);
    std::sort(members.begin(), members.end(), [](const Member& a, const Member& b) { return a.id < b.id; });
    return members;
}

// The latest configuration governs the first unchosen slot: every slot below s + α is chosen.
bool MultiPaxos::configuration_in_effect() const {
    return configs_.latest().empty() || configs_.latest_from() <= learner_.commit_index() + 1;
}

void Leader::track_peers(std::uint64_t now) {
    const std::vector<NodeId> ids = configs_.members_from(learner_.commit_index() + 1);
    for (NodeId id : ids) {
        if (id == members_.self() || peers_.count(id) > 0) continue;
        Peer& peer = peers_[id];
        // Never past the slots this leader assigned: a leader in phase 1 that installed a snapshot
        // knows a chosen prefix beyond them (begin_phase2 moves every peer on from there).
        peer.next = std::min(learner_.commit_index() + 1, next_slot_);
        peer.heard_tick = now;  // taken as reachable for a timeout from now, as Raft's new peers
    }
    std::erase_if(peers_,
                  [&](const auto& p) { return !std::binary_search(ids.begin(), ids.end(), p.first); });
}

std::size_t Leader::reachable_voters(const Configuration& next, std::uint64_t now) const {
    std::size_t reachable = 0;
    for (NodeId voter : next.voters()) {
        auto it = peers_.find(voter);
        if (voter == members_.self() ||
            (it != peers_.end() && now < it->second.heard_tick + config_.election_timeout_max_ticks))
            ++reachable;
    }
    return reachable;
}

Index Leader::peer_chosen(NodeId id) const {
    auto it = peers_.find(id);
    return it == peers_.end() ? 0 : it->second.chosen;
}

NodeId Leader::best_successor() const {
    NodeId best = kNoNode;
    for (NodeId voter : members_.voter_peers())
        if (best == kNoNode || peer_chosen(voter) > peer_chosen(best)) best = voter;
    return best;
}

}  // namespace ballot::multipaxos
