// The replicated-log interface that Raft, Multi-Paxos and basic Paxos all implement.
//
// An engine is a deterministic state machine. It never touches sockets, files, clocks, threads
// or a global random source. Everything comes in through four calls:
//
//     tick()                  one unit of logical time has passed (the runtime ticks every tick_ms)
//     step(from, bytes)       a peer message arrived (the engine decodes it with its own codec)
//     propose(command)        place this command in the log
//     read(id)                a linearizable read wants a safe point
//
// and everything goes out through one batch, taken with take_ready() after any input, in the
// manner of etcd-io/raft's Ready:
//
//     metadata, truncate_from,
//     compact_below, records               what to make durable
//     snapshot_to                          peers to stream this node's latest snapshot to
//     messages                             what to send
//     committed                            what is chosen, in log order, to apply
//     reads                                which reads may now be served, and from which index
//
// WHAT AN ENGINE PERSISTS is its own: the durable log store (common/log_store.h) keeps bytes it
// never looks inside, in two kinds.
//   - One METADATA record: the engine's small durable state, replaced as a whole each time the
//     engine hands out new bytes. Raft: {currentTerm, votedFor, commit hint} (Figure 2,
//     "Persistent state on all servers"). Multi-Paxos: {promised ballot, commit hint}. Basic
//     Paxos: {highest proposer round, commit hint}.
//   - LOG RECORDS keyed by index: Raft {term, command} per entry; Multi-Paxos {accepted ballot,
//     value} per slot; basic Paxos {promise, accepted ballot, value} per slot.
// The store understands only four operations, applied in this order within a batch: "set the
// metadata to these bytes", "delete every record with index >= i", "delete every record with
// index < i" (compaction, below a durable snapshot), "the record at index i is now these bytes"
// (replacing any earlier one). At startup it hands back what they add up to
// (RecoveredState: the latest metadata, empty if none was ever written, and the surviving
// records in ascending index order, possibly sparse), and EngineTraits::make builds the engine from
// it. Each engine keeps its record types and their codec in its own folder (raft/persist.h,
// multipaxos/persist.h, paxos/persist.h); every decoder is bounds-checked and validating
// (common/codec.h), and EngineTraits::codec exposes the checks so the store can refuse, with the
// file and byte offset, a record its engine cannot decode before the engine is ever built.
//
// THE PERSIST-BEFORE-SEND RULE. The runtime makes the batch's metadata, truncation and records
// durable (written and fsync'ed) before it sends any message whose `after_persist` is true, and
// before it applies `committed`. A message with `after_persist` false may leave at once: the
// engine marks a message so only when it promises nothing that is not yet durable (for example a
// Raft leader's AppendEntries, whose receivers do not rely on the leader having persisted the
// entries; dissertation §10.2.1). Messages to the node itself (to == own id) are delivered back
// through step() once durable: that is how an engine learns its own writes are on disk (a Raft
// leader's own match index, a Paxos leader's own Accepted). Batches are made durable in the
// order they were taken, and messages are sent in the order they were taken.
//
// SNAPSHOTS AND COMPACTION (SPEC "Snapshots and log compaction"; the model is etcd-io/raft's
// Storage.Compact / MsgSnap / ReportSnapshot). The engine decides; the runtime owns the bytes.
//   - The runtime snapshots the state machine on its own schedule (every --snapshot-entries
//     applied, or BGSAVE) at an index the engine has handed out in `committed`, asking the engine
//     first for the bytes to keep with it (snapshot_metadata: Raft's last included term). Once
//     the file is durable it calls snapshot_made().
//   - Only then may the engine let go of history: it sets Ready::compact_below, keeping
//     EngineConfig::snapshot_trailing entries below its latest snapshot for lagging peers, and
//     never letting go of an entry a peer receiving a snapshot will need next (a transfer in
//     flight for snapshot X keeps X+1 on, and after it ends well, what that peer has not caught
//     up on yet, while it gains on this node: common/catch_up_holds.h). The store deletes
//     the records below, and the segment files that then hold nothing live.
//   - When a peer needs what was compacted away, the engine names it in Ready::snapshot_to. The
//     runtime streams its latest durable snapshot to that peer (one transfer per peer, chunks on
//     a bulk lane that never delays protocol messages) and reports the end with snapshot_sent().
//   - The receiving runtime writes the chunks to a temporary file, makes it durable, restores the
//     state machine from it (only a complete, checksummed file, and only one that moves the state
//     machine forward), and then calls snapshot_installed(): the engine moves its commit and
//     applied points to the snapshot and makes its log and acceptor state consistent with it
//     (Raft: Figure 13 rules 6 and 7). Committed entries at or below an installed snapshot that
//     the runtime has not applied yet are skipped.
//   - At restart the runtime loads the latest valid snapshot into the state machine and hands its
//     meta to the engine in RecoveredState::snapshot; records at or below it may still be on disk
//     (a crash between the snapshot and the compaction) and are dropped by the engine.
// A crash at any step leaves either the old state or the new one: the snapshot file's rename is
// the commit point of an install, and the engine rebuilds the rest from it at restart.
//
// Same inputs in the same order give the same outputs, always: that is what lets one simulator
// test every engine from a seed.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/ballot.h"
#include "common/configuration.h"
#include "common/types.h"

