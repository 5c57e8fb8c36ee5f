#include "raft/persist.h"

#include <stdexcept>

#include "common/codec.h"

namespace ballot::raft {

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

std::string check_record(Index index, std::span<const std::uint8_t> bytes) {
    std::string why;
    return decode_record(index, bytes, &why) ? std::string() : why;
}

}  // namespace

Bytes encode_metadata(const HardState& hs) {
    Bytes out;
    Writer w(out);
    w.u64(hs.term);
    w.u64(hs.vote);
    w.u64(hs.commit);
    return out;
}

std::optional<HardState> decode_metadata(std::span<const std::uint8_t> bytes, std::string* why) {
    Reader r(bytes);
    HardState hs;
    hs.term = r.u64();
    hs.vote = r.u64();
    hs.commit = r.u64();
    if (failed(r, why)) return std::nullopt;
    return hs;
}

LogRecord encode_record(const Entry& e) {
    LogRecord record{e.index, {}};
    Writer w(record.bytes);
    w.u64(e.term);
    w.str(e.data);
    return record;
}

std::optional<Entry> decode_record(Index index, std::span<const std::uint8_t> bytes, std::string* why) {
    Reader r(bytes);
    Entry e;
    e.index = index;
    e.term = r.u64();
    e.data = r.str();
    // §5.3: every entry is created by a leader of some term >= 1.
    if (r.ok() && e.term == 0) r.fail("raft entry of term 0");
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
        auto hs = decode_metadata(recovered.metadata, &why);
        if (!hs) throw std::invalid_argument("raft: persisted metadata does not decode: " + why);
        out.hard_state = *hs;
    }
    out.entries.reserve(recovered.records.size());
    for (const LogRecord& record : recovered.records) {
        auto e = decode_record(record.index, record.bytes, &why);
        if (!e)
            throw std::invalid_argument("raft: persisted log record at index " +
                                        std::to_string(record.index) + " does not decode: " + why);
        out.entries.push_back(std::move(*e));
    }
    return out;
}

}  // namespace ballot::raft
