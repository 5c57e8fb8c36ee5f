#include "multipaxos/persist.h"

#include "common/codec.h"

namespace ballot::multipaxos {

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
    return finish(r, why) ? std::optional<Metadata>(m) : std::nullopt;
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
    return finish(r, why) ? std::optional<Entry>(std::move(e)) : std::nullopt;
}

PersistedCodec persisted_codec() {
    return ballot::persisted_codec<&decode_metadata, &decode_record>();
}

Recovered decode_recovered(const RecoveredState& recovered) {
    return ballot::decode_recovered<&decode_metadata, &decode_record>(recovered, "multipaxos");
}

}  // namespace ballot::multipaxos
