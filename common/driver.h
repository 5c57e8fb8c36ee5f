// The runtime core: drives one engine with a Storage, a Network and a StateMachine.
//
// This is the loop of etcd-io/raft's application (Ready / persist / send / apply / Advance),
// written once for every engine and free of Asio, so that the real node (common/node.h) and the
// deterministic simulator (tests/sim) run exactly this code. Single-threaded: every call comes
// from the runtime's one thread (the node's io_context, or the simulator's loop).
//
// Persist before you promise: batches taken from the engine are written to Storage in order;
// their held messages (after_persist), committed entries and reads are released only once a
// flush that started after the write has completed. At most one flush is in flight; everything
// written meanwhile rides on the next one, so many proposals share one fsync (group commit).
//
// Exactly once: every command travels stamped (client id, seq). Commands from plain RESP clients
// are stamped with this node's session id, which is fresh for every start of the process, so a
// command this node retries internally (lost forward, leader change) is applied once. A client
// that stamps its own commands (ballot-client) keeps its stamp. The reply is produced by this
// node's own state machine when it applies the command, so forwarding needs no reply path.
//
// Cluster time (common/cluster_clock.h): every command is stamped with this node's estimate of
// cluster time each time it is proposed, and while the state machine holds something that can
// expire, the leader proposes a clock tick (an empty command) when the log has carried no newer
// time for clock_tick_ms. The driver reads no clock itself: time comes from its caller
// (DriverOptions::monotonic_ms: the node's steady clock; the simulator's ticks).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/cluster_clock.h"
#include "common/command.h"
#include "common/engine.h"
#include "common/log_level.h"
#include "common/snapshotter.h"
#include "common/state_machine.h"
#include "common/storage.h"

namespace ballot {

// Where the driver sends peer messages. The real one frames them onto TCP; the simulator's
// delays, drops and partitions them.
class Network {
public:
    virtual ~Network() = default;
    virtual void send(NodeId to, Bytes payload) = 0;
    // The bulk lane: snapshot chunks and their acknowledgements (common/snapshotter.h). Frames
    // here never delay those sent with send(); the receiver hands them to receive_bulk().
    virtual void send_bulk(NodeId to, Bytes payload) = 0;
    // Whether `peer` is reachable (connected) now. Used only to tell a client "no quorum" instead
    // of "try again".
    virtual bool reachable(NodeId peer) const = 0;
    // Whether `peer` is known to be unreachable right now: its connection closed, or a dial or
    // handshake failed, and none came back since. A peer not heard from yet is not: not knowing is
    // not knowing it is down. With more voters known down than a quorum can spare, requests fail
    // at once (Driver::quorum_known_lost). The default knows nothing (the simulator models no
    // connections), so requests wait for their timeout as before.
    // The driver asks about the voters of the engine's applied configuration, one by one: the
    // network's own list of peers may lag behind it (the transport follows the configuration after
    // the driver applied it), and counting its peers against the configuration's majority once
    // failed every request at a removal (a removed peer still counted down, the majority already
    // the new one's).
    virtual bool known_unreachable(NodeId /*peer*/) const { return false; }
};

struct Outcome {
    enum class Status {
        ok,              // applied; `reply` is the state machine's reply (or empty for a read barrier)
        timeout,         // request timeout passed; the write may or may not have been applied
        no_quorum,       // this node knows no majority is reachable; outcome unknown too
        storage_failed,  // this node's disk failed; it acknowledges nothing any more
        overloaded,      // too many requests in flight on this node
        refused,         // the engine refused it (`reply`: why, for the client); nothing was done
    };
    Status status = Status::ok;
    std::string reply;
};
using Completion = std::function<void(const Outcome&)>;

// One protocol message as --trace and the live view see it (Driver::set_trace): where it went,
// which way, and the engine's describe() text.
struct TracedMessage {
    NodeId self = kNoNode;  // the node whose trace this is
    NodeId peer = kNoNode;  // where it goes (sent) or comes from (received); self for its own
    bool sent = true;
    bool heartbeat = false;  // Engine::is_heartbeat
    std::string what;        // Engine::describe(), e.g. "AppendEntries term=3 ..."