namespace ballot {

// Static configuration of one engine instance. Times are in ticks.
struct EngineConfig {
    NodeId id = kNoNode;
    // The bootstrap configuration: every member a voter, self included. It holds until the first
    // membership change an engine applies; from then on the configuration in the log and in
    // snapshots rules (common/configuration.h). Engines ask a Membership (common/membership.h).
    std::vector<NodeId> members;
    // Where each bootstrap member serves clients (HOST:PORT), kept in the configuration so that
    // members added later can find them. Optional: the simulator runs without addresses.
    std::map<NodeId, std::string> addresses;
    // Started with --join: this node is in no configuration (and `members` is ignored) until a
    // leader adds it; it learns the configuration from the log or a snapshot. Until then it never
    // campaigns, proposes or votes.
    bool join = false;
    // This data dir's identity (common/membership_guard.h), as configurations name the members
    // MEMBER ADD added (common/configuration.h, SelfId): an entry of this id for another data dir
    // is not this node. 0: unknown, and every entry of this id is this node.
    std::uint64_t identity = 0;
    SelfId self() const { return SelfId{id, identity, join}; }

    // Raft §5.2 / Multi-Paxos leader failure detection: a follower that hears nothing from a
    // leader for a random time in [min, max] starts an election (Raft) or phase 1 (Multi-Paxos).
    // Randomized so that split votes / dueling proposers are rare.
    std::uint32_t election_timeout_min_ticks = 30;
    std::uint32_t election_timeout_max_ticks = 60;
    // How often a leader tells followers it is alive (and carries the commit point).
    std::uint32_t heartbeat_ticks = 5;

    // Seed for the engine's own random choices (timeouts, backoff). The runtime picks it.
    std::uint64_t seed = 1;

    // Bounds on replication traffic, so a slow peer cannot make a leader buffer without limit.
    std::size_t max_message_bytes = 1 << 20;  // entries per AppendEntries / Accept message
    std::size_t max_inflight_messages = 256;  // unacknowledged replication messages per peer
    // ... and unacknowledged replication bytes per peer (etcd's MaxInflightBytes): a follower
    // catching up from far behind is sent full messages, and without this bound the leader would
    // queue max_inflight_messages x max_message_bytes (256 MiB) for it at once. A message goes out
    // while the bytes in flight are below the bound, so at least one always can.
    // It is also what such a follower receives and writes per round trip, which trades two things
    // (README "Catching up without holding up the writes"): on a disk shared with the nodes
    // serving, their syncs wait for those bytes too, so a small window keeps the writes' latency;
    // but a follower on a slow disk needs a large one to gain on the writes at all, or it loses its
    // catch-up hold and needs another snapshot. Raft's window starts at initial_inflight_bytes (or
    // max_inflight_bytes, if that is less) and grows to max_inflight_bytes while the follower does
    // not gain (raft/progress.h).
    std::size_t initial_inflight_bytes = 256 << 10;
    std::size_t max_inflight_bytes = 2 << 20;
    // Bound on proposals a node holds while it has nowhere to send them (no leader known).
    std::size_t max_pending_proposals = 65536;

    // Entries kept below the latest snapshot when compacting, so that a peer a little behind
    // catches up from the log instead of by a snapshot (--snapshot-trailing; SPEC default 10,000).
    Index snapshot_trailing = 10000;
    // A transfer an engine asked for (Ready::snapshot_to) that has not been reported by
    // snapshot_sent() within this many ticks is taken as lost and may be asked for again.
    std::uint32_t snapshot_retry_ticks = 1000;

