// The Multi-Paxos engine: every node is proposer, acceptor and learner (Paxos Made Simple §3;
// van Renesse & Altinbuken, Paxos Made Moderately Complex). This class is the glue: it owns the
// three roles, routes each message to the role it is for, runs the timers, and gathers their
// output into one Ready (common/engine.h, including its persist-before-send rule).
//
// Map of the folder, by concern (the MultiPaxos and Leader methods of each concern are defined in
// its file):
//   multipaxos.{h,cc}  this class: inputs (tick, step, propose, read), dispatch (a member's
//                      message, plausible(), then on(from, m)), output (take_ready), status
//   election.cc        the poll before phase 1 (Raft's PreVote counterpart, dissertation §9.6),
//                      phase 1 (PMS §2.2, §3; PMMC "Scout"): Prepare, Promise, adoption, paging;
//                      stepping down (PMMC "preempted"), losing a majority, following a leader
//   replication.cc     phase 2 (PMS §2.2; PMMC "Commander"): proposals, Accept/Accepted,
//                      heartbeats and the chosen point, retransmission
//   reads.cc           linearizable reads: the leader's quorum round, forwarded reads
//   catch_up.cc        Chosen values for a lagging learner (PMMC "decision")
//   transfer.cc        leadership transfer: the leader drains, then asks a caught-up voter to
//                      run phase 1 at once (TakeOver)
//   membership.cc      membership change by α-reconfiguration: proposing, forwarding, refusing
//                      a change, auto promotion of learners, a change taking effect
//   configs.{h,cc}     the configuration history over the slots, and α
//   snapshots.cc       snapshots and compaction: the acceptor's trim (libpaxos3), transfers to
//                      peers that lack trimmed slots, installs, recovery from a snapshot
//   invariants.cc      check_invariants() of every role: what must always hold
//   acceptor.{h,cc}    promises and accepted values (the durable part; PMS §2.2)
//   leader.h           the distinguished proposer of one ballot (its state; methods as above)
//   learner.{h,cc}     chosen slots, in-order delivery (PMS §2.3; PMMC "Replica")
//   messages.{h,cc}    the wire format, describe(), and the after_persist policy
//   persist.{h,cc}     the durable bytes: metadata record and per-slot log records
//   engine_traits.cc   what the registry knows of this engine
//
// Roles as status() reports them: "follower" (no Leader object; follows the highest ballot it
// hears Accepts or Heartbeats from), "candidate" (a Leader in phase 1), "leader" (a Leader in
// phase 2). A follower that hears no leader for a random time in [election_timeout_min_ticks,
// election_timeout_max_ticks] first polls the others (has a majority also lost the leader? the
// counterpart of Raft's PreVote, README "Disruptive nodes"), and if so runs phase 1 with a ballot
// above every one it has seen. A proposer refused with a higher ballot steps down and waits a new
// random timeout before trying again: that randomized backoff is what ends dueling proposers
// (PMS §2.4, "Progress").
//
// What is durable (multipaxos/persist.h): the metadata record {promised ballot, commit hint} and,
// per slot, a log record {accepted ballot, value}: the value accepted for the slot, or the chosen
// value once learned. The commit hint says every slot up to it is chosen and its disk record
// holds the chosen value. A restarted node delivers 1..hint again from disk and learns the
// rest from the leader.
#pragma once

#include <map>
#include <memory>
#include <optional>

#include "common/ballot.h"
#include "common/catch_up_holds.h"
#include "common/engine.h"
#include "common/forwarded_requests.h"
#include "common/membership.h"
#include "common/outbox.h"
#include "common/quorum.h"
#include "common/random.h"
#include "multipaxos/acceptor.h"
#include "multipaxos/leader.h"
#include "multipaxos/learner.h"
#include "multipaxos/messages.h"
#include "multipaxos/persist.h"

namespace ballot::multipaxos {

class MultiPaxos final : public Engine, private LeaderOutput {
public:
    // Throws std::invalid_argument if the configuration is unusable (validate_engine_config).
    MultiPaxos(const EngineConfig& config, RecoveredState recovered);

    void tick() override;
    bool step(NodeId from, std::span<const std::uint8_t> payload) override;
    ProposeResult propose(std::string command) override;
    void read(std::uint64_t read_id) override;

    Ready take_ready() override;
    bool has_ready() const override;

