#include "paxos/persist.h"

#include "common/codec.h"
#include "common/persisted_format.h"

namespace ballot::paxos {

namespace {
// A slot record's optional tail (persist.h).
constexpr std::uint8_t kChosenAsAccepted = 1;
constexpr std::uint8_t kChosenOther = 2;
}  // namespace

Bytes encode_metadata(const Metadata& m) {
    Bytes out;
    Writer w(out);
    w.u64(m.round);
    w.u64(m.commit);
    if (m.trim > 0) w.u64(m.trim);  // absent until the first compaction: older records still decode
    return out;
}

std::optional<Metadata> decode_metadata(std::span<const std::uint8_t> bytes, std::string* why) {
    Reader r(bytes);
    Metadata m;
    m.round = r.u64();
    m.commit = r.u64();
    if (r.ok() && !r.at_end()) {
        m.trim = r.u64();
        if (r.ok() && m.trim == 0) r.fail("trim point 0 written out");
    }
    if (!finish(r, why)) return std::nullopt;
    return m;
}

LogRecord encode_record(const SlotRecord& s) {
    LogRecord record{s.slot, {}};
    Writer w(record.bytes);
    w.u64(s.promised.packed());
    w.u64(s.accepted.packed());
    w.str(s.value);
    if (s.chosen && *s.chosen == s.value) {
        w.u8(kChosenAsAccepted);
    } else if (s.chosen) {
        w.u8(kChosenOther);
        w.str(*s.chosen);
    }
    return record;
}

std::optional<SlotRecord> decode_record(Index slot, std::span<const std::uint8_t> bytes, std::string* why) {
    Reader r(bytes);
    SlotRecord s;
    s.slot = slot;
    s.promised = Ballot::unpack(r.u64());
    s.accepted = Ballot::unpack(r.u64());
    s.value = r.str();
    if (r.ok() && !r.at_end()) {
        const std::uint8_t tail = r.u8();
        if (tail == kChosenAsAccepted)
            s.chosen = s.value;
        else if (tail == kChosenOther)
            s.chosen = r.str();
        else if (r.ok())
            r.fail("unknown chosen mark");
    }
    // Accepting in a ballot promises it (acceptor.cc), so a record never holds more.
    if (r.ok() && s.promised < s.accepted) r.fail("accepted ballot above the promise");
    if (!finish(r, why)) return std::nullopt;
    return s;
}

}  // namespace ballot::paxos
