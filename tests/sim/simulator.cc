#include "tests/sim/simulator.h"

#include <cstdio>
#include <set>
#include <sstream>

#include "common/assert.h"

namespace ballot::sim {

namespace {

std::string format_time(std::uint64_t us) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%9.3f ms", static_cast<double>(us) / 1000.0);
    return buf;
}

std::string bin_dir() {
#ifdef BALLOT_BIN_DIR
    return BALLOT_BIN_DIR;
#endif
    return "build/bin";
}

std::string tests_dir() {
    std::string bin = bin_dir();
    if (bin.size() >= 4 && bin.compare(bin.size() - 4, 4, "/bin") == 0)
        return bin.substr(0, bin.size() - 4) + "/tests";
    return "build/tests";
}

// The liveness phase, in two stages: every client gets a new write acknowledged, and the
// membership change in progress completes; then every voter serves a read barrier, and every
// member (learners too) has applied everything applied anywhere when the stage began.
class LivenessProbe {
public:
    LivenessProbe(SimCluster& cluster, EventQueue& queue, Workload& workload, const MembershipOperator& op,
                  const ConfigChecker& committed)
        : cluster_(cluster), queue_(queue), workload_(workload), operator_(op), committed_(committed) {}

    // True once the cluster has shown it is live.
    bool satisfied() {
        if (!catching_up_) {
            if (!workload_.every_client_acknowledged_since_liveness() || !operator_.idle()) return false;
            catching_up_ = true;
            workload_.stop();
            target_ = cluster_.highest_applied();
        }
        // The committed configuration as it is now: a late copy of an old MEMBER request may still
        // change it (membership_operator.h).
        const Configuration& config = committed_.current();
        bool done = true;
        for (NodeId id : config.voters()) {
            if (asked_.insert(id).second) barrier(id);
            done = done && served_.contains(id);
        }
        for (NodeId id : config.ids()) done = done && cluster_.applied(id) >= target_;
        return done;
    }

