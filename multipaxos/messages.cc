#include "multipaxos/messages.h"

#include <algorithm>

#include "common/codec.h"
#include "common/engine.h"

namespace ballot::multipaxos {

namespace {

// Lists of slots travel as items, each one slot or a run of no-ops (messages.h, kMaxSlotsPerMessage):
//     entry     u64 first slot | u32 slots | u64 ballot (packed) | u32 length + value
//     proposal  u64 first slot | u32 slots | u32 length + value
//     slot run  u64 first slot | u32 slots                            (Accepted)
// `slots` > 1 only for a no-op (an empty value): the same no-op, in one ballot, in every slot from
// the first on. A list is a u32 count of items, then the items.
constexpr std::size_t kEntryItemBytes = 8 + 4 + 8 + 4;
constexpr std::size_t kProposalItemBytes = 8 + 4 + 4;
constexpr std::size_t kSlotRunBytes = 8 + 4;
constexpr std::size_t kHeaderBytes = 64;  // a generous bound on a message's fixed fields

// Whether `b`, next in its list, joins the item of `a` (the same rule as MessageBudget's).
bool continues_run(const Entry& a, const Entry& b) {
    return a.data.empty() && b.data.empty() && b.index == a.index + 1 && b.ballot == a.ballot;
}
bool continues_run(const Proposal& a, const Proposal& b) {
    return a.value.empty() && b.value.empty() && b.slot == a.slot + 1;
}
bool continues_run(Index a, Index b) {
    return b == a + 1;
}

// How many elements of `list`, from `i`, make one item.
template <typename T>
std::uint32_t item_length(const std::vector<T>& list, std::size_t i) {
    std::size_t n = 1;
    while (i + n < list.size() && n < kMaxSlotsPerMessage && continues_run(list[i + n - 1], list[i + n])) ++n;
    return static_cast<std::uint32_t>(n);
}

// The count of items, then each item as `write_item(first element, slots)` writes it.
template <typename T, typename WriteItem>
void write_items(Writer& w, const std::vector<T>& list, WriteItem write_item) {
    std::uint32_t items = 0;
    for (std::size_t i = 0; i < list.size(); i += item_length(list, i)) ++items;
    w.u32(items);
    for (std::size_t i = 0; i < list.size();) {
        const std::uint32_t slots = item_length(list, i);
        write_item(list[i], slots);
        i += slots;
    }
}

void write_entries(Writer& w, const std::vector<Entry>& entries) {
    write_items(w, entries, [&](const Entry& e, std::uint32_t slots) {
        w.u64(e.index);
        w.u32(slots);
        w.u64(e.ballot);
        w.str(e.data);
    });
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
    chosen_request = 19,
    chosen_values = 20,
};

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
        write_entries(w, m.accepted);
    }
    void operator()(const Accept& m) {
        w.u8(static_cast<std::uint8_t>(Type::accept));
        ballot(m.ballot);
        w.u64(m.chosen);
        write_items(w, m.proposals, [&](const Proposal& p, std::uint32_t slots) {
            w.u64(p.slot);
            w.u32(slots);
            w.str(p.value);
        });
    }
    void operator()(const Accepted& m) {
        w.u8(static_cast<std::uint8_t>(Type::accepted));
        ballot(m.ballot);
        w.u64(m.chosen);
        w.boolean(m.behind);
        w.u64(m.trimmed);
        write_items(w, m.slots, [&](Index first, std::uint32_t slots) {
            w.u64(first);
            w.u32(slots);
        });
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
        write_entries(w, m.values);
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
    void operator()(const ChosenRequest& m) {
        w.u8(static_cast<std::uint8_t>(Type::chosen_request));
        w.u64(m.have);
    }
    void operator()(const ChosenValues& m) {
        w.u8(static_cast<std::uint8_t>(Type::chosen_values));
        write_entries(w, m.values);
    }
};

// ---------------------------------------------------------------- decoding

// A ballot on the wire must name a proposer: (0, 0) is "no ballot" and never sent.
Ballot read_ballot(Reader& r) {
    Ballot b = Ballot::unpack(r.u64());
    if (r.ok() && b.node == kNoNode) r.fail("ballot without a node");
    if (b.round > Ballot::kMaxRound) r.fail("ballot round out of range");
    return b;
}

// Slots start at 1 and, within one message, strictly increase.
void check_slot(Reader& r, Index slot, Index previous) {
    if (slot == 0) r.fail("slot 0");
    if (slot <= previous) r.fail("slots not increasing");
}

// The slots of one item, `first` and the `slots` - 1 after it: checked against the previous item
// and the message's budget of slots (`total` so far), before anything is expanded. The last one.
Index read_run(Reader& r, Index first, std::uint32_t slots, Index previous, std::size_t& total) {
    check_slot(r, first, previous);
    if (slots == 0) r.fail("an item of no slots");
    if (slots > kMaxSlotsPerMessage - total) r.fail("more slots than one message may hold");
    if (!r.ok()) return previous;
    if (first > kMaxIndex - (slots - 1)) r.fail("slot out of range");
    total += slots;
    return first + (slots - 1);
}

std::vector<Entry> read_entries(Reader& r, Index min_slot) {
    std::uint32_t n = r.count(kEntryItemBytes);
    std::vector<Entry> out;
    out.reserve(n);
    Index previous = min_slot - 1;
    std::size_t total = 0;
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        const Index first = r.index();
        const std::uint32_t slots = r.u32();
        const std::uint64_t ballot = read_ballot(r).packed();  // the one a value was accepted in
        std::string data = r.str();
        const Index last = read_run(r, first, slots, previous, total);
        if (slots > 1 && !data.empty()) r.fail("a run of slots that are not no-ops");
        if (!r.ok()) break;
        for (Index s = first; s < last; ++s) out.push_back(Entry{s, ballot, {}});
        out.push_back(Entry{last, ballot, std::move(data)});
        previous = last;
    }
    return out;
}

