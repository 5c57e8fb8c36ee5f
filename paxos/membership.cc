// Membership change in basic Paxos: Lamport's α-reconfiguration (Paxos Made Moderately Complex §3;
// README "Membership change"), single-server changes on the shared configuration of
// common/configuration.h, one at a time.
//
//   MEMBER ADD/PROMOTE/REMOVE -> propose_config_change(): a voter with no change of its own in
//     flight and none pending in its chosen prefix makes the entry (the change and the whole new
//     configuration) against its newest configuration and proposes it like any command; there is
//     no leader to forward it to
//   the entry is chosen in slot s -> follow_chosen_prefix(), in slot order on every node: it takes
//     effect (Configurations::chosen) and governs slots from s + α on; its proposer fills the slots
//     up to there at once, so the change governs promptly. A void entry (made to a configuration
//     that no longer governed its slot) is handed out as a no-op, and its proposer re-derives
//   a learner added without LEARNER that has caught up -> tick_auto_promotion() on the lowest-id
//     reachable voter proposes its promotion
#include <algorithm>

#include "common/assert.h"
#include "common/command.h"
#include "paxos/paxos.h"

namespace ballot::paxos {

namespace {

// A learner to promote is caught up when no request of its (ChosenRequest, SnapshotRequest) has
// shown it more than this many slots behind this node's prefix for an election timeout: a learner
// that keeps up asks for nothing. As Raft's kPromotionLagEntries.
constexpr Index kPromotionLagSlots = 1000;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Proposing a change

std::optional<std::string> Paxos::refuse_change_now() const {
    const Membership& newest = configs_.newest();
    if (!newest.self_is_voter())
        return "node " + std::to_string(configs_.self()) +
               " is not a voter: in basic Paxos only voters propose; send the change to a voter";
    if (change_) return std::string("a membership change proposed here is still in progress; try again");
    // One at a time: a change chosen and not yet governing is still in progress. (The guard's
    // other half is Configurations::chosen: a change made to a configuration that does not govern
    // its slot is void, whoever proposed it, so a stale view here costs a retry, never safety.)
    if (configs_.change_pending() && !config_.unsafe_skip_config_change_guard)
        return "a membership change is still in progress (chosen in slot " +
               std::to_string(configs_.newest_chosen_in()) + ", governs from slot " +
               std::to_string(configs_.newest_from()) + "); try again";
    return std::nullopt;
}

bool Paxos::reachable(NodeId id) const {
    if (id == configs_.self()) return true;
    auto it = last_heard_.find(id);
    // Every live node probes every probe interval (a read round to the voters), so a peer silent
    // for two of them is taken as down.
    return it != last_heard_.end() && now_ - it->second < 2 * std::uint64_t{tuning_.probe_interval_ticks};
}

// Refuse a change that would leave fewer reachable voters than its quorum (etcd's strict
// reconfiguration check): it could never take effect, and would stall the cluster behind it. Until
// the change governs, the old configuration decides slots s .. s+α-1, and the runtime stops talking
// to a removed node once the removal is chosen: so the voters left must make a quorum of the old
// configuration too.
std::optional<std::string> Paxos::refuse_unreachable(const Configuration& next) const {
    std::size_t reachable_voters = 0;
    for (NodeId voter : next.voters()) reachable_voters += reachable(voter) ? 1 : 0;
    const std::size_t quorum =
        std::max(next.voters().size() / 2 + 1, configs_.newest().configuration().voters().size() / 2 + 1);
    return next.refuse_unreachable(reachable_voters, quorum);
}

std::optional<std::string> Paxos::propose_config_change(std::uint64_t request_id, std::string request) {
    std::optional<std::string> refused = place_change(request_id, request);
    use_window();
    return refused;
}

std::optional<std::string> Paxos::place_change(std::uint64_t request_id, const std::string& request) {
    if (auto refused = refuse_change_now()) return refused;
    std::string why;
    std::optional<std::string> command = make_config_entry_command(request, configuration(), why);
    if (!command) return why;
    const std::optional<ConfigEntry> entry = config_entry_of(*command);
    BALLOT_ASSERT(entry.has_value(), "the entry made from a request carries its configuration");
    if (auto refused = refuse_unreachable(entry->config)) return refused;
    if (proposer_.propose(*command) != ProposeResult::accepted)
        return std::string("this node's proposal queue is full; try again");
    change_ = OwnChange{request_id, std::move(*command)};
    return std::nullopt;
}

// This node's change is settled: chosen and in effect, or not (a retryable refusal goes back to
// the runtime, which asks again: the change is then made to the configuration of that time).
void Paxos::settle_change(bool chosen, const std::string& why) {
    if (!chosen && change_->request_id != 0) refusals_.push_back(ForwardedRefusal{change_->request_id, why});
    change_.reset();
}

// Whether the configuration `entry_command` results in is the newest one: the change was made
// (this entry, or the same change by another node), though this node did not see it chosen.
bool Paxos::made(const std::string& entry_command) const {
    const std::optional<ConfigEntry> entry = config_entry_of(entry_command);
    return entry && entry->config == configuration();
}

void Paxos::settle_dropped_changes() {
    for (const std::string& dropped : proposer_.take_dropped_changes())
        if (change_ && dropped == change_->entry)
            settle_change(made(dropped), "the membership change lost its slot to another value; try again");
}

// A snapshot was installed: this node's change, if no longer in hand, may have been chosen in a slot
// the snapshot covers, which it will never see handed out.
void Paxos::settle_covered_change() {
    if (change_ && !proposer_.holds(change_->entry))
        settle_change(made(change_->entry), "the membership change's slot is in a snapshot; try again");
}

// ---------------------------------------------------------------------------------------------
// Following the chosen prefix

// Every configuration entry in the chosen prefix, in slot order, on every node alike.
void Paxos::follow_chosen_prefix() {
    while (configs_.through() < learner_.commit_index()) {
        const Index slot = configs_.through() + 1;
        const std::string* value = learner_.chosen(slot);
        BALLOT_ASSERT(value != nullptr, "paxos: the chosen prefix is known up to the commit index");
        const bool own = change_ && *value == change_->entry;
        switch (configs_.chosen(slot, *value, !config_.unsafe_skip_config_change_guard)) {
            case Configurations::Effect::none:
                break;
            case Configurations::Effect::void_entry:
                void_slots_.insert(slot);
                if (own)
                    settle_change(false, "the membership change was overtaken by another one; try again");
                break;
            case Configurations::Effect::applied:
                // New commands go where the change governs; the slots before it are in use, so
                // gap filling sees them decided, and the change's proposer fills them at once.
                proposer_.observe(slot + kAlpha - 1);
                if (own) {
                    fill_until_ = std::max(fill_until_, slot + kAlpha - 1);
                    settle_change(true, {});
                }
                break;
        }
    }
}

// A snapshot (recovered at start, or installed) covers the slot a change was chosen in, and the
// change does not govern yet: follow_chosen_prefix() never sees its entry here, so mark the slots
// before it governs in use as it would. Without this, after crashes that restarted nodes from
// snapshots past the entry, no node knew the α-range was reserved: nobody filled it, new commands
// took its slots one by one (a new voter, a learner there, could propose none), and the change
// would govern only once ~1,000 commands had been chosen (simulator seed 492 with membership
// changes: "promote 4" chosen in slot 3332, commit stuck below 3800 for 20 s after the heal).
void Paxos::reserve_pending_change() {
    if (configs_.change_pending()) proposer_.observe(configs_.newest_from() - 1);
}

// Messages from members of any configuration in the history: a slot still governed by an older
// one needs its voters' answers. A node that knows none (--join, not added yet) hears anyone: the
// first Learn it gets comes from the proposers of the cluster that added it. And chosen values
// (Learn, ChosenValues) from anyone: a chosen value stays chosen whoever tells it (§2.3). A member
// that was away while every peer it knew was replaced learns the rest of the log from the nodes
// that replaced them, whom it does not know yet (simulator seed 151248: node 3, back at slot 590
// with nodes 1, 2 and 4 long removed, dropped every message of nodes 5 and 6 for 20 s). And a
// request for chosen values from anyone: the answer is facts too, promises nothing, and hearing
// the asker tells this node who is up, the one that may hold what it lacks (simulator seed
// 884100497: node 1, back at slot 3431 knowing only voters 3 and 5, both dead, dropped every
// message of the replaced node 2, the only node up that could send it the snapshot it needed,
// and each waited for the other for 20 s).
bool Paxos::accepts_from(NodeId from, const std::vector<Message>& messages) const {
    if (configs_.knows(from) || configs_.newest().configuration().empty()) return true;
    return std::all_of(messages.begin(), messages.end(), [](const Message& m) {
        return std::holds_alternative<Learn>(m) || std::holds_alternative<ChosenValues>(m) ||
               std::holds_alternative<ChosenRequest>(m);
    });
}

// A node that joined (--join) answers as an acceptor only in slots it knows it is an acceptor of:
// a replaced node relearning the log meets configurations that name its id for its old data dir,
// whose promises died with the disk (common/configuration.h, SelfId), and a proposer that still
// counts that acceptor must not get this node's answer for it. Proposers ask voters only, and a
// learner is promoted only once it has caught up.
bool Paxos::acceptor_of(Index slot) const {
    if (!config_.join) return true;
    // find(), not at(): a slot below the history this node holds (it began at a snapshot) has no
    // configuration here, and this node is no acceptor it knows of there.
    const Membership* config = configs_.find(slot);
    return config != nullptr && config->self_is_voter();
}

// ---------------------------------------------------------------------------------------------
// Auto promotion of learners added without LEARNER

// What a peer's request shows of its known prefix: far behind, it is not caught up.
void Paxos::note_progress(NodeId peer, Index known) {
    if (known + kPromotionLagSlots < learner_.commit_index()) lagging_[peer] = true;
}

// Some node must promote, and without a leader it is the lowest-id voter this node can reach
// (deterministic given what it hears; two that both think so propose the same change, and the
// later one is refused or void). Once per tick at most one change.
void Paxos::tick_auto_promotion() {
    const Membership& newest = configs_.newest();
    if (!newest.self_is_voter()) return;
    for (NodeId voter : newest.voters())
        if (voter < configs_.self() && reachable(voter)) return;  // a lower one is promoting
    for (const Member& m : newest.configuration().members()) {
        if (!m.auto_promote) continue;
        std::uint32_t& ticks = caught_up_ticks_[m.id];
        ticks = reachable(m.id) && !lagging_[m.id] ? ticks + 1 : 0;
        lagging_[m.id] = false;
        if (ticks < config_.election_timeout_max_ticks || refuse_change_now()) continue;
        // An engine-made command carries no client session (client id 0): nobody waits for it.
        const ConfigChange promote{ConfigChange::Kind::promote, m.id, "", false};
        place_change(0, encode_command(Command{0, 0, 0, encode_config_request(promote)}));
        return;
    }
    std::erase_if(caught_up_ticks_, [&](const auto& e) { return !newest.contains(e.first); });
    std::erase_if(lagging_, [&](const auto& e) { return !newest.contains(e.first); });
}

}  // namespace ballot::paxos
