#include "paxos/persist.h"

#include <stdexcept>

#include "common/codec.h"

namespace ballot::paxos {

namespace {

bool failed(Reader& r, std::string* why) {
    if (r.finish()) return false;
    if (why) *why = r.error();
    return true;
}

std::string check_metadata(std::span<const std::uint8_t> bytes) {
    std::string why;
    return decode_metadata(bytes, &why) ? std::string() : why;
}

std::string check_record(Index slot, std::span<const std::uint8_t> bytes) {
    std::string why;
    return decode_record(slot, bytes, &why) ? std::string() : why;
}

}  // namespace

Bytes encode_metadata(const Metadata& m) {
    Bytes out;
    Writer w(out);
    w.u64(m.round);
    w.u64(m.commit);
    return out;
}

std::optional<Metadata> decode_metadata(std::span<const std::uint8_t> bytes, std::string* why) {
    Reader r(bytes);
    Metadata m;
    m.round = r.u64();
    m.commit = r.u64();
    if (failed(r, why)) return std::nullopt;
    return m;
}

LogRecord encode_record(const SlotRecord& s) {
    LogRecord record{s.slot, {}};
    Writer w(record.bytes);
    w.u64(s.promised.packed());
    w.u64(s.accepted.packed());
    w.str(s.value);
    return record;
}

std::optional<SlotRecord> decode_record(Index slot, std::span<const std::uint8_t> bytes, std::string* why) {
    Reader r(bytes);
    SlotRecord s;
    s.slot = slot;
    s.promised = Ballot::unpack(r.u64());
    s.accepted = Ballot::unpack(r.u64());
    s.value = r.str();
    // Accepting in a ballot promises it (acceptor.cc), so a record never holds more.
    if (r.ok() && s.promised < s.accepted) r.fail("accepted ballot above the promise");
    if (failed(r, why)) return std::nullopt;
    return s;
}

PersistedCodec persisted_codec() {
    return PersistedCodec{&check_metadata, &check_record};
}

Recovered decode_recovered(const RecoveredState& recovered) {
    Recovered out;
    std::string why;
    if (!recovered.metadata.empty()) {
        auto m = decode_metadata(recovered.metadata, &why);
        if (!m) throw std::invalid_argument("paxos: persisted metadata does not decode: " + why);
        out.metadata = *m;
    }
    out.slots.reserve(recovered.records.size());
    for (const LogRecord& record : recovered.records) {
        auto s = decode_record(record.index, record.bytes, &why);
        if (!s)
            throw std::invalid_argument("paxos: persisted record for slot " + std::to_string(record.index) +
                                        " does not decode: " + why);
        out.slots.push_back(std::move(*s));
    }
    return out;
}

}  // namespace ballot::paxos
