#include "multipaxos/messages.h"

#include <algorithm>

#include "common/codec.h"
#include "common/engine.h"

namespace ballot::multipaxos {

namespace {

// An entry on the wire: u64 slot | u64 ballot (packed) | u32 length + value.
constexpr std::size_t kMinEntryBytes = 8 + 8 + 4;

void write_entry(Writer& w, const Entry& e) {
    w.u64(e.index);
    w.u64(e.ballot);
    w.str(e.data);
}

// The first byte of every message. Values are part of the wire format: never renumber.
enum class Type : std::uint8_t {
    prepare = 1,
    promise = 2,
    accept = 3,
    accepted = 4,
    nack = 5,
    heartbeat = 6,
    heartbeat_ack = 7,
    chosen = 8,
    forward = 9,
    read_request = 10,
    read_reply = 11,
    poll = 12,
    poll_reply = 13,
    snapshot_request = 14,
    take_over = 15,
    forward_transfer = 16,
    forward_refused = 17,
    forward_change = 18,
};

// Smallest encoded Proposal (slot, empty value) and slot number, for Reader::count.
constexpr std::size_t kMinProposalBytes = 8 + 4;
constexpr std::size_t kSlotBytes = 8;

// ---------------------------------------------------------------- encoding

struct Encoder {
    Writer& w;

