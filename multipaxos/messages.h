// The Multi-Paxos wire messages: one plain struct per message type, the variant that holds any
// of them, and their codec (common/codec.h; the first byte names the type).
//
// Names follow Paxos Made Simple (§2.2 phases 1a/1b/2a/2b) and Paxos Made Moderately Complex
// (p1a/p1b/p2a/p2b, "decision"):
//
//     Prepare   -> Promise | Nack      phase 1, run once for every slot from `from_slot` on
//     Accept    -> Accepted | Nack     phase 2, many slots per message
//     Heartbeat -> HeartbeatAck | Nack the leader is alive; carries the chosen point and the
//                                      read counter that confirms linearizable reads
//     Chosen                           catch-up: chosen values a lagging learner lacks
//     SnapshotRequest                  "send me your snapshot": what it lacks is compacted away
//     ChosenRequest -> ChosenValues    a learner asks any peer, leader or not, for chosen values
//     Forward, ReadRequest, ReadReply  a follower hands a command or a read to the leader
//     Poll      -> PollReply           before phase 1: has a majority also lost the leader?
//     TakeOver                         leadership transfer: "run phase 1 now"
//     ForwardTransfer -> ForwardRefused  a follower hands MEMBER TRANSFER to the leader
//     ForwardChange -> ForwardRefused    a follower hands MEMBER ADD/PROMOTE/REMOVE to the leader
//
// decode() validates everything it returns: counts are checked against the bytes left before
// anything is allocated, slots are positive and strictly increasing, ballots are not zero, and
// trailing bytes are an error. Anything malformed is std::nullopt.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/ballot.h"
#include "common/forwarded_membership.h"
#include "common/types.h"
#include "multipaxos/persist.h"

