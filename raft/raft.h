// The Raft engine: Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm"
// (2014), Figure 2 and §5, with the practical parts of Ongaro's dissertation (2014): PreVote
// (§9.6), check-quorum (§6.2), ReadIndex reads (§6.4), the leader writing its log in parallel with
// replication (§10.2.1), and a no-op entry at the start of each term (§8).
//
// A pure state machine behind common/engine.h: no I/O, no clock (time is tick()), no global
// randomness (election timeouts come from an Rng seeded by EngineConfig::seed).
//
// Where things are (the same file names per concern in every engine; raft/README.md maps them
// to the paper):
//   raft.h, raft.cc  the engine: inputs (tick, step, propose, read), the message dispatch (one
//                    on(from, m) per message type), outputs (take_ready), status, describe
//   election.cc      leader election: PreVote (§9.6), RequestVote and the election restriction
//                    (§5.2, §5.4.1), role changes, check-quorum (§6.2)
//   replication.cc   log replication, both sides: the AppendEntries receiver and its repair of
//                    the log (§5.3), the leader's pipelined sending (§10.2.1), commitment (§5.4.2)
//   reads.cc         linearizable reads: ReadIndex on the leader, forwarded reads (§6.4)
//   snapshots.cc     snapshots and log compaction (extended paper §7, Figure 13): recovery from a
//                    snapshot, compaction, which follower needs a snapshot, installing one
//   messages.h/.cc   wire messages, codec, describe, and the after_persist policy
//   persist.h/.cc    what Raft persists (Figure 2 persistent state) and its codec
//   invariants.cc    every local invariant of the engine (check_invariants)
//   log.*, progress.*  the log; the leader's per-follower nextIndex/matchIndex and flow control
//   engine_traits.cc what the engine registry knows of Raft
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "common/catch_up_holds.h"
#include "common/engine.h"
#include "common/forwarded_requests.h"
#include "common/membership.h"
#include "common/outbox.h"
#include "common/quorum.h"
#include "common/random.h"
#include "raft/log.h"
#include "raft/messages.h"
#include "raft/progress.h"

namespace ballot::raft {

class Raft : public Engine {
public:
    // Rebuilds the persistent state of Figure 2 (currentTerm, votedFor, log[]) from `recovered`
    // and starts as a follower with commitIndex 0, or at the recovered snapshot's index (§7).
    // Throws std::invalid_argument on a configuration that cannot work or a recovered state that
    // Raft could never have written.
    Raft(const EngineConfig& config, RecoveredState recovered);

    void tick() override;
    bool step(NodeId from, std::span<const std::uint8_t> payload) override;
    ProposeResult propose(std::string command) override;
    void read(std::uint64_t read_id) override;

    Ready take_ready() override;
    bool has_ready() const override;

    // ---- snapshots.cc: extended paper §7 and Figure 13 (common/engine.h, SNAPSHOTS) ----
    // The last included term of a snapshot through `index` (persist.h).
    Bytes snapshot_metadata(Index index) const override;
    // Our snapshot through X is durable: compact, keeping snapshot_trailing entries below X.
    void snapshot_made(const SnapshotMeta& meta) override;
    // A leader's snapshot through X is durable here and applied: Figure 13 rules 6 and 7.
    void snapshot_installed(const SnapshotMeta& meta) override;
    // A transfer asked for in Ready::snapshot_to ended: resume replication, or retry later.
    void snapshot_sent(NodeId to, Index index, bool ok) override;

    // ---- membership.cc: single-server changes (dissertation §4.1), learners ----
    const Configuration& configuration() const override { return members_.configuration(); }
    std::optional<std::string> propose_config_change(std::uint64_t request_id, std::string request) override;
    std::optional<std::string> transfer_leadership(std::uint64_t request_id, NodeId target) override;

    EngineStatus status() const override;
    std::string describe(std::span<const std::uint8_t> payload) const override;
    bool is_heartbeat(NodeId peer, std::span<const std::uint8_t> payload) const override;