    void ballot(Ballot b) { w.u64(b.packed()); }
    void operator()(const Prepare& m) {
        w.u8(static_cast<std::uint8_t>(Type::prepare));
        ballot(m.ballot);
        w.u64(m.from_slot);
    }
    void operator()(const Promise& m) {
        w.u8(static_cast<std::uint8_t>(Type::promise));
        ballot(m.ballot);
        w.u64(m.from_slot);
        w.u64(m.next_slot);
        w.u64(m.chosen);
        w.u64(m.trimmed);
        w.u32(static_cast<std::uint32_t>(m.accepted.size()));
        for (const Entry& e : m.accepted) write_entry(w, e);
    }
    void operator()(const Accept& m) {
        w.u8(static_cast<std::uint8_t>(Type::accept));
        ballot(m.ballot);
        w.u64(m.chosen);
        w.u32(static_cast<std::uint32_t>(m.proposals.size()));
        for (const Proposal& p : m.proposals) {
            w.u64(p.slot);
            w.str(p.value);
        }
    }
    void operator()(const Accepted& m) {
        w.u8(static_cast<std::uint8_t>(Type::accepted));
        ballot(m.ballot);
        w.u64(m.chosen);
        w.boolean(m.behind);
        w.u64(m.trimmed);
        w.u32(static_cast<std::uint32_t>(m.slots.size()));
        for (Index s : m.slots) w.u64(s);
    }
    void operator()(const Nack& m) {
        w.u8(static_cast<std::uint8_t>(Type::nack));
        ballot(m.ballot);
        ballot(m.promised);
    }
    void operator()(const Heartbeat& m) {
        w.u8(static_cast<std::uint8_t>(Type::heartbeat));
        ballot(m.ballot);
        w.u64(m.chosen);
        w.u64(m.read_seq);
    }
    void operator()(const HeartbeatAck& m) {
        w.u8(static_cast<std::uint8_t>(Type::heartbeat_ack));
        ballot(m.ballot);
        w.u64(m.read_seq);
        w.u64(m.chosen);
        w.boolean(m.behind);
    }
    void operator()(const Chosen& m) {
        w.u8(static_cast<std::uint8_t>(Type::chosen));
        ballot(m.ballot);
        w.u32(static_cast<std::uint32_t>(m.values.size()));
        for (const Entry& e : m.values) write_entry(w, e);
    }
    void operator()(const Forward& m) {
        w.u8(static_cast<std::uint8_t>(Type::forward));
        w.str(m.command);
    }
    void operator()(const ReadRequest& m) {
        w.u8(static_cast<std::uint8_t>(Type::read_request));
        w.u64(m.read_id);
    }
    void operator()(const ReadReply& m) {
        w.u8(static_cast<std::uint8_t>(Type::read_reply));
        w.u64(m.read_id);
        w.u64(m.index);
        w.boolean(m.ok);
    }
    void operator()(const Poll& m) {
        w.u8(static_cast<std::uint8_t>(Type::poll));
        ballot(m.ballot);
    }
    void operator()(const PollReply& m) {
        w.u8(static_cast<std::uint8_t>(Type::poll_reply));
        ballot(m.ballot);
        w.boolean(m.granted);
    }
    void operator()(const SnapshotRequest& m) {
        w.u8(static_cast<std::uint8_t>(Type::snapshot_request));
        w.u64(m.have);
    }
    void operator()(const TakeOver& m) {
        w.u8(static_cast<std::uint8_t>(Type::take_over));
        ballot(m.ballot);
    }
    void operator()(const ForwardTransfer& m) {
        w.u8(static_cast<std::uint8_t>(Type::forward_transfer));
        w.u64(m.request_id);
        w.u64(m.target);
    }
    void operator()(const ForwardRefused& m) {
        w.u8(static_cast<std::uint8_t>(Type::forward_refused));
        w.u64(m.request_id);
        w.str(m.why);
    }
    void operator()(const ForwardChange& m) {
        w.u8(static_cast<std::uint8_t>(Type::forward_change));
        w.u64(m.request_id);
        w.str(m.request);
    }
};

// ---------------------------------------------------------------- decoding

// A ballot on the wire must name a proposer: (0, 0) is "no ballot" and never sent.
Ballot read_ballot(Reader& r) {
    Ballot b = Ballot::unpack(r.u64());
    if (r.ok() && b.node == kNoNode) r.fail("ballot without a node");
    return b;
}

// Slots start at 1 and, within one message, strictly increase.
void check_slot(Reader& r, Index slot, Index previous) {
    if (slot == 0) r.fail("slot 0");
    if (slot <= previous) r.fail("slots not increasing");
}

std::vector<Entry> read_entries(Reader& r, Index min_slot) {
    std::uint32_t n = r.count(kMinEntryBytes);
    std::vector<Entry> out;
    out.reserve(n);
    Index previous = min_slot - 1;
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        Entry e;
        e.index = r.u64();
        e.ballot = r.u64();
        e.data = r.str();
        check_slot(r, e.index, previous);
        if (Ballot::unpack(e.ballot).node == kNoNode) r.fail("value without a ballot");
        previous = e.index;
        out.push_back(std::move(e));
    }
    return out;
}

std::optional<Message> decode_body(Type type, Reader& r) {
    switch (type) {
        case Type::prepare: {
            Prepare m;
            m.ballot = read_ballot(r);
            m.from_slot = r.u64();
            if (m.from_slot == 0) r.fail("from_slot 0");
            return m;
        }
        case Type::promise: {
            Promise m;
            m.ballot = read_ballot(r);
            m.from_slot = r.u64();
            m.next_slot = r.u64();
            m.chosen = r.u64();
            m.trimmed = r.u64();
            if (m.from_slot == 0) r.fail("from_slot 0");
            // An acceptor trims only chosen slots, and reports only slots above its trim point.
            if (m.trimmed > m.chosen) r.fail("trim point above the chosen prefix");
            m.accepted = read_entries(r, std::max(m.from_slot, m.trimmed + 1));
            if (m.next_slot != 0 &&
                m.next_slot <= (m.accepted.empty() ? m.from_slot : m.accepted.back().index))
                r.fail("next_slot does not advance");
            return m;
        }
        case Type::accept: {
            Accept m;
            m.ballot = read_ballot(r);
            m.chosen = r.u64();
            std::uint32_t n = r.count(kMinProposalBytes);
            if (r.ok() && n == 0) r.fail("Accept without proposals");
            m.proposals.reserve(n);
            Index previous = 0;
            for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
                Proposal p;
                p.slot = r.u64();
                p.value = r.str();
                check_slot(r, p.slot, previous);
                previous = p.slot;
                m.proposals.push_back(std::move(p));
            }
            return m;
        }
        case Type::accepted: {
            Accepted m;
            m.ballot = read_ballot(r);
            m.chosen = r.u64();
            m.behind = r.boolean();
            m.trimmed = r.u64();
            if (m.trimmed > m.chosen) r.fail("trim point above the chosen prefix");
            std::uint32_t n = r.count(kSlotBytes);
            m.slots.reserve(n);
            Index previous = m.trimmed;  // nothing at or below the trim point is acknowledged
            for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
                Index s = r.u64();
                check_slot(r, s, previous);
                previous = s;
                m.slots.push_back(s);
            }
            return m;
        }
        case Type::nack: {
            Nack m;
            m.ballot = read_ballot(r);
            m.promised = read_ballot(r);
            if (r.ok() && !(m.ballot < m.promised)) r.fail("Nack without a higher promise");
            return m;
        }
        case Type::heartbeat: {
            Heartbeat m;
            m.ballot = read_ballot(r);
            m.chosen = r.u64();
            m.read_seq = r.u64();
            return m;
        }
        case Type::heartbeat_ack: {
            HeartbeatAck m;
            m.ballot = read_ballot(r);
            m.read_seq = r.u64();
            m.chosen = r.u64();
            m.behind = r.boolean();
            return m;
        }
        case Type::chosen: {
            Chosen m;
            m.ballot = read_ballot(r);
            m.values = read_entries(r, 1);
            if (r.ok() && m.values.empty()) r.fail("Chosen without values");
            return m;
        }
        case Type::forward:
            return Forward{r.str()};
        case Type::read_request:
            return ReadRequest{r.u64()};
        case Type::read_reply: {
            ReadReply m;
            m.read_id = r.u64();
            m.index = r.u64();
            m.ok = r.boolean();
            return m;
        }
        case Type::poll:
            return Poll{read_ballot(r)};
        case Type::poll_reply: {
            PollReply m;
            m.ballot = read_ballot(r);
            m.granted = r.boolean();
            return m;
        }
        case Type::snapshot_request:
            return SnapshotRequest{r.u64()};
        case Type::take_over:
            return TakeOver{read_ballot(r)};
        case Type::forward_transfer: {
            ForwardTransfer m;
            m.request_id = r.u64();
            m.target = r.u64();
            if (r.ok() && m.target == kNoNode) r.fail("ForwardTransfer to node 0");
            return m;
        }
        case Type::forward_refused: {
            ForwardRefused m;
            m.request_id = r.u64();
            m.why = r.str();
            return m;
        }
        case Type::forward_change: {
            ForwardChange m;
            m.request_id = r.u64();
            m.request = r.str();
            return m;
        }
    }
    return std::nullopt;
}

