#include "common/node.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>

#include "common/file_storage.h"
#include "common/log_store.h"
#include "common/membership_guard.h"
#include "common/node_report.h"
#include "common/snapshot_recovery.h"
#include "common/snapshot_worker.h"
#include "common/transport.h"

namespace ballot {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// The runtime's log levels, at the edge where they meet spdlog.
spdlog::level::level_enum to_spdlog(LogLevel level) {
    switch (level) {
        case LogLevel::debug:
            return spdlog::level::debug;
        case LogLevel::info:
            return spdlog::level::info;
        case LogLevel::warn:
            return spdlog::level::warn;
        case LogLevel::error:
            return spdlog::level::err;
    }
    return spdlog::level::err;
}

void log_at(LogLevel level, const std::string& line) {
    spdlog::log(to_spdlog(level), "{}", line);
}

std::uint32_t to_ticks(std::uint32_t ms, std::uint32_t tick_ms) {
    return std::max<std::uint32_t>(1, (ms + tick_ms - 1) / tick_ms);
}

// A fresh id for this process start: commands this node stamps must never collide with those of its
// previous incarnations (their seqs restart at 1). Never 0, nor ConfigChange::kNotAMember: a new
// data dir takes one as its identity.
std::uint64_t fresh_session_id() {
    std::random_device rd;
    std::uint64_t id = 0;
    while (id == 0 || id == ConfigChange::kNotAMember) id = (std::uint64_t{rd()} << 32) ^ rd();
    return id;
}

// Runs `f` (a call into the driver); a broken invariant stops the process. Needed at every entry
// point, not only around io_context::run(): some callers are coroutines spawned `detached`,
// which would swallow the exception and carry on.
template <class F>
decltype(auto) fail_stop(F&& f) {
    try {
        return f();
    } catch (const InvariantViolation& e) {
        stop_on_broken_invariant(e);
    }
}

// `<data-dir>/snapshots`, created (and made durable in its parent) if missing.
std::string open_snapshot_dir(const std::string& data_dir, Durability durability) {
    std::string path = data_dir + "/snapshots";
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
        throw NodeOpenError{path + ": cannot create (" + std::strerror(errno) + ")"};
    PosixSnapshotDir parent(data_dir, durability);
    if (auto ec = parent.sync()) throw NodeOpenError{data_dir + ": cannot fsync (" + ec.message() + ")"};
    return path;
}

// The modification time of a file, in Unix seconds (0 if it cannot be read).
std::int64_t file_mtime(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_mtime) : 0;
}

tcp::endpoint resolve(asio::io_context& io, const std::string& host, std::uint16_t port) {
    tcp::resolver resolver(io);
    auto results = resolver.resolve(host, std::to_string(port));
    return results.begin()->endpoint();
}

// The peer endpoints of `members` other than `self`. An address that does not parse or resolve (it
// was checked when it was added, but DNS may have changed) is logged and left out: that member is
// not dialed until the configuration changes again.
std::map<NodeId, tcp::endpoint> peer_endpoints(asio::io_context& io, const std::vector<Member>& members,
                                               NodeId self) {
    std::map<NodeId, tcp::endpoint> peers;
    for (const Member& m : members) {
        if (m.id == self) continue;
        std::string error;
        auto address = parse_host_port(m.address, m.id, error);
        try {
            if (address) peers[m.id] = resolve(io, address->host, address->peer_port());
        } catch (const boost::system::system_error& e) {
            error = e.code().message();
        }
        if (!peers.count(m.id))
            spdlog::warn("member {} at '{}' cannot be reached: {}", m.id, m.address, error);
    }
    return peers;
}

// Gives a member that an engine holds without an address (one that keeps only ids) its --node
// address. Whether any was missing.
bool fill_addresses(std::vector<Member>& members, const ClusterConfig& cluster) {
    bool filled = false;
    for (Member& m : members) {
        if (!m.address.empty()) continue;
        for (const NodeAddress& a : cluster.members)
            if (a.id == m.id) m.address = a.str();
        filled = true;
    }
    return filled;
}

}  // namespace