    // TESTS ONLY: lets a leader start a membership change before it has committed an entry of its
    // term, to show the single-server change bug that guard prevents (raft-dev, 2015). Never set
    // by the server.
    bool unsafe_skip_config_change_guard = false;
};

// The checks every engine makes of its configuration before it starts (common/engine_config.cc):
// own id among the members (no duplicates, no node 0), 0 < min <= max election timeout, a
// heartbeat shorter than the minimum election timeout, positive bounds. Throws
// std::invalid_argument("<engine> configuration: <why>"), which the server reports as a one-line
// startup error.
void validate_engine_config(const EngineConfig& config, std::string_view engine);
// The configuration `config` starts with: its members, all voters, with their addresses; none for
// a joining node. Throws std::invalid_argument on a repeated id or address.
Configuration bootstrap_configuration(const EngineConfig& config);

struct Envelope {
    NodeId to = kNoNode;
    Bytes payload;              // encoded by the engine's own codec
    bool after_persist = true;  // see the persist-before-send rule above
};

// A linearizable read may be served once the local state machine has applied `index`.
// `ok == false`: the engine could not confirm a safe point (no leader, lost leadership); the
// runtime retries or reports to the client.
struct ReadState {
    std::uint64_t id = 0;
    Index index = 0;
    bool ok = true;
};

// One batch of engine output. See the file comment for the order in which it is acted on.
// A membership change or leadership transfer this node forwarded to its leader, which refused it
// (Engine::propose_config_change, transfer_leadership): `request_id` as the runtime gave it, and
// the leader's reason, in the same words (and with the same kRetryableRefusal ending) the leader
// gives its own clients.
struct ForwardedRefusal {
    std::uint64_t request_id = 0;
    std::string why;
};

struct Ready {
    // The engine's new metadata record (engine-encoded), replacing the previous one.
    std::optional<Bytes> metadata;
    // Delete every persisted record with index >= truncate_from before writing `records`
    // (Raft §5.3: a conflicting entry and all that follow it are removed).
    std::optional<Index> truncate_from;
    // Every persisted record with index < compact_below may be deleted: a durable snapshot covers
    // it (see SNAPSHOTS above). Applied after truncate_from and before `records`; never set past
    // the engine's latest durable snapshot + 1.
    std::optional<Index> compact_below;
    // Log records to persist (engine-encoded); each replaces any persisted record at its index.
    std::vector<LogRecord> records;
    std::vector<Envelope> messages;
    std::vector<Committed> committed;  // in strictly increasing index order, no gaps between batches
    std::vector<ReadState> reads;
    // Peers to send this node's latest durable snapshot to (each reported by snapshot_sent()).
    std::vector<NodeId> snapshot_to;
    // The leader's refusals of membership changes and transfers this node forwarded to it.
    std::vector<ForwardedRefusal> refusals;

    bool needs_persist() const { return metadata || truncate_from || compact_below || !records.empty(); }
    bool empty() const {
        return !needs_persist() && messages.empty() && committed.empty() && reads.empty() &&
               snapshot_to.empty() && refusals.empty();
    }
};

// A node's part in its protocol right now. Basic Paxos has no leader: every node is a proposer.
enum class Role : std::uint8_t { follower, pre_candidate, candidate, leader, proposer };

// The name INFO, --trace and the logs show.
inline const char* role_name(Role role) {
    switch (role) {
        case Role::follower:
            return "follower";
        case Role::pre_candidate:
            return "pre-candidate";
        case Role::candidate:
            return "candidate";
        case Role::leader:
            return "leader";
        case Role::proposer:
            return "proposer";
    }
    return "unknown";
}

inline std::ostream& operator<<(std::ostream& os, Role role) {
    return os << role_name(role);
}

// What orders leaders in time: Raft's term, or a Paxos ballot (round, node). Compared as
// numbers; shown as "7" (term) or "3.2" (ballot ROUND.NODE).
struct Epoch {
    enum class Kind : std::uint8_t { term, ballot };
    Kind kind = Kind::term;
    std::uint64_t round = 0;  // the term, or the ballot's round
    NodeId node = kNoNode;    // a ballot's proposer; kNoNode for a term

