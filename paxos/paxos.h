// Basic Paxos as a replicated log: one independent single-decree Paxos instance per slot, both
// phases for every slot, any node proposes (Paxos Made Simple §2, applied to a sequence of
// commands as in §3 but without §3's distinguished leader). The baseline that shows what
// Multi-Paxos and Raft buy; see paxos/README.md.
//
// Every node plays all three roles (proposer.h, acceptor.h, learner.h); this class is where they
// meet the Engine interface. The folder, by concern:
//
//   paxos.h/.cc       this class: inputs (tick, step, propose), dispatch, outputs, status
//   election.cc       phase 1 of an instance (§2.2 1a/1b): Prepare, Promise, Nack, the backoff
//                     against dueling proposers (§2.4); the acceptor's side of Prepare
//   replication.cc    phase 2 (§2.2 2a/2b) and learning (§2.3): Accept, Accepted, Learn
//   reads.cc          linearizable reads: a quorum query for the highest accepted slot
//   catch_up.cc       bulk catch-up (chosen values from a peer), gap filling with no-ops (§3),
//                     and the probe that finds unknown slots
//   snapshots.cc      snapshots and compaction: the acceptor trim, who needs a snapshot, installs
//   membership.cc     membership change by α-reconfiguration: proposing a change, following the
//                     chosen prefix's configurations (configurations.h), promoting learners
//   messages.h/.cc    the wire, and which message waits for the disk (after_persist)
//   persist.h/.cc     what is durable (§2.5): per-slot acceptor records, the proposer's round
//   invariants.cc     every role's check_invariants()
//   acceptor.*, proposer.*, learner.*   the three roles' state; tuning.h every knob
#pragma once

#include <map>
#include <optional>
#include <set>
#include <vector>

#include "common/catch_up_holds.h"
#include "common/engine.h"
#include "common/outbox.h"
#include "common/quorum.h"
#include "paxos/acceptor.h"
#include "paxos/configurations.h"
#include "paxos/learner.h"
#include "paxos/proposer.h"
#include "paxos/tuning.h"

namespace ballot::paxos {

class Paxos final : public Engine {
public:
    Paxos(const EngineConfig& config, RecoveredState recovered);
    Paxos(const EngineConfig& config, RecoveredState recovered, const Tuning& tuning);

    void tick() override;
    bool step(NodeId from, std::span<const std::uint8_t> payload) override;
    ProposeResult propose(std::string command) override;
    void read(std::uint64_t read_id) override;  // reads.cc

    Ready take_ready() override;
    bool has_ready() const override;

    // Snapshots and compaction (snapshots.cc; README "Snapshots and compaction").
    Bytes snapshot_metadata(Index index) const override;
    void snapshot_made(const SnapshotMeta& meta) override;
    void snapshot_installed(const SnapshotMeta& meta) override;
    void snapshot_sent(NodeId to, Index index, bool ok) override;

    // Membership change by α-reconfiguration (membership.cc; README "Membership change"). The
    // configuration is the newest one chosen in the known prefix: it governs from α slots after
    // its entry (Configurations::newest_from), and the proposer of the change fills those at once.
    const Configuration& configuration() const override { return configs_.newest().configuration(); }
    std::optional<std::string> propose_config_change(std::uint64_t request_id, std::string request) override;
    std::optional<std::string> transfer_leadership(std::uint64_t request_id, NodeId target) override;

    EngineStatus status() const override;
    std::string describe(std::span<const std::uint8_t> payload) const override;
    bool is_heartbeat(NodeId peer, std::span<const std::uint8_t> payload) const override;
    void check_invariants() const override;  // invariants.cc

private:
    // What this node knows of each other voter (status().peers): the trim points peers announced, transfers
    // in flight.
    std::vector<PeerProgress> peer_knowledge() const;
    Paxos(const EngineConfig& config, Recovered&& recovered, std::optional<SnapshotMeta> snapshot,
          const Tuning& tuning);
    // One quorum query serving every read() made before it was sent.
    struct ReadRound {
        std::vector<std::uint64_t> read_ids;
        std::vector<VoteTally> answered;  // a majority of each configuration asked (README "Reads")
        std::vector<Configuration> asked;  // those configurations, in the same order
        Index highest_accepted = 0;
        std::uint64_t deadline = 0;
    };