// Adapts the Transport to the driver's Network.
class Node::TransportNetwork final : public Network {
public:
    TransportNetwork(Transport& t, const std::set<NodeId>& cut_off) : transport_(t), cut_off_(cut_off) {}
    void send(NodeId to, Bytes payload) override {
        if (joining_) return;            // common/membership_guard.h: a new data dir says nothing yet
        if (cut_off_.count(to)) return;  // partitioned by the live view's admin action
        transport_.send(to, payload);
    }
    void send_bulk(NodeId to, Bytes payload) override {
        if (joining_ || cut_off_.count(to)) return;
        transport_.send_bulk(to, payload);  // a dropped chunk is retransmitted by the snapshot layer
    }
    bool joining_ = false;
    bool reachable(NodeId peer) const override { return !cut_off_.count(peer) && transport_.connected(peer); }
    bool known_unreachable(NodeId peer) const override {
        if (cut_off_.count(peer)) return true;
        return transport_.known_down(peer);  // false for one not (yet) a peer: nothing known
    }

private:
    Transport& transport_;
    const std::set<NodeId>& cut_off_;  // Node::partitioned_
};

Node::Node(asio::io_context& io, NodeOptions options, StateMachine& state_machine)
    : io_(io), options_(std::move(options)), state_machine_(state_machine), tick_timer_(io) {
    open();
}