// ---------------------------------------------------------------- describing

// "[8..9]" for a contiguous run, "[8,10,12]" otherwise; long lists are cut short.
template <typename Slots>
std::string slot_list(const Slots& slots) {
    if (slots.empty()) return "[]";
    bool contiguous = true;
    for (std::size_t i = 1; i < slots.size(); ++i)
        if (slots[i] != slots[i - 1] + 1) contiguous = false;
    if (contiguous) {
        if (slots.size() == 1) return "[" + std::to_string(slots.front()) + "]";
        return "[" + std::to_string(slots.front()) + ".." + std::to_string(slots.back()) + "]";
    }
    constexpr std::size_t kShown = 8;
    std::string out = "[";
    for (std::size_t i = 0; i < slots.size() && i < kShown; ++i) {
        if (i > 0) out += ",";
        out += std::to_string(slots[i]);
    }
    if (slots.size() > kShown) out += ",...+" + std::to_string(slots.size() - kShown);
    return out + "]";
}

std::vector<Index> slots_of(const std::vector<Entry>& entries) {
    std::vector<Index> s;
    for (const Entry& e : entries) s.push_back(e.index);
    return s;
}

struct Describer {
    std::string operator()(const Prepare& m) const {
        return "Prepare ballot=" + m.ballot.str() + " from=" + std::to_string(m.from_slot);
    }
    std::string operator()(const Promise& m) const {
        constexpr std::size_t kShown = 8;
        std::string out =
            "Promise ballot=" + m.ballot.str() + " from=" + std::to_string(m.from_slot) + " accepted=[";
        for (std::size_t i = 0; i < m.accepted.size() && i < kShown; ++i) {
            if (i > 0) out += ",";
            out += std::to_string(m.accepted[i].index) + "@" + Ballot::unpack(m.accepted[i].ballot).str();
        }
        if (m.accepted.size() > kShown) out += ",...+" + std::to_string(m.accepted.size() - kShown);
        out += "] chosen=" + std::to_string(m.chosen);
        if (m.trimmed != 0) out += " trimmed=" + std::to_string(m.trimmed);
        if (m.next_slot != 0) out += " more_from=" + std::to_string(m.next_slot);
        return out;
    }
    std::string operator()(const Accept& m) const {
        std::vector<Index> slots;
        for (const Proposal& p : m.proposals) slots.push_back(p.slot);
        return "Accept ballot=" + m.ballot.str() + " slots=" + slot_list(slots) +
               " chosen=" + std::to_string(m.chosen);
    }
    std::string operator()(const Accepted& m) const {
        return "Accepted ballot=" + m.ballot.str() + " slots=" + slot_list(m.slots) +
               " chosen=" + std::to_string(m.chosen) + (m.behind ? " behind" : "") +
               (m.trimmed != 0 ? " trimmed=" + std::to_string(m.trimmed) : "");
    }
    std::string operator()(const Nack& m) const {
        return "Nack ballot=" + m.ballot.str() + " promised=" + m.promised.str();
    }
    std::string operator()(const Heartbeat& m) const {
        return "Heartbeat ballot=" + m.ballot.str() + " chosen=" + std::to_string(m.chosen) +
               " read=" + std::to_string(m.read_seq);
    }
    std::string operator()(const HeartbeatAck& m) const {
        return "HeartbeatAck ballot=" + m.ballot.str() + " read=" + std::to_string(m.read_seq) +
               " chosen=" + std::to_string(m.chosen) + (m.behind ? " behind" : "");
    }
    std::string operator()(const Chosen& m) const {
        return "Chosen ballot=" + m.ballot.str() + " slots=" + slot_list(slots_of(m.values));
    }
    std::string operator()(const Forward& m) const {
        return "Forward bytes=" + std::to_string(m.command.size());
    }
    std::string operator()(const ReadRequest& m) const { return "ReadRequest id=" + read_id_str(m.read_id); }
    std::string operator()(const ReadReply& m) const {
        return "ReadReply id=" + read_id_str(m.read_id) + " index=" + std::to_string(m.index) +
               " ok=" + (m.ok ? "true" : "false");
    }
    std::string operator()(const Poll& m) const { return "Poll ballot=" + m.ballot.str(); }
    std::string operator()(const PollReply& m) const {
        return "PollReply ballot=" + m.ballot.str() + (m.granted ? " granted" : " refused");
    }
    std::string operator()(const SnapshotRequest& m) const {
        return "SnapshotRequest have=" + std::to_string(m.have);
    }
    std::string operator()(const TakeOver& m) const { return "TakeOver ballot=" + m.ballot.str(); }
    std::string operator()(const ForwardTransfer& m) const {
        return "ForwardTransfer id=" + std::to_string(m.request_id) + " to=" + std::to_string(m.target);
    }
    std::string operator()(const ForwardRefused& m) const {
        return "ForwardRefused id=" + std::to_string(m.request_id) + " why=\"" + m.why + "\"";
    }
    std::string operator()(const ForwardChange& m) const {
        return "ForwardChange id=" + std::to_string(m.request_id) +
               " bytes=" + std::to_string(m.request.size());
    }
};

}  // namespace

bool after_persist(const Message& m) {
    return std::holds_alternative<Prepare>(m) || std::holds_alternative<Promise>(m) ||
           std::holds_alternative<Accepted>(m) || std::holds_alternative<Nack>(m);
}

Bytes encode(const Message& m) {
    Bytes out;
    Writer w(out);
    std::visit(Encoder{w}, m);
    return out;
}

std::optional<Message> decode(std::span<const std::uint8_t> payload) {
    Reader r(payload);
    std::uint8_t type = r.u8();
    if (!r.ok() || type < static_cast<std::uint8_t>(Type::prepare) ||
        type > static_cast<std::uint8_t>(Type::forward_change))
        return std::nullopt;
    std::optional<Message> m = decode_body(static_cast<Type>(type), r);
    if (!m || !r.finish()) return std::nullopt;
    return m;
}

std::string describe(const Message& m) {
    return std::visit(Describer{}, m);
}

std::size_t encoded_size(const Proposal& p) {
    return kMinProposalBytes + p.value.size();
}
std::size_t encoded_size(const Entry& e) {
    return kMinEntryBytes + e.data.size();
}

}  // namespace ballot::multipaxos
