// The proposer as distinguished leader (Paxos Made Simple §3; PMMC §3 "Leaders", with its
// Scout for phase 1 and Commanders for phase 2), for one ballot. The engine creates a Leader
// when it starts phase 1 and destroys it when it steps down; a new attempt is a new Leader with
// a higher ballot, so no state of a lost ballot can leak into the next. Its methods are defined in
// the file of their concern: phase 1 in election.cc, phase 2 in replication.cc, reads in reads.cc,
// catch-up in catch_up.cc, check_invariants() in invariants.cc.
//
//   phase 1 (candidate)  Prepare(ballot, from_slot) to every voter of every configuration known to
//                        govern a slot from the first unchosen one on, self included, once for all
//                        those slots (PMS §3). Promises report accepted values; per slot the leader
//                        adopts the one with the highest ballot (PMS §2.2, P2c), and fills every
//                        hole up to the highest reported slot with a no-op (PMS §3: it fills the
//                        gaps "by proposing a special no-op command"). It leads once a majority of
//                        the voters of EACH of those configurations has reported.
//   phase 2 (leader)     re-proposes the adopted values, then new commands, each in its own slot,
//                        many slots per Accept. Slot t is proposed only once every slot up to
//                        t - α is chosen (configs.h: then the configuration governing t is known),
//                        and only once a majority of that configuration's voters has promised
//                        this ballot and reported (a configuration chosen meanwhile extends phase
//                        1 to its voters: extend_phase1). Commands wait in a queue for their slot.
//                        Slot t goes to the voters of its configuration and is chosen when a
//                        majority of them has accepted it in this ballot; the leader counts its
//                        own acceptance only once it is durable (an Accepted it addresses to
//                        itself, delivered after the fsync). Learners get chosen values only.
//                        Once a configuration command is chosen in slot s, the slots up to
//                        s + α - 1 this leader has no command for get no-ops, so that the change
//                        governs at once rather than after α more writes.
//
// Bounds: Accept messages carry at most max_message_bytes of proposals; at most
// max_inflight_messages unanswered Accepts per peer; at most α slots proposed beyond the chosen
// prefix; at most max_pending_proposals proposals queued or awaiting a decision (then propose()
// answers overloaded).
//
// Lost messages: a peer whose oldest unanswered Accept, or whose lowest missing proposal, is
// older than retry_ticks gets them again. A peer that reports it is behind gets Chosen values, or,
// when what it lacks is below this node's trim point, this node's snapshot (snapshots.cc).
//
// Reads (the Multi-Paxos counterpart of Raft's ReadIndex, dissertation §6.4): a read takes the
// highest slot assigned or known chosen as its index, then waits for a quorum round: a Heartbeat
// numbered read_seq, acknowledged by a majority of acceptors that have promised nothing above
// this ballot. Until then nothing above this ballot can have chosen anything, so every write
// acknowledged before the read is at or below the index.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/ballot.h"
#include "common/engine.h"
#include "common/membership.h"
#include "common/quorum.h"
#include "multipaxos/acceptor.h"
#include "multipaxos/configs.h"
#include "multipaxos/learner.h"
#include "multipaxos/messages.h"

namespace ballot::multipaxos {

// Where the Leader puts what it wants said. The engine implements it: it hands a Prepare or Accept
// addressed to this node straight to the local acceptor and queues everything else in its
// Outbox<Message> (common/outbox.h), with the after_persist policy of messages.h.
class LeaderOutput {
public:
    virtual ~LeaderOutput() = default;
    virtual void send(NodeId to, Message m) = 0;
    // A read this node was asked for is decided.
    virtual void read_done(ReadState rs) = 0;
    // `to` lacks slots this node compacted away: stream it this node's snapshot (at most one
    // transfer per peer at a time; snapshots.cc).
    virtual void send_snapshot(NodeId to) = 0;
    // `from` trimmed slots this node does not know chosen: ask it for its snapshot (snapshots.cc).
    virtual void need_snapshot(NodeId from) = 0;
    // `id` reported it has learned every slot through `chosen`: a catch-up hold on it follows
    // (snapshots.cc).
    virtual void peer_learned(NodeId id, Index chosen) = 0;
};

class Leader {
public:
    // `members`: the configuration governing the first unchosen slot; `configs`: every one known.
    Leader(const EngineConfig& config, const Membership& members, const ConfigHistory& configs, Ballot ballot,
           Acceptor& acceptor, Learner& learner, LeaderOutput& out);