// Everything a process start builds from the data dir: the store, snapshots, membership guard,
// transport and driver with a freshly recovered engine. Run again by restart() after crash().
void Node::open() {
    StateMachine& state_machine = state_machine_;
    LogStoreOptions store_options;
    store_options.engine = options_.protocol;
    store_options.preallocate_bytes = LogStore::kDefaultPreallocateBytes;
    store_options.durability = options_.durability;
    // Compaction's unlinks off the write path (common/segment_reaper.h).
    store_options.delete_in_background = true;
    // A dir that has taken part cannot have lost its log (common/membership_guard.h).
    store_options.expect_existing_log = MembershipGuard::has_taken_part(options_.data_dir);
    // The engine's own decoders check every persisted record as it is replayed, so bytes it
    // cannot read are refused as corruption at their file and offset (common/engine.h).
    if (options_.engine) store_options.codec = options_.engine->codec;
    OpenResult opened = LogStore::open(options_.data_dir, store_options);
    if (!opened.ok()) throw NodeOpenError{opened.error->message()};
    if (opened.torn_bytes_dropped > 0) opening_log_.emplace_back(LogLevel::warn, opened.torn_message);
    opening_log_.emplace_back(
        LogLevel::info, "recovered " + std::to_string(opened.recovered.records.size()) + " log records and " +
                            std::to_string(opened.recovered.metadata.size()) + " bytes of " +
                            options_.protocol + " metadata from " + options_.data_dir);
    // The latest snapshot goes into the state machine before the engine is built, so the engine
    // replays only the log after it (common/snapshot_recovery.h).
    snapshot_dir_ = std::make_unique<PosixSnapshotDir>(
        open_snapshot_dir(options_.data_dir, options_.durability), options_.durability);
    SnapshotRecovery snapshot = recover_snapshot(*snapshot_dir_, state_machine, opened.recovered);
    if (!snapshot.error.empty()) throw NodeOpenError{snapshot.error};
    for (auto& note : snapshot.notes) opening_log_.emplace_back(LogLevel::info, note);
    if (snapshot.latest) {
        opened.recovered.snapshot = snapshot.latest->meta;
        last_save_unix_ = file_mtime(snapshot_dir_->path() + "/" + snapshot.latest->name);
    }
    storage_ = std::make_unique<FileStorage>(io_, std::move(opened.store));
    incarnation_ = fresh_session_id();
    boot_mark_ = high_water_mark();
    try {
        guard_ = std::make_unique<MembershipGuard>(options_.data_dir, fresh_session_id(), options_.durability,
                                                   options_.join);
    } catch (const std::runtime_error& e) {
        throw NodeOpenError{e.what()};
    }
    follow_data_dir_origin();

    const NodeId self = options_.cluster.self;
    EngineConfig config;
    config.id = self;
    config.members = options_.cluster.ids();
    for (const NodeAddress& m : options_.cluster.members) config.addresses[m.id] = m.str();
    config.join = options_.join;
    config.identity = guard_->identity();
    config.election_timeout_min_ticks = to_ticks(options_.election_timeout_min_ms, options_.tick_ms);
    config.election_timeout_max_ticks = to_ticks(options_.election_timeout_max_ms, options_.tick_ms);
    config.heartbeat_ticks = to_ticks(options_.heartbeat_ms, options_.tick_ms);
    config.seed = fresh_session_id();
    config.snapshot_trailing = options_.snapshot_trailing;
    if (!options_.engine) throw NodeOpenError{"no engine given for protocol " + options_.protocol};
    std::unique_ptr<Engine> engine;
    try {
        engine = options_.engine->make(config, std::move(opened.recovered));
    } catch (const std::invalid_argument& e) {
        // A bad configuration, or recovered records that decode but do not fit together (a Raft
        // log whose terms go backwards...): one line and exit, never an uncaught exception.
        throw NodeOpenError{"cannot start the " + options_.protocol + " engine on " + options_.data_dir +
                            ": " + e.what()};
    }

    std::map<NodeId, tcp::endpoint> peers;
    for (auto& m : options_.cluster.members)
        if (m.id != self) peers[m.id] = resolve(io_, m.host, m.peer_port());
    TransportOptions transport_options;
    transport_options.identity = guard_->identity();
    transport_options.link_delay = options_.link_delay;
    transport_options.tls = options_.peer_tls;
    transport_options.admit = [this](NodeId peer, std::uint64_t identity, const HelloMarks& m,
                                     TransportOptions::AdmitDone done) {
        guard_->admit(peer, DataDirClaim{identity, m.incarnation, m.boot_mark, m.mark}, std::move(done));
    };
    transport_options.marks = [this] { return HelloMarks{incarnation_, boot_mark_, high_water_mark()}; };
    transport_options.on_mark = [this](NodeId peer, std::uint64_t incarnation, std::uint64_t mark) {
        guard_->note_mark(peer, incarnation, mark);
    };
    // A --join node knows only some members from --node, and the leader that adds it may not be one
    // of them: until it has a configuration, it lets any node of its protocol dial it.
    transport_options.admit_unlisted = [this] { return options_.join && driver_->configuration().empty(); };
    // And a member that was away admits a node added since, which it does not know yet, if that
    // node has applied more of the log (TransportOptions::applied_index).
    transport_options.applied_index = [this] { return driver_->applied_index(); };
    transport_ = std::make_unique<Transport>(
        io_, self, options_.protocol, peers, transport_options,
        [this](NodeId from, std::span<const std::uint8_t> payload) {
            if (stopped_ || network_->joining_ || cut_off(from)) return true;
            bool ok = fail_stop([&] { return driver_->receive(from, payload); });
            schedule_pump();
            return ok;
        },
        [this](NodeId from, std::span<const std::uint8_t> payload) {
            if (stopped_ || network_->joining_ || cut_off(from)) return true;
            bool ok = fail_stop([&] { return driver_->receive_bulk(from, payload); });
            schedule_pump();
            return ok;
        },
        log_at);
    network_ = std::make_unique<TransportNetwork>(*transport_, partitioned_);
    // A --join node does not wait for every peer to meet it (common/membership_guard.h).
    network_->joining_ = !guard_->joined() && !options_.join;
    if (network_->joining_)
        opening_log_.emplace_back(
            LogLevel::info, "new data dir " + options_.data_dir + ": taking part once every peer has met it");
    if (options_.link_delay.enabled())
        opening_log_.emplace_back(LogLevel::warn,
                                  "WAN emulation (--link-delay): every frame to a peer is held " +
                                      options_.link_delay.str() + " before it is sent");

    DriverOptions d;
    d.session_id = fresh_session_id();
    d.request_timeout_ticks = to_ticks(options_.request_timeout_ms, options_.tick_ms);
    d.retry_ticks = config.election_timeout_max_ticks;
    d.read_retry_ticks = std::max<std::uint32_t>(1, config.heartbeat_ticks / 2);
    d.snapshot_entries = options_.snapshot_entries;
    d.snapshot_make_bytes_per_tick = static_cast<std::size_t>((options_.snapshot_rate_mib << 20) * options_.tick_ms / 1000);
    d.tick_ms = options_.tick_ms;
    // Cluster time counts this process's steady clock (common/cluster_clock.h): never the wall
    // clock, which may jump.
    d.monotonic_ms = [] {
        return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::steady_clock::now().time_since_epoch())
                                              .count());
    };
    snapshot_worker_ = std::make_unique<ThreadSnapshotWorker>(io_);
    driver_ =
        std::make_unique<Driver>(self, std::move(engine), *storage_, *network_, state_machine, d,
                                 SnapshotIo{snapshot_dir_.get(), snapshot_worker_.get(), snapshot.latest});
    driver_->set_log(log_at);
    // A membership change is answered once the transport and the membership guard follow the
    // configuration it made: after MEMBER REMOVE's +OK the id is free for a new data dir.
    driver_->set_before_change_answered([this] { follow_configuration(/*on_tick=*/true); });
    driver_->set_on_snapshot_made([this](Index, std::uint64_t) {
        last_save_unix_ = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    });
    live_events_.set_on_active_changed([this](bool) { install_trace(); });
    install_trace();
}

