#include "raft/persist.h"

#include "common/codec.h"

namespace ballot::raft {

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
    return finish(r, why) ? std::optional<HardState>(hs) : std::nullopt;
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
    return finish(r, why) ? std::optional<Entry>(std::move(e)) : std::nullopt;
}

Bytes encode_snapshot_metadata(std::uint64_t last_included_term) {
    Bytes out;
    Writer w(out);
    w.u64(last_included_term);
    return out;
}

std::optional<std::uint64_t> decode_snapshot_metadata(const SnapshotMeta& meta, std::string* why) {
    Reader r(meta.engine_metadata);
    const std::uint64_t term = r.u64();
    // Index 0 is "before the log" with term 0; every entry after it has a term >= 1.
    if (r.ok() && (meta.last_included_index == 0) != (term == 0))
        r.fail("snapshot's last included term does not fit its index");
    return finish(r, why) ? std::optional<std::uint64_t>(term) : std::nullopt;
}

}  // namespace ballot::raft