    // Dispatch: a message is acted on only if its sender is a member (of a configuration still in
    // the history; anyone while this node knows none: --join), or it only tells chosen values, and
    // it is plausible.
    bool accepts_from(NodeId from, const std::vector<Message>& messages) const;
    bool plausible(NodeId from, const Message& m) const;
    // Whether this node answers Prepare and Accept for `slot` (membership.cc: a --join node only
    // where it knows itself the acceptor, common/configuration.h SelfId).
    bool acceptor_of(Index slot) const;
    // One handler per message type, by concern file.
    void on(NodeId from, const Prepare& m);  // election.cc
    void on(NodeId from, const Promise& m);
    void on(NodeId from, const Nack& m);
    void on(NodeId from, const Accept& m);  // replication.cc
    void on(NodeId from, const Accepted& m);
    void on(NodeId from, const Learn& m);
    void on(NodeId from, const ReadQuery& m);  // reads.cc
    void on(NodeId from, const ReadReply& m);
    void on(NodeId from, const Trimmed& m);  // snapshots.cc
    void on(NodeId from, const SnapshotRequest& m);
    void on(NodeId from, const ChosenRequest& m);  // catch_up.cc
    void on(NodeId from, const ChosenValues& m);
    void on(NodeId from, const Forward& m);  // replication.cc
    ProposeResult forward(std::string command);
    void reopen_unserved_trims();  // catch_up.cc

    void learn(Index slot, std::string value);  // replication.cc

    // Membership change (membership.cc).
    std::optional<std::string> refuse_change_now() const;
    std::optional<std::string> refuse_unreachable(const Configuration& next) const;
    std::optional<std::string> place_change(std::uint64_t request_id, const std::string& request);
    void follow_chosen_prefix();
    void reserve_pending_change();
    void settle_change(bool chosen, const std::string& why);
    void settle_dropped_changes();
    void settle_covered_change();
    bool made(const std::string& entry_command) const;
    bool reachable(NodeId id) const;
    void tick_auto_promotion();
    void note_progress(NodeId peer, Index known);
    void use_window();  // catch_up.cc
    Index first_unknown();
    void watch_progress(Index known, Index horizon);
    void fetch_chosen(Index known, Index horizon);
    void fill_gaps(Index known);
    void yield_filling(NodeId from, Index slot, const std::string& value);
    std::uint64_t gap_wait_ticks() const;
    void probe();
    NodeId next_peer(NodeId after) const;

    void recover_snapshot(const SnapshotMeta& snapshot, bool leftovers);  // snapshots.cc
    void heard_trim(NodeId from, Index trim);
    Index forgotten_through() const;
    void request_snapshot();
    void compact();
    void expire_transfers();
    void catch_up_progressed(NodeId peer, Index have);

    void expire_reads();  // reads.cc
    std::uint64_t query_highest_accepted();

    // Queues `m` for `to` under the persist-before-send rule of its type (messages.h).
    void send(NodeId to, Message m);

    EngineConfig config_;     // never its id or members: ask configs_
    Configurations configs_;  // which configuration governs which slot
    Tuning tuning_;
    Outbox<Message> outbox_;  // messages of the batch being built, in the order they were made

    Acceptor acceptor_;
    Learner learner_;
    Proposer proposer_;
    std::uint64_t persisted_round_;  // the metadata round as last handed out

    std::uint64_t now_ = 0;

