// Raft's peer messages: one plain struct per message type, their wire encoding (common/codec.h,
// first byte = MessageType) and a one-line description for --trace.
//
// The RPC arguments and results are those of the paper's Figure 2, plus the dissertation's
// practical additions: PreVote (§9.6), the conflict hint on a rejected AppendEntries (§5.3, "the
// follower can include the term of the conflicting entry and the first index it stores for that
// term"), a ReadIndex context on AppendEntries (§6.4) and forwarded proposals and reads (etcd's
// MsgProp / MsgReadIndex). A heartbeat is an AppendEntries without entries.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/forwarded_membership.h"
#include "common/types.h"
#include "raft/log.h"
#include "raft/persist.h"

namespace ballot::raft {

enum class MessageType : std::uint8_t {
    request_vote = 1,
    request_vote_response = 2,
    pre_vote = 3,
    pre_vote_response = 4,
    append_entries = 5,
    append_entries_response = 6,
    propose = 7,
    read_index = 8,
    read_index_response = 9,
    transfer_vote = 10,  // a RequestVote with `transfer` set
    timeout_now = 11,
    forward_change = 12,
    forward_transfer = 13,
    forward_refused = 14,
};

// §5.2 RequestVote (Figure 2). With pre_vote set it is the dissertation's §9.6 PreVote: the same
// question asked without the candidate changing its term, `term` being the term it would use
// (its currentTerm + 1). The candidate is the sender.
//
// `transfer`: the election a leader asked for with TimeoutNow (dissertation §3.10, leadership
// transfer). Voters then grant it even while they hear from that leader (§4.2.3's check would
// refuse it, and a PreVote would be cancelled by it: RedisLabs/raft#88).
struct RequestVote {
    bool pre_vote = false;
    std::uint64_t term = 0;
    Index last_log_index = 0;
    std::uint64_t last_log_term = 0;
    bool transfer = false;
    // The candidate's commitIndex and the term of its entry there (0, 0: none). A voter whose log
    // holds that entry holds the same log up to it (Log Matching, §5.3), all of it committed: it
    // learns so (Raft::learn_commit). Not in Figure 2; see README "Membership change".
    Index commit = 0;
    std::uint64_t commit_term = 0;
};

// `term`: the voter's currentTerm, so a stale candidate updates itself (Figure 2). A granted
// PreVote echoes the term it was asked about instead.
struct RequestVoteResponse {
    bool pre_vote = false;
    std::uint64_t term = 0;
    bool vote_granted = false;
};

// §5.3 AppendEntries (Figure 2); no entries makes it a heartbeat. The leader is the sender.
// `read_context`: the leader's ReadIndex round counter (dissertation §6.4), echoed in the
// response; a response echoing a context proves the follower still took this node as its leader
// after every read that received a context <= it.
struct AppendEntries {
    std::uint64_t term = 0;
    Index prev_log_index = 0;
    std::uint64_t prev_log_term = 0;
    std::vector<Entry> entries;  // indexes prev_log_index+1, +2, ...
    Index leader_commit = 0;
    std::uint64_t read_context = 0;
};

// `term` is the follower's currentTerm (a later one deposes the leader, Figure 2); `request_term`
// echoes the term of the AppendEntries it answers. A leader counts a response only for the request
// it answers: a reply to a message of an earlier term, even when the leader has since been elected
// again and the reply carries its current term, says nothing about the present term (its
// read_context belongs to that earlier term's counter, and it is no sign of life, §6.2/§6.4).
struct AppendEntriesResponse {
    std::uint64_t term = 0;
    std::uint64_t request_term = 0;
    bool success = false;
    // success: the follower's log now matches the leader's through this index.
    Index match_index = 0;
    // failure: the prev_log_index that was rejected, and the §5.3 hint: the term of the
    // follower's conflicting entry and the first index it stores for that term, or (term 0) its
    // last index + 1 when its log is too short.
    Index rejected_index = 0;
    std::uint64_t conflict_term = 0;
    Index conflict_index = 0;
    std::uint64_t read_context = 0;
};

// Dissertation §3.10: the leader tells the follower it hands leadership to, once that follower's
// log is as long as its own, to start an election now (skipping PreVote). The leader is the sender.
struct TimeoutNow {
    std::uint64_t term = 0;
};

// A client command a follower forwards to its leader (etcd's MsgProp).
struct Propose {
    std::string command;
};

// MEMBER requests a follower passes on to its leader, as Propose passes a write
// (common/forwarded_membership.h, shared with Multi-Paxos).
using ballot::ForwardChange;
using ballot::ForwardRefused;
using ballot::ForwardTransfer;

// A follower asks its leader for a read index on behalf of one of its reads (§6.4).
struct ReadIndex {
    std::uint64_t read_id = 0;
};

// The leader's answer: `ok` with the read index once a majority confirmed its leadership, or not
// ok when it could not (it is not, or is no longer, the leader).
struct ReadIndexResponse {
    std::uint64_t read_id = 0;
    Index read_index = 0;
    bool ok = false;
};

using Message =
    std::variant<RequestVote, RequestVoteResponse, AppendEntries, AppendEntriesResponse, Propose, ReadIndex,
                 ReadIndexResponse, TimeoutNow, ForwardChange, ForwardTransfer, ForwardRefused>;

Bytes encode(const Message& m);

// Decodes and validates a whole message: unknown type, truncation, trailing bytes, absurd counts
// and inconsistent fields (entries not numbered prev+1.., an entry from a later term than the
// message, index 0 with a non-zero term) all give std::nullopt, with the reason in `*error`.
std::optional<Message> decode(std::span<const std::uint8_t> payload, std::string* error = nullptr);

// The persist-before-send rule (common/engine.h, common/outbox.h) for Raft, in one place: true when
// the message may leave only once this batch's hard state and entries are durable. It depends on
// the message alone:
//   RequestVote            true: the candidate's new term and its vote for itself must survive a
//                          crash, or it could vote twice in the term (§5.2)
//   RequestVoteResponse    true: a granted vote is a promise only once votedFor is durable; a
//                          rejection may carry a term adopted in this batch
//   PreVote and its answer false: they change nothing on either side (§9.6)
//   AppendEntries          false: the leader writes its log in parallel with sending it
//                          (§10.2.1) and counts itself only once its own write is durable
//   AppendEntriesResponse  true: a success says "these entries are on my disk", a rejection may
//                          carry a new term; the leader's note to itself exists to say "durable"
//   TimeoutNow             false: it asks for an election and promises nothing
//   Propose, ReadIndex, ReadIndexResponse, ForwardChange, ForwardTransfer, ForwardRefused
//                          false: they promise nothing about this node's disk (a read index is
//                          already committed on a majority)
bool after_persist(const Message& m);

// One readable line, e.g. "AppendEntries term=3 prev=(7,2) entries=[8..9] commit=7".
std::string describe(const Message& m);

}  // namespace ballot::raft