    // The configuration of the latest configuration command delivered (README "Membership
    // change"): reported from slot s, where it is chosen, although it governs only from s + α on
    // (status().config_governs_from). Quorums use members_, what governs the first unchosen slot.
    // Changes: membership.cc. Leadership transfer: transfer.cc.
    const Configuration& configuration() const override { return configs_.latest(); }
    std::vector<Member> members_to_connect() const override;  // membership.cc
    bool configuration_in_effect() const override;            // membership.cc
    std::optional<std::string> propose_config_change(std::uint64_t request_id, std::string request) override;
    std::optional<std::string> transfer_leadership(std::uint64_t request_id, NodeId target) override;

    EngineStatus status() const override;
    std::string describe(std::span<const std::uint8_t> payload) const override;
    bool is_heartbeat(NodeId peer, std::span<const std::uint8_t> payload) const override;

    // snapshots.cc (common/engine.h "SNAPSHOTS"; README "Snapshots and compaction").
    Bytes snapshot_metadata(Index index) const override;
    void snapshot_made(const SnapshotMeta& meta) override;
    void snapshot_installed(const SnapshotMeta& meta) override;
    void snapshot_sent(NodeId to, Index index, bool ok) override;

    // Throws InvariantViolation (common/assert.h) naming the first broken invariant of any role.
    void check_invariants() const override;

private:
    // `snapshot`: the recovered snapshot's last slot (0: none); `trimmed`: the trim point recovery
    // chose (recovered_trim_point() in snapshots.cc).
    MultiPaxos(const EngineConfig& config, const Recovered& recovered, Index snapshot, ConfigHistory configs);
    MultiPaxos(const EngineConfig& config, const Recovered& recovered, Index snapshot, Index trimmed,
               ConfigHistory configs);
    // LeaderOutput: what the roles send (a Prepare or Accept to self goes to the own acceptor).
    void send(NodeId to, Message m) override;
    void read_done(ReadState rs) override;
    void send_snapshot(NodeId to) override;
    void need_snapshot(NodeId from) override;
    void peer_learned(NodeId id, Index chosen) override;

    // Refuses a message that no honest member sends (a ballot that is not its sender's).
    bool plausible(NodeId from, const Message& m) const;
    // Refuses a message from a node this one does not take messages of that type from.
    bool admitted(NodeId from, const Message& m) const;

    // One handler per message type (step() dispatches with std::visit, so a message type without
    // a handler does not compile), with the helpers of each concern, grouped by the file that
    // defines them.

    // election.cc: the poll, phase 1, stepping down, following.
    void on(NodeId from, const Poll& m);
    void on(NodeId from, const PollReply& m);
    void on(NodeId from, const Prepare& m);
    void on(NodeId from, const Promise& m);
    void on(NodeId from, const Nack& m);
    void on_election_timeout();
    bool hears_a_leader(NodeId poller) const;
    void start_poll();
    void reset_election_timer();
    void start_phase1();
    void step_down();
    void follow(Ballot ballot);

    // replication.cc: phase 2 and heartbeats.
    void on(NodeId from, const Forward& m);
    void on(NodeId from, const Accept& m);
    void on(NodeId from, const Accepted& m);
    void on(NodeId from, const Heartbeat& m);
    void on(NodeId from, const HeartbeatAck& m);

    // reads.cc: linearizable reads forwarded to the leader.
    void on(NodeId from, const ReadRequest& m);
    void on(NodeId from, const ReadReply& m);

    // catch_up.cc: chosen values for a lagging learner.
    void on(NodeId from, const Chosen& m);
    void on(NodeId from, const ChosenRequest& m);
    void on(NodeId from, const ChosenValues& m);
    void ask_for_chosen(NodeId from);

    // transfer.cc: leadership transfer.
    void on(NodeId from, const TakeOver& m);
    void on(NodeId from, const ForwardTransfer& m);
    void on(NodeId from, const ForwardRefused& m);
    std::optional<std::string> start_transfer(NodeId target);
    void maybe_hand_over();
    void tick_transfer();

    // membership.cc: changes and their taking effect.
    void on(NodeId from, const ForwardChange& m);
    std::string forwarded_to_a_non_leader() const;
    bool may_lead() const;  // election.cc
    bool change_in_flight() const;
    std::optional<std::string> refuse_change_now() const;
    // `origin`: the follower that forwarded the request (ForwardChange), or kNoNode.
    std::optional<std::string> place_config_change(std::string request, NodeId origin = kNoNode);
    void tick_auto_promotion();
    bool learner_caught_up(NodeId id) const;
    void refresh_membership();

    // snapshots.cc: recovery, transfers, compaction.
    static Index recovered_snapshot(const RecoveredState& recovered);
    // The configuration history a node starts with: its recovered snapshot's, else the bootstrap one.
    static ConfigHistory recovered_configs(const EngineConfig& config, const RecoveredState& recovered);
    bool knows_itself() const;
    static Index recovered_trim_point(const Recovered& recovered, Index snapshot);
    void on(NodeId from, const SnapshotRequest& m);
    Index transfer_floor() const;
    void compact();
    void expire_transfers();

