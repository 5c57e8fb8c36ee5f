#include "common/command.h"

#include "common/codec.h"

namespace ballot {

namespace {
constexpr std::uint8_t kCommandVersion = 1;
}

std::string encode_command(const Command& c) {
    Bytes out;
    out.reserve(1 + 8 * 3 + 4 + c.payload.size());
    Writer w(out);
    w.u8(kCommandVersion);
    w.u64(c.client_id);
    w.u64(c.seq);
    w.u64(c.acked_below);
    w.str(c.payload);
    return std::string(out.begin(), out.end());
}

std::optional<Command> decode_command(std::string_view data) {
    Reader r(data.data(), data.size());
    if (r.u8() != kCommandVersion) return std::nullopt;
    Command c;
    c.client_id = r.u64();
    c.seq = r.u64();
    c.acked_below = r.u64();
    c.payload = r.str();
    if (!r.finish()) return std::nullopt;
    return c;
}

}  // namespace ballot
