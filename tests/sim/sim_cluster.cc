#include "tests/sim/sim_cluster.h"

#include <sstream>
#include <stdexcept>

#include "common/assert.h"
#include "common/command.h"
#include "common/snapshot_recovery.h"
#include "engines/registry.h"

namespace ballot::sim {

namespace {

// Node sessions (commands a node stamps itself) live far above client ids.
constexpr std::uint64_t kSessionBase = std::uint64_t{1} << 40;
constexpr std::uint64_t kBarrierRetryUs = 100'000;

}  // namespace

SimCluster::SimCluster(std::string engine, const SimConfig& config, EventQueue& queue, Rng& rng,
                       Violations& violations, Sabotage sabotage, Trace trace)
    : engine_(std::move(engine)),
      config_(config),
      queue_(queue),
      rng_(rng),
      violations_(violations),
      sabotage_(sabotage),
      trace_(std::move(trace)),
      engine_invariants_(make_engine_invariants(engine_)),
      snapshot_rng_(Rng(rng).next() ^ 0x5A5A5A5Aull) {
    for (int i = 1; i <= config_.all_nodes(); ++i) all_nodes_.push_back(static_cast<NodeId>(i));
    for (int i = 1; i <= config_.nodes; ++i) bootstrap_.push_back(static_cast<NodeId>(i));
    NetworkFaults faults;
    faults.delay_min_us = config_.delay_min_us;
    faults.delay_max_us = config_.delay_max_us;
    faults.tail_per_10k = config_.tail_per_10k;
    faults.tail_max_us = config_.tail_max_us;
    faults.loss_per_10k = config_.loss_per_10k;
    faults.dup_per_10k = config_.dup_per_10k;
    faults.replay_per_10k = config_.replay_per_10k;
    faults.replay_window = config_.replay_window;
    faults.replay_min_us = config_.replay_min_us;
    faults.replay_max_us = config_.replay_max_us;
    faults.slow_link_per_10k = config_.slow_link_per_10k;
    faults.slow_link_min_us = config_.slow_link_min_us;
    faults.slow_link_max_us = config_.slow_link_max_us;
    faults.cut_spares_percent = config_.cut_spares_percent;
    network_ = std::make_unique<SimNetwork>(
        queue_, rng_, all_nodes_, faults,
        [this](NodeId from, NodeId to, const Bytes& p) { deliver(from, to, p); },
        [this](NodeId id) { return is_up(id); }, [this](NodeId id) { return node(id).incarnation; });
    if (trace_) network_->trace = trace_;
    network_->set_bulk_deliver([this](NodeId from, NodeId to, const Bytes& p) { deliver_bulk(from, to, p); });
    nodes_.resize(all_nodes_.size());
    for (NodeId id : all_nodes_) {
        Node& n = node(id);
        n.id = id;
        n.in_service = id <= static_cast<NodeId>(config_.nodes);
        n.joins = !n.in_service;
        make_storage(n);
    }
    applied_log_.on_new = [this](NodeId id, Index index, const std::string& data, bool first) {
        if (engine_invariants_)
            engine_invariants_->on_apply(id, index, data, first, view_of(node(id), false), violations_);
    };
}

void SimCluster::make_storage(Node& n) {
    const NodeId id = n.id;
    const std::uint64_t slowness = config_.disk_slowness.at(id - 1);
    n.identity = ++identities_made_;  // a counter, not rng_: the seeds keep their draws
    n.disk = std::make_unique<SimDisk>(
        id, queue_, rng_, DiskTiming{config_.flush_min_us * slowness, config_.flush_max_us * slowness}, this);
    if (sabotage_ == Sabotage::lying_fsync) n.disk->start_lying();
    n.disk->set_gate([this, id](std::function<void()> action) { on_node(id, std::move(action)); });
    n.snapshots = std::make_unique<SimSnapshotDir>("node-" + std::to_string(id) + "/snapshots");
    n.snapshot_worker = std::make_unique<SimSnapshotWorker>(
        queue_, snapshot_rng_.next(), config_.snapshot_job_min_us * slowness,
        config_.snapshot_job_max_us * slowness,
        [this, id](std::function<void()> action) { on_node(id, std::move(action)); });
}

SimCluster::~SimCluster() {
    // Drivers first: they hold references to the disks, state machines and network.
    for (Node& n : nodes_) n.driver.reset();
}

void SimCluster::trace(const std::string& line) const {
    if (trace_) trace_(line);
}

void SimCluster::set_recorder(Recorder* recorder) {
    recorder_ = recorder;
    network_->recorder = recorder;
}

void SimCluster::start() {
    for (NodeId id : all_nodes_) {
        if (in_service(id))
            restart(id);
        else if (recorder_)
            recorder_->crashed(id, "a spare: not running until it is added (--join)");
    }
}

std::vector<NodeId> SimCluster::members() const {
    std::vector<NodeId> out;
    for (const Node& n : nodes_)
        if (n.in_service) out.push_back(n.id);
    return out;
}

bool SimCluster::is_up(NodeId id) const {
    return node(id).up;
}

std::vector<NodeId> SimCluster::up_nodes() const {
    std::vector<NodeId> up;
    for (const Node& n : nodes_)
        if (n.up) up.push_back(n.id);
    return up;
}

bool SimCluster::storage_failed(NodeId id) const {
    const Node& n = node(id);
    return n.up && n.driver->storage_failed();
}

std::optional<EngineStatus> SimCluster::status(NodeId id) const {
    const Node& n = node(id);
    if (!n.up) return std::nullopt;
    return n.driver->status().engine;
}

std::vector<NodeId> SimCluster::leaders() const {
    std::vector<NodeId> out;
    for (const Node& n : nodes_)
        if (n.up && n.driver->status().engine.role == ballot::Role::leader) out.push_back(n.id);
    return out;
}

Index SimCluster::applied(NodeId id) const {
    const Node& n = node(id);
    return n.up ? n.driver->applied_index() : 0;
}

NodeView SimCluster::view_of(const Node& n, bool with_status) const {
    NodeView v;
    v.id = n.id;
    v.up = n.up;
    if (n.up) {
        if (with_status) v.status = n.driver->status().engine;
        v.applied = n.driver->applied_index();
    }
    v.durable = &n.disk->durable();
    v.written = &n.disk->written();
    return v;
}

// ---------------------------------------------------------------- faults

void SimCluster::crash(NodeId id, bool torn) {
    Node& n = node(id);
    if (!n.up) return;
    // The process dies: no completion it held is ever called, nothing it had not synced survives.
    n.driver.reset();
    n.sm.reset();
    n.kv.reset();
    n.waiter_events.clear();
    n.blocked.clear();  // the clients' connections die with the process
    n.up = false;
    n.paused_until_us = 0;
    // What waited for the pause to end belongs to the dead process: it runs now (and finds it
    // gone), not ahead of what comes for the next incarnation.
    if (!n.deferred.empty()) {
        auto stale = std::make_shared<std::deque<std::function<void()>>>(std::move(n.deferred));
        n.deferred.clear();
        queue_.at(queue_.now_us(), [this, id = n.id, stale] {
            for (auto& action : *stale) guarded(id, action);
        });
    }
    n.last_status.reset();
    ++n.incarnation;
    const bool flushing = n.disk->flush_in_flight();
    const std::size_t kept = n.disk->crash(torn);
    n.snapshot_worker->crash();
    if (n.snapshots->crash(torn, snapshot_rng_) > 0)
        trace("  a snapshot file of node " + std::to_string(id) + " is torn");
    ++stats_.crashes;
    if (kept > 0) ++stats_.torn_writes;
    const std::string torn_note = torn && flushing ? " (torn write: " + std::to_string(kept) +
                                                         " records of the flush in flight survive)"
                                                   : "";
    trace("CRASH node " + std::to_string(id) + torn_note);
    if (recorder_) recorder_->crashed(id, "crash" + torn_note);
    if (engine_invariants_) engine_invariants_->on_crash(id, n.disk->durable(), violations_);
}

// A divergent report is one node's lie; a double-applying state machine is every replica's bug.
Sabotage SimCluster::state_machine_sabotage(NodeId id) const {
    if (sabotage_ == Sabotage::divergent_report) return id == 1 ? sabotage_ : Sabotage::none;
    if (sabotage_ == Sabotage::double_append || sabotage_ == Sabotage::unfenced_writes) return sabotage_;
    return Sabotage::none;
}

void SimCluster::restart(NodeId id) {
    Node& n = node(id);
    if (n.up || !n.in_service) return;
    EngineConfig config = config_.engine;
    config.id = id;
    config.members = bootstrap_;
    config.join = n.joins;
    config.identity = n.identity;
    config.seed = rng_.next();
    n.kv = std::make_unique<kv::KvStore>();
    n.sm = std::make_unique<RecordingStateMachine>(
        *n.kv,
        [this, id](Index index, const Command& c, const std::string& reply) {
            Node& applier = node(id);
            const Index before = applied_log_.highest();
            applied_log_.on_apply(id, index, encode_command(c), violations_);
            if (applied_log_.highest() > before) {
                if (on_first_apply) on_first_apply(c, reply);
                if (on_first_apply_state)
                    on_first_apply_state(index, c, reply, applier.waiter_events, *applier.kv);
            }
            applier.waiter_events.clear();
        },
        state_machine_sabotage(id));
    n.kv->set_waiter_listener(
        [this, id](Index waiter, const std::string& reply) { on_waiter(id, waiter, reply); });
    // A restored snapshot is the state through its index, as if applied (tests/sim/invariants.h).
    n.sm->on_restore = [this, id](Index index) { applied_log_.restored(id, index, violations_); };
    applied_log_.restart(id);
    // As common/node.cc starts: the latest snapshot into the state machine, then the engine.
    RecoveredState recovered = n.disk->durable().recovered();
    SnapshotRecovery snapshot = recover_snapshot(*n.snapshots, *n.sm, recovered);
    if (!snapshot.error.empty()) {
        violations_.add("node " + std::to_string(id) + " cannot restart: " + snapshot.error);
        n.sm.reset();
        n.kv.reset();
        return;
    }
    if (snapshot.latest) recovered.snapshot = snapshot.latest->meta;
    std::unique_ptr<Engine> engine;
    try {
        engine = make_engine(engine_, config, std::move(recovered));
    } catch (const std::exception& e) {
        violations_.add("node " + std::to_string(id) + " cannot restart from its durable state: " + e.what());
        n.sm.reset();
        n.kv.reset();
        return;
    }
    if (!engine) throw std::invalid_argument("unknown engine " + engine_);
    DriverOptions options;
    options.session_id = kSessionBase + (id << 20) + n.incarnation + 1;
    options.request_timeout_ticks = config_.request_timeout_ticks;  // as common/node.cc sets them up
    options.retry_ticks = config.election_timeout_max_ticks;
    options.read_retry_ticks = std::max<std::uint32_t>(1, config.heartbeat_ticks / 2);
    options.snapshot_entries = config_.snapshot_entries;
    options.snapshot_chunk_bytes = config_.snapshot_chunk_bytes;
    options.snapshot_window = config_.snapshot_window;
    options.snapshot_make_chunk_bytes = config_.snapshot_chunk_bytes;
    options.snapshot_make_bytes_per_tick = config_.snapshot_make_bytes_per_tick;
    options.tick_ms = static_cast<std::uint32_t>(std::max<std::uint64_t>(1, config_.tick_us / 1000));
    n.driver =
        std::make_unique<Driver>(id, std::move(engine), *n.disk, network_->endpoint(id), *n.sm, options,
                                 SnapshotIo{n.snapshots.get(), n.snapshot_worker.get(), snapshot.latest});
    n.driver->set_log([this, id](LogLevel, const std::string& line) {
        trace("node " + std::to_string(id) + " log: " + line);
    });
    // A replayed seed is read to find a bug: every message, heartbeats included.
    if (trace_ || recorder_)
        n.driver->set_trace(
            [this](const TracedMessage& m) {
                trace(m.line());
                if (recorder_) recorder_->described(m);
            },
            /*heartbeats=*/true);
    n.up = true;
    n.last_applied = n.driver->applied_index();
    n.last_snapshot_index = 0;
    if (n.incarnation > 0) {
        ++stats_.restarts;
        const std::string from = std::to_string(n.disk->durable().records.size()) + " durable log records, " +
                                 std::to_string(n.disk->durable().metadata.size()) + " bytes of metadata";
        trace("RESTART node " + std::to_string(id) + " from " + from);
        if (recorder_) recorder_->restarted(id, "restart from " + from);
    }
    if (engine_invariants_) engine_invariants_->on_restart(id, n.disk->durable(), violations_);
    schedule_tick(id, n.incarnation);
    guarded(id, [&n] { n.driver->pump(); });
}

void SimCluster::fail_next_flush(NodeId id) {
    node(id).disk->fail_next_flush();
    ++stats_.fsync_failures;
}

void SimCluster::heal_disks(bool restore_speed) {
    for (Node& n : nodes_) {
        n.disk->disarm();
        if (!restore_speed) continue;
        n.disk->set_timing(DiskTiming{config_.flush_min_us, config_.flush_max_us});
        // The snapshot jobs ran on the same slow disk (make_storage): they heal with it.
        n.snapshot_worker->set_timing(config_.snapshot_job_min_us, config_.snapshot_job_max_us);
    }
}

void SimCluster::pause(NodeId id, std::uint64_t until_us) {
    Node& n = node(id);
    if (!n.up) return;
    n.paused_until_us = std::max(n.paused_until_us, until_us);
    ++stats_.pauses;
    trace("PAUSE node " + std::to_string(id) + " until " + std::to_string(until_us / 1000) + " ms");
    if (recorder_) recorder_->paused(id, n.paused_until_us);
}

// ---------------------------------------------------------------- inputs

// A paused process runs what came meanwhile once it resumes, in the order it came: its snapshot
// worker is one thread, its disk completes writes in order. Each action deferred on its own, to
// the pause's end as it stood then, let overlapping pauses run a later job first (a pause
// extended between two jobs sent both to the new end, the later one queued first there): two
// snapshot chunks were appended out of order into a checksummed file the state machine then could
// not read, and the node refused to restart (seed 831236751, raft).
void SimCluster::on_node(NodeId id, std::function<void()> action) {
    Node& n = node(id);
    if (n.up && (queue_.now_us() < n.paused_until_us || !n.deferred.empty())) {
        n.deferred.push_back(std::move(action));
        if (n.deferred.size() == 1) queue_.at(n.paused_until_us, [this, id] { run_deferred(id); });
        return;
    }
    guarded(id, action);
}

void SimCluster::run_deferred(NodeId id) {
    Node& n = node(id);
    if (n.up && queue_.now_us() < n.paused_until_us) {  // paused again meanwhile
        queue_.at(n.paused_until_us, [this, id] { run_deferred(id); });
        return;
    }
    while (!n.deferred.empty()) {
        std::function<void()> action = std::move(n.deferred.front());
        n.deferred.pop_front();
        guarded(id, action);
    }
}

void SimCluster::guarded(NodeId id, const std::function<void()>& call) {
    try {
        call();
    } catch (const InvariantViolation& e) {
        violations_.add("node " + std::to_string(id) + " stopped on a broken invariant: " + e.what());
        trace("node " + std::to_string(id) + " FAIL-STOP: " + e.what());
        if (node(id).up) crash(id, false);  // the real node exits (common/node.cc)
    }
}

void SimCluster::schedule_tick(NodeId id, std::uint64_t incarnation) {
    std::uint64_t interval =
        (config_.tick_us - config_.tick_jitter_us / 2 + rng_.between(0, config_.tick_jitter_us)) * 100 /
        config_.clock_rate_percent.at(id - 1);
    queue_.after(interval, [this, id, incarnation] {
        Node& n = node(id);
        if (!n.up || n.incarnation != incarnation) return;
        if (queue_.now_us() < n.paused_until_us) {
            // Stopped: no ticks. On resume the timer fires once (common/node.cc does not replay
            // the ticks it missed).
            queue_.at(n.paused_until_us, [this, id, incarnation] {
                if (node(id).up && node(id).incarnation == incarnation) schedule_tick(id, incarnation);
            });
            return;
        }
        guarded(id, [&n] {
            n.driver->tick();
            n.driver->pump();
        });
        schedule_tick(id, incarnation);
    });
}

void SimCluster::deliver(NodeId from, NodeId to, const Bytes& payload) {
    Node& n = node(to);
    if (queue_.now_us() < n.paused_until_us) {
        // The bytes wait in the socket buffer until the process resumes, and die with it.
        on_node(to, [this, from, to, payload, incarnation = n.incarnation] {
            if (is_up(to) && node(to).incarnation == incarnation) deliver(from, to, payload);
        });
        return;
    }
    guarded(to, [&] {
        // Refused: it does not decode (the engine's codec disagrees with itself) or it proves the
        // sender broke the protocol (e.g. a second Raft leader in one term). Both are bugs here.
        // Or the sender is in no configuration the receiver knows (a removed node, a node not added
        // yet, §4.2.3): the transport drops such a connection, and nothing is wrong.
        if (!n.driver->receive(from, payload) && n.driver->configuration().contains(from))
            violations_.add("node " + std::to_string(to) + " refused a message from node " +
                            std::to_string(from) + " (" + std::to_string(payload.size()) + " bytes, " +
                            role_name(n.driver->status().engine.role) +
                            "): it does not decode, or it proves the sender broke the protocol");
        n.driver->pump();
    });
}

void SimCluster::deliver_bulk(NodeId from, NodeId to, const Bytes& payload) {
    on_node(to, [this, from, to, payload, incarnation = node(to).incarnation] {
        Node& n = node(to);
        if (!n.up || n.incarnation != incarnation) return;
        if (!n.driver->receive_bulk(from, payload))
            violations_.add("node " + std::to_string(to) + " refused a snapshot frame from node " +
                            std::to_string(from));
        n.driver->pump();
    });
}

void SimCluster::submit(NodeId id, const Stamp& stamp, const std::string& payload, Completion done) {
    const std::uint64_t incarnation = node(id).incarnation;
    on_node(id, [this, id, incarnation, stamp, payload, done = std::move(done)]() mutable {
        Node& n = node(id);
        if (!n.up || n.incarnation != incarnation) return;  // crashed meanwhile: no answer, ever
        n.driver->submit(stamp, payload, std::move(done));
        n.driver->pump();
    });
}

Completion SimCluster::checked_read(NodeId id, std::function<void(const Outcome&)> done) {
    const Index must_see = applied_log_.highest();
    return [this, id, must_see, done = std::move(done)](const Outcome& o) {
        if (o.status == Outcome::Status::ok) {
            ++stats_.reads_checked;
            Index at = node(id).driver->applied_index();
            if (at < must_see)
                violations_.add("stale read: node " + std::to_string(id) +
                                " served a read at applied index " + std::to_string(at) + ", but index " +
                                std::to_string(must_see) +
                                " had been applied (and perhaps acknowledged) before the read began");
        }
        done(o);
    };
}

void SimCluster::read(NodeId id, const std::string& payload,
                      std::function<void(const Outcome&, const std::string& reply)> done) {
    const std::uint64_t incarnation = node(id).incarnation;
    on_node(id, [this, id, incarnation, payload, done = std::move(done)]() mutable {
        Node& n = node(id);
        if (!n.up || n.incarnation != incarnation) return;
        kv::KvStore* kv = n.kv.get();
        n.driver->read(checked_read(id, [kv, payload, done = std::move(done)](const Outcome& o) {
            // Queried at the moment the runtime says the read is safe, as the front end does.
            done(o, o.status == Outcome::Status::ok ? kv->query(payload) : std::string());
        }));
        n.driver->pump();
    });
}

void SimCluster::await_waiter(NodeId id, Index waiter, const std::string& name,
                              std::function<void(const std::optional<std::string>&)> done) {
    const std::uint64_t incarnation = node(id).incarnation;
    on_node(id, [this, id, incarnation, waiter, name, done = std::move(done)]() mutable {
        Node& n = node(id);
        if (!n.up || n.incarnation != incarnation) return;
        // A retried LOCK may find its waiter resolved already, as the front end does.
        if (auto outcome = n.kv->waiter_outcome(waiter, name)) return done(*outcome);
        n.blocked.emplace(waiter, std::move(done));
    });
}

// Called inside apply: the waiting client hears of it afterwards, as the front end posts it.
void SimCluster::on_waiter(NodeId id, Index waiter, const std::string& reply) {
    Node& n = node(id);
    n.waiter_events.push_back(WaiterEvent{waiter, reply});
    auto [first, last] = n.blocked.equal_range(waiter);
    for (auto it = first; it != last; ++it)
        queue_.after(0, [done = std::move(it->second), reply] { done(reply); });
    n.blocked.erase(first, last);
}

void SimCluster::transfer_leadership(NodeId leader, NodeId target) {
    on_node(leader, [this, leader, target] {
        Node& n = node(leader);
        if (!n.up) return;
        n.driver->transfer_leadership(target, [this, leader, target](const Outcome& o) {
            trace("node " + std::to_string(leader) + " transfer to " + std::to_string(target) + ": " +
                  (o.status == Outcome::Status::ok ? std::string("done") : "not done (" + o.reply + ")"));
        });
        n.driver->pump();
    });
}

// ---------------------------------------------------------------- membership change

std::string SimCluster::address_of(NodeId id) {
    return "sim-" + std::to_string(id) + ":" + std::to_string(7000 + id);
}

std::optional<Configuration> SimCluster::configuration_of(NodeId id) const {
    const Node& n = node(id);
    if (!n.up) return std::nullopt;
    return n.driver->configuration();
}

void SimCluster::decommission(NodeId id) {
    Node& n = node(id);
    if (n.up) crash(id, false);
    n.in_service = false;
    trace("DECOMMISSION node " + std::to_string(id));
}

void SimCluster::wipe(NodeId id) {
    Node& n = node(id);
    BALLOT_ASSERT(!n.up && !n.in_service, "sim: only a stopped node out of service is wiped");
    retired_disks_.push_back(std::move(n.disk));
    retired_snapshot_dirs_.push_back(std::move(n.snapshots));
    retired_snapshot_workers_.push_back(std::move(n.snapshot_worker));
    retired_snapshot_workers_.back()->crash();
    make_storage(n);
    n.joins = true;
    n.last_snapshot_index = 0;
    trace("WIPE node " + std::to_string(id) + ": its data dir is gone");
    if (engine_invariants_) engine_invariants_->on_crash(id, n.disk->durable(), violations_);
}

void SimCluster::commission(NodeId id) {
    Node& n = node(id);
    n.in_service = true;
    trace("COMMISSION node " + std::to_string(id) + " (started with --join)");
    const bool first_start = n.incarnation == 0;
    restart(id);
    if (first_start && recorder_) recorder_->restarted(id, "started with --join");
}

// MEMBER ADD names the identity of the data dir the new member runs on now, as the runtime's
// MEMBER ADD learns it from the node at that address (common/configuration.h, Member::identity).
void SimCluster::change_membership(NodeId via, ConfigChange change, Completion done) {
    if (change.kind == ConfigChange::Kind::add_learner) change.identity = node(change.id).identity;
    const std::uint64_t incarnation = node(via).incarnation;
    on_node(via, [this, via, incarnation, change, done = std::move(done)]() mutable {
        Node& n = node(via);
        if (!n.up || n.incarnation != incarnation) return;  // crashed meanwhile: no answer, ever
        n.driver->submit_config_change(std::nullopt, change, std::move(done));
        n.driver->pump();
    });
}

void SimCluster::read_barrier(NodeId id, std::function<void(bool)> done) {
    on_node(id, [this, id, done = std::move(done)]() mutable {
        Node& n = node(id);
        if (!n.up) return done(false);
        n.driver->read(checked_read(
            id, [done = std::move(done)](const Outcome& o) { done(o.status == Outcome::Status::ok); }));
        n.driver->pump();
    });
}

// ---------------------------------------------------------------- observation

namespace {

// "metadata (16 bytes) records 4..7"
std::string describe_batch(const Ready& batch) {
    std::string what;
    if (batch.metadata) what += " metadata (" + std::to_string(batch.metadata->size()) + " bytes)";
    if (batch.truncate_from) what += " truncate from " + std::to_string(*batch.truncate_from);
    if (batch.compact_below) what += " compact below " + std::to_string(*batch.compact_below);
    if (!batch.records.empty())
        what += " records " + std::to_string(batch.records.front().index) + ".." +
                std::to_string(batch.records.back().index);
    return what.empty() ? what : what.substr(1);
}

}  // namespace

void SimCluster::on_disk_write(NodeId id, const DiskState& written_before, const Ready& batch) {
    if (trace_ || recorder_) {
        const std::string what = describe_batch(batch);
        trace("node " + std::to_string(id) + " writes " + what);
        if (recorder_) recorder_->disk_written(id, what);
    }
    if (engine_invariants_) engine_invariants_->on_write(id, written_before, batch, violations_);
}

void SimCluster::on_disk_durable(NodeId id, const std::vector<DiskRecord>& applied,
                                 const DiskState& durable) {
    if (recorder_ && node(id).up) recorder_->disk_durable(id);  // not a torn write at a crash
    if (engine_invariants_) engine_invariants_->on_durable(id, applied, durable, violations_);
}

// The engine's local invariants, and what must never go backwards between two steps.
void SimCluster::check_engine(Node& n) {
    guarded(n.id, [&n] { n.driver->check_engine_invariants(); });
    if (!n.up) return;  // stopped on a broken invariant just now
    const EngineStatus now = n.driver->status().engine;
    if (n.last_status) {
        const EngineStatus& before = *n.last_status;
        const std::string who = "node " + std::to_string(n.id) + ": ";
        if (now.epoch < before.epoch)
            violations_.add(who + now.epoch.name() + " went back from " + before.epoch.str() + " to " +
                            now.epoch.str() + " (a term or promise never decreases)");
        if (now.commit_index < before.commit_index)
            violations_.add(who + "commit index went back from " + std::to_string(before.commit_index) +
                            " to " + std::to_string(now.commit_index) + " (what is chosen stays chosen)");
    }
    n.last_status = now;
    if (recorder_) recorder_->status(n.id, now);
}

void SimCluster::check_step() {
    for (Node& n : nodes_) {
        if (!n.up) continue;
        const Index applied = n.driver->applied_index();
        if (applied < n.last_applied)
            violations_.add("node " + std::to_string(n.id) + " went back from applied index " +
                            std::to_string(n.last_applied) + " to " + std::to_string(applied));
        n.last_applied = applied;
        applied_log_.applied_through(n.id, applied, violations_);
        check_snapshots(n);
        check_engine(n);
    }
    if (!engine_invariants_) return;
    ClusterView view;
    view.now_us = queue_.now_us();
    for (const Node& n : nodes_) view.nodes.push_back(view_of(n, true));
    engine_invariants_->after_step(view, violations_);
}

// Every snapshot a node holds is the state machine at its index: byte-equal across replicas
// (the state machine's encoding is canonical, common/state_machine.h), whether it was made there,
// received, or survived a crash.
void SimCluster::check_snapshots(Node& n) {
    const Index index = n.driver->status().snapshot_index;
    if (index == n.last_snapshot_index) return;
    n.last_snapshot_index = index;
    if (index == 0) return;
    check_snapshot_file(n, index, snapshot_file_name(index));
}

void SimCluster::check_snapshot_file(Node& n, Index index, const std::string& name) {
    std::string payload;
    if (std::string error = read_snapshot_payload(*n.snapshots, name, payload); !error.empty()) {
        violations_.add("node " + std::to_string(n.id) + " reports snapshot " + std::to_string(index) +
                        " but cannot read it back whole: " + error);
        return;
    }
    auto [it, first] = snapshot_payloads_.emplace(index, payload);
    if (!first && it->second != payload)
        violations_.add("node " + std::to_string(n.id) + " holds a snapshot at index " +
                        std::to_string(index) + " that differs from another replica's at the same index");
}

void SimCluster::check_replicas_agree() {
    const Node* reference = nullptr;
    for (const Node& n : nodes_) {
        if (!n.up || n.driver->applied_index() != applied_log_.highest()) continue;
        if (!reference) {
            reference = &n;
            continue;
        }
        if (n.kv->snapshot() != reference->kv->snapshot())
            violations_.add("nodes " + std::to_string(reference->id) + " and " + std::to_string(n.id) +
                            " applied the same " + std::to_string(applied_log_.highest()) +
                            " entries but their state machines differ");
    }
}

std::string SimCluster::describe_nodes() const {
    std::ostringstream out;
    for (const Node& n : nodes_) {
        out << "    node " << n.id << ": ";
        if (!n.up) {
            out << (n.in_service ? "down" : "down, out of service");
        } else {
            DriverStatus s = n.driver->status();
            out << s.engine.role << " (leader " << s.engine.leader << ", " << s.engine.epoch.name() << ' '
                << s.engine.epoch.str() << "), commit " << s.engine.commit_index << ", applied "
                << s.applied_index << ", log " << s.engine.log_first_index << ".." << s.engine.log_last_index
                << ", pending writes " << s.pending_writes << ", reads " << s.pending_reads
                << (s.storage_failed ? ", STORAGE FAILED" : "") << ", configuration "
                << (n.driver->configuration().empty() ? std::string("(none)")
                                                      : n.driver->configuration().str());
        }
        out << "; durable: " << n.disk->durable().records.size() << " log records, "
            << n.disk->durable().metadata.size() << " bytes of metadata\n";
    }
    return out.str();
}

}  // namespace ballot::sim
