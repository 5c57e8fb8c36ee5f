// Membership change: single-server changes (Ongaro's dissertation §4.1) and learners, on the
// shared configuration of common/configuration.h.
//
//   MEMBER ADD/PROMOTE/REMOVE -> propose_config_change(): a follower passes it on to its leader
//     (ForwardChange, as it passes a write with Propose); the leader checks it may start one now
//     (refuse_change_now), makes the entry (the change and the whole new configuration) and
//     appends it like any command, or answers a forwarded one with its refusal (ForwardRefused)
//   the entry is committed and handed out -> apply_configuration(): it rules from then on, on
//     every server, at the same index ("taking effect when applied", as etcd-io/raft; the
//     dissertation's servers use a configuration as soon as it is in their log, which needs the
//     rollback on truncation that applying only committed entries avoids)
//   a learner to promote that has caught up -> tick_auto_promotion() proposes its promotion
//
// Why one change at a time is safe here (README "Membership change"): two configurations that
// differ by one server have overlapping majorities, so no two leaders of one term can be elected
// in them. The leader starts a change only once the previous one is applied (pending_config_index_)
// AND it has committed (and applied) an entry of its own term. Without the second rule a new
// leader makes a change to the configuration it has applied while an earlier leader's change sits
// uncommitted in its log below; both commit, and the second, made without the first, undoes it:
// the configuration moves by two servers at once, and majorities of the two need not overlap (the
// bug Ongaro reported to raft-dev in 2015, here in its apply-time form; test
// `membership_change_waits_for_the_leaders_first_commit`).
#include <algorithm>

#include "common/assert.h"
#include "common/command.h"
#include "raft/raft.h"

