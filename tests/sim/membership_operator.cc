#include "tests/sim/membership_operator.h"

#include <algorithm>
#include <utility>

namespace ballot::sim {

namespace {

constexpr std::uint64_t kMs = 1000;
// How often the operator looks at the committed configuration while an operation is in progress.
constexpr std::uint64_t kPollUs = 50 * kMs;
// A request unanswered for this long is taken as lost (the node crashed with it, or the runtime's
// request timeout is longer than the operator's patience) and the change is sent again.
constexpr std::uint64_t kPatienceUs = 6000 * kMs;
// The operator keeps at least this many voters, so the nodes in service always hold a quorum.
constexpr std::size_t kMinVoters = 3;

std::string name(NodeId id) {
    return std::to_string(id);
}

}  // namespace

MembershipOperator::MembershipOperator(const SimConfig& config, EventQueue& queue, SimCluster& cluster,
                                       const ConfigChecker& committed,
                                       std::function<void(const std::string&)> trace)
    : config_(config),
      queue_(queue),
      cluster_(cluster),
      committed_(committed),
      trace_(std::move(trace)),
      rng_(config.seed ^ 0x0B5E7A7013ull) {}

void MembershipOperator::trace(const std::string& line) const {
    if (trace_) trace_("OPERATOR " + line);
}

void MembershipOperator::start() {
    if (config_.membership_every_ms == 0 || config_.spares == 0) return;
    starting_ = true;
    schedule_next();
    watch();
}

void MembershipOperator::stop_starting() {
    starting_ = false;
}

std::string MembershipOperator::describe_progress() const {
    if (!op_) return "no membership change in progress";
    return "membership change \"" + op_->name + "\" still in progress at step " +
           std::to_string(op_->next + 1) + " of " + std::to_string(op_->steps.size()) + " (" +
           describe(op_->steps[op_->next].change) + ")";
}

void MembershipOperator::schedule_next() {
    const std::uint64_t every = config_.membership_every_ms;
    queue_.after(rng_.between(every / 2, every * 3 / 2) * kMs, [this] {
        if (!starting_) return;
        if (!op_) begin();
        schedule_next();
    });
}

// Picks an operation the committed configuration allows, uniformly among the kinds that are.
void MembershipOperator::begin() {
    // Not while a change (the leader's auto-promotion, say) is committed but does not govern yet.
    if (!settled()) return;
    reconcile();
    const Configuration* c = &committed_.current();
    for (const Member& m : c->members())
        if (ghost(*c, m.id)) {
            replace(m.id, "a late MEMBER ADD named a data dir since wiped");
            trace("begins \"" + op_->name + "\" in configuration " + c->str());
            queue_.after(kPollUs, [this] { drive(); });
            return;
        }
    std::vector<NodeId> spares;
    for (NodeId id : cluster_.all_nodes())
        if (!cluster_.in_service(id) && !c->contains(id)) spares.push_back(id);
    std::vector<std::function<void()>> kinds;
    if (!spares.empty()) kinds.push_back([&] { begin_add(spares); });
    if (!c->learners().empty()) kinds.push_back([&] { begin_promote(*c); });
    if (!c->learners().empty() || c->voters().size() > kMinVoters) kinds.push_back([&] { begin_remove(*c); });
    if (c->voters().size() >= kMinVoters) kinds.push_back([&] { begin_replace(*c); });
    if (kinds.empty()) return;
    kinds[rng_.between(0, kinds.size() - 1)]();
    trace("begins \"" + op_->name + "\" in configuration " + c->str());
    if (op_->steps.front().before) op_->steps.front().before();
    queue_.after(kPollUs, [this] { drive(); });
}

void MembershipOperator::begin_add(const std::vector<NodeId>& spares) {
    const NodeId id = pick(spares);
    ++stats_.adds;
    const bool auto_promote = rng_.chance(1, 2);
    Operation op;
    op.name = std::string("add ") + name(id) + (auto_promote ? "" : " LEARNER");
    op.steps.push_back(
        Step{ConfigChange{ConfigChange::Kind::add_learner, id, SimCluster::address_of(id), auto_promote},
             [id](const Configuration& c) { return c.contains(id); }, [this, id] { cluster_.commission(id); },
             nullptr});
    op_ = std::move(op);
}

void MembershipOperator::begin_promote(const Configuration& c) {
    const NodeId id = pick(c.learners());
    ++stats_.promotions;
    Operation op;
    op.name = "promote " + name(id);
    op.steps.push_back(Step{ConfigChange{ConfigChange::Kind::promote, id, {}, false},
                            [id](const Configuration& now) { return now.is_voter(id) || !now.contains(id); },
                            nullptr, nullptr});
    op_ = std::move(op);
}

void MembershipOperator::begin_remove(const Configuration& c) {
    std::vector<NodeId> candidates = c.learners();
    if (c.voters().size() > kMinVoters) {
        const std::vector<NodeId> voters = c.voters();
        candidates.insert(candidates.end(), voters.begin(), voters.end());
    }
    NodeId id = pick(candidates);
    // Half the time it may, the leader: it must hand over and step down (SPEC "MEMBER REMOVE").
    const std::vector<NodeId> leaders = cluster_.leaders();
    if (c.voters().size() > kMinVoters && !leaders.empty() && rng_.chance(1, 2)) {
        const NodeId leader = pick(leaders);
        if (c.is_voter(leader)) {
            id = leader;
            ++stats_.leader_removals;
        }
    }
    ++stats_.removals;
    Operation op;
    op.name = "remove " + name(id);
    op.steps.push_back(Step{ConfigChange{ConfigChange::Kind::remove, id, {}, false},
                            [id](const Configuration& now) { return !now.contains(id); }, nullptr,
                            [this, id] { retire(id); }});
    op_ = std::move(op);
}

// SPEC "Membership change": a node that lost its data dir is replaced by MEMBER REMOVE, wiping
// the dir, and MEMBER ADD of the same id and address, started with --join.
void MembershipOperator::begin_replace(const Configuration& c) {
    replace(pick(c.voters()), "its disk died");
}

void MembershipOperator::replace(NodeId id, const std::string& why) {
    ++stats_.replacements;
    Operation op;
    op.name = "replace " + name(id) + " (" + why + ")";
    op.steps.push_back(Step{ConfigChange{ConfigChange::Kind::remove, id, {}, false},
                            [id](const Configuration& now) { return !now.contains(id); },
                            [this, id] { retire(id); }, nullptr});
    // Done once the member is there with the data dir it runs on now (not a late copy of an
    // earlier addition, which names a data dir since wiped: a ghost, see begin()).
    op.steps.push_back(Step{ConfigChange{ConfigChange::Kind::add_learner, id, SimCluster::address_of(id), true},
                            [this, id](const Configuration& now) { return now.contains(id) && !ghost(now, id); },
                            [this, id] { cluster_.commission(id); }, nullptr});
    op_ = std::move(op);
}

// A member whose identity is not its node's data dir's: a late copy of an earlier MEMBER ADD
// added it after that dir was wiped (common/configuration.h, Member::identity). No process is
// that member, so it is a voter down for ever until an operator replaces it (INFO shows the node
// refused; in the simulator, begin() does).
bool MembershipOperator::ghost(const Configuration& c, NodeId id) const {
    const Member* m = c.find(id);
    return m != nullptr && m->identity != 0 && m->identity != cluster_.identity_of(id);
}

// The committed configuration governs, and a majority of its voters know every index before the
// one it governs from is chosen (they applied it). Only then may a node it removed be stopped: a new
// leader recovers from its own chosen prefix on, and below the point the new configuration governs
// that takes a quorum of the OLD one (the Paxos engines: α slots), whose removed members may be all
// that know what was chosen there (multipaxos seed 1021: a removed node and a wiped one were).
bool MembershipOperator::settled() const {
    const Configuration& c = committed_.current();
    const Index through = committed_.current_governs_from() - 1;
    std::size_t know = 0;
    for (NodeId id : c.voters())
        if (cluster_.applied(id) >= through) ++know;
    return know >= c.voters().size() / 2 + 1;
}

// A late copy of an old request may change the configuration behind the operator's back: a
// MEMBER REMOVE answered "not done" whose forwarded copy a slow link delivered after the operator
// had added the node again (raft seed 1157), or an old MEMBER ADD arriving after the node was
// removed and wiped (raft seed 3259). As an operator who reads MEMBER LIST would, it retires a node
// in service the configuration no longer holds, and starts (with --join, its data dir wiped when
// it was retired) a member that is out of service.
void MembershipOperator::reconcile() {
    if (op_ || !settled()) return;
    const Configuration& c = committed_.current();
    for (NodeId id : cluster_.all_nodes()) {
        if (cluster_.in_service(id) && !c.contains(id)) {
            trace("node " + name(id) + " left the configuration behind the operator's back; it is retired");
            retire(id);
        } else if (!cluster_.in_service(id) && c.contains(id)) {
            trace("node " + name(id) + " joined the configuration behind the operator's back; it is started");
            cluster_.commission(id);
        }
    }
}

// While the run lasts (the liveness phase too, when no operation starts): reconcile().
void MembershipOperator::watch() {
    queue_.after(4 * kPollUs, [this] {
        reconcile();
        watch();
    });
}

void MembershipOperator::retire(NodeId id) {
    cluster_.decommission(id);
    cluster_.wipe(id);
}

// Every kPollUs while an operation is in progress: moves to the next step once the committed
// configuration shows this one, and (re)sends the change when no request is out.
void MembershipOperator::drive() {
    if (!op_) return;
    queue_.after(kPollUs, [this] { drive(); });
    const Configuration* c = &committed_.current();
    // A change is done once it is settled (settled()): a node it removes is not stopped, and the next change
    // not begun, while the configuration before it still decides (the Paxos engines: α slots on).
    const bool governs = settled();
    while (governs && op_->steps[op_->next].done(*c)) {
        Step& step = op_->steps[op_->next];
        trace("\"" + op_->name + "\": " + describe(step.change) + " is in the committed configuration " +
              c->str());
        if (step.after) step.after();
        ++op_->attempt;
        op_->waiting = false;
        if (++op_->next == op_->steps.size()) {
            ++stats_.completed;
            op_.reset();
            return;
        }
        if (op_->steps[op_->next].before) op_->steps[op_->next].before();
    }
    // The member it is adding is there already, as a ghost (begin()): it is removed first.
    const ConfigChange& next = op_->steps[op_->next].change;
    if (governs && !op_->waiting && next.kind == ConfigChange::Kind::add_learner && ghost(*c, next.id)) {
        const NodeId id = next.id;
        replace(id, "a late MEMBER ADD named a data dir since wiped");
        trace("begins \"" + op_->name + "\" in configuration " + c->str());
    }
    if (!op_->waiting) send(op_->steps[op_->next]);
}

// To a member in service that is up (any node accepts any command, SPEC; a follower forwards it
// to its leader), never to the node being added: it knows no leader yet.
void MembershipOperator::send(const Step& step) {
    std::vector<NodeId> via;
    for (NodeId id : cluster_.up_nodes())
        if (id != step.change.id && committed_.current().contains(id)) via.push_back(id);
    if (via.empty()) return;
    const NodeId to = pick(via);
    const std::uint64_t attempt = ++op_->attempt;
    op_->waiting = true;
    ++stats_.requests;
    trace("sends " + describe(step.change) + " to node " + name(to));
    cluster_.change_membership(to, step.change, [this, to, attempt](const Outcome& o) {
        if (o.status != Outcome::Status::ok) ++stats_.refused;
        trace("node " + name(to) + " answers: " +
              (o.status == Outcome::Status::ok ? std::string("+OK") : "not done (" + o.reply + ")"));
        if (op_ && op_->attempt == attempt) op_->waiting = false;
    });
    queue_.after(kPatienceUs, [this, attempt] {
        if (op_ && op_->attempt == attempt) op_->waiting = false;
    });
}

}  // namespace ballot::sim
