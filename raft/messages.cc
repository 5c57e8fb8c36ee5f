#include "raft/messages.h"

#include "common/codec.h"
#include "common/engine.h"

namespace ballot::raft {

namespace {

void put(Writer& w, MessageType t) {
    w.u8(static_cast<std::uint8_t>(t));
}

// Index 0 is "before the log" and has term 0; every real entry was created in a term >= 1.
void check_position(Reader& r, Index index, std::uint64_t term) {
    if ((index == 0) != (term == 0)) r.fail("log position with index and term inconsistent");
}

RequestVote read_request_vote(Reader& r, bool pre_vote) {
    RequestVote m;
    m.pre_vote = pre_vote;
    m.term = r.term();
    m.last_log_index = r.index();
    m.last_log_term = r.term();
    if (m.term == 0) r.fail("vote request for term 0");
    if (m.last_log_term > m.term) r.fail("candidate's last entry is from a later term");
    check_position(r, m.last_log_index, m.last_log_term);
    m.commit = r.index();
    m.commit_term = r.term();
    check_position(r, m.commit, m.commit_term);
    if (m.commit > m.last_log_index || m.commit_term > m.last_log_term)
        r.fail("candidate's commit index beyond its last entry");
    return m;
}

RequestVoteResponse read_vote_response(Reader& r, bool pre_vote) {
    RequestVoteResponse m;
    m.pre_vote = pre_vote;
    m.term = r.term();
    m.vote_granted = r.boolean();
    if (m.vote_granted && m.term == 0) r.fail("vote granted for term 0");
    return m;
}

// An entry on the wire: u64 index | u64 term | u32 length + command.
void write_entry(Writer& w, const Entry& e) {
    w.u64(e.index);
    w.u64(e.term);
    w.str(e.data);
}

Entry read_entry(Reader& r) {
    Entry e;
    e.index = r.index();
    e.term = r.term();
    e.data = r.str();
    return e;
}

AppendEntries read_append_entries(Reader& r) {
    AppendEntries m;
    m.term = r.term();
    m.prev_log_index = r.index();
    m.prev_log_term = r.term();
    if (m.term == 0) r.fail("AppendEntries in term 0");
    if (m.prev_log_term > m.term) r.fail("previous entry from a later term");
    check_position(r, m.prev_log_index, m.prev_log_term);
    std::uint32_t n = r.count(kMinEntryBytes);
    if (n > 0 && m.prev_log_index > kMaxIndex - n) r.fail("entry index overflow");
    m.entries.reserve(r.ok() ? n : 0);
    std::uint64_t previous_term = m.prev_log_term;
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        Entry e = read_entry(r);
        // Figure 2: entries follow prev_log_index without gaps, and terms never decrease along a
        // log (§5.3) nor exceed the leader's term.
        if (e.index != m.prev_log_index + 1 + i) r.fail("entries not numbered from prev_log_index + 1");
        if (e.term == 0 || e.term < previous_term || e.term > m.term) r.fail("entry term out of order");
        previous_term = e.term;
        m.entries.push_back(std::move(e));
    }
    m.leader_commit = r.index();
    m.read_context = r.u64();
    return m;
}

AppendEntriesResponse read_append_response(Reader& r) {
    AppendEntriesResponse m;
    m.term = r.term();
    m.request_term = r.term();
    m.success = r.boolean();
    m.match_index = r.index();
    m.rejected_index = r.index();
    m.conflict_term = r.term();
    m.conflict_index = r.index();
    m.read_context = r.u64();
    if (m.term == 0) r.fail("AppendEntries response in term 0");
    // The follower adopts any later term it is sent, so it answers in the request's term or later.
    if (m.request_term == 0 || m.request_term > m.term) r.fail("response to a request of an impossible term");
    if (m.success && m.request_term != m.term) r.fail("success answering a request of another term");
    // Rule 1 (a request of an earlier term) is the only rejection without a §5.3 hint; a request
    // of the follower's own term that fails (rule 2) always says where to resume.
    if (!m.success && m.request_term == m.term && m.conflict_index == 0)
        r.fail("rejection of a current-term request without a hint");
    if (m.success && (m.rejected_index != 0 || m.conflict_term != 0 || m.conflict_index != 0))
        r.fail("successful response with a conflict");
    // A follower's hint never points past the index it rejected (it is at most its last index + 1,
    // which is <= the rejected prev_log_index).
    if (!m.success && (m.match_index != 0 || m.conflict_index > m.rejected_index))
        r.fail("rejection with an impossible hint");
    return m;
}

std::string position(Index index, std::uint64_t term) {
    return "(" + std::to_string(index) + "," + std::to_string(term) + ")";
}

}  // namespace

