// The messages of basic Paxos (Paxos Made Simple §2.2-§2.3), one set per log slot, plus the
// quorum query that makes reads linearizable.
//
// Every message names its slot: each slot is an independent single-decree Paxos instance. A
// ballot (common/ballot.h) is a proposal number. On the wire a payload is one or more messages
// back to back, each starting with its type byte, so a node sends one payload per peer per
// batch however many slots it is working on.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/ballot.h"
#include "common/types.h"

namespace ballot::paxos {

// Phase 1a (§2.2): "a proposer selects a proposal number n and sends a prepare request".
struct Prepare {
    Index slot = 0;
    Ballot ballot;
};

// Phase 1b: the acceptor promises to accept nothing numbered below `ballot` and reports the
// highest-numbered proposal it has accepted in this slot (`accepted` zero: none).
struct Promise {
    Index slot = 0;
    Ballot ballot;
    Ballot accepted;
    std::string value;
};

// Phase 2a: "an accept request ... with number n and value v".
struct Accept {
    Index slot = 0;
    Ballot ballot;
    std::string value;  // an encoded Command; empty is a no-op
};

// Phase 2b: the acceptor accepted (slot, ballot).
struct Accepted {
    Index slot = 0;
    Ballot ballot;
};

// The acceptor ignored a Prepare or Accept numbered `ballot` because it has promised `promised`
// (higher). §2.2 suggests telling the proposer so, "who should then abandon its proposal".
struct Nack {
    Index slot = 0;
    Ballot ballot;
    Ballot promised;
};

// §2.3: the proposer that saw a majority accept tells every learner the value is chosen. Also the
// answer to a Prepare for a slot the receiver already knows chosen (how laggards catch up).
struct Learn {
    Index slot = 0;
    std::string value;
};

// Linearizable reads (see README): "what is the highest slot in which you have accepted anything?"
struct ReadQuery {
    std::uint64_t round = 0;
};
struct ReadReply {
    std::uint64_t round = 0;
    Index highest_accepted = 0;  // at least `trim`: trimmed slots were chosen (README "Reads")
    Index trim = 0;              // the replier's trim point, so a probe finds who compacted what
    // The replier's data dir (common/configuration.h, SelfId): its answer counts for a
    // configuration only where that configuration names this data dir as the voter. A node
    // replaced under the same id is another acceptor, which never accepted what the old one did.
    std::uint64_t identity = 0;
    bool joined = false;
};

// Snapshots (README "Snapshots and compaction"). The acceptor refuses a Prepare or Accept for a
// slot at or below its trim point (libpaxos3's trimmed instances): `slot` is chosen, covered by the
// acceptor's durable snapshot, and its state is gone. The sender must not run Paxos there; if it
// does not know that slot yet, it asks for a snapshot.
struct Trimmed {
    Index slot = 0;
    Ballot ballot;   // the refused proposal's
    Index trim = 0;  // every slot up to here is trimmed at the replier (>= slot)
};

// "Send me your snapshot": this node has everything chosen through `have` and needs a slot the
// receiver has trimmed. The receiver names it in Ready::snapshot_to (the runtime streams it).
struct SnapshotRequest {
    Index have = 0;
};

// Bulk catch-up (README "Restart: relearning"): "send me the chosen values you know from slot
// `from` on". A learner asking another learner for facts (§2.3): it promises nothing.
struct ChosenRequest {
    Index from = 0;
};

// The answer: `values[i]` was chosen in slot `first + i`, contiguous from the slot asked for, at
// most max_message_bytes of them (at least one if there is any). Empty if the replier does not
// know slot `first` chosen, or has forgotten it (then `trim` says up to where: a snapshot brings
// those). `commit`: the replier knows every slot up to here chosen, so the asker can tell whether
// asking again would teach it more.
struct ChosenValues {
    Index first = 0;
    Index trim = 0;    // the replier's trim point (as in ReadReply)
    Index commit = 0;  // the replier's chosen prefix
    std::vector<std::string> values;
};

// A node that is not a voter (a learner) hands a client's command to a voter, which proposes it as
// its own (README "Membership change": only voters propose). The command carries its client's stamp,
// so a retry that reaches two voters is applied once.
struct Forward {
    std::string command;  // an encoded Command, never empty (empty is a no-op)
};

using Message = std::variant<Prepare, Promise, Accept, Accepted, Nack, Learn, ReadQuery, ReadReply, Trimmed,
                             SnapshotRequest, ChosenRequest, ChosenValues, Forward>;

// The persist-before-send rule (common/outbox.h), per message type. §2.5: "an acceptor records its
// intended response in stable storage before actually sending the response", and a proposer
// remembers the highest-numbered proposal it has tried before it tries it.
//   Promise, Accepted, Nack   true: they reveal a promise or an accepted value this batch makes
//                             durable.
//   Prepare                   DEPENDS ON STATE: it waits only while its round is not yet known
//                             durable (the metadata record, paxos/persist.h); once this node's own
//                             Prepare with that round has come back to it, later ones leave at once.
//                             Proposer::after_persist (proposer.cc) decides; this function gives
//                             the answer that is always safe, true.
//   Accept                    false: its ballot was made durable before its Prepare left.
//   Learn                     false: a chosen value promises nothing.
//   ReadQuery, ReadReply      false: a larger answer is never unsafe, only slower (README "Reads").
//   Trimmed                   false: it promises nothing; the slots it names are covered by a
//                             snapshot already durable (a snapshot is made or installed before the
//                             engine hears of it).
//   SnapshotRequest           false: a request promises nothing.
//   ChosenRequest             false: a request promises nothing.
//   ChosenValues              false: like Learn, chosen values promise nothing.
//   Forward                   false: a command handed on promises nothing.
bool after_persist(const Message& m);

// A generous bound on the fixed fields of a ChosenValues, and what one value adds to it: the
// replier stays within max_message_bytes with them (Learner::chosen_from).
inline constexpr std::size_t kChosenValuesHeaderBytes = 64;
std::size_t chosen_value_bytes(const std::string& value);

// Appends one message to `out`.
void encode(const Message& m, Bytes& out);
// A whole payload: one or more messages. std::nullopt if anything at all is malformed (unknown
// type, truncation, trailing bytes, slot 0, a zero ballot, a Nack that is not higher, ...).
std::optional<std::vector<Message>> decode(std::span<const std::uint8_t> payload);

// One readable line, e.g. "Prepare slot=12 ballot=4.1".
std::string describe(const Message& m);
// A whole payload: its messages joined by "; " (long batches are elided).
std::string describe(std::span<const std::uint8_t> payload);

}  // namespace ballot::paxos