    static Epoch term(std::uint64_t t) { return Epoch{Kind::term, t, kNoNode}; }
    static Epoch ballot(const Ballot& b) { return Epoch{Kind::ballot, b.round, b.node}; }

    const char* name() const { return kind == Kind::term ? "term" : "ballot"; }
    std::string str() const {
        return kind == Kind::term ? std::to_string(round)
                                  : std::to_string(round) + "." + std::to_string(node);
    }

    friend auto operator<=>(const Epoch& a, const Epoch& b) {
        if (auto c = a.round <=> b.round; c != 0) return c;
        return a.node <=> b.node;
    }
    friend bool operator==(const Epoch&, const Epoch&) = default;
};

// How --trace shows a read's id (Engine::describe): read ids start at a random 64-bit number in
// every process (common/driver.cc; basic Paxos's read rounds likewise), so printed whole they look
// like a packed ballot and tell a reader nothing. The low 32 bits in hex, "#5b18c0f2", are enough
// to match a query with its replies by eye.
inline std::string read_id_str(std::uint64_t id) {
    char text[16];
    std::snprintf(text, sizeof text, "#%08x", static_cast<unsigned>(id & 0xffffffffu));
    return text;
}

// A leader's view of one peer's replication (SPEC "Live view": "per-peer replication progress on
// a leader"), as the engine holds it; the live view draws it as lag bars. Each engine fills the
// fields it keeps and leaves the others at their zero value:
//   Raft         Figure 2's matchIndex and nextIndex, the Progress state (probe, replicate,
//                snapshot; raft/progress.h), AppendEntries in flight and whether sending is paused.
//   Multi-Paxos  the highest slot the peer acknowledged (Accepted) in this leader's ballot, the
//                next slot to send it, the chosen prefix it reported, Accepts in flight.
//   basic Paxos  no leader and no replication state per peer: only what a node was told (the
//                trim point a peer announced) and whether a snapshot transfer to it is in flight.
struct PeerProgress {
    NodeId id = kNoNode;
    Index match_index = 0;  // highest index known held by the peer (0: none, or not tracked)
    Index next_index = 0;   // next index the leader sends it (0: not tracked)
    Index chosen = 0;       // Multi-Paxos: the chosen prefix the peer reported; basic Paxos: its trim point
    std::string state;  // the engine's own word for the flow state ("replicate", "probe"...); may be empty
    std::size_t inflight = 0;   // replication messages sent and not acknowledged
    std::size_t inflight_bytes = 0;  // the entry bytes they carry (0: not tracked)
    std::size_t window_bytes = 0;    // Raft: the peer's adaptive byte window now (0: none)
    bool paused = false;        // nothing more may be sent to it now (window full, probe outstanding)
    bool snapshotting = false;  // a snapshot transfer to it is in flight
};

// What INFO shows and what the runtime needs to know about the engine's view of the cluster.
struct EngineStatus {
    Role role = Role::follower;
    NodeId leader = kNoNode;    // 0 when unknown or leaderless
    Epoch epoch;                // currentTerm (Raft); the highest ballot promised or used (Paxos)
    Index commit_index = 0;     // highest index known chosen, contiguous from 1
    Index log_first_index = 0;  // the first index the engine still holds (rises with compaction)
    Index log_last_index = 0;
    Index snapshot_index = 0;  // the engine's latest durable snapshot (0: none)
    // The first slot configuration() governs, for the Paxos engines (α-reconfiguration: a
    // configuration chosen in slot s governs from s + α on; 1 for the bootstrap one; 0 while none
    // is known). 0 for Raft, where a configuration rules from the moment it is applied. Reported
    // (INFO `config_governs_from`), never used by the runtime.
    Index config_governs_from = 0;
    // Proposals this node abandoned because an acceptor had promised a higher ballot (a Nack),
    // since the process started: basic Paxos's proposers contending for the same slots (one count
    // per attempt of an instance), Multi-Paxos's would-be leaders (one per ballot given up). Raft
    // has no such refusal (a leader that hears of a higher term steps down): always 0. Reported
    // (INFO `proposals_preempted`, ballot-bench), never used by the runtime.
    std::uint64_t proposals_preempted = 0;
    // One entry per other member, in id order, while this node leads (Raft, Multi-Paxos); basic
    // Paxos reports what it knows of each peer whatever its role. Empty otherwise.
    std::vector<PeerProgress> peers = {};
};

// What an engine found on disk at startup: what its persisted metadata and records add up to.
struct RecoveredState {
    Bytes metadata;                  // the last metadata written; empty if none ever was
    std::vector<LogRecord> records;  // ascending by index, possibly sparse
    // The store's compaction point (the highest Ready::compact_below made durable; 0: none): no
    // record below it survives, so a snapshot through at least compacted_below - 1 must cover them.
    Index compacted_below = 0;
    // The latest valid snapshot, already restored into the state machine (whose applied index is
    // its last_included_index). Records at or below it may remain; the engine drops them.
    std::optional<SnapshotMeta> snapshot = std::nullopt;
};

// An engine's checks of its own persisted bytes, run by the log store on every record it replays
// at startup. Each returns an empty string if the bytes decode, otherwise why they do not (the
// store then refuses to start, naming the file and byte offset).
struct PersistedCodec {
    std::string (*check_metadata)(std::span<const std::uint8_t> bytes) = nullptr;
    std::string (*check_record)(Index index, std::span<const std::uint8_t> bytes) = nullptr;
};

enum class ProposeResult {
    accepted,    // placed in the local log or forwarded to the leader
    no_leader,   // nowhere to put it right now; retry later
    overloaded,  // a bounded queue is full; retry later
};

class Engine {
public:
    virtual ~Engine() = default;