namespace ballot::raft {

namespace {

// A learner added to be promoted is caught up when its log is within this many entries of the
// leader's, and is promoted once it has stayed so for the maximum election timeout. Far enough
// for a learner that keeps up with a loaded leader's pipeline; near enough that the new voter
// never holds commitment back for long (etcd#3477).
constexpr Index kPromotionLagEntries = 1000;

// What a node that is not the leader answers a forwarded request: its sender took it for the
// leader and will learn the real one soon (an AppendEntries, an election), so it may ask again
// (the runtime retries a refusal ending "; try again", common/driver.h).
std::string no_longer_leader(NodeId self) {
    return "node " + std::to_string(self) + ", to which it was forwarded, is not the leader; try again";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Proposing a change

std::optional<std::string> Raft::refuse_change_now() const {
    if (role_ != Role::leader)
        return leader_ != kNoNode ? "not the leader: node " + std::to_string(leader_) + " leads"
                                  : std::string("no leader known; try again");
    if (pending_config_index_ != 0)
        return "a membership change is still in progress (entry " + std::to_string(pending_config_index_) +
               "); try again";
    if (transfer_target_ != kNoNode) return std::string("a leadership transfer is under way; try again");
    // The 2015 fix: once this term's first entry (its no-op, §8) is committed and applied, every
    // change an earlier leader left in our log is applied too (or was overwritten before), so the
    // new change is made to the configuration that really rules and differs from it by one server.
    if (lastApplied < term_start_index_ && !config_.unsafe_skip_config_change_guard)
        return std::string("the leader has not committed an entry of its term yet; try again");
    return std::nullopt;
}

std::optional<std::string> Raft::propose_config_change(std::uint64_t request_id, std::string request) {
    if (!forwards_to_leader()) return place_config_change(std::move(request));
    send(leader_, ForwardChange{request_id, std::move(request)});
    return std::nullopt;
}

void Raft::on(NodeId from, ForwardChange&& m) {
    std::optional<std::string> refused =
        role_ == Role::leader ? place_config_change(std::move(m.request)) : no_longer_leader(id_);
    if (refused) return send(from, ForwardRefused{m.request_id, std::move(*refused)});
    note_forwarded(from);
}

void Raft::on(NodeId /*from*/, ForwardRefused&& m) {
    refusals_.push_back(ForwardedRefusal{m.request_id, std::move(m.why)});
}

std::optional<std::string> Raft::place_config_change(std::string request) {
    if (auto refused = refuse_change_now()) return refused;
    std::string why;
    std::optional<std::string> command = make_config_entry_command(request, members_.configuration(), why);
    if (!command) return why;
    const std::optional<ConfigEntry> entry = config_entry_of(*command);
    BALLOT_ASSERT(entry.has_value(), "the entry made from a request carries its configuration");
    const Configuration& next = entry->config;
    // A learner is promoted only once it has caught up (etcd refuses to promote a learner not in
    // sync with the leader): a voter with an empty log may know no configuration after a restart,
    // and then votes for nobody (raft.cc), which stalled a cluster that counted it (simulator seed
    // 5225 with membership changes).
    if (entry->change.kind == ConfigChange::Kind::promote &&
        !learner_caught_up(progress_.at(entry->change.id)))
        return "node " + std::to_string(entry->change.id) +
               " has not caught up with the leader yet (it holds " +
               std::to_string(progress_.at(entry->change.id).matchIndex) + " of " +
               std::to_string(log_.last_index()) + "); try again";
    // Refuse a change that would leave fewer reachable voters than its quorum (etcd's strict
    // reconfiguration check): it could never commit, and would stall the cluster behind it.
    std::size_t reachable = 0;
    for (NodeId voter : next.voters()) {
        auto pr = progress_.find(voter);
        if (voter == id_ || (pr != progress_.end() &&
                             ticks_ - pr->second.last_heard_tick < config_.election_timeout_max_ticks))
            ++reachable;
    }
    if (auto refused = next.refuse_unreachable(reachable, next.voters().size() / 2 + 1)) return refused;
    log_.append(currentTerm, std::move(*command));
    append_pending_ = true;
    pending_config_index_ = log_.last_index();
    return std::nullopt;
}

// Near the leader, and holding the entry of the configuration in force, which made it a member:
// with a short log "near" alone holds of a learner that has nothing yet, which as a voter would not
// even know the voters whose elections it must answer (simulator seed 8).
bool Raft::learner_caught_up(const Progress& pr) const {
    return pr.matchIndex + kPromotionLagEntries >= log_.last_index() &&
           pr.matchIndex >= configs_.rbegin()->first;
}

void Raft::tick_auto_promotion() {
    for (const Member& m : members_.configuration().members()) {
        if (!m.auto_promote) continue;
        const Progress& pr = progress_.at(m.id);
        std::uint32_t& ticks = caught_up_ticks_[m.id];
        ticks = learner_caught_up(pr) ? ticks + 1 : 0;
        if (ticks < config_.election_timeout_max_ticks || refuse_change_now()) continue;
        // An engine-made command carries no client session (client id 0): nobody waits for it.
        const ConfigChange promote{ConfigChange::Kind::promote, m.id, "", false};
        place_config_change(encode_command(Command{0, 0, 0, encode_config_request(promote)}));
        return;  // one change at a time
    }
}

// ---------------------------------------------------------------------------------------------
// Leadership transfer (dissertation §3.10): the leader stops taking proposals, brings the target's
// log up to its own, and sends it TimeoutNow; the target campaigns at once and, its log being as
// up to date as any, wins. Aborted after an election timeout (the target may be down), when
// proposals resume. Entries still in flight to others are no risk: the target holds every entry
// the leader has, and the election restriction (§5.4.1) does the rest (redpanda#2606 lost
// transfers to entries the target lacked).

std::optional<std::string> Raft::transfer_leadership(std::uint64_t request_id, NodeId target) {
    if (!forwards_to_leader()) return start_transfer(target);
    send(leader_, ForwardTransfer{request_id, target});
    return std::nullopt;
}

void Raft::on(NodeId from, const ForwardTransfer& m) {
    std::optional<std::string> refused =
        role_ == Role::leader ? start_transfer(m.target) : no_longer_leader(id_);
    if (refused) send(from, ForwardRefused{m.request_id, std::move(*refused)});
}

std::optional<std::string> Raft::start_transfer(NodeId target) {
    if (role_ != Role::leader)
        return leader_ != kNoNode ? "not the leader: node " + std::to_string(leader_) + " leads"
                                  : std::string("no leader known; try again");
    if (target == id_) return std::nullopt;  // done already
    if (!members_.is_voter(target)) return "node " + std::to_string(target) + " is not a voter";
    if (transfer_target_ != kNoNode)
        return "a leadership transfer to node " + std::to_string(transfer_target_) + " is under way";
    transfer_target_ = target;
    transfer_elapsed_ = 0;
    maybe_send_timeout_now(target);
    if (transfer_target_ != kNoNode) send_append(target);  // catch it up first
    return std::nullopt;
}

void Raft::maybe_send_timeout_now(NodeId peer) {
    if (peer != transfer_target_ || progress_.at(peer).matchIndex != log_.last_index()) return;
    send(peer, TimeoutNow{currentTerm});
}

void Raft::tick_transfer() {
    if (transfer_target_ != kNoNode && ++transfer_elapsed_ >= config_.election_timeout_max_ticks)
        transfer_target_ = kNoNode;  // the target did not take over: lead on
}

void Raft::hand_over_on_removal() {
    NodeId best = kNoNode;
    for (NodeId voter : members_.voter_peers())
        if (best == kNoNode || progress_.at(voter).matchIndex > progress_.at(best).matchIndex) best = voter;
    if (best != kNoNode) send(best, TimeoutNow{currentTerm});
}

// ---------------------------------------------------------------------------------------------
// Applying a change

void Raft::apply_configuration(Index index, const std::string& data) {
    if (index <= configs_.rbegin()->first) return;  // applied already (recover_configuration)
    std::optional<ConfigEntry> entry = config_entry_of(data);
    if (!entry) return;
    if (index == pending_config_index_) pending_config_index_ = 0;
    // The commit hint goes to disk with this batch, before the runtime applies the entry: a
    // restart then finds the change applied (recover_configuration) and never runs on a
    // configuration two changes old.
    hard_state_dirty_ = true;
    use_configuration(index, std::move(entry->config));
}

void Raft::reset_configuration(Index index, Configuration config) {
    configs_.clear();
    pending_config_index_ = 0;
    use_configuration(index, std::move(config));
}

void Raft::use_configuration(Index index, Configuration config) {
    // A joining node knows no configuration until it applies the first entry that holds one (the
    // bootstrap configuration is not in the log): that one is where its history starts.
    if (members_.configuration().empty()) configs_.clear();
    configs_[index] = config;
    members_ = Membership(members_.self_id(), std::move(config));
    std::erase_if(caught_up_ticks_, [&](const auto& entry) { return !members_.contains(entry.first); });
    if (members_.self_is_voter()) {
        if (role_ == Role::leader) track_configured_peers();
        return;
    }
    // A server that is no longer a voter (removed, or never one) never campaigns or leads. A
    // removed leader steps down once its removal is committed (dissertation §4.2.2): it managed
    // the cluster until then. It hands over with TimeoutNow to the voter whose log is longest,
    // rather than leave the rest to wait out an election timeout.
    if (role_ == Role::leader) {
        track_configured_peers();
        hand_over_on_removal();
    }
    if (role_ != Role::follower) become_follower(currentTerm, kNoNode);
}

void Raft::track_configured_peers() {
    for (NodeId peer : members_.peers()) {
        auto [it, fresh] = progress_.try_emplace(peer, log_.last_index() + 1, config_.max_inflight_messages,
                                                 config_.initial_inflight_bytes, config_.max_inflight_bytes);
        // Taken as reachable for a timeout from now (a new leader has just had the votes of a
        // majority; etcd marks every follower RecentActive at becomeLeader likewise).
        if (fresh) it->second.last_heard_tick = ticks_;
    }
    std::erase_if(progress_, [&](const auto& entry) { return !members_.contains(entry.first); });
}

const Configuration& Raft::configuration_at(Index index) const {
    auto it = configs_.upper_bound(index);
    if (it == configs_.begin()) {
        // A node started with --join knows no configuration before the first entry it applied
        // (the bootstrap one is not in the log), and it may snapshot below it: that snapshot
        // carries none, and whoever loads it learns the configuration from the log after it
        // (simulator seed 2102 with membership changes stopped a joined node here).
        static const Configuration none;
        return none;
    }
    return std::prev(it)->second;
}

void Raft::forget_configurations_below(Index index) {
    // Keep the one that rules at `index`, the new snapshot's (none known: keep them all).
    auto ruling = configs_.upper_bound(index);
    if (ruling == configs_.begin()) return;
    configs_.erase(configs_.begin(), std::prev(ruling));
}

void Raft::recover_configuration(Index commit_hint) {
    if (configs_.empty()) configs_[snapshot_index_] = members_.configuration();  // bootstrap
    const Index through = std::min(commit_hint, log_.last_index());
    for (Index i = std::max(snapshot_index_, log_.base_index()) + 1; i <= through; ++i)
        if (auto entry = config_entry_of(log_.at(i).data)) use_configuration(i, std::move(entry->config));
}

std::uint64_t Raft::voter_quorum_value(std::uint64_t own, std::uint64_t (*value_of)(const Progress&)) const {
    std::vector<std::uint64_t> values;
    if (members_.self_is_voter()) values.push_back(own);
    for (NodeId voter : members_.voter_peers()) values.push_back(value_of(progress_.at(voter)));
    return members_.quorum_value(std::move(values));
}

}  // namespace ballot::raft
