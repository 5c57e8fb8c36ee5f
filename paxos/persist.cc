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

Bytes encode_snapshot_metadata(const std::vector<ConfigStep>& steps) {
    Bytes out;
    Writer w(out);
    w.u8(kSnapshotMetadataVersion);
    w.u32(static_cast<std::uint32_t>(steps.size()));
    for (const ConfigStep& s : steps) {
        w.u64(s.from);
        w.u64(s.chosen_in);
        Bytes config;
        encode_configuration(s.config, config);
        w.str(std::string_view(reinterpret_cast<const char*>(config.data()), config.size()));
    }
    return out;
}

std::optional<std::vector<ConfigStep>> decode_snapshot_metadata(std::span<const std::uint8_t> bytes,
                                                                std::string* why) {
    std::vector<ConfigStep> steps;
    if (bytes.empty()) return steps;  // written before membership change: the bootstrap one rules
    Reader r(bytes);
    if (r.u8() != kSnapshotMetadataVersion) r.fail("unknown snapshot metadata version");
    const std::uint32_t n = r.count(8 + 8 + 4);
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        ConfigStep s;
        s.from = r.u64();
        s.chosen_in = r.u64();
        const std::string config_bytes = r.str();
        if (!r.ok()) break;
        std::string config_why;
        auto config = decode_configuration(
            std::span(reinterpret_cast<const std::uint8_t*>(config_bytes.data()), config_bytes.size()),
            config_why);
        if (!config) {
            if (why)
                *why = "snapshot's configuration " + std::to_string(i) + " does not decode: " + config_why;
            return std::nullopt;
        }
        if (s.from == 0 || (!steps.empty() && s.from <= steps.back().from))
            r.fail("configuration steps out of order");
        s.config = std::move(*config);
        steps.push_back(std::move(s));
    }
    if (r.ok() && n == 0) r.fail("no configuration in the snapshot metadata");
    if (!finish(r, why)) return std::nullopt;
    return steps;
}

}  // namespace ballot::paxos