std::optional<Message> decode_body(Type type, Reader& r) {
    switch (type) {
        case Type::prepare: {
            Prepare m;
            m.ballot = read_ballot(r);
            m.from_slot = r.index();
            if (m.from_slot == 0) r.fail("from_slot 0");
            return m;
        }
        case Type::promise: {
            Promise m;
            m.ballot = read_ballot(r);
            m.from_slot = r.index();
            m.next_slot = r.index();
            m.chosen = r.index();
            m.trimmed = r.index();
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
            m.chosen = r.index();
            std::uint32_t n = r.count(kProposalItemBytes);
            if (r.ok() && n == 0) r.fail("Accept without proposals");
            m.proposals.reserve(n);
            Index previous = 0;
            std::size_t total = 0;
            for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
                const Index first = r.index();
                const std::uint32_t slots = r.u32();
                std::string value = r.str();
                const Index last = read_run(r, first, slots, previous, total);
                if (slots > 1 && !value.empty()) r.fail("a run of slots that are not no-ops");
                if (!r.ok()) break;
                for (Index s = first; s < last; ++s) m.proposals.push_back(Proposal{s, {}});
                m.proposals.push_back(Proposal{last, std::move(value)});
                previous = last;
            }
            return m;
        }
        case Type::accepted: {
            Accepted m;
            m.ballot = read_ballot(r);
            m.chosen = r.index();
            m.behind = r.boolean();
            m.trimmed = r.index();
            if (m.trimmed > m.chosen) r.fail("trim point above the chosen prefix");
            std::uint32_t n = r.count(kSlotRunBytes);
            m.slots.reserve(n);
            Index previous = m.trimmed;  // nothing at or below the trim point is acknowledged
            std::size_t total = 0;
            for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
                const Index first = r.index();
                const Index last = read_run(r, first, r.u32(), previous, total);
                if (!r.ok()) break;
                for (Index s = first; s <= last; ++s) m.slots.push_back(s);
                previous = last;
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
            m.chosen = r.index();
            m.read_seq = r.u64();
            return m;
        }
        case Type::heartbeat_ack: {
            HeartbeatAck m;
            m.ballot = read_ballot(r);
            m.read_seq = r.u64();
            m.chosen = r.index();
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
            m.index = r.index();
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
            return SnapshotRequest{r.index()};
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
        case Type::chosen_request:
            return ChosenRequest{r.index()};
        case Type::chosen_values: {
            ChosenValues m;
            m.values = read_entries(r, 1);
            if (r.ok() && m.values.empty()) r.fail("ChosenValues without values");
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
    std::string operator()(const ChosenRequest& m) const {
        return "ChosenRequest have=" + std::to_string(m.have);
    }
    std::string operator()(const ChosenValues& m) const {
        return "ChosenValues slots=" + slot_list(slots_of(m.values));
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
        type > static_cast<std::uint8_t>(Type::chosen_values))
        return std::nullopt;
    std::optional<Message> m = decode_body(static_cast<Type>(type), r);
    if (!m || !r.finish()) return std::nullopt;
    return m;
}

std::string describe(const Message& m) {
    return std::visit(Describer{}, m);
}

MessageBudget::MessageBudget(std::size_t max_bytes) : max_bytes_(max_bytes), bytes_(kHeaderBytes) {}

bool MessageBudget::take(Index slot, std::uint64_t ballot, std::size_t value_bytes, std::size_t item_bytes) {
    const bool noop = value_bytes == 0;
    const bool joins_run = slots_ > 0 && last_noop_ && noop && slot == last_slot_ + 1 && ballot == last_ballot_;
    const std::size_t cost = joins_run ? 0 : item_bytes + value_bytes;
    if (slots_ > 0 && (bytes_ + cost > max_bytes_ || slots_ == kMaxSlotsPerMessage)) return false;
    bytes_ += cost;
    ++slots_;
    last_slot_ = slot;
    last_ballot_ = ballot;
    last_noop_ = noop;
    return true;
}

bool MessageBudget::take(const Entry& e) {
    return take(e.index, e.ballot, e.data.size(), kEntryItemBytes);
}
bool MessageBudget::take(const Proposal& p) {
    return take(p.slot, 0, p.value.size(), kProposalItemBytes);
}

}  // namespace ballot::multipaxos
