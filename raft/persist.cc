#include "raft/persist.h"

#include <algorithm>

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

Bytes encode_snapshot_metadata(std::uint64_t last_included_term, const Configuration& config) {
    Bytes out;
    Writer w(out);
    w.u64(last_included_term);
    encode_configuration(config, out);
    return out;
}

std::optional<SnapshotInfo> decode_snapshot_metadata(const SnapshotMeta& meta, std::string* why) {
    const auto& bytes = meta.engine_metadata;
    Reader r(std::span<const std::uint8_t>(bytes.data(), std::min<std::size_t>(bytes.size(), 8)));
    SnapshotInfo info;
    info.last_included_term = r.u64();
    // Index 0 is "before the log" with term 0; every entry after it has a term >= 1.
    if (r.ok() && (meta.last_included_index == 0) != (info.last_included_term == 0))
        r.fail("snapshot's last included term does not fit its index");
    if (!finish(r, why)) return std::nullopt;
    if (bytes.size() > 8) {
        std::string config_why;
        info.config = decode_configuration(std::span<const std::uint8_t>(bytes).subspan(8), config_why);
        if (!info.config) {
            if (why) *why = "snapshot's configuration does not decode: " + config_why;
            return std::nullopt;
        }
    }
    return info;
}

}  // namespace ballot::raft
