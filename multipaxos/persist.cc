#include "multipaxos/persist.h"

#include <stdexcept>

#include "common/codec.h"

namespace ballot::multipaxos {

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
    w.u64(m.promised.packed());
    w.u64(m.commit);
    return out;
}

std::optional<Metadata> decode_metadata(std::span<const std::uint8_t> bytes, std::string* why) {
    Reader r(bytes);
    Metadata m;
    m.promised = Ballot::unpack(r.u64());
    m.commit = r.u64();
    if (failed(r, why)) return std::nullopt;
    return m;
}

LogRecord encode_record(const Entry& e) {
    LogRecord record{e.index, {}};
    Writer w(record.bytes);
    w.u64(e.ballot);
    w.str(e.data);
    return record;
}

std::optional<Entry> decode_record(Index slot, std::span<const std::uint8_t> bytes, std::string* why) {
    Reader r(bytes);
    Entry e;
    e.index = slot;
    e.ballot = r.u64();
    e.data = r.str();
    // Every stored value was accepted (or learned) in some ballot (acceptor.h).
    if (r.ok() && Ballot::unpack(e.ballot).node == kNoNode) r.fail("accepted value without a ballot");
    if (failed(r, why)) return std::nullopt;
    return e;
}

PersistedCodec persisted_codec() {
    return PersistedCodec{&check_metadata, &check_record};
}

Recovered decode_recovered(const RecoveredState& recovered) {
    Recovered out;
    std::string why;
    if (!recovered.metadata.empty()) {
        auto m = decode_metadata(recovered.metadata, &why);
        if (!m) throw std::invalid_argument("multipaxos: persisted metadata does not decode: " + why);
        out.metadata = *m;
    }
    out.entries.reserve(recovered.records.size());
    for (const LogRecord& record : recovered.records) {
        auto e = decode_record(record.index, record.bytes, &why);
        if (!e)
            throw std::invalid_argument("multipaxos: persisted record for slot " +
                                        std::to_string(record.index) + " does not decode: " + why);
        out.entries.push_back(std::move(*e));
    }
    return out;
}

}  // namespace ballot::multipaxos