// A data dir created by a start with --join came in through MEMBER ADD, and one created without it
// was a bootstrap member; that stays so, whatever later command lines say, because the engine
// tells its own configuration entries from those of a data dir its id had before by it
// (common/configuration.h, SelfId: a joiner never takes a bootstrap entry for its own). A dir
// written before the origin was recorded goes by the flag.
void Node::follow_data_dir_origin() {
    const std::optional<bool> by_join = guard_->created_by_join();
    if (!by_join || *by_join == options_.join) return;
    opening_log_.emplace_back(LogLevel::warn,
                              *by_join ? "data dir " + options_.data_dir +
                                             " was created with --join: this node runs as one that joined"
                                       : "--join ignored: data dir " + options_.data_dir +
                                             " was created as a bootstrap member of its cluster");
    options_.join = *by_join;
}

// The driver's trace hook serves --trace and the live view's subscribers (common/live_events.h).
// Without either it is removed, so that no message is described for nobody.
void Node::install_trace() {
    const bool live = live_events_.active();
    if (!options_.trace && !live) return driver_->set_trace(nullptr);
    std::shared_ptr<spdlog::logger> trace;
    if (options_.trace) {
        // Its own logger, so --trace prints whatever --log-level says about everything else.
        trace = spdlog::default_logger()->clone("trace");
        trace->set_level(spdlog::level::trace);
    }
    const bool log_heartbeats = options_.trace_heartbeats;
    driver_->set_trace(
        [this, trace, log_heartbeats](const TracedMessage& m) {
            if (trace && (log_heartbeats || !m.heartbeat)) trace->info("{}", m.line());
            // The page draws heartbeats too (and may hide them): they show who leads.
            live_events_.publish_message({m.from(), m.to()},
                                         [&m] { return message_event_json(m, unix_time_ms()); });
        },
        log_heartbeats || live);
}

Node::~Node() {
    stop();
}

void Node::start(tcp::acceptor peer_listener) {
    transport_->start(std::move(peer_listener));
    follow_configuration(/*on_tick=*/true);
    for (auto& [level, line] : opening_log_) log_at(level, line);
    opening_log_.clear();
    next_tick_ = std::chrono::steady_clock::now();
    schedule_tick();
}