    NodeId from() const { return sent ? self : peer; }
    NodeId to() const { return sent ? peer : self; }
    // The message's type: the first word of `what` ("AppendEntries").
    std::string_view type() const { return std::string_view(what).substr(0, what.find(' ')); }
    // --trace's line: "n1 -> n2 AppendEntries ..." (sent) or "n2 <- n1 ..." (received); the node
    // whose log it is comes first (SPEC "ballot-server").
    std::string line() const {
        return "n" + std::to_string(self) + (sent ? " -> " : " <- ") + "n" + std::to_string(peer) + " " +
               what;
    }
};

struct Stamp {
    std::uint64_t client_id = 0;
    std::uint64_t seq = 0;
    std::uint64_t acked_below = 0;
};

// An engine's refusal of a membership change that will pass by itself (common/engine.h asks for a
// line a client can read; this ending marks those worth asking again: "a membership change is still
// in progress (entry 12); try again").
inline constexpr std::string_view kRetryableRefusal = "; try again";

struct DriverOptions {
    // Unique for this process start (never 0): stamps this node's own commands, and seeds the
    // ids of its reads (see Driver::next_read_id_).
    std::uint64_t session_id = 1;
    std::uint32_t request_timeout_ticks = 300;
    // An unanswered command is proposed again after this long (a forward may have been lost),
    // the wait doubling with each retry, and at once when the engine's leader or term changes
    // (the old leader's log may have lost it). Dedup makes a retry harmless; the backoff keeps
    // retries of a slow but healthy cluster from flooding its log with duplicates.
    std::uint32_t retry_ticks = 60;
    std::uint32_t read_retry_ticks = 2;  // a read that found no leader asks again this soon
    std::size_t max_pending_requests = 100000;

    // Snapshots (SPEC "Snapshots and log compaction"; common/snapshotter.h).
    // A snapshot is started once this many entries were applied since the last one (0: only on
    // request_snapshot(), i.e. BGSAVE). --snapshot-entries.
    Index snapshot_entries = 100000;
    // Bytes per chunk when sending a file to a peer, and chunks a transfer may have
    // unacknowledged at once.
    std::size_t snapshot_chunk_bytes = 256 << 10;
    std::size_t snapshot_window = 4;
    // Making a snapshot: the state machine is serialized on the runtime's thread, this many bytes
    // at a time, and at most `snapshot_make_bytes_per_tick` bytes per tick (0: as fast as the
    // worker writes them). Unpaced, a 14 MB snapshot took the runtime's thread for most of
    // 100 ms on all nodes at once, and writes stalled behind it (--snapshot-rate).
    std::size_t snapshot_make_chunk_bytes = 64 << 10;
    std::size_t snapshot_make_bytes_per_tick = 0;
    // A transfer (either side) that hears nothing from its peer for this long is abandoned.
    std::uint32_t snapshot_transfer_timeout_ticks = 500;

    // Cluster time. Local monotonic milliseconds, from the caller: the node passes its steady
    // clock; without one (the simulator, unit tests) time is ticks x tick_ms.
    std::function<std::uint64_t()> monotonic_ms;
    std::uint32_t tick_ms = 10;
    // While something can expire and the log carried no newer time for this long, the leader
    // proposes a clock tick: expiry is at most this late without client traffic, and so is the
    // clock a read sees on an idle cluster. Basic Paxos has no leader: every node waits
    // clock_tick_ms x min(its id, clock_tick_max_rank), so the live node with the lowest id
    // ticks and the others stay quiet while its ticks arrive (Driver::clock_tick_wait_ms).
    std::uint32_t clock_tick_ms = 100;
    std::uint32_t clock_tick_max_rank = 8;
};

// What INFO shows beyond the engine's own status.
struct DriverStatus {
    EngineStatus engine;
    Index applied_index = 0;
    std::size_t pending_writes = 0;
    std::size_t pending_reads = 0;
    bool storage_failed = false;
    std::string storage_error;