    Ballot ballot() const { return ballot_; }
    bool active() const { return phase_ == Phase::two; }

    // ---- phase 1 (PMMC: Scout), election.cc ----
    void start(std::uint64_t now);
    // True when this Promise is progress: the page this acceptor was asked for (a new page of
    // its report, or its last). A candidate making progress must not time out (see README
    // "Leader election is phase 1": a long report takes many round trips).
    bool on_promise(NodeId from, const Promise& m, std::uint64_t now);
    // Sends Prepare to every voter of a configuration governing a slot after the chosen prefix that
    // has not been asked yet (a configuration chosen since phase 1 began).
    void extend_phase1(std::uint64_t now);
    // The membership guard (README "Membership change", the Multi-Paxos form of the 2015 fix):
    // every value phase 1 adopted is chosen and applied, and phase 1 is complete for every known
    // configuration, so a change is made to the configuration that really comes next.
    bool settled() const;

    // ---- phase 2 (PMMC: Commander), replication.cc ----
    // `origin`: the follower that forwarded the command (its client waits until it learns the slot
    // chosen), or kNoNode for this node's own.
    ProposeResult propose(std::string value, NodeId origin = kNoNode);
    void on_accepted(NodeId from, const Accepted& m, std::uint64_t now);
    void on_heartbeat_ack(NodeId from, const HeartbeatAck& m, std::uint64_t now);

    // ---- membership, membership.cc ----
    // The peers of every configuration governing a slot after the chosen prefix are tracked.
    void track_peers(std::uint64_t now);
    // Voters of `next` this leader heard from within the maximum election timeout (self included).
    std::size_t reachable_voters(const Configuration& next, std::uint64_t now) const;
    // A peer's reported chosen prefix (0: not a peer).
    Index peer_chosen(NodeId id) const;
    // The voter of the governing configuration, not this node, that holds the longest chosen prefix.
    NodeId best_successor() const;

    // ---- snapshots, snapshots.cc ----
    // `to` durably holds a snapshot through `slot`: its catch-up resumes after it.
    void snapshot_delivered(NodeId to, Index slot);
    // This node installed a snapshot: proposals for slots it covers are decided, not pending.
    void snapshot_installed(Index slot);

    // ---- linearizable reads, reads.cc ----
    // `origin` is this node or the follower that forwarded the read.
    void read(NodeId origin, std::uint64_t read_id, std::uint64_t now);
    Index read_index() const;

    // ---- leadership transfer, transfer.cc ----
    // Every proposal of this ballot is decided, and `id` has reported holding everything this
    // node knows chosen: a phase 1 of `id` would start where this leader stands.
    bool handed_all_to(NodeId id) const;
    // A Heartbeat to `id` alone, so that it reports its chosen prefix now.
    void heartbeat(NodeId id);

    // ---- time and output ----
    void tick(std::uint64_t now);
    // True when no majority has answered for an election timeout: this leader is cut off and
    // should step down so that clients are told, instead of waiting on it.
    bool lost_majority(std::uint64_t now) const;
    // Something is waiting for flush(): new proposals, or a read round to start.
    bool has_unsent() const;
    // Sends what accumulated since the last flush: proposals to the own acceptor and to each
    // peer (batched), and a read round. Called when the engine's Ready is taken.
    void flush(std::uint64_t now);
    // Stepping down: every waiting read fails (ok = false).
    void abandon();

    void check_invariants() const;
    // Each peer's replication in this ballot, for status() (the live view's lag bars): the highest
    // slot it acknowledged, the next to send it, its reported chosen prefix, Accepts in flight.
    std::vector<PeerProgress> peer_progress() const;

private:
    enum class Phase { one, two };

