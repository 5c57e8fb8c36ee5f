// Shared scaffolding for the bytes an engine persists (common/engine.h, "What an engine
// persists"). An engine writes, in its persist.h, one encoder and one validating decoder for its
// metadata record and for its log records; this file turns those two decoders into what the rest
// of the system needs, the same way for every engine:
//
//   persisted_codec<DecodeMetadata, DecodeRecord>()       the checks the log store runs on every
//                                                          record it replays (EngineTraits::codec)
//   decode_recovered<DecodeMetadata, DecodeRecord>(...)    what the store recovered, decoded, for
//                                                          the engine's constructor
//
// A decoder has the shape
//     std::optional<T> decode_x(std::span<const std::uint8_t> bytes, std::string* why)
// (records take their index first) and ends with `return finish(reader, why) ? value : nullopt`.
#pragma once

#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/codec.h"
#include "common/engine.h"
#include "common/types.h"

namespace ballot {

// Ends a decode: true if every byte was read and valid; otherwise false, with the reason in `why`.
inline bool finish(Reader& r, std::string* why) {
    if (r.finish()) return true;
    if (why) *why = r.error();
    return false;
}

// What a store's RecoveredState decodes to: the metadata (a default-constructed one for a fresh
// node, which never wrote any) and the log records, ascending by index, possibly sparse.
template <class Metadata, class Record>
struct Recovered {
    Metadata metadata{};
    std::vector<Record> records;
};

template <auto DecodeMetadata, auto DecodeRecord>
PersistedCodec persisted_codec() {
    PersistedCodec codec;
    codec.check_metadata = [](std::span<const std::uint8_t> bytes) {
        std::string why;
        return DecodeMetadata(bytes, &why) ? std::string() : why;
    };
    codec.check_record = [](Index index, std::span<const std::uint8_t> bytes) {
        std::string why;
        return DecodeRecord(index, bytes, &why) ? std::string() : why;
    };
    return codec;
}

// Throws std::invalid_argument, naming the engine and the first record that does not decode.
template <auto DecodeMetadata, auto DecodeRecord>
auto decode_recovered(const RecoveredState& recovered, std::string_view engine) {
    using Metadata = typename decltype(DecodeMetadata(std::span<const std::uint8_t>{}, nullptr))::value_type;
    using Record =
        typename decltype(DecodeRecord(Index{}, std::span<const std::uint8_t>{}, nullptr))::value_type;
    Recovered<Metadata, Record> out;
    std::string why;
    if (!recovered.metadata.empty()) {
        std::optional<Metadata> m = DecodeMetadata(recovered.metadata, &why);
        if (!m)
            throw std::invalid_argument(std::string(engine) + ": persisted metadata does not decode: " + why);
        out.metadata = std::move(*m);
    }
    out.records.reserve(recovered.records.size());
    for (const LogRecord& record : recovered.records) {
        std::optional<Record> r = DecodeRecord(record.index, record.bytes, &why);
        if (!r)
            throw std::invalid_argument(std::string(engine) + ": persisted log record at index " +
                                        std::to_string(record.index) + " does not decode: " + why);
        out.records.push_back(std::move(*r));
    }
    return out;
}

}  // namespace ballot
