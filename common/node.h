// The node runtime: one io_context thread that owns the transport, the timers and the driver,
// plus FileStorage's fsync thread. Everything protocol-specific lives in the engine; everything
// the runtime does is in common/driver.h, which the simulator runs too.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "common/cluster_config.h"
#include "common/driver.h"
#include "common/engine.h"
#include "common/link_delay.h"
#include "common/live_events.h"
#include "common/state_machine.h"
#include "common/transport.h"

namespace boost::asio::ssl {
class context;
}

namespace ballot {

class FileStorage;
class MembershipGuard;
class PosixSnapshotDir;
class ThreadSnapshotWorker;

// --snapshot-rate's default, MiB per second (NodeOptions::snapshot_rate_mib says why this value).
inline constexpr std::uint64_t kDefaultSnapshotRateMib = 12;

struct NodeOptions {
    std::string protocol;  // the engine's name: recorded in the data dir, sent in the handshake
    // The engine to run, from the registry (engines/registry.h; common/ knows no engine itself).
    const EngineTraits* engine = nullptr;
    ClusterConfig cluster;
    // --join (SPEC "Membership change"): this node joins a running cluster. It is in no
    // configuration, and the --node list only tells it where some members are, until a leader adds
    // it (MEMBER ADD) and replicates the configuration to it.
    bool join = false;
    std::string data_dir;
    std::uint32_t tick_ms = 10;
    std::uint32_t election_timeout_min_ms = 300;
    std::uint32_t election_timeout_max_ms = 600;
    std::uint32_t heartbeat_ms = 50;
    std::uint32_t request_timeout_ms = 3000;
    bool trace = false;
    // --trace-heartbeats: --trace shows heartbeats and their acks too (hidden by default, as they
    // would flood it: Engine::is_heartbeat decides which messages they are).
    bool trace_heartbeats = false;
    // --unsafe-no-fsync (common/durability.h): no fsync or fdatasync anywhere in the data dir.
    Durability durability = Durability::fsync;
    // --snapshot-entries (0: only on BGSAVE) and --snapshot-trailing (SPEC defaults).
    std::uint64_t snapshot_entries = 100000;
    std::uint64_t snapshot_trailing = 10000;
    // --snapshot-rate: MiB per second a snapshot is serialized at, at most (0: unpaced). At 25
    // MiB/s, write p99 while a 14 MB snapshot was made was 1.6-2.6x the p99 while none was
    // (ballot-bench --keys 100000, on a 2-core VM whose disk syncs slower under load); at 12 MiB/s
    // 1.35-1.9x, with the same throughput. Every node snapshots at the same index, so likely the
    // disk: three files written back at once beside the logs' fdatasyncs (README "Where each
    // concept lives", the pacing paragraph).
    std::uint64_t snapshot_rate_mib = kDefaultSnapshotRateMib;
    // --link-delay: WAN emulation on every peer frame this node sends (common/link_delay.h).
    LinkDelay link_delay;
    // --http HOST:PORT: where this node serves its live view (common/live_view.h); port 0: off.
    std::string http_host;
    std::uint16_t http_port = 0;
    // --http-admin: the live view's admin actions (crash, restart, partition) are allowed.
    bool http_admin = false;
    // --tls-cert-file and co (common/tls.h, peer_tls): mutual TLS with every peer; null: plaintext.
    std::shared_ptr<boost::asio::ssl::context> peer_tls;
};

// What opening the data dir can go wrong with: SPEC says a corrupt data dir exits 1 naming the
// file and byte offset.
struct NodeOpenError {
    std::string message;
};

// The exit status of a node stopped by a broken invariant (EX_SOFTWARE, "internal software error").
constexpr int kExitInvariantViolated = 70;

// Fail-stop (common/assert.h): logs one critical line naming the broken invariant and ends the
// process at once with kExitInvariantViolated, without running destructors, completing requests
// or flushing anything more: a node must never serve past a broken invariant. The node calls it
// wherever it hands control to the driver; ballot-server's main also calls it for a violation that
// escapes the event loop.
[[noreturn]] void stop_on_broken_invariant(const InvariantViolation& e);

// What this node can tell an operator about its place in the cluster, from the transport's links
// and the membership guard (common/transport.h, common/membership_guard.h): INFO shows it, and the
// -TRYAGAIN / -CLUSTERDOWN replies name it.
struct NodeHealth {
    // A new data dir that not every peer has met yet: it takes no part until they all have.
    bool joining = false;
    // Refused: some peer refuses this data dir, and without the refusing peers this node cannot
    // take part (it is joining, or the rest are no majority). An operator must act.
    bool refused = false;
    std::map<NodeId, std::string> refused_by;  // peer -> the reason it gave at the handshake
    std::vector<NodeId> waiting_for;           // joining: the peers that have not met it (not connected)
    std::vector<NodeId> connected;             // peers with a live connection
    std::vector<NodeId> down;                  // peers known unreachable (closed, refused, failed)
    // Not in the configuration it has applied: started with --join and not added yet (or not yet
    // told), or removed by MEMBER REMOVE.
    bool not_a_member = false;
};

class Node {
public:
    // Opens the data dir (recovering the engine) and builds the runtime; does not start I/O and
    // logs nothing (what it found is logged by start()), so a failure to start is one line.
    // Throws NodeOpenError if the data dir cannot be used.
    Node(boost::asio::io_context& io, NodeOptions options, StateMachine& state_machine);
    ~Node();

