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
//   catch_up.cc       gap filling with no-ops (§3) and the probe that finds unknown slots
//   messages.h/.cc    the wire, and which message waits for the disk (after_persist)
//   persist.h/.cc     what is durable (§2.5): per-slot acceptor records, the proposer's round
//   invariants.cc     every role's check_invariants()
//   acceptor.*, proposer.*, learner.*   the three roles' state; tuning.h every knob
#pragma once

#include <map>
#include <vector>

#include "common/engine.h"
#include "common/membership.h"
#include "common/outbox.h"
#include "common/quorum.h"
#include "paxos/acceptor.h"
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

    EngineStatus status() const override;
    std::string describe(std::span<const std::uint8_t> payload) const override;
    void check_invariants() const override;  // invariants.cc

private:
    Paxos(const EngineConfig& config, const Recovered& recovered, const Tuning& tuning);
    // One quorum query serving every read() made before it was sent.
    struct ReadRound {
        std::vector<std::uint64_t> read_ids;
        VoteTally answered;
        Index highest_accepted = 0;
        std::uint64_t deadline = 0;
    };

    // Dispatch: a message is acted on only if its sender is a member and it is plausible.
    bool plausible(NodeId from, const Message& m) const;
    // One handler per message type, by concern file.
    void on(NodeId from, const Prepare& m);  // election.cc
    void on(NodeId from, const Promise& m);
    void on(NodeId from, const Nack& m);
    void on(NodeId from, const Accept& m);  // replication.cc
    void on(NodeId from, const Accepted& m);
    void on(NodeId from, const Learn& m);
    void on(NodeId from, const ReadQuery& m);  // reads.cc
    void on(NodeId from, const ReadReply& m);

    void learn(Index slot, std::string value);  // replication.cc

    void use_window();  // catch_up.cc
    void fill_gaps();
    void probe();

    void expire_reads();  // reads.cc
    std::uint64_t query_highest_accepted();

    // Queues `m` for `to` under the persist-before-send rule of its type (messages.h).
    void send(NodeId to, Message m);

    EngineConfig config_;  // never its id or members: ask members_
    Membership members_;
    Tuning tuning_;
    Outbox<Message> outbox_;  // messages of the batch being built, in the order they were made

    Acceptor acceptor_;
    Learner learner_;
    Proposer proposer_;
    std::uint64_t persisted_round_;  // the metadata round as last handed out

    std::uint64_t now_ = 0;

    // Gap filling (README "Gap filling").
    Index last_commit_ = 0;
    std::uint64_t behind_since_ = 0;  // when the chosen prefix last grew, or this node caught up
    Index fill_until_ = 0;            // fill every unknown slot up to here
    Index fill_next_ = 1;             // slots below this are chosen or already being filled

    // Reads (README "Reads").
    std::map<std::uint64_t, ReadRound> read_rounds_;
    std::uint64_t next_read_round_;      // random start: a reply from a previous incarnation never matches
    std::uint64_t open_read_round_ = 0;  // the round whose query has not left yet (0: none)
    std::vector<ReadState> reads_ready_;
    std::uint64_t next_probe_ = 0;
};

}  // namespace ballot::paxos