    // raft/invariants.cc: every local invariant of Figure 2's state and of this implementation's
    // additions (progress, reads), named in the InvariantViolation it throws.
    void check_invariants() const override;

private:
    // A read waiting for a majority to confirm this leader (§6.4).
    struct PendingRead {
        std::uint64_t read_id = 0;
        NodeId requester = kNoNode;  // this node, or the follower that forwarded the read
        Index read_index = 0;
        std::uint64_t context = 0;  // the heartbeat round that must be acknowledged by a majority
    };

    // Message handlers: step() decodes a peer's message and calls on(from, m), one overload per
    // message type (the compiler refuses a message type without one), grouped here by file.

    // ---- raft.cc ----
    void on(NodeId from, Propose&& m);  // a command a follower passed on to us (§8)
    // Queues `m` for take_ready(), after persist or not as after_persist(m) says (messages.h).
    void send(NodeId to, Message m);
    void set_leader(NodeId leader);

    // ---- election.cc ----
    void on(NodeId from, const RequestVote& m);  // a PreVote (§9.6) or a RequestVote (§5.2)
    void on(NodeId from, const RequestVoteResponse& m);
    void tick_election();
    void tick_leader_lease();
    void become_follower(std::uint64_t term, NodeId leader);
    void become_pre_candidate();
    // `transfer`: the election a leader asked for with TimeoutNow (membership.cc).
    void become_candidate(bool transfer = false);
    void on(NodeId from, const TimeoutNow& m);
    void become_leader();
    void handle_request_vote(NodeId from, const RequestVote& m);
    RequestVote vote_request(bool pre_vote, std::uint64_t term, bool transfer = false) const;
    void learn_commit(Index commit, std::uint64_t commit_term);
    void handle_pre_vote(NodeId from, const RequestVote& m);
    void reset_election_timer();
    bool heard_from_leader_recently() const;

    // ---- replication.cc ----
    // False (and nothing changed) if the message proves its sender broke the protocol.
    bool on(NodeId from, AppendEntries&& m);
    void on(NodeId from, const AppendEntriesResponse& m);
    // The leader's note to itself (§10.2.1), handed back once its own write is durable.
    void on_own_append(const AppendEntriesResponse& m);
    void tick_heartbeat();
    bool send_append(NodeId to);
    void send_heartbeat(NodeId to);
    Index heartbeat_index(const Progress& pr) const;
    bool behind_on_commit(const Progress& pr) const;
    bool waits_for_commit(const Progress& pr) const;
    void note_forwarded(NodeId from);
    void flush_leader();
    Index next_index_hint(const AppendEntriesResponse& m) const;
    void maybe_commit();
    bool committed_in_current_term() const;

    // ---- reads.cc ----
    void on(NodeId from, const ReadIndex& m);
    void on(NodeId from, const ReadIndexResponse& m);
    void start_read(std::uint64_t read_id, NodeId requester);
    void start_reads_waiting_for_commit();
    void confirm_reads();
    void answer_read(std::uint64_t read_id, NodeId requester, Index read_index, bool ok);
    void fail_leader_reads();
    void fail_forwarded_reads();
    void expire_forwarded_reads();

    // ---- snapshots.cc ----
    // The constructor's part: the log from what the store recovered, after the snapshot if any.
    void recover_log(std::vector<Entry> records, const std::optional<SnapshotMeta>& snapshot,
                     Index store_compacted_below);
    // Leader: `to` needs entries compacted away; ask the runtime to stream our snapshot (§7).
    void send_snapshot(NodeId to);
    void tick_snapshot_transfers();
    void snapshot_transfer_ended(NodeId to, Index index, bool ok);
    // Compacts the log through min(`through`, what transfers in flight and catch-up holds still
    // need), if that is past its base.
    void compact_log(Index through);
    // Where compaction goes with nobody to wait for: snapshot_trailing entries below the snapshot.
    Index trailing_compaction_point() const;
    // Leader: `from` acknowledged entries through `match`; a catch-up hold on it follows, or ends.
    void catch_up_progressed(NodeId from, Index match);
    // A snapshot we heard of (made, installed, recovered) moves currentTerm to its term if later.
    void adopt_snapshot_term(std::uint64_t term);

