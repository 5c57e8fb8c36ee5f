#include "paxos/messages.h"

#include "common/codec.h"
#include "common/engine.h"

namespace ballot::paxos {

namespace {

enum Type : std::uint8_t {
    kPrepare = 1,
    kPromise = 2,
    kAccept = 3,
    kAccepted = 4,
    kNack = 5,
    kLearn = 6,
    kReadQuery = 7,
    kReadReply = 8,
    kTrimmed = 9,
    kSnapshotRequest = 10,
    kChosenRequest = 11,
    kChosenValues = 12,
    kForward = 13,
};

// How many messages of one payload describe() spells out before eliding the rest.
constexpr std::size_t kDescribeMax = 8;

Ballot read_ballot(Reader& r) {
    Ballot b = Ballot::unpack(r.u64());
    if (b.round > Ballot::kMaxRound) r.fail("ballot round out of range");
    return b;
}

Index read_slot(Reader& r) {
    Index slot = r.index();
    if (slot == 0) r.fail("slot 0");
    return slot;
}

Ballot read_proposal(Reader& r) {
    Ballot b = read_ballot(r);
    if (b.round == 0 || b.node == kNoNode) r.fail("zero ballot");
    return b;
}

std::optional<Message> decode_one(Reader& r) {
    switch (r.u8()) {
        case kPrepare: {
            Prepare m;
            m.slot = read_slot(r);
            m.ballot = read_proposal(r);
            return m;
        }
        case kPromise: {
            Promise m;
            m.slot = read_slot(r);
            m.ballot = read_proposal(r);
            m.accepted = read_ballot(r);
            m.value = r.str();
            // An acceptor accepts nothing above its promise, and reports a value only with a ballot.
            if (m.accepted > m.ballot) r.fail("accepted above promise");
            if (m.accepted.is_zero() && !m.value.empty()) r.fail("value without ballot");
            return m;
        }
        case kAccept: {
            Accept m;
            m.slot = read_slot(r);
            m.ballot = read_proposal(r);
            m.value = r.str();
            return m;
        }
        case kAccepted: {
            Accepted m;
            m.slot = read_slot(r);
            m.ballot = read_proposal(r);
            return m;
        }
        case kNack: {
            Nack m;
            m.slot = read_slot(r);
            m.ballot = read_proposal(r);
            m.promised = read_ballot(r);
            if (!(m.promised > m.ballot)) r.fail("nack not higher");
            return m;
        }
        case kLearn: {
            Learn m;
            m.slot = read_slot(r);
            m.value = r.str();
            return m;
        }
        case kReadQuery: {
            ReadQuery m;
            m.round = r.u64();
            return m;
        }
        case kReadReply: {
            ReadReply m;
            m.round = r.u64();
            m.highest_accepted = r.index();
            m.trim = r.index();
            if (m.trim > m.highest_accepted) r.fail("trim point above the highest accepted slot");
            m.identity = r.u64();
            m.joined = r.boolean();
            return m;
        }
        case kTrimmed: {
            Trimmed m;
            m.slot = read_slot(r);
            m.ballot = read_proposal(r);
            m.trim = r.index();
            if (m.trim < m.slot) r.fail("trimmed slot above the trim point");
            return m;
        }
        case kSnapshotRequest: {
            SnapshotRequest m;
            m.have = r.index();
            return m;
        }
        case kForward: {
            Forward m;
            m.command = r.str();
            if (m.command.empty()) r.fail("empty forwarded command");
            return m;
        }
        case kChosenRequest: {
            ChosenRequest m;
            m.from = read_slot(r);
            return m;
        }
        case kChosenValues: {
            ChosenValues m;
            m.first = read_slot(r);
            m.trim = r.index();
            m.commit = r.index();
            const std::uint32_t n = r.count(sizeof(std::uint32_t));  // each value: its length at least
            if (r.ok() && n > kMaxIndex - m.first)
                r.fail("values past the last slot");
            for (std::uint32_t i = 0; i < n && r.ok(); ++i) m.values.push_back(r.str());
            return m;
        }
        default:
            r.fail("unknown message type");
            return std::nullopt;
    }
}

// "slots=5-9", "slot=5", or "from=5 none" for an empty answer.
std::string slot_range(Index first, std::size_t n) {
    if (n == 0) return "from=" + std::to_string(first) + " none";
    if (n == 1) return "slot=" + std::to_string(first);
    return "slots=" + std::to_string(first) + "-" + std::to_string(first + n - 1);
}

std::string value_str(const std::string& v) {
    return v.empty() ? "no-op" : std::to_string(v.size()) + "B";
}

}  // namespace

void encode(const Message& message, Bytes& out) {
    Writer w(out);
    if (auto* m = std::get_if<Prepare>(&message)) {
        w.u8(kPrepare);
        w.u64(m->slot);
        w.u64(m->ballot.packed());
    } else if (auto* m = std::get_if<Promise>(&message)) {
        w.u8(kPromise);
        w.u64(m->slot);
        w.u64(m->ballot.packed());
        w.u64(m->accepted.packed());
        w.str(m->value);
    } else if (auto* m = std::get_if<Accept>(&message)) {
        w.u8(kAccept);
        w.u64(m->slot);
        w.u64(m->ballot.packed());
        w.str(m->value);
    } else if (auto* m = std::get_if<Accepted>(&message)) {
        w.u8(kAccepted);
        w.u64(m->slot);
        w.u64(m->ballot.packed());
    } else if (auto* m = std::get_if<Nack>(&message)) {
        w.u8(kNack);
        w.u64(m->slot);
        w.u64(m->ballot.packed());
        w.u64(m->promised.packed());
    } else if (auto* m = std::get_if<Learn>(&message)) {
        w.u8(kLearn);
        w.u64(m->slot);
        w.str(m->value);
    } else if (auto* m = std::get_if<ReadQuery>(&message)) {
        w.u8(kReadQuery);
        w.u64(m->round);
    } else if (auto* m = std::get_if<ReadReply>(&message)) {
        w.u8(kReadReply);
        w.u64(m->round);
        w.u64(m->highest_accepted);
        w.u64(m->trim);
        w.u64(m->identity);
        w.boolean(m->joined);
    } else if (auto* m = std::get_if<Trimmed>(&message)) {
        w.u8(kTrimmed);
        w.u64(m->slot);
        w.u64(m->ballot.packed());
        w.u64(m->trim);
    } else if (auto* m = std::get_if<SnapshotRequest>(&message)) {
        w.u8(kSnapshotRequest);
        w.u64(m->have);
    } else if (auto* m = std::get_if<ChosenRequest>(&message)) {
        w.u8(kChosenRequest);
        w.u64(m->from);
    } else if (auto* m = std::get_if<Forward>(&message)) {
        w.u8(kForward);
        w.str(m->command);
    } else if (auto* m = std::get_if<ChosenValues>(&message)) {
        w.u8(kChosenValues);
        w.u64(m->first);
        w.u64(m->trim);
        w.u64(m->commit);
        w.u32(static_cast<std::uint32_t>(m->values.size()));
        for (const std::string& v : m->values) w.str(v);
    }
}

std::size_t chosen_value_bytes(const std::string& value) {
    return sizeof(std::uint32_t) + value.size();
}

bool after_persist(const Message& m) {
    return std::holds_alternative<Promise>(m) || std::holds_alternative<Accepted>(m) ||
           std::holds_alternative<Nack>(m) || std::holds_alternative<Prepare>(m);
}

std::optional<std::vector<Message>> decode(std::span<const std::uint8_t> payload) {
    Reader r(payload);
    std::vector<Message> out;
    // Each message consumes at least its type byte, so a hostile payload cannot make this loop
    // allocate more than the bytes it actually sent.
    do {
        auto m = decode_one(r);
        if (!m || !r.ok()) return std::nullopt;
        out.push_back(std::move(*m));
    } while (!r.at_end());
    return out;
}

std::string describe(const Message& message) {
    if (auto* m = std::get_if<Prepare>(&message))
        return "Prepare slot=" + std::to_string(m->slot) + " ballot=" + m->ballot.str();
    if (auto* m = std::get_if<Promise>(&message))
        return "Promise slot=" + std::to_string(m->slot) + " ballot=" + m->ballot.str() +
               (m->accepted.is_zero() ? ""
                                      : " accepted=" + m->accepted.str() + " value=" + value_str(m->value));
    if (auto* m = std::get_if<Accept>(&message))
        return "Accept slot=" + std::to_string(m->slot) + " ballot=" + m->ballot.str() +
               " value=" + value_str(m->value);
    if (auto* m = std::get_if<Accepted>(&message))
        return "Accepted slot=" + std::to_string(m->slot) + " ballot=" + m->ballot.str();
    if (auto* m = std::get_if<Nack>(&message))
        return "Nack slot=" + std::to_string(m->slot) + " ballot=" + m->ballot.str() +
               " promised=" + m->promised.str();
    if (auto* m = std::get_if<Learn>(&message))
        return "Learn slot=" + std::to_string(m->slot) + " value=" + value_str(m->value);
    if (auto* m = std::get_if<ReadQuery>(&message)) return "ReadQuery id=" + read_id_str(m->round);
    if (auto* m = std::get_if<ReadReply>(&message))
        return "ReadReply id=" + read_id_str(m->round) +
               " highest_accepted=" + std::to_string(m->highest_accepted) +
               (m->trim ? " trim=" + std::to_string(m->trim) : "");
    if (auto* m = std::get_if<Trimmed>(&message))
        return "Trimmed slot=" + std::to_string(m->slot) + " ballot=" + m->ballot.str() +
               " trim=" + std::to_string(m->trim);
    if (auto* m = std::get_if<SnapshotRequest>(&message))
        return "SnapshotRequest have=" + std::to_string(m->have);
    if (auto* m = std::get_if<ChosenRequest>(&message))
        return "ChosenRequest from=" + std::to_string(m->from);
    if (auto* m = std::get_if<Forward>(&message)) return "Forward bytes=" + std::to_string(m->command.size());
    if (auto* m = std::get_if<ChosenValues>(&message))
        return "ChosenValues " + slot_range(m->first, m->values.size()) + " trim=" + std::to_string(m->trim) +
               " commit=" + std::to_string(m->commit);
    return "?";
}

std::string describe(std::span<const std::uint8_t> payload) {
    auto messages = decode(payload);
    if (!messages) return "malformed paxos payload (" + std::to_string(payload.size()) + " bytes)";
    std::string line;
    for (std::size_t i = 0; i < messages->size() && i < kDescribeMax; ++i)
        line += (i ? "; " : "") + describe((*messages)[i]);
    if (messages->size() > kDescribeMax) line += "; ... (" + std::to_string(messages->size()) + " messages)";
    return line;
}

}  // namespace ballot::paxos
