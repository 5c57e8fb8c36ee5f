#include "common/snapshot_transfer.h"

#include "common/codec.h"
#include "common/snapshot_file.h"

namespace ballot {

namespace {
constexpr std::uint8_t kChunk = 1;
constexpr std::uint8_t kAck = 2;
}  // namespace

Bytes encode_snapshot_frame(const SnapshotFrame& frame) {
    Bytes out;
    Writer w(out);
    if (const auto* c = std::get_if<SnapshotChunkFrame>(&frame)) {
        w.u8(kChunk);
        w.u64(c->transfer);
        w.u64(c->index);
        w.u64(c->offset);
        w.boolean(c->last);
        w.str(std::string_view(reinterpret_cast<const char*>(c->engine_metadata.data()), c->engine_metadata.size()));
        w.str(c->data);
    } else {
        const auto& a = std::get<SnapshotAckFrame>(frame);
        w.u8(kAck);
        w.u64(a.transfer);
        w.u64(a.index);
        w.u64(a.received);
        w.u8(static_cast<std::uint8_t>(a.status));
    }
    return out;
}

std::optional<SnapshotFrame> decode_snapshot_frame(std::span<const std::uint8_t> payload, std::string* error) {
    auto fail = [&](const char* why) -> std::optional<SnapshotFrame> {
        if (error) *error = why;
        return std::nullopt;
    };
    Reader r(payload);
    std::uint8_t kind = r.u8();
    if (!r.ok()) return fail("empty snapshot frame");
    if (kind == kChunk) {
        SnapshotChunkFrame c;
        c.transfer = r.u64();
        c.index = r.u64();
        c.offset = r.u64();
        c.last = r.boolean();
        std::string meta = r.str();
        c.data = r.str();
        if (!r.finish()) return fail("malformed snapshot chunk");
        if (meta.size() > kMaxSnapshotMetadata) return fail("snapshot metadata over the limit");
        if (!meta.empty() && c.offset != 0) return fail("snapshot metadata on a chunk after the first");
        if (c.data.size() > kMaxSnapshotChunkBytes) return fail("snapshot chunk over the limit");
        c.engine_metadata.assign(meta.begin(), meta.end());
        if (c.index == 0) return fail("snapshot chunk for index 0");
        return c;
    }
    if (kind == kAck) {
        SnapshotAckFrame a;
        a.transfer = r.u64();
        a.index = r.u64();
        a.received = r.u64();
        std::uint8_t status = r.u8();
        if (!r.finish()) return fail("malformed snapshot ack");
        if (status > 2) return fail("unknown snapshot ack status");
        if (a.index == 0) return fail("snapshot ack for index 0");
        a.status = static_cast<SnapshotAckFrame::Status>(status);
        return a;
    }
    return fail("unknown snapshot frame kind");
}

std::string describe_snapshot_frame(const SnapshotFrame& frame) {
    if (const auto* c = std::get_if<SnapshotChunkFrame>(&frame))
        return "SnapshotChunk index=" + std::to_string(c->index) + " offset=" + std::to_string(c->offset) +
               " bytes=" + std::to_string(c->data.size()) + " last=" + (c->last ? "1" : "0");
    const auto& a = std::get<SnapshotAckFrame>(frame);
    static const char* kStatus[] = {"more", "done", "restart"};
    return "SnapshotAck index=" + std::to_string(a.index) + " received=" + std::to_string(a.received) +
           " status=" + kStatus[static_cast<int>(a.status)];
}

}  // namespace ballot