bool after_persist(const Message& message) {
    if (const auto* m = std::get_if<RequestVote>(&message)) return !m->pre_vote;
    if (const auto* m = std::get_if<RequestVoteResponse>(&message)) return !m->pre_vote;
    return std::holds_alternative<AppendEntriesResponse>(message);
}

Bytes encode(const Message& message) {
    Bytes out;
    Writer w(out);
    if (auto* m = std::get_if<RequestVote>(&message)) {
        put(w, m->pre_vote   ? MessageType::pre_vote
               : m->transfer ? MessageType::transfer_vote
                             : MessageType::request_vote);
        w.u64(m->term);
        w.u64(m->last_log_index);
        w.u64(m->last_log_term);
        w.u64(m->commit);
        w.u64(m->commit_term);
    } else if (auto* m = std::get_if<RequestVoteResponse>(&message)) {
        put(w, m->pre_vote ? MessageType::pre_vote_response : MessageType::request_vote_response);
        w.u64(m->term);
        w.boolean(m->vote_granted);
    } else if (auto* m = std::get_if<AppendEntries>(&message)) {
        put(w, MessageType::append_entries);
        w.u64(m->term);
        w.u64(m->prev_log_index);
        w.u64(m->prev_log_term);
        w.u32(static_cast<std::uint32_t>(m->entries.size()));
        for (const Entry& e : m->entries) write_entry(w, e);
        w.u64(m->leader_commit);
        w.u64(m->read_context);
    } else if (auto* m = std::get_if<AppendEntriesResponse>(&message)) {
        put(w, MessageType::append_entries_response);
        w.u64(m->term);
        w.u64(m->request_term);
        w.boolean(m->success);
        w.u64(m->match_index);
        w.u64(m->rejected_index);
        w.u64(m->conflict_term);
        w.u64(m->conflict_index);
        w.u64(m->read_context);
    } else if (auto* m = std::get_if<Propose>(&message)) {
        put(w, MessageType::propose);
        w.str(m->command);
    } else if (auto* m = std::get_if<ReadIndex>(&message)) {
        put(w, MessageType::read_index);
        w.u64(m->read_id);
    } else if (auto* m = std::get_if<TimeoutNow>(&message)) {
        put(w, MessageType::timeout_now);
        w.u64(m->term);
    } else if (auto* m = std::get_if<ReadIndexResponse>(&message)) {
        put(w, MessageType::read_index_response);
        w.u64(m->read_id);
        w.u64(m->read_index);
        w.boolean(m->ok);
    } else if (auto* m = std::get_if<ForwardChange>(&message)) {
        put(w, MessageType::forward_change);
        w.u64(m->request_id);
        w.str(m->request);
    } else if (auto* m = std::get_if<ForwardTransfer>(&message)) {
        put(w, MessageType::forward_transfer);
        w.u64(m->request_id);
        w.u64(m->target);
    } else if (auto* m = std::get_if<ForwardRefused>(&message)) {
        put(w, MessageType::forward_refused);
        w.u64(m->request_id);
        w.str(m->why);
    }
    return out;
}