    // Catching up (README "Restart: relearning", "Gap filling"). "Known": every slot up to it is
    // known chosen or at or below a trim point heard of (a snapshot brings those).
    Index unknown_ = 1;               // a cursor: the first slot above the known prefix
    Index last_known_ = 0;            // the known prefix when last looked at
    std::uint64_t behind_since_ = 0;  // when the known prefix last grew, or this node caught up
    Index in_use_then_ = 0;           // the highest slot known in use at behind_since_
    Index fill_until_ = 0;            // fill every unknown slot up to here
    Index fill_next_ = 1;             // slots below this are chosen or already being filled
    // Bulk catch-up: at most one ChosenRequest in flight.
    struct ChosenFetch {
        NodeId asked = kNoNode;        // the peer asked last
        NodeId next = kNoNode;         // the peer to ask next (kNoNode: the one heard from last)
        Index from = 0;                // the request in flight asks from here (0: none in flight)
        std::uint64_t deadline = 0;    // ... and is taken as lost at this tick
        bool more = false;             // the last answer taught something and the peer has more
        bool retry = false;            // the request in flight replaces one taken as lost
        std::uint64_t idle_until = 0;  // after an answer that taught nothing, no request before
    };
    ChosenFetch fetch_;
    NodeId heard_from_ = kNoNode;  // the peer whose message arrived last: up a moment ago
    std::uint64_t forwarded_ = 0;  // commands a learner handed on: whose turn is next (forward)
    // Since when the chosen prefix has been below a trim point heard of (reopen_unserved_trims).
    std::optional<std::uint64_t> below_trim_since_;

    // Membership change (README "Membership change").
    struct OwnChange {
        std::uint64_t request_id = 0;  // the runtime's (0: an automatic promotion, nobody waits)
        std::string entry;             // the command carrying the entry, as proposed
    };
    // A node started with --join, while it knows no configuration (not added yet, or restarted
    // before relearning it): the peers it was told of (--node), whom it asks instead.
    std::vector<NodeId> contacts_;
    std::optional<OwnChange> change_;         // this node's change, until chosen or re-derived
    std::vector<ForwardedRefusal> refusals_;  // the batch's Ready::refusals
    std::set<Index> void_slots_;              // chosen void entries not handed out yet: no-ops
    std::map<NodeId, std::uint64_t> last_heard_;
    // Auto promotion: a learner's known prefix as its requests show it, and how long it has stayed
    // caught up (ticks).
    std::map<NodeId, std::uint32_t> caught_up_ticks_;
    std::map<NodeId, bool> lagging_;  // a request since the last tick showed it far behind

    // Reads (README "Reads").
    std::map<std::uint64_t, ReadRound> read_rounds_;
    std::uint64_t next_read_round_;      // random start: a reply from a previous incarnation never matches
    std::uint64_t open_read_round_ = 0;  // the round whose query has not left yet (0: none)
    std::vector<ReadState> reads_ready_;
    std::uint64_t next_probe_ = 0;

    // Snapshots and compaction (README "Snapshots and compaction"). The trim point itself is the
    // acceptor's (Acceptor::trim_point).
    struct Transfer {
        Index index = 0;             // the snapshot this node asked the runtime to send
        std::uint64_t deadline = 0;  // taken as lost if not reported by then
    };
    Index snapshot_index_ = 0;              // this node's latest durable snapshot (made or installed)
    Index trim_goal_ = 0;                   // where compaction goes once no transfer in flight holds it back
    Index persisted_trim_;                  // the trim point in the metadata as last handed out
    Index compacted_;                       // compact_below - 1 as last handed out
    std::map<NodeId, Transfer> transfers_;  // at most one per peer
    // Peers that installed this node's snapshot and now fetch the chosen slots after it from here:
    // compaction keeps those for at most snapshot_retry_ticks (common/catch_up_holds.h).
    CatchUpHolds catch_up_holds_;
    std::vector<NodeId> snapshot_to_;       // the batch's Ready::snapshot_to
    std::map<NodeId, Index> peer_trims_;    // the highest trim point each peer has told us of
    std::uint64_t next_snapshot_request_ = 0;
    NodeId asked_ = kNoNode;         // the peer being asked for a snapshot
    std::uint64_t asked_since_ = 0;  // ... since then; after snapshot_retry_ticks, the next one
};

}  // namespace ballot::paxos