    struct Queued {  // a command waiting for a slot
        std::string value;
        NodeId origin = kNoNode;  // see propose()
    };
    struct Pending {  // a proposal awaiting a majority
        std::string value;
        std::vector<NodeId> accepted_by;
        std::uint64_t sent_tick = 0;  // last time it was sent to anyone
    };
    struct InflightAccept {
        Index last_slot = 0;
        std::uint64_t sent_tick = 0;
    };
    struct Peer {
        Index next = 1;                       // first slot not yet sent in this ballot
        std::deque<InflightAccept> inflight;  // bounded by max_inflight_messages
        Index chosen = 0;                     // its reported chosen prefix
        Index installed = 0;                  // the latest snapshot a transfer from us delivered
        Index accepted = 0;                   // the highest slot it acknowledged (Accepted) in this ballot
        Index told_chosen = 0;                // the chosen prefix last sent to it (Accept, Heartbeat)
        // The highest slot a client of this peer waits for it to learn chosen: the slot given to a
        // command it forwarded, or the index of a read it forwarded (tell_chosen).
        Index waits_through = 0;
        std::uint64_t heard_tick = 0;
        std::uint64_t read_ack = 0;  // highest read round it acknowledged
        Index catchup_end = 0;       // last slot of the Chosen message in flight
        std::uint64_t catchup_tick = 0;
    };
    struct Report {            // phase 1: one acceptor's paged report
        Index asked_from = 0;  // the page asked for (Prepare{ballot, asked_from})
        std::uint64_t asked_tick = 0;
        bool complete = false;
    };
    struct PendingRead {
        NodeId origin = kNoNode;
        std::uint64_t id = 0;
        Index index = 0;
        std::uint64_t seq = 0;  // the read round that must confirm it
        std::uint64_t deadline_tick = 0;
    };

    void ask_page(NodeId id, Index from_slot, std::uint64_t now);
    void resend_pages(std::uint64_t now);
    // A majority of `c`'s voters have reported in full.
    bool covers(const Configuration& c) const;
    bool covers_every_governing() const;
    void begin_phase2(std::uint64_t now);
    // Phase 2: the value for the next slot, if one may be proposed there now (and whether it may).
    bool may_propose_next() const;
    void fill_window();
    bool accepted_by(const Pending& p, NodeId id) const;
    void send_accepts(NodeId id, Peer& peer, std::uint64_t now);
    void tell_chosen(NodeId id, Peer& peer);  // the chosen point, to a peer waiting for it
    void retransmit(std::uint64_t now);
    void catch_up(NodeId id, Peer& peer, Index chosen, bool behind, std::uint64_t now);
    void heartbeat_all();
    void confirm_reads();
    void finish_read(const PendingRead& r, bool ok);

    const EngineConfig& config_;    // the knobs; who the members are is members_
    const Membership& members_;     // the configuration governing the first unchosen slot
    const ConfigHistory& configs_;  // every configuration known, by the first slot it governs
    const Ballot ballot_;
    Acceptor& acceptor_;
    Learner& learner_;
    LeaderOutput& out_;
    const std::uint64_t retry_ticks_;
    Phase phase_ = Phase::one;

    // phase 1
    Index from_slot_ = 1;
    std::set<NodeId> promised_;        // acceptors whose complete report arrived
    std::map<Index, Entry> reported_;  // per slot not yet proposed, the highest-ballot value reported
    Index reported_last_ = 0;          // the highest slot any report named
    std::map<NodeId, Report> reports_;

    // phase 2
    Index next_slot_ = 1;               // the next slot to propose in
    std::deque<Queued> queued_;         // commands waiting for a slot (the α window)
    Index own_next_ = 1;                // first slot not yet handed to the own acceptor
    std::map<Index, Pending> pending_;  // proposed, not yet known chosen
    std::map<NodeId, Peer> peers_;
    std::uint64_t active_since_ = 0;
    std::uint64_t heartbeat_elapsed_ = 0;

    // reads
    std::uint64_t read_seq_ = 0;       // the last read round started
    std::uint64_t confirmed_seq_ = 0;  // the last read round a majority acknowledged
    std::deque<PendingRead> reads_;    // bounded by max_pending_proposals
};

}  // namespace ballot::multipaxos