    // Serves peers on `peer_listener` (bound to the peer port with listen_on, before the data dir
    // was opened), logs what opening the data dir found, and starts ticking.
    void start(boost::asio::ip::tcp::acceptor peer_listener);
    // Stops timers and the transport, fails waiting requests, waits for the fsync in flight.
    void stop();

    // Inputs from the client front end. Each schedules a pump for this event-loop turn, so many
    // requests that arrive together share one engine batch, one fsync and one network write.
    void submit(std::optional<Stamp> stamp, std::string payload, Completion done);
    void read(Completion done);
    // MEMBER ADD / PROMOTE / REMOVE and MEMBER TRANSFER (Driver::submit_config_change,
    // Driver::transfer_leadership).
    void submit_config_change(std::optional<Stamp> stamp, const ConfigChange& change, Completion done);
    void transfer_leadership(NodeId target, Completion done);
    // Asks the node at peer port `at` for its data dir identity (Transport::probe), for MEMBER ADD
    // to name the node it adds; `done` runs on this node's io_context.
    void probe_peer(const boost::asio::ip::tcp::endpoint& at, NodeId expected, std::function<void(PeerProbe)> done);
    // The configuration this node's engine has applied (MEMBER LIST, INFO), with the --node
    // address of any member the engine holds without one (an engine that keeps only ids).
    Configuration configuration() const;
    // This data dir's identity (common/membership_guard.h; INFO data_dir_identity).
    std::uint64_t data_dir_identity() const;

    DriverStatus status() const;
    NodeHealth health() const;
    // Whole seconds since this process built the node (INFO's uptime_in_seconds, as in Redis).
    std::int64_t uptime_seconds() const;
    const NodeOptions& options() const { return options_; }
    // BGSAVE (Driver::request_snapshot). LASTSAVE: the Unix time (seconds) of the last snapshot
    // this node made since it started, or, before that, of the newest snapshot file it found.
    bool request_snapshot();
    std::int64_t last_save_unix() const { return last_save_unix_; }
    // The live view's event stream (common/live_events.h): protocol messages and state changes,
    // made only while someone subscribes.
    LiveEvents& live_events() { return live_events_; }

    // ---- the live view's admin actions (--http-admin; common/live_view.h) ----
    // crash(): as if the process were killed: stops the engine, the transport and the timers,
    // fails every waiting request, drops every peer connection and calls `on_crash` (the client
    // front end drops its connections). The node's objects stay, stopped, so status() shows the
    // state it died with. restart(): after crash(), calls `before_restart` (the state machine is
    // emptied, as a new process's is) and rebuilds everything from the data dir, as a process
    // start does; a data dir that cannot be opened then ends the process (exit 1), as at start.
    void set_crash_hooks(std::function<void()> on_crash, std::function<void()> before_restart);
    void crash();
    void restart();
    bool crashed() const { return crashed_; }
    // Cuts this node off from `peers` in both directions (nothing sent to them, nothing taken
    // from them; they show as down) until heal(). Survives crash() and restart(), as a network
    // partition would.
    void partition(const std::set<NodeId>& peers);
    void heal();
    const std::set<NodeId>& partitioned() const { return partitioned_; }

private:
    void open();
    bool cut_off(NodeId peer) const;
    void schedule_pump();
    void schedule_tick();
    void report_state_changes();
    void install_trace();
    void publish_state();
    void finish_joining();
    void follow_data_dir_origin();
    void follow_configuration(bool on_tick);
    void announce_mark();
    std::uint64_t high_water_mark() const;

    boost::asio::io_context& io_;
    NodeOptions options_;
    StateMachine& state_machine_;
    bool crashed_ = false;
    std::set<NodeId> partitioned_;
    std::function<void()> on_crash_;
    std::function<void()> before_restart_;
    std::unique_ptr<FileStorage> storage_;
    std::unique_ptr<PosixSnapshotDir> snapshot_dir_;
    std::unique_ptr<ThreadSnapshotWorker> snapshot_worker_;
    std::unique_ptr<MembershipGuard> guard_;
    std::unique_ptr<Transport> transport_;
    class TransportNetwork;
    std::unique_ptr<TransportNetwork> network_;
    std::unique_ptr<Driver> driver_;
    boost::asio::steady_timer tick_timer_;
    std::chrono::steady_clock::time_point next_tick_;
    bool pump_scheduled_ = false;
    bool stopped_ = false;
    std::optional<std::tuple<Role, NodeId, Epoch>> last_reported_state_;
    LiveEvents live_events_;
    std::string last_published_status_;  // the live view's last state event (publish_state)
    // The configuration last logged, and the members the transport's peers were last set from
    // (follow_configuration).
    std::optional<Configuration> followed_configuration_;
    std::vector<Member> followed_members_;
    std::vector<std::pair<LogLevel, std::string>> opening_log_;  // logged by start()
    std::uint64_t incarnation_ = 0;  // random per process start (common/membership_guard.h)
    std::uint64_t boot_mark_ = 0;    // the high-water mark this process started from
    std::uint64_t last_announced_mark_ = 0;
    std::chrono::steady_clock::time_point last_mark_announce_{};
    std::int64_t last_save_unix_ = 0;
    std::chrono::steady_clock::time_point created_at_ = std::chrono::steady_clock::now();
};

}  // namespace ballot