namespace ballot::multipaxos {

// Phase 1a: "prepare request with number n" (PMS §2.2), for every slot >= from_slot at once
// (PMS §3: "phase 1 for infinitely many instances").
struct Prepare {
    Ballot ballot;
    Index from_slot = 1;
};

// Phase 1b: the acceptor promises `ballot` and reports every value it accepted in slots
// >= from_slot, each with the ballot it was accepted in (Entry{index = slot, ballot, data}).
// The report is bounded by max_message_bytes: when it does not fit, `next_slot` is the first
// slot left out and the leader asks again with Prepare{ballot, next_slot}. 0 = complete.
// `chosen` is the acceptor's contiguous chosen prefix: its values up to there are chosen.
// `trimmed` is the acceptor's trim point (README "Snapshots and compaction"): it deleted its
// records of every slot up to there, all chosen and covered by its durable snapshot, so its report
// covers only the slots above it (trimmed <= chosen). A proposer that does not itself know those
// slots chosen must not count this promise for them: it fetches a snapshot first.
struct Promise {
    Ballot ballot;
    Index from_slot = 1;
    Index next_slot = 0;
    Index chosen = 0;
    std::vector<Entry> accepted;
    Index trimmed = 0;
};

// Phase 2a for many slots (PMMC's p2a, batched). `chosen`: the leader's contiguous chosen
// prefix, which a learner may use for values it accepted in this same ballot.
struct Proposal {
    Index slot = 0;
    std::string value;  // an encoded Command; empty = no-op
};
struct Accept {
    Ballot ballot;
    Index chosen = 0;
    std::vector<Proposal> proposals;
};

// Phase 2b: the acceptor accepted these slots in `ballot`. `chosen`: the sender's own chosen
// prefix. `behind`: a leader told it that more is chosen than it can deliver (it lacks the values
// or holds them from another ballot), so the leader should send it Chosen values from chosen + 1.
// `trimmed`: the acceptor's trim point, as in Promise; proposals at or below it were neither
// stored nor acknowledged (those slots are decided), and a leader that does not know them chosen
// fetches a snapshot.
struct Accepted {
    Ballot ballot;
    Index chosen = 0;
    bool behind = false;
    std::vector<Index> slots;
    Index trimmed = 0;
};

// A refusal (PMMC's p1b/p2b carrying a higher ballot): the acceptor promised `promised`,
// which is higher than the `ballot` it was asked about.
struct Nack {
    Ballot ballot;
    Ballot promised;
};

// The leader is alive (PMS §3: a distinguished proposer). `read_seq` numbers quorum rounds that
// confirm linearizable reads (see leader.h).
struct Heartbeat {
    Ballot ballot;
    Index chosen = 0;
    std::uint64_t read_seq = 0;
};

// "I have promised nothing above `ballot`" as of `read_seq`; and my chosen prefix, as in
// Accepted. Also the answer to Chosen (with read_seq 0, which confirms no read).
struct HeartbeatAck {
    Ballot ballot;
    std::uint64_t read_seq = 0;
    Index chosen = 0;
    bool behind = false;
};

// Catch-up from the leader of `ballot`: these slots are chosen with these values (PMMC's
// "decision"), each with a ballot it was accepted in.
struct Chosen {
    Ballot ballot;
    std::vector<Entry> values;
};

// A node that needs slots another node has compacted away (a reply carried a trim point above
// its own chosen prefix) asks that node for its latest snapshot. `have`: the requester's chosen
// prefix; the receiver names it in Ready::snapshot_to if its snapshot is above `have`.
struct SnapshotRequest {
    Index have = 0;
};

// A node that cannot answer a Poll or a Prepare because it does not know itself yet (a replaced
// node relearning the log, whose known configurations still name its id for its old identity:
// multipaxos.cc, knows_itself) asks the sender for the chosen values after `have`, its chosen
// prefix. Any node that knows them answers, leader or not: a value chosen is a fact, and learners
// may learn it from one another (PMS §2.3). Catch-up from the leader alone is not enough: when the
// other live voter cannot lead without this node's promise, there is no leader to learn from, and
// the cluster would wait for ever (simulator seed 128767405 with membership changes).
struct ChosenRequest {
    Index have = 0;
};

// The answer: values chosen in contiguous slots from have + 1, each with a ballot it was accepted
// in, at most max_message_bytes of them. A replier that has trimmed slot have + 1 sends its
// snapshot instead (README "Snapshots and compaction").
struct ChosenValues {
    std::vector<Entry> values;
};

// A follower hands a client command to the leader.
struct Forward {
    std::string command;
};

// A follower asks the leader for a confirmed read index; the leader answers with ReadReply.
struct ReadRequest {
    std::uint64_t read_id = 0;
};
struct ReadReply {
    std::uint64_t read_id = 0;
    Index index = 0;
    bool ok = false;
};

// Before it starts phase 1, a node whose election timer ran out asks whether the others have
// also lost the leader (the counterpart of Raft's PreVote, dissertation §9.6). It changes no
// state anywhere and promises nothing: `ballot` is the one the sender would try, which also names
// the poll round. `granted`: the replier has not heard from an active leader for the minimum
// election timeout, and is not one itself.
struct Poll {
    Ballot ballot;
};
struct PollReply {
    Ballot ballot;
    bool granted = false;
};

// Leadership transfer (README "Leadership transfer"): the leader of `ballot`, which has stopped
// proposing and has seen this follower hold everything chosen, asks it to run phase 1 now,
// without the poll. Only the follower of that ballot acts on it; it promises nothing by itself.
struct TakeOver {
    Ballot ballot;
};

// MEMBER TRANSFER and MEMBER ADD/PROMOTE/REMOVE sent to a follower, passed on to the leader it
// follows (as Forward passes a command), and the leader's refusal (common/forwarded_membership.h,
// shared with Raft).
using ballot::ForwardChange;
using ballot::ForwardRefused;
using ballot::ForwardTransfer;

using Message = std::variant<Prepare, Promise, Accept, Accepted, Nack, Heartbeat, HeartbeatAck, Chosen,
                             Forward, ReadRequest, ReadReply, Poll, PollReply, SnapshotRequest, TakeOver,
                             ForwardTransfer, ForwardRefused, ForwardChange, ChosenRequest, ChosenValues>;

// The persist-before-send rule, per message type (common/engine.h, common/outbox.h): true when
// the message reveals or relies on state that must survive a crash first, so the runtime sends it
// only after this batch's fsync. The policy depends only on the message:
//   Prepare  the sender's own promise of this ballot: were it lost, a restarted node could pick
//            the same ballot again and propose different values under it.
//   Promise, Accepted, Nack  the acceptor's promise and accepted values (PMS §2.2: an acceptor
//            must remember what it answered "even if it fails and then restarts").
// The others rely on nothing local that is not yet durable: an Accept's ballot was promised
// durably before any peer could promise it (Prepare above), and a lost own acceptance only makes
// the leader's vote missing, never wrong; chosen points and Chosen values are facts established
// by other nodes' durable votes, and so are ChosenValues; heartbeats, polls, forwards and read
// replies carry no votes, and a SnapshotRequest or ChosenRequest only asks.
bool after_persist(const Message& m);

Bytes encode(const Message& m);
std::optional<Message> decode(std::span<const std::uint8_t> payload);
// One readable line, e.g. "Accept ballot=3.2 slots=[8..9] chosen=7".
std::string describe(const Message& m);

// Runs of no-ops travel as one item. After a configuration change the leader fills the α - 1
// slots before it governs with no-ops (README "Membership change"), and those slots then appear
// in every Accept, Promise report and catch-up that covers them: one item each, they made a new
// leader's phase 1 over 120-byte messages take 500 round trips (simulator seeds 1051, 1117). So
// on the wire, consecutive no-op slots (accepted in one ballot, for entries) are one item that
// names its first slot and how many follow, and Accepted names runs of slots; the structs above
// hold every slot, expanded, so no engine code sees the difference. A decoded message holds at
// most kMaxSlotsPerMessage slots, whatever its items claim.
inline constexpr std::size_t kMaxSlotsPerMessage = 1 << 16;

// What a list of entries or proposals costs on the wire as it grows, for keeping messages under
// max_message_bytes and kMaxSlotsPerMessage: a no-op that continues a run costs nothing more.
class MessageBudget {
public:
    explicit MessageBudget(std::size_t max_bytes);
    // Counts it in if it fits, and says whether it did. The first always fits, so every message
    // makes progress; they must come in slot order, as in the message.
    bool take(const Entry& e);
    bool take(const Proposal& p);

private:
    bool take(Index slot, std::uint64_t ballot, std::size_t value_bytes, std::size_t item_bytes);

    std::size_t max_bytes_;
    std::size_t bytes_;
    std::size_t slots_ = 0;
    Index last_slot_ = 0;
    std::uint64_t last_ballot_ = 0;
    bool last_noop_ = false;
};

}  // namespace ballot::multipaxos
