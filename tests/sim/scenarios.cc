#include "tests/sim/scenarios.h"

#include <algorithm>
#include <stdexcept>

#include "engines/registry.h"
#include "tests/sim/figure_scenarios.h"

namespace ballot::sim {

constexpr std::uint64_t kMs = 1000;

void calm(SimConfig& c) {
    c.safety_ms = 3000;
    c.tail_per_10k = 0;
    c.loss_per_10k = 0;
    c.dup_per_10k = 0;
    c.replay_per_10k = 0;
    c.slow_link_per_10k = 0;
    c.stale_leader_every_ms = 0;
    c.spares = 0;  // no membership operator: a scenario scripts its own faults
    c.membership_every_ms = 0;
    c.delay_max_us = std::min(c.delay_max_us, c.delay_min_us + 4000);
    std::fill(c.disk_slowness.begin(), c.disk_slowness.end(), 1);
    c.tick_us = 10 * kMs;
    c.engine.election_timeout_min_ticks = 15;
    c.engine.election_timeout_max_ticks = 30;
    c.engine.heartbeat_ticks = 5;
    // Two clients that think up to 100 ms between operations: a few arrows per 10 ms, not dozens.
    c.clients = 2;
    c.think_max_ms = 100;
}

std::string node_name(NodeId id) {
    return "n" + std::to_string(id);
}

NodeId current_leader(SimCluster& cluster) {
    NodeId best = kNoNode;
    Epoch best_epoch;
    for (NodeId id : cluster.leaders()) {
        Epoch e = cluster.status(id)->epoch;
        if (best == kNoNode || best_epoch < e) best = id, best_epoch = e;
    }
    return best;
}

void when(ScenarioContext& ctx, std::uint64_t every_us, std::uint64_t give_up_us, std::string what,
          std::function<bool()> ready, std::function<void()> then) {
    if (ready()) return then();
    if (ctx.queue.now_us() >= give_up_us) return ctx.note("scenario: gave up waiting until " + what);
    ctx.queue.after(every_us, [&ctx, every_us, give_up_us, what = std::move(what), ready = std::move(ready),
                               then = std::move(then)]() mutable {
        when(ctx, every_us, give_up_us, std::move(what), std::move(ready), std::move(then));
    });
}

namespace {

constexpr std::uint64_t kPollUs = 5 * kMs;

// Calls `then` with the leader from `not_before_us` on, as soon as there is one; at `give_up_us`
// with node 1 instead (basic Paxos has no leader: every node proposes).
void with_leader(ScenarioContext& ctx, std::uint64_t not_before_us, std::uint64_t give_up_us,
                 std::function<void(NodeId)> then) {
    ctx.queue.at(not_before_us, [&ctx, give_up_us, then = std::move(then)] {
        NodeId leader = current_leader(ctx.cluster);
        if (leader != kNoNode) return then(leader);
        if (ctx.queue.now_us() >= give_up_us) {
            ctx.note("scenario: no node leads; node 1 stands in for the leader");
            return then(1);
        }
        with_leader(ctx, ctx.queue.now_us() + kPollUs, give_up_us, then);
    });
}

void leader_crash(ScenarioContext& ctx) {
    with_leader(ctx, 600 * kMs, 1000 * kMs, [&ctx](NodeId leader) {
        ctx.note("scenario: crash the leader, " + node_name(leader) + "; it restarts in 700 ms");
        ctx.cluster.crash(leader, /*torn=*/false);
        ctx.queue.after(700 * kMs, [&ctx, leader] { ctx.cluster.restart(leader); });
    });
}

void partition(ScenarioContext& ctx) {
    with_leader(ctx, 600 * kMs, 1000 * kMs, [&ctx](NodeId leader) {
        ctx.note("scenario: cut the leader, " + node_name(leader) + ", off from every other node for 800 ms");
        for (NodeId other : ctx.cluster.members())
            if (other != leader) ctx.cluster.network().cut_both(leader, other);
        ctx.queue.after(800 * kMs, [&ctx] {
            ctx.note("scenario: heal the network");
            ctx.cluster.network().heal();
        });
    });
}

void slow_disk(ScenarioContext& ctx) {
    with_leader(ctx, 500 * kMs, 900 * kMs, [&ctx](NodeId leader) {
        ctx.note("scenario: " + node_name(leader) + "'s fsyncs now take 20-60 ms");
        ctx.cluster.set_disk_timing(leader, DiskTiming{20 * kMs, 60 * kMs});
        ctx.queue.at(1500 * kMs, [&ctx, leader] {
            ctx.note("scenario: " + node_name(leader) + "'s disk is back to normal speed");
            ctx.cluster.set_disk_timing(leader, DiskTiming{ctx.config.flush_min_us, ctx.config.flush_max_us});
        });
    });
}

// Every clock ticks in step and every election timeout is the same, so all nodes time out at the
// same instant: several stand for election in one term (Raft §5.2, which a split vote follows
// when none gets a majority) or start phase 1 at once (Multi-Paxos; basic Paxos's proposers'
// ballots pre-empt one another). Which wins is up to the network's delays; should the duel go
// on, at 650 ms every node but node 1 pauses for a few milliseconds, a different few for each,
// which puts their clocks out of step: from then on node 1 times out first, and its requests
// arrive before the others time out.
void duelling_configure(SimConfig& c) {
    calm(c);
    std::fill(c.clock_rate_percent.begin(), c.clock_rate_percent.end(), 100);
    c.tick_jitter_us = 0;
    c.engine.election_timeout_max_ticks = c.engine.election_timeout_min_ticks = 20;
    c.delay_min_us = 200;
    c.delay_max_us = 1500;  // less than the 2 ms between the clocks once they are out of step
}

void duelling(ScenarioContext& ctx) {
    ctx.queue.at(651 * kMs, [&ctx] {
        ctx.note("scenario: short pauses put every clock but n1's out of step; the tie breaks");
        for (NodeId id : ctx.cluster.members())
            if (id != 1) ctx.cluster.pause(id, ctx.queue.now_us() + 2 * kMs * (id - 1));
    });
}

void scripted(SimConfig& c) {
    calm(c);
}

// A new server joins and the leader leaves (SPEC "Membership change"): the spare is
// started with --join at ~500 ms and added as a learner that the leader promotes once it has caught
// up; once it is a voter, the leader is removed and hands over (basic Paxos: node 1 stands in for
// it and is removed). Long enough for the Paxos engines' α slots (tests/sim/README.md).
void member_change_configure(SimConfig& c) {
    calm(c);
    c.add_reconfiguration();
    c.spares = 1;
    c.membership_every_ms = 0;  // no random operator: the script is the operator
    c.safety_ms = 10000;
}

void member_change(ScenarioContext& ctx) {
    const NodeId joiner = static_cast<NodeId>(ctx.config.nodes + 1);
    with_leader(ctx, 500 * kMs, 900 * kMs, [&ctx, joiner](NodeId leader) {
        ctx.note("scenario: " + node_name(joiner) + " starts with --join; MEMBER ADD " +
                 std::to_string(joiner) + " to " + node_name(leader) +
                 " (a learner, promoted once caught up)");
        ctx.cluster.commission(joiner);
        const ConfigChange add{ConfigChange::Kind::add_learner, joiner, SimCluster::address_of(joiner), true};
        ctx.cluster.change_membership(leader, add, [&ctx](const Outcome& o) {
            ctx.note(std::string("scenario: MEMBER ADD answered ") +
                     (o.status == Outcome::Status::ok ? "+OK" : o.reply));
        });
        // A voter in the configuration that governs (the Paxos engines: α slots after the promotion's
        // own, which its proposer fills): only then does the next change begin.
        auto voter = [&ctx, joiner, leader] {
            const std::optional<Configuration> c = ctx.cluster.configuration_of(leader);
            const std::optional<EngineStatus> s = ctx.cluster.status(leader);
            return c && s && c->is_voter(joiner) && s->commit_index + 1 >= s->config_governs_from;
        };
        when(ctx, kPollUs, 9000 * kMs, node_name(joiner) + " promoted", voter, [&ctx, joiner, leader] {
            ctx.note("scenario: " + node_name(joiner) + " is a voter; MEMBER REMOVE " +
                     std::to_string(leader) + " (a leader hands over and steps down)");
            const ConfigChange remove{ConfigChange::Kind::remove, leader, {}, false};
            ctx.cluster.change_membership(leader, remove, [&ctx](const Outcome& o) {
                ctx.note(std::string("scenario: MEMBER REMOVE answered ") +
                         (o.status == Outcome::Status::ok ? "+OK" : o.reply));
            });
        });
    });
}

}  // namespace

const std::vector<Scenario>& scenarios() {
    static const std::vector<Scenario> all = {
        // No configure: the seed draws its membership changes as simulation_test's run does.
        {"seed", "whatever the seed's random fault injector does (the run simulation_test makes)", nullptr,
         nullptr, ""},
        {"leader-crash", "the leader crashes at ~600 ms and restarts 700 ms later: a new election", scripted,
         leader_crash, ""},
        {"partition", "the leader is cut off from every other node at ~600 ms, healed 800 ms later", scripted,
         partition, ""},
        {"duelling-proposers",
         "every node times out at once: several candidates or phase-1 proposers at ~200 ms",
         duelling_configure, duelling, ""},
        {"slow-disk", "the leader's fsyncs take 20-60 ms (a slow disk) from ~500 ms to 1500 ms", scripted,
         slow_disk, ""},
        {"member-change",
         "a new server joins (a learner, promoted once caught up), then the leader is removed and hands "
         "over",
         member_change_configure, member_change, ""},
        {"figure-8",
         "Raft only: Figure 8 of the Raft paper (§5.4.2) with five nodes, forced by cuts and crashes: an "
         "entry of an old term on a majority is overwritten, never committed",
         figure_8_configure, figure_8, "raft"},
        {"hole-filled",
         "Multi-Paxos only: a later slot is chosen while earlier Accepts are cut, the leader crashes, and "
         "the "
         "new leader's phase 1 fills the hole with no-ops",
         hole_filled_configure, hole_filled, "multipaxos"},
    };
    return all;
}

const Scenario* find_scenario(std::string_view name) {
    for (const Scenario& s : scenarios())
        if (s.name == name) return &s;
    return nullptr;
}

std::string scenario_names() {
    std::string out;
    for (const Scenario& s : scenarios()) out += (out.empty() ? "" : ", ") + s.name;
    return out;
}

std::string refuse_engine(const Scenario& scenario, const std::string& engine) {
    if (scenario.only_engine.empty() || scenario.only_engine == engine) return "";
    return "scenario " + scenario.name + " is written for " + scenario.only_engine + " only, not " + engine;
}

void apply_scenario(const Scenario& scenario, SimOptions& options) {
    options.configure = scenario.configure;
    options.script = scenario.script;
    // A scripted scenario is the story it tells: membership changes only where it adds them.
    if (scenario.configure || scenario.script) options.reconfigure = false;
}

Recording record_run(const WatchedRun& run) {
    const Scenario* scenario = find_scenario(run.scenario);
    if (!scenario)
        throw std::invalid_argument("no scenario " + run.scenario + " (there are: " + scenario_names() + ")");
    const auto& engines = engine_names();
    if (std::find(engines.begin(), engines.end(), run.engine) == engines.end())
        throw std::invalid_argument("no engine " + run.engine);
    if (std::string why = refuse_engine(*scenario, run.engine); !why.empty())
        throw std::invalid_argument(why);
    Recorder recorder(run.from_ms * kMs, run.until_ms * kMs);
    SimOptions options;
    options.engine = run.engine;
    options.seed = run.seed;
    options.keep_slow_disks = run.keep_slow_disks;
    options.sabotage = run.sabotage;
    options.recorder = &recorder;
    apply_scenario(*scenario, options);
    const SimReport report = run_simulation(options);
    if (!report.ok()) recorder.failed(report.failed_at_us, report.failure);

    Recording header;
    header.engine = run.engine;
    header.seed = run.seed;
    header.scenario = run.scenario;
    header.scenario_summary = scenario->summary;
    header.nodes = report.config.all_nodes();
    header.end_us = report.simulated_ms * kMs;
    header.config = report.config.describe();
    header.result = report.summary();
    header.passed = report.ok();
    return recorder.finish(std::move(header));
}

}  // namespace ballot::sim