void stop_on_broken_invariant(const InvariantViolation& e) {
    spdlog::critical("{}; stopping now (exit {}): a node never serves past a broken invariant", e.what(),
                     kExitInvariantViolated);
    spdlog::default_logger()->flush();
    std::_Exit(kExitInvariantViolated);
}

void Node::stop() {
    if (stopped_) return;
    stopped_ = true;
    tick_timer_.cancel();
    if (transport_) transport_->stop();
    if (driver_) driver_->fail_all(Outcome::Status::timeout);
    // A snapshot half written stays a .tmp, removed at the next start; one being renamed is
    // finished first (the worker completes the job in progress).
    if (snapshot_worker_) snapshot_worker_->stop();
    if (storage_) storage_->close();  // finishes the fsync in flight
}

void Node::schedule_tick() {
    // Ticks keep a fixed cadence: a late tick does not push every later one back.
    next_tick_ += std::chrono::milliseconds(options_.tick_ms);
    tick_timer_.expires_at(next_tick_);
    tick_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec || stopped_) return;
        auto now = std::chrono::steady_clock::now();
        if (now - next_tick_ > std::chrono::seconds(1)) next_tick_ = now;  // after a long stall (SIGSTOP)
        fail_stop([&] { driver_->tick(); });
        schedule_pump();
        follow_configuration(/*on_tick=*/true);
        finish_joining();
        announce_mark();
        report_state_changes();
        schedule_tick();
    });
}

void Node::schedule_pump() {
    if (pump_scheduled_ || stopped_) return;
    pump_scheduled_ = true;
    asio::post(io_, [this] {
        pump_scheduled_ = false;
        if (stopped_) return;
        fail_stop([&] { driver_->pump(); });
        follow_configuration(/*on_tick=*/false);
    });
}

// The transport talks with the members the engine names (Engine::members_to_connect: those of
// the applied configuration, and in Multi-Paxos a removed voter's until its removal governs; SPEC
// "Membership change"): checked after every pump (a configuration entry is applied there), every
// tick, and before a change submitted here is answered (Driver::set_before_change_answered). A
// member the engine lets go of is forgotten by the membership guard, so the id can be added back
// later with a new data dir. An empty configuration (a --join node not added yet) changes
// nothing: the --node list stays its peers.
void Node::follow_configuration(bool on_tick) {
    const Configuration& applied = driver_->configuration();
    if (applied.empty()) return;
    const bool changed = applied != followed_configuration_;
    if (changed) {
        if (followed_configuration_) spdlog::info("configuration: {}", configuration().str());
        followed_configuration_ = applied;
        // The membership guard admits the data dirs the configuration names (common/membership_guard.h).
        std::map<NodeId, std::uint64_t> identities;
        for (const Member& m : applied.members()) identities[m.id] = m.identity;
        guard_->follow_configuration(std::move(identities));
    }
    // The members to connect may also change with no new configuration (in Multi-Paxos a removal
    // starts to govern): asked of the engine once per tick, not after every pump, and at once
    // whenever the configuration changes.
    if (!changed && !on_tick) return;
    std::vector<Member> members = driver_->members_to_connect();
    fill_addresses(members, options_.cluster);
    if (members == followed_members_) return;
    for (const Member& before : followed_members_)
        if (before.id != options_.cluster.self &&
            std::none_of(members.begin(), members.end(), [&](const Member& m) { return m.id == before.id; }))
            guard_->forget(before.id);
    transport_->set_peers(peer_endpoints(io_, members, options_.cluster.self));
    followed_members_ = std::move(members);
}

void Node::submit(std::optional<Stamp> stamp, std::string payload, Completion done) {
    if (stopped_) return done(Outcome{Outcome::Status::timeout, {}});
    fail_stop([&] { driver_->submit(stamp, std::move(payload), std::move(done)); });
    schedule_pump();
}

Configuration Node::configuration() const {
    const Configuration& applied = driver_->configuration();
    std::vector<Member> members = applied.members();
    return fill_addresses(members, options_.cluster) ? Configuration(std::move(members)) : applied;
}

std::uint64_t Node::data_dir_identity() const {
    return guard_->identity();
}