std::optional<Message> decode(std::span<const std::uint8_t> payload, std::string* error) {
    Reader r(payload);
    std::optional<Message> m;
    switch (static_cast<MessageType>(r.u8())) {
        case MessageType::request_vote:
            m = read_request_vote(r, false);
            break;
        case MessageType::pre_vote:
            m = read_request_vote(r, true);
            break;
        case MessageType::transfer_vote: {
            RequestVote vote = read_request_vote(r, false);
            vote.transfer = true;
            m = vote;
            break;
        }
        case MessageType::timeout_now:
            m = TimeoutNow{r.term()};
            if (std::get<TimeoutNow>(*m).term == 0) r.fail("TimeoutNow for term 0");
            break;
        case MessageType::request_vote_response:
            m = read_vote_response(r, false);
            break;
        case MessageType::pre_vote_response:
            m = read_vote_response(r, true);
            break;
        case MessageType::append_entries:
            m = read_append_entries(r);
            break;
        case MessageType::append_entries_response:
            m = read_append_response(r);
            break;
        case MessageType::propose:
            m = Propose{r.str()};
            break;
        case MessageType::read_index:
            m = ReadIndex{r.u64()};
            break;
        case MessageType::read_index_response: {
            ReadIndexResponse resp;
            resp.read_id = r.u64();
            resp.read_index = r.index();
            resp.ok = r.boolean();
            m = resp;
            break;
        }
        case MessageType::forward_change: {
            ForwardChange change;
            change.request_id = r.u64();
            change.request = r.str();
            m = std::move(change);
            break;
        }
        case MessageType::forward_transfer: {
            ForwardTransfer transfer;
            transfer.request_id = r.u64();
            transfer.target = r.u64();
            if (transfer.target == kNoNode) r.fail("ForwardTransfer to node 0");
            m = transfer;
            break;
        }
        case MessageType::forward_refused: {
            ForwardRefused refused;
            refused.request_id = r.u64();
            refused.why = r.str();
            m = std::move(refused);
            break;
        }
        default:
            r.fail("unknown message type");
            break;
    }
    if (!r.finish()) {
        if (error) *error = r.error();
        return std::nullopt;
    }
    return m;
}

std::string describe(const Message& message) {
    if (auto* m = std::get_if<RequestVote>(&message)) {
        return std::string(m->pre_vote   ? "PreVote"
                           : m->transfer ? "RequestVote(transfer)"
                                         : "RequestVote") +
               " term=" + std::to_string(m->term) + " last=" + position(m->last_log_index, m->last_log_term) +
               (m->commit != 0 ? " commit=" + position(m->commit, m->commit_term) : "");
    }
    if (auto* m = std::get_if<RequestVoteResponse>(&message)) {
        return std::string(m->pre_vote ? "PreVoteResponse" : "RequestVoteResponse") +
               " term=" + std::to_string(m->term) + (m->vote_granted ? " granted" : " rejected");
    }
    if (auto* m = std::get_if<AppendEntries>(&message)) {
        std::string entries = "[]";
        if (!m->entries.empty())
            entries = "[" + std::to_string(m->entries.front().index) + ".." +
                      std::to_string(m->entries.back().index) + "]";
        std::string s = "AppendEntries term=" + std::to_string(m->term) +
                        " prev=" + position(m->prev_log_index, m->prev_log_term) + " entries=" + entries +
                        " commit=" + std::to_string(m->leader_commit);
        if (m->read_context != 0) s += " read=" + std::to_string(m->read_context);
        return s;
    }
    if (auto* m = std::get_if<AppendEntriesResponse>(&message)) {
        std::string s = "AppendEntriesResponse term=" + std::to_string(m->term);
        if (m->request_term != m->term) s += " to-term=" + std::to_string(m->request_term);
        if (m->success) {
            s += " success match=" + std::to_string(m->match_index);
        } else {
            s += " reject prev=" + std::to_string(m->rejected_index);
            if (m->conflict_term != 0)
                s += " conflict=" + position(m->conflict_index, m->conflict_term);
            else if (m->conflict_index != 0)
                s += " last=" + std::to_string(m->conflict_index - 1);
        }
        if (m->read_context != 0) s += " read=" + std::to_string(m->read_context);
        return s;
    }
    if (auto* m = std::get_if<TimeoutNow>(&message)) return "TimeoutNow term=" + std::to_string(m->term);
    if (auto* m = std::get_if<Propose>(&message)) return "Propose bytes=" + std::to_string(m->command.size());
    if (auto* m = std::get_if<ReadIndex>(&message)) return "ReadIndex id=" + read_id_str(m->read_id);
    if (auto* m = std::get_if<ForwardChange>(&message))
        return "ForwardChange id=" + std::to_string(m->request_id) +
               " bytes=" + std::to_string(m->request.size());
    if (auto* m = std::get_if<ForwardTransfer>(&message))
        return "ForwardTransfer id=" + std::to_string(m->request_id) + " to=" + std::to_string(m->target);
    if (auto* m = std::get_if<ForwardRefused>(&message))
        return "ForwardRefused id=" + std::to_string(m->request_id) + " why=\"" + m->why + "\"";
    if (auto* m = std::get_if<ReadIndexResponse>(&message)) {
        return "ReadIndexResponse id=" + read_id_str(m->read_id) +
               (m->ok ? " index=" + std::to_string(m->read_index) + " ok" : " failed");
    }
    return "?";
}

}  // namespace ballot::raft