    bool active_leader() const { return leader_ && leader_->active(); }
    bool config_hint_due(Index hint) const;
    void note_ballot(Ballot b) { highest_seen_ = std::max(highest_seen_, b); }

    EngineConfig config_;  // the knobs (timeouts, bounds); who the members are is configs_, members_
    // Every configuration known, by the first slot it governs (configs.h); the learner extends it.
    ConfigHistory configs_;
    Membership members_;  // configs_.at(first unchosen slot): what governs now (refresh_membership)
    Rng rng_;
    Acceptor acceptor_;
    Learner learner_;
    std::unique_ptr<Leader> leader_;  // this node's ballot, while it is candidate or leader

    std::uint64_t now_ = 0;  // ticks since start
    std::uint64_t preempted_ = 0;  // ballots given up on a Nack (EngineStatus::proposals_preempted)
    std::uint64_t election_elapsed_ = 0;
    std::uint64_t election_timeout_ = 0;
    NodeId known_leader_ = kNoNode;  // follower: whose Accepts and Heartbeats it follows
    Ballot known_leader_ballot_;
    Ballot highest_seen_;  // the next ballot this node tries is above it
    // When this node last heard from the leader it follows (an admitted Accept, Heartbeat or
    // Chosen of that ballot); nullopt: never since start.
    std::optional<std::uint64_t> leader_heard_tick_;
    // When this node last promised another node's Prepare (a candidate at work), and to whom;
    // nullopt: never.
    std::optional<std::uint64_t> promised_tick_;
    NodeId promised_to_ = kNoNode;

    // The poll before phase 1 (README "Disruptive nodes"): the ballot it would try, and who agreed.
    bool polling_ = false;
    Ballot poll_ballot_;
    VoteTally poll_votes_{0, 0};

    // Leadership transfer (transfer.cc): the voter asked to take over while this node leads
    // (kNoNode: none), since when, and whether TakeOver went out. Proposals pause meanwhile.
    NodeId transfer_target_ = kNoNode;
    std::uint64_t transfer_since_ = 0;
    bool take_over_sent_ = false;
    std::vector<ForwardedRefusal> refusals_;  // the leader's refusals of requests forwarded to it

    // Membership change (membership.cc): a change this leader proposed and the latest
    // configuration's first slot then (in flight until a newer one is chosen), the latest first
    // slot refresh_membership() has seen, and how long each learner to promote has been caught up.
    bool change_placed_ = false;
    Index change_placed_from_ = 0;
    Index configs_seen_from_ = 0;
    Index governing_since_ = 0;  // configs_.governing_since() of the first unchosen slot, last seen
    std::map<NodeId, std::uint32_t> caught_up_ticks_;

    // Reads forwarded to the leader, each with its deadline tick. Bounded by max_pending_proposals.
    ForwardedRequests forwarded_reads_;

    Outbox<Message> outbox_;             // messages gathered since the last take_ready()
    std::vector<ReadState> reads_done_;  // reads decided since the last take_ready()
    Index commit_at_last_take_ = 0;      // the chosen prefix when the previous batch was taken
    Index persisted_commit_ = 0;         // the last commit hint handed out in the metadata

    // Snapshots (snapshots.cc). A transfer this node asked the runtime for: the snapshot's last
    // slot, and when it was asked (a report not back within snapshot_retry_ticks is taken as lost).
    struct Transfer {
        Index slot = 0;
        std::uint64_t asked_tick = 0;
    };
    Index snapshot_index_ = 0;            // the latest durable snapshot, made or installed (0: none)
    Index compact_goal_ = 0;              // compact below this once no transfer in flight forbids it
    Index compacted_below_ = 1;           // the last compact_below handed out (1: nothing compacted)
    std::optional<Index> compact_below_;  // to hand out in the next Ready
    std::map<NodeId, Transfer> transfers_;
    // Leader: peers that installed its snapshot and now learn the slots after it from Chosen
    // messages; compaction keeps those slots for at most snapshot_retry_ticks
    // (common/catch_up_holds.h), so one outage takes one snapshot even when ours moved on.
    CatchUpHolds catch_up_holds_;
    std::vector<NodeId> snapshot_to_;                       // transfers asked since the last take_ready()
    std::optional<std::uint64_t> snapshot_requested_tick_;  // the last SnapshotRequest this node sent
};

}  // namespace ballot::multipaxos