    virtual void tick() = 0;
    // Returns false (and changes nothing) if the message does not decode.
    virtual bool step(NodeId from, std::span<const std::uint8_t> payload) = 0;
    virtual ProposeResult propose(std::string command) = 0;
    virtual void read(std::uint64_t read_id) = 0;

    virtual Ready take_ready() = 0;
    virtual bool has_ready() const = 0;

    // ---- snapshots (see SNAPSHOTS above) ----
    // The bytes to keep with a snapshot of the state machine through `index`, an index this
    // engine has handed out in Ready::committed and not compacted away (Raft: its term).
    virtual Bytes snapshot_metadata(Index index) const = 0;
    // This node's own snapshot through meta.last_included_index is durable: history below it may
    // now be compacted.
    virtual void snapshot_made(const SnapshotMeta& meta) = 0;
    // A snapshot received from a peer is durable and the state machine holds it: its
    // last_included_index is above every index this engine has handed out in `committed`. The
    // engine takes it as chosen and applied through that index.
    virtual void snapshot_installed(const SnapshotMeta& meta) = 0;
    // A transfer this engine asked for (Ready::snapshot_to) ended. `ok`: `to` now holds, durably,
    // a snapshot through `index` or a later state; otherwise it failed (lost connection, timeout,
    // refused) and the engine asks again if the peer still needs one.
    virtual void snapshot_sent(NodeId to, Index index, bool ok) = 0;

    // ---- membership (common/configuration.h; SPEC "Membership change, learners, leadership
    // transfer") ----
    // The configuration this engine has applied: the latest configuration entry it handed out in
    // `committed` (or found in a snapshot or at restart), the bootstrap one before any. What INFO,
    // MEMBER LIST and /status report (SPEC: "the committed configuration"), on every engine alike.
    // In the Paxos engines it may not govern yet (EngineStatus::config_governs_from): their quorums
    // are counted over the configuration governing each slot, which the engine keeps to itself.
    virtual const Configuration& configuration() const = 0;
    // The members the runtime keeps connections with: configuration()'s, and the members of an
    // older configuration that still governs a slot not known chosen (Multi-Paxos: a voter whose
    // removal is chosen is an acceptor of the slots before the removal governs, and, if it leads,
    // leads until then).
    virtual std::vector<Member> members_to_connect() const { return configuration().members(); }
    // Whether configuration() is in full effect here: it governs the next slot, and
    // members_to_connect() is its members alone. The runtime answers a membership change only then,
    // so that what +OK says holds when the client reads it (a removed member let go, its id free
    // for a new data dir). Multi-Paxos: once every slot below s + α is chosen (its leader fills
    // them with no-ops at once). Raft, and basic Paxos (whose runtime connects to the newest
    // configuration alone, and whose slots below s + α are chosen only as writes come): at apply.
    virtual bool configuration_in_effect() const { return true; }
    // Places a single-server change in the log. `request`: an encoded Command (stamped by the
    // runtime like any write) whose payload is encode_config_request(change). The change is made
    // when its entry is applied, and the runtime's write completes then, as any write does.
    // nullopt: placed, or (a follower that knows its leader) forwarded to the leader as a write is
    // (SPEC: any node accepts any command); a forwarded request the leader refuses comes back in
    // Ready::refusals under `request_id`, one it places is known when its entry is applied here.
    // Otherwise why it is refused, in a line a client can read: this node cannot place it (no
    // leader known; a protocol without changes), a change is still in progress, the protocol's
    // guard (Raft: no entry of this term committed yet), fewer reachable voters than the new
    // quorum, or what Configuration::refuse says.
    virtual std::optional<std::string> propose_config_change(std::uint64_t request_id,
                                                             std::string request) = 0;
    // Hands leadership to `target`, a voter (Raft: TimeoutNow once it is caught up; Multi-Paxos: it
    // runs phase 1 at once). nullopt: started, or forwarded to the leader as propose_config_change
    // forwards (the runtime watches status().leader); otherwise why not (basic Paxos: it has no
    // leader).
    virtual std::optional<std::string> transfer_leadership(std::uint64_t request_id, NodeId target) = 0;