    std::string explain() const {
        std::ostringstream out;
        if (!catching_up_) {
            out << (operator_.idle() ? "not every client got a new write acknowledged"
                                     : operator_.describe_progress());
        } else {
            out << "every client got a write acknowledged, but not every member caught up to index "
                << target_ << " and every voter served a read barrier (served:";
            for (NodeId id : served_) out << ' ' << id;
            out << ")";
        }
        return out.str();
    }

private:
    void barrier(NodeId id) {
        cluster_.read_barrier(id, [this, id](bool ok) {
            if (ok) {
                served_.insert(id);
                return;
            }
            queue_.after(100'000, [this, id] { barrier(id); });
        });
    }

    SimCluster& cluster_;
    EventQueue& queue_;
    Workload& workload_;
    const MembershipOperator& operator_;
    const ConfigChecker& committed_;
    bool catching_up_ = false;
    Index target_ = 0;
    std::set<NodeId> asked_;  // voters asked for a read barrier
    std::set<NodeId> served_;
};

}  // namespace

const char* to_string(SimReport::Result result) {
    switch (result) {
        case SimReport::Result::passed:
            return "passed";
        case SimReport::Result::safety_violation:
            return "SAFETY VIOLATION";
        case SimReport::Result::liveness_failure:
            return "LIVENESS FAILURE";
        case SimReport::Result::not_linearizable:
            return "NOT LINEARIZABLE";
        case SimReport::Result::inconclusive:
            return "LINEARIZABILITY INCONCLUSIVE";
    }
    return "?";
}

std::string SimReport::replay_command() const {
    // A run whose membership changes were forced against its seed's draw says so.
    const bool reconfigured = config.spares > 0;
    const std::string forced = reconfigured == SimConfig::draws_reconfiguration(seed)
                                   ? ""
                                   : std::string("BALLOT_SIM_RECONFIG=") + (reconfigured ? "1 " : "0 ");
    return forced + "BALLOT_SIM_ENGINE=" + engine + " BALLOT_SIM_SEED=" + std::to_string(seed) + " " +
           tests_dir() + "/simulation_test";
}

std::string SimReport::render_command() const {
    const std::uint64_t failed_ms = failed_at_us / 1000;
    const std::uint64_t from_ms = failed_ms > 2000 ? failed_ms - 2000 : 0;
    return bin_dir() + "/ballot-sim --protocol " + engine + " --seed " + std::to_string(seed) +
           " --from-ms " + std::to_string(from_ms) + " --until-ms " + std::to_string(failed_ms + 1) +
           " --out seed-" + std::to_string(seed) + "-" + engine + ".html";
}

std::string SimReport::summary() const {
    std::ostringstream out;
    out << "seed=" << seed << " engine=" << engine << ": " << to_string(result) << " after " << simulated_ms
        << " simulated ms, " << events << " events; " << config.describe() << "\n  ops " << history_ops
        << " (" << workload.writes_ok << " writes ok, " << workload.writes_indeterminate << " indeterminate, "
        << workload.reads_ok << " reads ok, " << workload.reads_failed << " reads failed, "
        << workload.timed_ok << " TTL/lease commands answered, " << workload.retries
        << " retries; of the indeterminate, " << workload.indeterminate_applied << " took effect, "
        << workload.indeterminate_dropped << " never applied); faults " << faults.total() << " ("
        << faults.crashes << " crashes, " << cluster.torn_writes << " torn writes, " << faults.fsync_failures
        << " fsync failures, " << faults.partitions << " partitions, " << faults.leader_isolations
        << " leader isolations, " << faults.one_way_cuts << " one-way cuts, " << faults.pauses << " pauses, "
        << faults.full_crashes << " full-cluster crashes, " << faults.heals << " heals, " << faults.transfers
        << " leadership transfers, " << faults.stale_leader << " stale-leader scenarios ("
        << faults.stale_leader_replays << " replayed)); messages " << messages_sent << " sent, "
        << messages_dropped << " dropped (" << messages_to_old_process
        << " of them addressed to a process that had since restarted), " << messages_duplicated
        << " duplicated, " << messages_long_delayed << " late by 100 ms or more, " << messages_replayed
        << " replayed late, " << slow_links << " slow-link episodes, " << messages_spared_by_cuts
        << " in flight through a cut; highest index " << highest_applied << "; liveness in " << liveness_ms
        << " ms; linearizability search " << linearizability_steps << " steps";
    if (config.lock_clients > 0) {
        const LockWorkloadStats& l = lock_workload;
        out << "\n  locks: " << l.commands_ok << " commands answered, " << l.commands_given_up
            << " given up, " << l.locks_held << " times a client held a lock (" << l.waits
            << " after waiting), " << l.fenced_ok << " fenced writes applied, " << l.pauses
            << " pauses past the TTL (then " << l.stale_refused << " stale writes refused, "
            << l.stale_applied << " applied: lease still alive), " << l.leases_lost << " leases lost, "
            << l.reads_ok << " LEADER reads; in the log: " << locks.grants << " grants (" << locks.handoffs
            << " handoffs), " << locks.fenced_applied << " fenced writes applied, " << locks.fenced_refused
            << " refused, " << locks.leases_expired << " leases expired";
    }
    if (config.spares > 0) {
        const MembershipStats& m = membership;
        out << "\n  membership: " << m.adds << " adds, " << m.promotions << " promotions, " << m.removals
            << " removals (" << m.leader_removals << " of the leader), " << m.replacements
            << " replacements; " << m.completed << " completed; " << m.requests << " MEMBER commands sent, "
            << m.refused << " refused or unanswered; in the log: " << configs.changes << " changes, "
            << configs.repeats << " repeats, " << configs.voided << " voided";
    }
    if (!ok()) {
        out << "\n  at " << format_time(failed_at_us) << ": " << failure << "\n  replay: " << replay_command()
            << "  (add BALLOT_SIM_TRACE=1 for a step trace on stderr)\n  watch it: " << render_command();
    }
    return out.str();
}

SimReport run_simulation(const SimOptions& options) {
    SimReport report;
    report.engine = options.engine;
    report.seed = options.seed;
    report.config = SimConfig::from_seed(options.seed);
    if (options.reconfigure.value_or(SimConfig::draws_reconfiguration(options.seed)))
        report.config.add_reconfiguration();
    if (options.configure) options.configure(report.config);
    if (options.safety_ms) report.config.safety_ms = *options.safety_ms;
    const SimConfig& config = report.config;

    EventQueue queue;
    Rng rng(options.seed);
    Violations violations;
    std::function<void(const std::string&)> trace;
    if (options.trace)
        trace = [&queue, &options](const std::string& line) {
            options.trace("[" + format_time(queue.now_us()) + "] " + line);
        };
    if (trace)
        trace("seed=" + std::to_string(options.seed) + " engine=" + options.engine + ": " +
              config.describe());

    if (options.recorder) options.recorder->set_clock(&queue);
    SimCluster cluster(options.engine, config, queue, rng, violations, options.sabotage, trace);
    if (options.recorder) cluster.set_recorder(options.recorder);
    Workload workload(config, queue, rng, cluster, violations);
    workload.trace = trace;
    // The lock invariants run on every run (the TTL workload grants leases too); the lock clients
    // only on seeds that draw them.
    LockChecker locks(violations);
    LockWorkload lock_workload(config, queue, cluster, locks, violations);
    lock_workload.trace = trace;
    cluster.on_first_apply = [&workload, &lock_workload](const Command& c, const std::string& reply) {
        workload.on_first_apply(c, reply);
        lock_workload.on_first_apply(c, reply);
    };
    std::vector<NodeId> bootstrap;
    for (int id = 1; id <= config.nodes; ++id) bootstrap.push_back(static_cast<NodeId>(id));
    ConfigChecker configs(options.engine, Configuration::of_voters(bootstrap), violations);
    configs.trace = trace;
    cluster.on_first_apply_state = [&locks, &configs](Index index, const Command& c, const std::string& reply,
                                                      const std::vector<WaiterEvent>& events,
                                                      const kv::KvStore& store) {
        locks.on_apply(index, c, reply, events, KvLockView(store));
        configs.on_apply(index, c);
    };
    // The fault injector's notes go to the recording too ("isolate leader 2", "heal the network").
    std::function<void(const std::string&)> note = trace;
    if (options.recorder)
        note = [&trace, recorder = options.recorder](const std::string& line) {
            if (trace) trace(line);
            recorder->note(line);
        };
    Nemesis nemesis(config, queue, rng, cluster, note);
    MembershipOperator membership(config, queue, cluster, configs, note);
    LivenessProbe probe(cluster, queue, workload, membership, configs);

    cluster.start();
    workload.start();
    lock_workload.start();
    ScenarioContext scenario{cluster, queue, config, note};
    if (!scenario.note) scenario.note = [](const std::string&) {};
    if (options.script)
        options.script(scenario);
    else {
        nemesis.start();
        membership.start();
    }

    const std::uint64_t liveness_start_us = config.safety_ms * 1000;
    const std::uint64_t deadline_us = liveness_start_us + config.liveness_limit_ms * 1000;
    bool liveness = false;
    queue.at(liveness_start_us, [&] {
        liveness = true;
        nemesis.stop(!options.keep_slow_disks);
        membership.stop_starting();
        // A mild network from now on: no loss, duplication, long tail or replay. Messages already
        // in flight (some late by seconds) still arrive: a correct engine converges regardless.
        NetworkFaults mild;
        mild.delay_min_us = config.delay_min_us;
        mild.delay_max_us = config.delay_max_us;
        cluster.network().set_faults(mild);
        workload.begin_liveness();
        lock_workload.stop();  // the liveness phase judges the key-value clients only
        if (note) note("LIVENESS PHASE begins");
    });

    auto fail = [&](SimReport::Result result, std::string why) {
        report.result = result;
        report.failure = std::move(why);
        report.failed_at_us = queue.now_us();
    };

    cluster.check_step();
    while (true) {
        bool ran = false;
        try {
            ran = queue.run_next();
        } catch (const InvariantViolation& e) {
            // SimCluster catches what a node's driver throws; this is the net for anything else.
            fail(SimReport::Result::safety_violation, std::string("broken invariant: ") + e.what());
            break;
        }
        if (!ran) {
            fail(SimReport::Result::liveness_failure, "nothing left to simulate (the event queue ran dry)");
            break;
        }
        cluster.check_step();
        nemesis.after_step();
        if (violations.any()) {
            std::string what;
            for (const std::string& v : violations.all()) what += (what.empty() ? "" : "\n    ") + v;
            fail(SimReport::Result::safety_violation, what + "\n  cluster:\n" + cluster.describe_nodes());
            break;
        }
        if (!liveness) continue;
        if (probe.satisfied()) {
            report.liveness_ms = (queue.now_us() - liveness_start_us) / 1000;
            cluster.check_replicas_agree();
            if (violations.any()) fail(SimReport::Result::safety_violation, violations.all().front());
            break;
        }
        if (queue.now_us() >= deadline_us) {
            fail(SimReport::Result::liveness_failure,
                 "no progress within " + std::to_string(config.liveness_limit_ms) +
                     " simulated ms of healing everything: " + probe.explain() + "\n  cluster:\n" +
                     cluster.describe_nodes());
            break;
        }
    }
    workload.finish();
    lock_workload.finish();
    if (report.ok() && violations.any()) fail(SimReport::Result::safety_violation, violations.all().front());

    report.events = queue.events_run();
    report.simulated_ms = queue.now_us() / 1000;
    report.history_ops = workload.history().size();
    report.workload = workload.stats();
    report.lock_workload = lock_workload.stats();
    report.locks = locks.stats();
    report.faults = nemesis.stats();
    report.membership = membership.stats();
    report.configs = configs.stats();
    report.cluster = cluster.stats();
    report.messages_sent = cluster.network().sent();
    report.messages_dropped = cluster.network().dropped();
    report.messages_duplicated = cluster.network().duplicated();
    report.messages_long_delayed = cluster.network().long_delayed();
    report.messages_replayed = cluster.network().replayed();
    report.messages_to_old_process = cluster.network().stale_incarnation();
    report.slow_links = cluster.network().slow_links();
    report.messages_spared_by_cuts = cluster.network().spared_by_cuts();
    report.highest_applied = cluster.highest_applied();

    if (report.ok()) {
        LinearizabilityResult lin = check_linearizability(workload.history(), options.linearizability);
        report.linearizability_steps = lin.steps;
        if (lin.verdict == LinearizabilityResult::Verdict::violation)
            fail(SimReport::Result::not_linearizable, lin.explanation);
        else if (lin.verdict == LinearizabilityResult::Verdict::inconclusive)
            fail(SimReport::Result::inconclusive, lin.explanation);
    }
    return report;
}

}  // namespace ballot::sim