    // ---- membership.cc ----
    // The constructor's part: the configuration of the latest configuration entry at or below the
    // persisted commit hint (a change this node applied before it stopped), over the snapshot's.
    void recover_configuration(Index commit_hint);
    // Committed entry `index` is being handed out: if it carries a configuration, it rules now.
    void apply_configuration(Index index, const std::string& data);
    // `config` rules from `index` on (a snapshot's, an entry's): progress, roles and history follow.
    void reset_configuration(Index index, Configuration config);
    void use_configuration(Index index, Configuration config);
    // The configuration that ruled at `index` (snapshot_metadata), from the history kept since
    // the latest snapshot.
    const Configuration& configuration_at(Index index) const;
    void forget_configurations_below(Index index);
    // Leader: progress for every peer of the configuration, none for others.
    void track_configured_peers();
    // What a majority of the voters has reached, `value_of` giving each voter's (the leader's own:
    // `own`, if it is a voter).
    std::uint64_t voter_quorum_value(std::uint64_t own, std::uint64_t (*value_of)(const Progress&)) const;
    // Why the leader cannot start a change now (nullopt: it can), before looking at the change.
    std::optional<std::string> refuse_change_now() const;
    // Leader: places a change (nullopt) or says why not; propose_config_change without forwarding.
    std::optional<std::string> place_config_change(std::string request);
    // Leader: starts a transfer (nullopt) or says why not; transfer_leadership without forwarding.
    std::optional<std::string> start_transfer(NodeId target);
    // A follower that knows its leader passes MEMBER requests on to it, as it passes writes.
    bool forwards_to_leader() const { return role_ == Role::follower && leader_ != kNoNode; }
    // A change or transfer a follower passed on to us; refused ones are answered (ForwardRefused).
    void on(NodeId from, ForwardChange&& m);
    void on(NodeId from, const ForwardTransfer& m);
    void on(NodeId from, ForwardRefused&& m);
    // Leader: a learner added to be promoted has caught up: propose its promotion.
    void tick_auto_promotion();
    bool learner_caught_up(const Progress& pr) const;
    // Leader, dissertation §3.10: the transfer target's log matches ours: tell it to campaign now.
    void maybe_send_timeout_now(NodeId peer);
    void tick_transfer();
    // A leader applying its own removal hands over to the voter with the longest log.
    void hand_over_on_removal();

    // Leader: each peer's Progress as status() reports it (the live view's lag bars).
    std::vector<PeerProgress> peer_progress() const;

    // ---- invariants.cc ----
    void check_leader_invariants() const;
    void check_snapshot_invariants() const;

    const EngineConfig config_;  // validated; its members are read through members_ only
    const NodeId id_;
    Membership members_;  // the applied configuration: whom we send to, who votes, what a majority is
    Rng rng_;

    // ---- Figure 2: persistent state on all servers (names as in the paper) ----
    std::uint64_t currentTerm = 0;
    NodeId votedFor = kNoNode;
    RaftLog log_;

    // ---- Figure 2: volatile state on all servers ----
    Index commitIndex = 0;
    // The last index handed to the runtime in Ready::committed; the runtime applies them.
    Index lastApplied = 0;

    // ---- Figure 2: volatile state on leaders (nextIndex[], matchIndex[] live in Progress) ----
    std::map<NodeId, Progress> progress_;
    // §10.2.1: the leader's own log is written in parallel with replication, so it counts itself
    // towards a commit quorum only up to what it has learned is durable (its note to itself).
    Index own_durable_index_ = 0;

    Role role_ = Role::follower;
    NodeId leader_ = kNoNode;
    VoteTally votes_;