    // Snapshots: the latest durable one (made here or installed from a peer; 0 before any), its
    // payload size, whether one is being made right now, and counts since this process started.
    Index snapshot_index = 0;
    std::uint64_t snapshot_bytes = 0;
    bool snapshot_in_progress = false;
    std::uint64_t snapshots_made = 0;
    std::uint64_t snapshots_installed = 0;  // received from a peer and installed
    std::uint64_t snapshots_sent = 0;       // transfers to peers completed
};

class Driver : private SnapshotHost {
public:
    // `snapshots`: where this node keeps snapshots and what it found there at startup (already
    // restored into `state_machine`); without a dir, the node never snapshots.
    Driver(NodeId self, std::unique_ptr<Engine> engine, Storage& storage, Network& network,
           StateMachine& state_machine, DriverOptions options, SnapshotIo snapshots = {});

    // ---- inputs; call pump() after any of them (the node coalesces pumps per event-loop turn) ----
    void tick();
    // A peer message. Returns false if it does not decode (the caller drops that connection).
    bool receive(NodeId from, std::span<const std::uint8_t> payload);
    // A frame from the bulk lane (snapshot transfer). False if it does not decode.
    bool receive_bulk(NodeId from, std::span<const std::uint8_t> payload);
    // A write: completes once this node has applied it (or with a failure status).
    void submit(std::optional<Stamp> stamp, std::string payload, Completion done);
    // A linearizable read barrier: completes with ok once the local state machine may be queried.
    void read(Completion done);
    // A membership change (SPEC "Membership change, learners, leadership transfer"): a stamped write
    // whose payload is encode_config_request(change), placed by Engine::propose_config_change. It
    // completes like any write once its entry is applied (the state machine answers it), and the
    // configuration it made is in effect (Engine::configuration_in_effect; at once but in
    // Multi-Paxos), the runtime told first (set_before_change_answered). A refusal
    // completes it at once with `refused` and the engine's reason, except a passing one (a refusal
    // that ends in kRetryableRefusal: a change or transfer still under way, no leader, no entry of
    // this term committed yet), which is asked again until the request timeout and then returned.
    // Once placed it is never proposed again: a second copy would be refused as a duplicate while
    // the first may still commit, so a lost entry ends in the request timeout (outcome unknown).
    // On a follower the engine forwards it to the leader: taken as placed, unless the leader's
    // refusal comes back (Ready::refusals), which is then handled as the leader's own would be. A
    // forward or refusal lost on the way likewise ends in the request timeout, never in a copy.
    void submit_config_change(std::optional<Stamp> stamp, const ConfigChange& change, Completion done);
    // MEMBER TRANSFER: Engine::transfer_leadership(target); completes with ok (empty reply) once the
    // engine's status names `target` as the leader (watched at every tick), `refused` with the
    // engine's reason (or, forwarded by a follower, the leader's), or `timeout` after the request
    // timeout.
    void transfer_leadership(NodeId target, Completion done);
    // The configuration the engine has applied (Engine::configuration).
    const Configuration& configuration() const { return engine_->configuration(); }
    // Whom the runtime keeps connections with (Engine::members_to_connect).
    std::vector<Member> members_to_connect() const { return engine_->members_to_connect(); }

    // Takes engine output and acts on it (persist, send, apply, release reads).
    void pump();

    // BGSAVE: starts a snapshot now. False if one is already being made (or the node has applied
    // nothing since its latest snapshot); it then completes on its own.
    bool request_snapshot();
    // Called on the runtime's thread each time a snapshot of this node's own becomes durable
    // (the node notes the wall-clock time for LASTSAVE).
    void set_on_snapshot_made(std::function<void(Index index, std::uint64_t bytes)> callback) {
        on_snapshot_made_ = std::move(callback);
    }

    // Called on the runtime's thread just before a membership change submitted here is answered:
    // the runtime follows the configuration now in effect (connections, the membership guard)
    // before the client can act on the +OK (start a replacement under a removed id, say).
    void set_before_change_answered(std::function<void()> callback) {
        before_change_answered_ = std::move(callback);
    }

