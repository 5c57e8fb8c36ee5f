#include "common/command.h"

#include "common/codec.h"

namespace ballot {

namespace {
constexpr std::uint8_t kCommandV1 = 1;  // before cluster time: no time_ms
constexpr std::uint8_t kCommandV2 = 2;  // time_ms after acked_below
}  // namespace

std::string encode_command(const Command& c) {
    Bytes out;
    out.reserve(1 + 8 * 4 + 4 + c.payload.size());
    Writer w(out);
    w.u8(kCommandV2);
    w.u64(c.client_id);
    w.u64(c.seq);
    w.u64(c.acked_below);
    w.u64(c.time_ms);
    w.str(c.payload);
    return std::string(out.begin(), out.end());
}

std::optional<Command> decode_command(std::string_view data) {
    Reader r(data.data(), data.size());
    const std::uint8_t version = r.u8();
    if (version != kCommandV1 && version != kCommandV2) return std::nullopt;
    Command c;
    c.client_id = r.u64();
    c.seq = r.u64();
    c.acked_below = r.u64();
    if (version == kCommandV2) c.time_ms = r.u64();
    c.payload = r.str();
    if (!r.finish()) return std::nullopt;
    return c;
}

}  // namespace ballot