    // Logical time, in ticks. election_elapsed_: follower/candidate, since the leader was last
    // heard from (or a vote granted, or an election started).
    std::uint32_t election_elapsed_ = 0;
    std::uint32_t randomized_election_timeout_ = 0;
    std::uint32_t heartbeat_elapsed_ = 0;     // leader
    std::uint32_t quorum_check_elapsed_ = 0;  // leader, §6.2

    // Leader output batched until take_ready(): many proposals go out in one AppendEntries.
    bool append_pending_ = false;      // entries were appended since the last flush
    bool commit_news_ = false;         // some follower may not know commitIndex yet
    bool read_round_pending_ = false;  // a ReadIndex round needs its heartbeats

    // ---- §6.4 ReadIndex ----
    std::uint64_t read_context_ = 0;                // leader: last round number handed out
    std::deque<PendingRead> pending_reads_;         // leader: waiting for a majority, by context
    std::deque<PendingRead> reads_waiting_commit_;  // leader: before its first commit of the term
    // follower: reads sent to leader_ and not answered yet. A forwarded read (or its answer) can
    // be lost; one not answered within the maximum election timeout is failed so the runtime
    // retries, and all are failed when the leader changes.
    ForwardedRequests forwarded_reads_;
    std::uint64_t ticks_ = 0;  // ticks since start

    // ---- §7 snapshots and log compaction (snapshots.cc) ----
    // The latest snapshot of the state machine known durable here (made, installed or recovered);
    // 0: none. The log's base is at or below it, lastApplied at or above it.
    Index snapshot_index_ = 0;
    // Transfers asked for in Ready::snapshot_to and not yet reported by snapshot_sent(), by peer:
    // the snapshot index we had when we asked (the runtime sends that one or a later one) and the
    // ticks since. Compaction keeps index + 1 on while one is in flight, so the follower can go on
    // from the log after installing (the snapshot loops of consul#9609, cockroach#8629). Kept
    // across role changes: the runtime streams it whatever our role.
    struct SnapshotTransfer {
        Index index = 0;
        std::uint32_t elapsed_ticks = 0;
    };
    std::map<NodeId, SnapshotTransfer> transfers_;
    // Leader: followers that installed our snapshot and now catch up from the log. Compaction keeps
    // the entries each still needs, for at most snapshot_retry_ticks (common/catch_up_holds.h), so
    // that one outage takes one snapshot even when ours moved on during the transfer.
    CatchUpHolds catch_up_holds_;

    // ---- membership change (membership.cc) ----
    // Configurations applied since the latest snapshot, by the index that made them rule (the
    // first: the snapshot's, or the bootstrap one at 0), for snapshot_metadata(index).
    std::map<Index, Configuration> configs_;
    // Leader: the index of a configuration entry it appended and has not applied yet (0: none).
    // One change at a time (dissertation §4.1).
    Index pending_config_index_ = 0;
    // Leader: per learner to be promoted, ticks it has been caught up without a break.
    std::map<NodeId, std::uint32_t> caught_up_ticks_;
    NodeId transfer_target_ = kNoNode;    // leader: leadership transfer under way (proposals paused)
    std::uint32_t transfer_elapsed_ = 0;  // ticks since it started; aborted after an election timeout
    Index term_start_index_ = 0;          // leader: the index of its term's no-op (§8)

    // ---- the batch being built for take_ready() ----
    bool hard_state_dirty_ = false;
    // The commit hint persisted with the hard state: the highest index known committed, here or
    // by the hint recovered at start. Never commitIndex alone, which is volatile: after a restart
    // it is 0 until the leader says more, and a vote cast meanwhile would write a hint that no
    // longer covers the configuration entries applied before the crash (recover_configuration).
    Index commit_hint_ = 0;
    Outbox<Message> outbox_;
    std::vector<ReadState> reads_;
    std::vector<NodeId> snapshot_to_;
    std::vector<ForwardedRefusal> refusals_;
};

}  // namespace ballot::raft