    virtual EngineStatus status() const = 0;
    // One readable line for --trace, e.g. "AppendEntries term=3 prev=(7,2) entries=[8..9] commit=7".
    // Ballots always as ROUND.NODE (Ballot::str), read ids as read_id_str(): never a raw packed
    // 64-bit number.
    virtual std::string describe(std::span<const std::uint8_t> payload) const = 0;
    // True if the message only says "I am alive" or acknowledges that, and carries nothing new:
    // a leader's heartbeat, an empty AppendEntries, their acks. --trace leaves these out unless
    // asked (--trace-heartbeats): at 20 per second per peer they would drown everything else.
    // `peer` is the node the message comes from or goes to; the runtime asks before it hands a
    // received message to step(). False for anything that does not decode.
    virtual bool is_heartbeat(NodeId peer, std::span<const std::uint8_t> payload) const = 0;

    // Checks the engine's LOCAL invariants (its own state, not the cluster's) in one place, in the
    // manner of LogCabin's RaftConsensusInvariants, and throws ballot::InvariantViolation
    // (common/assert.h) naming the first one broken. Cost is bounded (windows, not whole logs): the
    // simulator calls it after every step, the driver after every batch in debug and sanitizer
    // builds (BALLOT_CHECK_INVARIANTS).
    virtual void check_invariants() const = 0;
};

// What the registry (engines/registry.h) knows of an engine. Each engine defines its own in its
// folder's engine_traits.cc.
struct EngineTraits {
    std::string name;   // the --protocol name, e.g. "raft"
    std::string title;  // for people, e.g. "Multi-Paxos"
    // False for a leaderless engine (basic Paxos): every node proposes, nobody is "the leader",
    // and leader-specific operations (a leader to kill, to transfer, to wait for) do not apply.
    bool has_leader = true;
    // Builds the engine from its configuration and what it recovered from disk; throws
    // std::invalid_argument with a readable message for a configuration it cannot run.
    // Throws std::invalid_argument too if the recovered state does not decode or is inconsistent.
    std::unique_ptr<Engine> (*make)(const EngineConfig& config, RecoveredState recovered) = nullptr;
    // The checks the log store runs on every record it replays, so that bytes the engine cannot
    // decode are refused as corruption with their file and offset.
    PersistedCodec codec;
    // How a linearizable read is served, in at most ~22 characters (a chart legend's line), for
    // reports that compare read latencies (ballot-bench's --read-ratio curves): "ReadIndex (§6.4)".
    std::string read_path;
    // Restoring a backup into a NEW cluster (--restore-from, kv/restore.h): the engine metadata to
    // keep with the snapshot in place of `meta`'s, for a cluster of `config`. An engine that keeps
    // the configuration in its snapshots (Raft) puts the new cluster's there: the old one names
    // ids and addresses the new cluster does not have. nullptr: keep the metadata as it is. Throws
    // std::invalid_argument if `meta`'s bytes are not this engine's.
    Bytes (*metadata_for_new_cluster)(const SnapshotMeta& meta, const Configuration& config) = nullptr;
};

}  // namespace ballot