void Node::submit_config_change(std::optional<Stamp> stamp, const ConfigChange& change, Completion done) {
    if (stopped_) return done(Outcome{Outcome::Status::timeout, {}});
    fail_stop([&] { driver_->submit_config_change(stamp, change, std::move(done)); });
    schedule_pump();
}

void Node::transfer_leadership(NodeId target, Completion done) {
    if (stopped_) return done(Outcome{Outcome::Status::timeout, {}});
    fail_stop([&] { driver_->transfer_leadership(target, std::move(done)); });
    schedule_pump();
}

void Node::probe_peer(const tcp::endpoint& at, NodeId expected, std::function<void(PeerProbe)> done) {
    if (stopped_) return done(PeerProbe{0, "this node is stopping"});
    transport_->probe(at, expected, std::move(done));
}

void Node::read(Completion done) {
    if (stopped_) return done(Outcome{Outcome::Status::timeout, {}});
    fail_stop([&] { driver_->read(std::move(done)); });
    schedule_pump();
}

bool Node::request_snapshot() {
    if (stopped_) return false;
    bool started = fail_stop([&] { return driver_->request_snapshot(); });
    schedule_pump();
    return started;
}

DriverStatus Node::status() const {
    return driver_->status();
}

NodeHealth Node::health() const {
    NodeHealth h;
    h.joining = network_->joining_;
    for (const PeerLink& link : transport_->links()) {
        const bool cut = cut_off(link.id);  // a partition shows as the peer being down
        if (link.connected && !cut) h.connected.push_back(link.id);
        if (link.known_down || cut) h.down.push_back(link.id);
        if (!link.refused_because.empty()) h.refused_by[link.id] = link.refused_because;
        if (h.joining && !link.connected) h.waiting_for.push_back(link.id);
    }
    const Configuration& config = driver_->configuration();
    h.not_a_member = !config.contains(options_.cluster.self);
    // Without the refusing peers: is there still a majority to take part with?
    std::size_t members = config.empty() ? options_.cluster.members.size() : config.members().size();
    bool majority_left = members - h.refused_by.size() >= members / 2 + 1;
    h.refused = !h.refused_by.empty() && (h.joining || !majority_left);
    return h;
}

std::int64_t Node::uptime_seconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - created_at_)
        .count();
}

// A new data dir joins once every peer has completed a handshake with it, so that every peer
// remembers its identity (common/membership_guard.h), and once JOINED is durable: the guard's
// writer thread writes it, and this node takes part from the first tick after.
void Node::finish_joining() {
    // A --join node has taken part once a configuration holding it was applied: from then on its
    // data dir must keep its log (MembershipGuard::has_taken_part).
    if (options_.join && !guard_->joined() && driver_->configuration().contains(options_.cluster.self))
        guard_->request_join();
    if (!network_->joining_) return;
    if (guard_->joined()) {
        network_->joining_ = false;
        spdlog::info("every peer has met this data dir: taking part");
        return;
    }
    if (transport_->connected_peers() + 1 < options_.cluster.members.size()) return;
    guard_->request_join();
}

// The data dir's high-water mark as presented to peers: the last durable record's sequence less
// one, because a flipped last record is cut at restart (common/log_store.h) and the mark a node
// restarts with must never be below what its peers learned.
std::uint64_t Node::high_water_mark() const {
    std::uint64_t sequence = storage_->durable_sequence();
    return sequence > 0 ? sequence - 1 : 0;
}

// Tells the peers this node's mark as it grows (at most every kMarkAnnounceMs), so that a stale
// copy of this data dir is refused even if the node never reconnected in between; and reports a
// failed PEERS or JOINED write of the guard's background writer.
void Node::announce_mark() {
    auto now = std::chrono::steady_clock::now();
    if (now - last_mark_announce_ < std::chrono::milliseconds(MembershipGuard::kMarkAnnounceMs)) return;
    last_mark_announce_ = now;
    if (auto error = guard_->take_save_error()) spdlog::error("membership guard: {}", *error);
    std::uint64_t mark = high_water_mark();
    if (mark == last_announced_mark_) return;
    last_announced_mark_ = mark;
    transport_->announce_mark();
}