    DriverStatus status() const;
    // True while more voters are known unreachable (Network::known_unreachable) than a majority can
    // spare: no request can finish, so new ones fail at once and waiting ones at the next tick,
    // with no_quorum, instead of after the request timeout. Only the runtime's answer changes: the
    // engine goes on as before and commits whatever a returning majority lets it.
    bool quorum_known_lost() const;
    Index applied_index() const { return applied_index_; }
    bool storage_failed() const { return storage_failed_; }
    // The engine's local invariants (Engine::check_invariants); throws InvariantViolation. The
    // simulator calls it after every step; debug builds call it after every batch.
    void check_engine_invariants() const { engine_->check_invariants(); }
    // --trace and the live view: called once per protocol message, sent or received (TracedMessage;
    // its line() is --trace's text). Heartbeats and their acks (Engine::is_heartbeat) are left out
    // unless `heartbeats`. An empty sink turns tracing off: no message is described then.
    void set_trace(std::function<void(const TracedMessage&)> sink, bool heartbeats = false) {
        trace_ = std::move(sink);
        trace_heartbeats_ = heartbeats;
    }
    // Called with notable runtime events (errors) for the log.
    void set_log(std::function<void(LogLevel level, const std::string&)> sink) { log_ = std::move(sink); }

    // Completes every waiting request with `status` (used at shutdown).
    void fail_all(Outcome::Status status);

private:
    struct RequestKey {
        std::uint64_t client_id;
        std::uint64_t seq;
        bool operator==(const RequestKey&) const = default;
    };
    struct RequestKeyHash {
        std::size_t operator()(const RequestKey& k) const {
            return k.client_id * 0x9E3779B97F4A7C15ull ^ k.seq;
        }
    };
    struct PendingWrite {
        Command command;  // stamped with fresh cluster time at each proposal
        std::vector<Completion> waiters;
        std::uint64_t deadline_tick = 0;
        std::uint64_t retry_tick = 0;
        std::uint32_t retry_wait_ticks = 0;  // doubles with each retry
        bool own = false;                    // stamped with this node's session
        // A membership change (submit_config_change): placed by propose_config_change, at most once.
        bool config_change = false;
        bool placed = false;          // or forwarded to the leader
        std::uint64_t change_id = 0;  // Engine::propose_config_change's request_id
        std::string last_refusal;     // the latest passing refusal, returned if the deadline comes first
        // A change applied here whose configuration is not in effect yet: its answer, given once it
        // is (answer_changes_in_effect), or at the deadline (it is committed either way).
        std::optional<Outcome> applied;
    };
    using Writes = std::unordered_map<RequestKey, PendingWrite, RequestKeyHash>;
    struct PendingTransfer {
        std::uint64_t id = 0;  // Engine::transfer_leadership's request_id
        NodeId target = kNoNode;
        Completion done;
        std::uint64_t deadline_tick = 0;
    };
    struct PendingRead {
        Completion done;
        std::uint64_t deadline_tick = 0;
        std::uint64_t retry_tick = 0;  // 0: the engine is working on it
    };
    // Output of one take_ready() waiting for the flush that makes it durable.
    struct Batch {
        std::uint64_t needs_write = 0;  // released once flushed_writes_ >= this
        std::vector<Envelope> held;
        std::vector<Committed> committed;
        std::vector<ReadState> reads;
    };

    void drain_engine();
    bool release_durable_batches();
    void start_flush();
    void on_flushed(std::uint64_t covered_writes, std::error_code ec);
    void send(Envelope& m);
    // Hands one message to the trace sink, if there is one (set_trace).
    void trace_message(bool sent, NodeId peer, std::span<const std::uint8_t> payload) const;
    void trace_line(bool sent, NodeId peer, std::string what, bool heartbeat = false) const;
    void apply(const Committed& e);
    void on_read_state(const ReadState& rs);
    void submit_command(std::optional<Stamp> stamp, std::string payload, Completion done, bool config_change);
    // Proposes `w` (again); an outcome if that settles it at once (a definitive refusal).
    std::optional<Outcome> propose(PendingWrite& w);
    std::optional<Outcome> propose_config_change(PendingWrite& w);
    // A refusal of the change `w`: an outcome if it is definitive, else a retry is scheduled.
    std::optional<Outcome> change_refused(PendingWrite& w, std::string why);
    // The leader refused a change or transfer this node forwarded (Ready::refusals).
    void forwarded_request_refused(ForwardedRefusal& refusal);
    std::uint64_t now_ms() const;
    void track_leadership(const EngineStatus& s);
    void maybe_propose_clock_tick(const EngineStatus& s);
    std::optional<std::uint64_t> clock_tick_wait_ms(const EngineStatus& s) const;
    void expire_and_retry();
    void settle_transfers();
    void complete_write(const RequestKey& key, const Outcome& outcome);
    // The same, for an entry already looked up. By value: the entry (which may hold the outcome)
    // is erased before the waiters run.
    void complete_write(Writes::iterator it, Outcome outcome);
    void answer_changes_in_effect();
    Outcome expired(const PendingWrite& w) const;
    Outcome::Status unavailable_status() const;
    void log(LogLevel level, const std::string& line) const;
    void release_reads_up_to_applied();

