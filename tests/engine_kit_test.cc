// Tests for the protocol-neutral kit every engine is built from: common/membership.h,
// common/outbox.h, common/forwarded_requests.h, common/persisted_format.h,
// common/catch_up_holds.h and validate_engine_config (common/engine_config.cc).
#define BOOST_TEST_MODULE engine_kit
#include <boost/test/unit_test.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/catch_up_holds.h"
#include "common/codec.h"
#include "common/engine.h"
#include "common/forwarded_requests.h"
#include "common/membership.h"
#include "common/outbox.h"
#include "common/persisted_format.h"

using namespace ballot;

namespace {

bool throws_with(auto&& f, const std::string& words) {
    try {
        f();
    } catch (const std::invalid_argument& e) {
        return std::string(e.what()).find(words) != std::string::npos;
    }
    return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(membership_sorts_and_knows_its_peers) {
    Membership m(3, {5, 1, 3});
    BOOST_TEST(m.members() == (std::vector<NodeId>{1, 3, 5}), boost::test_tools::per_element());
    BOOST_TEST(m.peers() == (std::vector<NodeId>{1, 5}), boost::test_tools::per_element());
    BOOST_TEST(m.contains(1));
    BOOST_TEST(m.contains(3));
    BOOST_TEST(!m.contains(2));
    BOOST_TEST(!m.contains(kNoNode));
    BOOST_TEST(m.self() == 3u);
}

BOOST_AUTO_TEST_CASE(membership_quorum_is_a_majority) {
    const std::vector<std::pair<std::size_t, std::size_t>> table = {{1, 1}, {2, 2}, {3, 2},
                                                                    {4, 3}, {5, 3}, {7, 4}};
    for (auto [size, quorum] : table) {
        std::vector<NodeId> members;
        for (NodeId id = 1; id <= size; ++id) members.push_back(id);
        Membership m(1, members);
        BOOST_TEST(m.quorum() == quorum, "size " << size);
        VoteTally t = m.tally();
        for (NodeId id = 1; id <= quorum; ++id) t.record(id, true);
        BOOST_TEST(t.won(), "size " << size);
    }
    Membership five(1, {1, 2, 3, 4, 5});
    BOOST_TEST(five.quorum_value({9, 7, 5, 3, 1}) == 5u);  // three of five have reached 5
}

BOOST_AUTO_TEST_CASE(membership_refuses_impossible_lists) {
    BOOST_TEST(throws_with([] { Membership(4, {1, 2, 3}); }, "own id 4 is not among the members"));
    BOOST_TEST(throws_with([] { Membership(1, {1, 2, 2}); }, "listed twice"));
    BOOST_TEST(throws_with([] { Membership(1, {0, 1, 2}); }, "node id 0"));
    BOOST_TEST(throws_with([] { Membership(1, std::vector<NodeId>{}); }, "not among the members"));
}

BOOST_AUTO_TEST_CASE(engine_config_is_validated_with_the_engine_named) {
    EngineConfig good;
    good.id = 1;
    good.members = {1, 2, 3};
    BOOST_CHECK_NO_THROW(validate_engine_config(good, "toy"));

    struct Case {
        std::string name;
        void (*breaks)(EngineConfig&);
        std::string words;
    };
    const std::vector<Case> table = {
        {"id not a member", [](EngineConfig& c) { c.id = 9; }, "toy configuration: own id 9"},
        {"empty timeout range", [](EngineConfig& c) { c.election_timeout_min_ticks = 70; },
         "election timeout"},
        {"zero timeout", [](EngineConfig& c) { c.election_timeout_min_ticks = 0; }, "election timeout"},
        {"heartbeat too slow", [](EngineConfig& c) { c.heartbeat_ticks = 30; }, "heartbeat"},
        {"no heartbeat", [](EngineConfig& c) { c.heartbeat_ticks = 0; }, "heartbeat"},
        {"zero window", [](EngineConfig& c) { c.max_inflight_messages = 0; }, "must be positive"},
        {"zero byte window", [](EngineConfig& c) { c.max_inflight_bytes = 0; }, "must be positive"},
        {"zero initial byte window", [](EngineConfig& c) { c.initial_inflight_bytes = 0; },
         "must be positive"},
        {"zero message size", [](EngineConfig& c) { c.max_message_bytes = 0; }, "must be positive"},
    };
    for (const Case& c : table) {
        EngineConfig broken = good;
        c.breaks(broken);
        BOOST_TEST(throws_with([&] { validate_engine_config(broken, "toy"); }, c.words), c.name);
    }
}

namespace {

struct Note {
    std::string text;
};

Bytes encode_note(const Note& n) {
    return Bytes(n.text.begin(), n.text.end());
}

}  // namespace

BOOST_AUTO_TEST_CASE(outbox_keeps_send_order_and_flags) {
    Outbox<Note> out;
    out.send(2, Note{"a"}, true);
    out.send(3, Note{"b"}, false);
    out.send(2, Note{"c"}, false);
    BOOST_TEST(out.size() == 3u);
    BOOST_TEST(out.pending()[1].message.text == "b");
    std::vector<Envelope> envelopes;
    out.take(envelopes, encode_note);
    BOOST_TEST(out.empty());
    BOOST_REQUIRE(envelopes.size() == 3u);
    BOOST_TEST(envelopes[0].to == 2u);
    BOOST_TEST(envelopes[0].after_persist);
    BOOST_TEST(std::string(envelopes[0].payload.begin(), envelopes[0].payload.end()) == "a");
    BOOST_TEST(envelopes[1].to == 3u);
    BOOST_TEST(!envelopes[1].after_persist);
    BOOST_TEST(std::string(envelopes[2].payload.begin(), envelopes[2].payload.end()) == "c");
}

BOOST_AUTO_TEST_CASE(outbox_packs_per_peer_and_flag_and_splits_at_the_size_bound) {
    Outbox<Note> out;
    out.send(2, Note{"aaa"}, true);
    out.send(3, Note{"x"}, true);
    out.send(2, Note{"bbb"}, true);
    out.send(2, Note{"ccc"}, true);         // 9 bytes would exceed 8: a second payload
    out.send(2, Note{"zz"}, false);         // another flag: another payload
    out.send(2, Note{"toolarge!"}, false);  // larger than the bound: alone
    std::vector<Envelope> envelopes;
    out.take_packed(envelopes, 8,
                    [](const Note& n, Bytes& b) { b.insert(b.end(), n.text.begin(), n.text.end()); });
    BOOST_TEST(out.empty());
    std::vector<std::string> got;
    for (const Envelope& e : envelopes)
        got.push_back(std::to_string(e.to) + (e.after_persist ? "P:" : "-:") +
                      std::string(e.payload.begin(), e.payload.end()));
    const std::vector<std::string> expected = {"2-:zz", "2-:toolarge!", "2P:aaabbb", "2P:ccc", "3P:x"};
    BOOST_TEST(got == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(forwarded_requests_expire_oldest_first_and_answer_once) {
    ForwardedRequests f(3);
    f.add(10, 5);
    f.add(11, 7);
    f.add(12, 7);
    BOOST_TEST(f.full());
    BOOST_TEST(f.answer(11));
    BOOST_TEST(!f.answer(11));  // answered twice: the second is ignored
    BOOST_TEST(!f.full());
    BOOST_TEST(f.expire(4).empty());
    BOOST_TEST(f.expire(5) == (std::vector<std::uint64_t>{10}), boost::test_tools::per_element());
    BOOST_TEST(!f.answer(10));  // a late answer to a request already given up
    BOOST_TEST(f.expire(9) == (std::vector<std::uint64_t>{12}), boost::test_tools::per_element());
    BOOST_TEST(f.size() == 0u);
}

BOOST_AUTO_TEST_CASE(forwarded_requests_re_added_id_keeps_its_new_deadline) {
    ForwardedRequests f(8);
    f.add(1, 5);
    BOOST_TEST(f.answer(1));
    f.add(1, 9);                      // the same id forwarded again later
    BOOST_TEST(f.expire(6).empty());  // the old deadline no longer applies
    BOOST_TEST(f.expire(9) == (std::vector<std::uint64_t>{1}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(forwarded_requests_take_all_gives_up_everything) {
    ForwardedRequests f(8);
    f.add(7, 1);
    f.add(3, 2);
    BOOST_TEST(f.take_all() == (std::vector<std::uint64_t>{3, 7}), boost::test_tools::per_element());
    BOOST_TEST(f.size() == 0u);
    BOOST_TEST(f.expire(100).empty());
}

namespace {

// A toy engine format: metadata is one u64, a record one string that must not be empty.
std::optional<std::uint64_t> decode_toy_metadata(std::span<const std::uint8_t> bytes, std::string* why) {
    Reader r(bytes);
    std::uint64_t v = r.u64();
    if (!finish(r, why)) return std::nullopt;
    return v;
}

std::optional<std::string> decode_toy_record(Index, std::span<const std::uint8_t> bytes, std::string* why) {
    Reader r(bytes);
    std::string s = r.str();
    if (r.ok() && s.empty()) r.fail("empty toy record");
    if (!finish(r, why)) return std::nullopt;
    return s;
}

Bytes toy_record(const std::string& s) {
    Bytes b;
    Writer(b).str(s);
    return b;
}

}  // namespace

BOOST_AUTO_TEST_CASE(persisted_codec_reports_why_bytes_do_not_decode) {
    PersistedCodec codec = persisted_codec<&decode_toy_metadata, &decode_toy_record>();
    Bytes eight(8, 0);
    BOOST_TEST(codec.check_metadata(eight) == "");
    BOOST_TEST(codec.check_metadata(Bytes(7, 0)) == "truncated");
    BOOST_TEST(codec.check_metadata(Bytes(9, 0)) == "trailing bytes");
    BOOST_TEST(codec.check_record(1, toy_record("v")) == "");
    BOOST_TEST(codec.check_record(1, toy_record("")) == "empty toy record");
}

BOOST_AUTO_TEST_CASE(decode_recovered_decodes_all_or_names_the_first_bad_record) {
    RecoveredState fresh;
    auto empty = decode_recovered<&decode_toy_metadata, &decode_toy_record>(fresh, "toy");
    BOOST_TEST(empty.metadata == 0u);
    BOOST_TEST(empty.records.empty());

    RecoveredState state;
    Writer(state.metadata).u64(42);
    state.records.push_back(LogRecord{1, toy_record("a")});
    state.records.push_back(LogRecord{3, toy_record("b")});
    auto got = decode_recovered<&decode_toy_metadata, &decode_toy_record>(state, "toy");
    BOOST_TEST(got.metadata == 42u);
    BOOST_TEST(got.records == (std::vector<std::string>{"a", "b"}), boost::test_tools::per_element());

    state.records.push_back(LogRecord{4, toy_record("")});
    BOOST_TEST(throws_with([&] { decode_recovered<&decode_toy_metadata, &decode_toy_record>(state, "toy"); },
                           "toy: persisted log record at index 4 does not decode: empty toy record"));
    RecoveredState bad_meta;
    bad_meta.metadata = Bytes(3, 0);
    BOOST_TEST(
        throws_with([&] { decode_recovered<&decode_toy_metadata, &decode_toy_record>(bad_meta, "toy"); },
                    "toy: persisted metadata does not decode: truncated"));
}

namespace {

// The lowest index a hold keeps, 0 for none.
Index floor_of(const CatchUpHolds& holds) {
    return holds.floor().value_or(0);
}

void tick_n(CatchUpHolds& holds, int n) {
    for (int i = 0; i < n; ++i)
        BOOST_TEST_REQUIRE(!holds.tick(), "a hold expired at tick " << i + 1 << " of " << n);
}

}  // namespace

// A hold keeps the first index the peer needs, follows the peer up, and ends once the peer is within
// `trailing` entries of this node's commit index, not merely above the node's current compaction
// floor: the next snapshot, at up to the commit index, would compact past a peer that is not.
BOOST_AUTO_TEST_CASE(catch_up_hold_follows_the_peer_and_ends_within_the_trailing_entries) {
    CatchUpHolds holds;
    BOOST_TEST(floor_of(holds) == 0u);
    holds.start(2, 100, 10);
    holds.start(3, 50, 10);
    BOOST_TEST(floor_of(holds) == 51u);
    BOOST_TEST(!holds.progressed(3, 80, 900, 500));  // moved up; lag 820 > 500
    BOOST_TEST(floor_of(holds) == 81u);
    BOOST_TEST(!holds.progressed(4, 900, 900, 500));  // no hold: no effect
    BOOST_TEST(!holds.progressed(3, 399, 900, 500));  // lag 501
    BOOST_TEST(holds.progressed(3, 400, 900, 500));   // lag 500: ended
    BOOST_TEST(floor_of(holds) == 101u);
    holds.start(2, 90, 10);  // an older report lowers nothing
    BOOST_TEST(floor_of(holds) == 101u);
    BOOST_TEST(holds.progressed(2, 1000, 900, 0));  // past the commit index: lag 0
    BOOST_TEST(holds.empty());
}

// A peer that reports nothing for `ticks` ticks (it went away again) loses its hold, and so does one
// whose reports do not gain on this node: the same index again, an older one, or progress slower
// than this node's commit index moves.
BOOST_AUTO_TEST_CASE(catch_up_hold_expires_unless_the_peer_gains) {
    CatchUpHolds holds;
    holds.start(2, 100, 10);
    BOOST_TEST(!holds.progressed(2, 150, 1000, 10));  // lag 850: the lowest yet, renewed
    tick_n(holds, 5);
    BOOST_TEST(!holds.progressed(2, 150, 1000, 10));  // the same index again
    BOOST_TEST(!holds.progressed(2, 120, 1000, 10));  // an older one
    BOOST_TEST(!holds.progressed(2, 200, 1100, 10));  // moved up 50 while 100 more committed
    BOOST_TEST(floor_of(holds) == 201u);              // it still moves the hold up
    tick_n(holds, 4);
    BOOST_TEST(holds.tick());  // 10 ticks since its lag was lowest
    BOOST_TEST(holds.empty());
    BOOST_TEST(floor_of(holds) == 0u);
}

// A peer that keeps closing in keeps its hold for as long as it takes, past any fixed deadline: a
// follower on a slow disk still replaying the log when `ticks` ticks have passed finishes from the
// log, not from a second snapshot.
BOOST_AUTO_TEST_CASE(catch_up_hold_renews_while_the_peer_gains) {
    CatchUpHolds holds;
    holds.start(2, 100, 10);
    Index committed = 10'000;
    Index acked = 100;
    for (int round = 0; round < 50; ++round) {  // 450 ticks, 45 times the first deadline
        tick_n(holds, 9);
        committed += 100;  // the writes go on...
        acked += 150;      // ...and the peer learns faster
        BOOST_TEST_REQUIRE(!holds.progressed(2, acked, committed, 10));
    }
    BOOST_TEST(floor_of(holds) == acked + 1);
    tick_n(holds, 9);
    BOOST_TEST(holds.tick());  // then silence: expired 10 ticks after the last gain
}

// What a hold keeps is bounded by the peer's lag, not by time: a peer that reports often but falls
// behind (slower than the writes) renews nothing, however much it moves up.
BOOST_AUTO_TEST_CASE(catch_up_hold_of_a_peer_slower_than_the_writes_expires) {
    CatchUpHolds holds;
    holds.start(2, 100, 10);
    BOOST_TEST(!holds.progressed(2, 110, 200, 10));  // lag 90
    Index committed = 200;
    Index acked = 110;
    for (int t = 1; t < 10; ++t) {
        committed += 20;
        acked += 10;
        BOOST_TEST(!holds.progressed(2, acked, committed, 10));
        BOOST_TEST_REQUIRE(!holds.tick(), "expired early, at tick " << t);
    }
    BOOST_TEST(holds.tick());
    BOOST_TEST(holds.empty());
}