// Logs at INFO whenever this node's role, leader or term/ballot changes, and tells the live view
// whenever anything it shows changes.
void Node::report_state_changes() {
    publish_state();
    EngineStatus s = driver_->status().engine;
    // A follower (Raft, Multi-Paxos; a basic Paxos learner) fsyncs on this thread, a leader or
    // proposer on the storage thread (common/file_storage.h): at most a tick late after a change
    // of role, which costs only a little speed.
    storage_->set_flush_on_runtime_thread(s.role == Role::follower);
    std::tuple<Role, NodeId, Epoch> now{s.role, s.leader, s.epoch};
    if (now == last_reported_state_) return;
    last_reported_state_ = now;
    spdlog::info("role={} leader_id={} {}={} commit_index={} applied_index={}", role_name(s.role), s.leader,
                 s.epoch.name(), s.epoch.str(), s.commit_index, driver_->applied_index());
}

// A state event for the live view when /status would say something new (at most once a tick):
// role, leader, term or ballot, commit, applied, log, snapshot, peers...
void Node::publish_state() {
    if (!live_events_.active()) return;
    std::string status = status_json(node_report(*this));
    if (status == last_published_status_) return;
    live_events_.publish(state_event_json(options_.cluster.self, status, unix_time_ms()));
    last_published_status_ = std::move(status);
}

// ---- the live view's admin actions (common/live_view.h) ----

void Node::set_crash_hooks(std::function<void()> on_crash, std::function<void()> before_restart) {
    on_crash_ = std::move(on_crash);
    before_restart_ = std::move(before_restart);
}

// As if the process were killed: the engine stops, every connection drops, waiting requests fail,
// and nothing volatile survives (restart() rebuilds it all from the data dir). What the last
// batches handed to storage are fsync'ed first, as FileStorage::close() finishes its queue: an
// in-process crash cannot lose the page cache, which a power cut could.
void Node::crash() {
    if (stopped_) return;
    spdlog::warn("admin: crashing this node (engine stopped, connections dropped)");
    stop();
    crashed_ = true;
    if (on_crash_) on_crash_();
    publish_state();  // the live view's readers see it crashed
}

void Node::restart() {
    if (!crashed_) return;
    spdlog::warn("admin: restarting this node from {}", options_.data_dir);
    // The crashed incarnation goes first: its store must release the data dir's lock.
    driver_.reset();
    network_.reset();
    transport_.reset();
    guard_.reset();
    snapshot_worker_.reset();
    snapshot_dir_.reset();
    storage_.reset();
    followed_configuration_.reset();
    followed_members_.clear();
    last_reported_state_.reset();
    last_published_status_.clear();
    last_announced_mark_ = 0;
    created_at_ = std::chrono::steady_clock::now();
    if (before_restart_) before_restart_();  // an empty state machine, as in a new process
    try {
        open();
    } catch (const NodeOpenError& e) {
        // What a real restart would do with a data dir it cannot open: one line and exit 1.
        spdlog::critical("cannot restart: {}", e.message);
        spdlog::default_logger()->flush();
        std::_Exit(1);
    }
    const NodeAddress& me = options_.cluster.self_address();
    crashed_ = false;
    stopped_ = false;
    start(listen_on(io_, resolve(io_, me.host, me.peer_port())));
}

void Node::partition(const std::set<NodeId>& peers) {
    partitioned_ = peers;
    partitioned_.erase(options_.cluster.self);
    spdlog::warn("admin: cut off from peers {{{}}} both ways",
                 id_list({partitioned_.begin(), partitioned_.end()}));
}

void Node::heal() {
    if (!partitioned_.empty()) spdlog::warn("admin: partition healed");
    partitioned_.clear();
}

bool Node::cut_off(NodeId peer) const {
    return partitioned_.count(peer) > 0;
}

}  // namespace ballot
