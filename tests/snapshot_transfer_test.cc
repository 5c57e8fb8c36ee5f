// The bulk-lane frames of a snapshot transfer (common/snapshot_transfer.h): they round-trip, and
// anything malformed or hostile a peer could send is refused with a reason, never trusted.
#define BOOST_TEST_MODULE snapshot_transfer
#include "common/snapshot_transfer.h"

#include <boost/test/unit_test.hpp>

#include "common/codec.h"
#include "common/snapshot_file.h"

using namespace ballot;

namespace {

SnapshotChunkFrame first_chunk() {
    SnapshotChunkFrame c;
    c.transfer = 77;
    c.index = 812;
    c.offset = 0;
    c.last = false;
    c.engine_metadata = Bytes{1, 2, 3};
    c.data = "the first bytes";
    return c;
}

std::string refusal(const Bytes& bytes) {
    std::string error;
    auto frame = decode_snapshot_frame(bytes, &error);
    BOOST_CHECK(!frame.has_value());
    return error;
}

}  // namespace

BOOST_AUTO_TEST_CASE(chunks_and_acks_round_trip) {
    SnapshotChunkFrame c = first_chunk();
    auto decoded = decode_snapshot_frame(encode_snapshot_frame(c));
    BOOST_REQUIRE(decoded.has_value());
    const auto& d = std::get<SnapshotChunkFrame>(*decoded);
    BOOST_TEST(d.transfer == 77u);
    BOOST_TEST(d.index == 812u);
    BOOST_TEST(d.offset == 0u);
    BOOST_TEST(!d.last);
    BOOST_TEST(d.engine_metadata == (Bytes{1, 2, 3}));
    BOOST_TEST(d.data == "the first bytes");

    SnapshotAckFrame a{77, 812, 4096, SnapshotAckFrame::Status::restart};
    auto ack = decode_snapshot_frame(encode_snapshot_frame(a));
    BOOST_REQUIRE(ack.has_value());
    const auto& da = std::get<SnapshotAckFrame>(*ack);
    BOOST_TEST(da.received == 4096u);
    BOOST_TEST(static_cast<int>(da.status) == static_cast<int>(SnapshotAckFrame::Status::restart));
    BOOST_TEST(describe_snapshot_frame(*ack) == "SnapshotAck index=812 received=4096 status=restart");
    BOOST_TEST(describe_snapshot_frame(c) == "SnapshotChunk index=812 offset=0 bytes=15 last=0");
}

BOOST_AUTO_TEST_CASE(every_truncation_and_trailing_byte_is_refused) {
    Bytes whole = encode_snapshot_frame(first_chunk());
    for (std::size_t n = 0; n < whole.size(); ++n)
        BOOST_TEST(!refusal(Bytes(whole.begin(), whole.begin() + n)).empty());
    Bytes longer = whole;
    longer.push_back(0);
    BOOST_TEST(!refusal(longer).empty());
}

BOOST_AUTO_TEST_CASE(hostile_fields_are_refused) {
    BOOST_TEST(refusal(Bytes{9}) == "unknown snapshot frame kind");

    SnapshotChunkFrame later = first_chunk();
    later.offset = 100;  // metadata belongs to the first chunk only
    BOOST_TEST(refusal(encode_snapshot_frame(later)) == "snapshot metadata on a chunk after the first");

    SnapshotChunkFrame zero = first_chunk();
    zero.index = 0;
    BOOST_TEST(refusal(encode_snapshot_frame(zero)) == "snapshot chunk for index 0");

    SnapshotChunkFrame huge = first_chunk();
    huge.data.assign(kMaxSnapshotChunkBytes + 1, 'x');
    BOOST_TEST(refusal(encode_snapshot_frame(huge)) == "snapshot chunk over the limit");

    // A length field claiming more than the frame holds never drives an allocation.
    Bytes lying;
    Writer w(lying);
    w.u8(1);
    w.u64(1);
    w.u64(5);
    w.u64(0);
    w.u8(0);
    w.u32(0xFFFFFFFFu);
    BOOST_TEST(!refusal(lying).empty());

    Bytes bad_status = encode_snapshot_frame(SnapshotAckFrame{1, 5, 0, SnapshotAckFrame::Status::done});
    bad_status.back() = 3;
    BOOST_TEST(refusal(bad_status) == "unknown snapshot ack status");
}