    // SnapshotHost (common/snapshotter.h)
    Index snapshot_host_has_through() const override { return std::max(applied_index_, committed_taken_); }
    Bytes snapshot_host_engine_metadata(Index index) override { return engine_->snapshot_metadata(index); }
    void snapshot_host_made(const SnapshotMeta& meta, std::uint64_t bytes) override;
    std::unique_ptr<SnapshotDecoder> snapshot_host_decoder() const override {
        return state_machine_.snapshot_decoder();
    }
    bool snapshot_host_install(const SnapshotMeta& meta, SnapshotDecoder& decoded) override;
    void snapshot_host_sent(NodeId to, Index index, bool ok) override {
        engine_->snapshot_sent(to, index, ok);
    }
    void snapshot_host_send_bulk(NodeId to, const SnapshotFrame& frame) override;
    void snapshot_host_log(LogLevel level, const std::string& line) override { log(level, line); }
    void snapshot_host_pump() override { pump(); }

    NodeId self_;
    std::unique_ptr<Engine> engine_;
    Storage& storage_;
    Network& network_;
    StateMachine& state_machine_;
    DriverOptions options_;

    std::uint64_t now_tick_ = 0;
    // The engine's leader and its term or ballot at the last tick.
    std::optional<std::pair<NodeId, Epoch>> leadership_;
    ClusterClock cluster_clock_;
    std::optional<std::pair<NodeId, Epoch>> clock_leader_;  // as leadership_, but also lost (none)
    std::uint64_t last_clock_tick_ms_ = 0;                  // local time of the last clock tick proposed
    std::uint64_t next_seq_ = 1;
    std::set<std::uint64_t> own_unanswered_;  // own seqs without a reply: acked_below = min
    Writes writes_;
    std::vector<RequestKey> changes_applied_;  // writes_ with `applied` set, waiting to be in effect
    // Read ids go to the engine, which may forward them to the leader and match the leader's reply
    // by id. Unique across this node's processes, so a reply meant for a previous process (still
    // in flight when this one started) can never answer one of this process's reads.
    std::uint64_t next_read_id_;
    std::map<std::uint64_t, PendingRead> reads_;
    std::vector<PendingTransfer> transfers_;
    // Request ids of membership changes and transfers, for the engine to name a forwarded one by.
    std::uint64_t next_admin_request_id_ = 1;
    std::multimap<Index, std::uint64_t> reads_waiting_apply_;  // index -> read id

    std::deque<Batch> batches_;         // taken from the engine, not yet released (oldest first)
    std::uint64_t written_ = 0;         // storage writes issued
    std::uint64_t flushed_writes_ = 0;  // writes known durable
    std::uint64_t flush_requested_ = 0;  // writes a flush has been asked for (start_flush)
    bool storage_failed_ = false;
    std::string storage_error_;

    Index applied_index_ = 0;
    // The tick of the last apply (an entry or an installed snapshot): the retry timer waits for
    // the log to stall before it proposes a write again (expire_and_retry).
    std::uint64_t applied_at_tick_ = 0;
    // The highest snapshot installed from a peer: committed entries at or below it that are
    // still on their way to apply() are skipped (the state machine already holds them).
    Index installed_through_ = 0;
    Index committed_taken_ = 0;  // the highest committed index taken from the engine
    Snapshotter snapshots_;
    std::function<void(const TracedMessage&)> trace_;
    bool trace_heartbeats_ = false;
    std::function<void(LogLevel, const std::string&)> log_;
    std::function<void(Index, std::uint64_t)> on_snapshot_made_;
    std::function<void()> before_change_answered_;
};

}  // namespace ballot
