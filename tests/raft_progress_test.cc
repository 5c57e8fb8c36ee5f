// Raft's per-follower flow control (raft/progress.h), on its own: the adaptive byte window. A
// follower far behind is streamed to one heartbeat interval at a time; it acknowledges everything
// sent in the interval before, and the leader's log grows by `written` entries per interval.
#define BOOST_TEST_MODULE raft_progress
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <vector>

#include "raft/progress.h"

using namespace ballot;
using ballot::raft::Progress;

namespace {

constexpr std::size_t kEntryBytes = 100;
constexpr std::size_t kMaxMessageBytes = 1 << 20;
constexpr std::size_t kInitialWindow = 1000;  // ten entries
constexpr std::size_t kMaxWindow = 8000;      // eighty entries

struct Stream {
    Progress pr{1, 256, kInitialWindow, kMaxWindow};
    Index leader_last = 1000;  // the leader's last index; the follower has nothing yet
    Index sent_through = 0;
    std::size_t largest_message = 0;

    Stream() {
        pr.sent(0, 0);     // an empty probe at (0, 0) ...
        pr.on_success(0);  // ... succeeds: replicate from 1
        BOOST_REQUIRE(pr.state() == Progress::State::replicate);
    }

    // One heartbeat interval: the follower acknowledges what it was sent, the leader sends what
    // the window allows, and `written` more entries are appended. Returns the window after it.
    std::size_t interval(Index written) {
        pr.on_success(sent_through);
        while (!pr.paused() && sent_through < leader_last) {
            const std::size_t bytes = pr.message_bytes(kMaxMessageBytes);
            largest_message = std::max(largest_message, bytes);
            const Index entries =
                std::min<Index>(std::max<std::size_t>(bytes / kEntryBytes, 1), leader_last - sent_through);
            sent_through += entries;
            pr.sent(sent_through, entries * kEntryBytes);
        }
        leader_last += written;
        BOOST_REQUIRE(!pr.on_heartbeat_interval(leader_last));  // nothing is taken as lost here
        return pr.window_bytes();
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(the_window_starts_small_and_messages_carry_half_of_it) {
    Stream s;
    BOOST_TEST(s.pr.window_bytes() == kInitialWindow);
    BOOST_TEST(s.pr.message_bytes(kMaxMessageBytes) == kInitialWindow / 2);
    BOOST_TEST(s.pr.message_bytes(300) == 300u);  // and never more than a message may hold
    s.interval(0);
    BOOST_TEST(s.largest_message == kInitialWindow / 2);
    BOOST_TEST(s.pr.inflight() == 2u);  // two in flight
    BOOST_TEST(s.pr.paused());
}

BOOST_AUTO_TEST_CASE(a_follower_that_does_not_gain_gets_a_doubled_window_until_it_does) {
    // 50 entries an interval are written; the window carries 10, 20, 40, then 80 entries an
    // interval. The first interval is not judged (there is no lag before it to compare with).
    Stream s;
    std::vector<std::size_t> windows;
    for (int i = 0; i < 8; ++i) windows.push_back(s.interval(50));
    const std::vector<std::size_t> expected{1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000};
    BOOST_TEST(windows == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_follower_that_gains_keeps_the_small_window) {
    Stream s;  // 5 entries an interval written, 10 sent: it gains
    for (int i = 0; i < 20; ++i) BOOST_TEST(s.interval(5) == kInitialWindow);
}

BOOST_AUTO_TEST_CASE(a_follower_that_keeps_pace_keeps_the_window_it_needs) {
    // 60 entries an interval written: the window grows to 80 entries, the follower closes in,
    // and then has 60 entries (three quarters of the window) in flight each interval. That is
    // not enough to fill the window, but too much to halve it: it keeps pace at the maximum.
    Stream s;
    std::size_t smallest_after_growth = kMaxWindow;
    bool grown = false;
    for (int i = 0; i < 80; ++i) {
        const std::size_t window = s.interval(60);
        grown = grown || window == kMaxWindow;
        if (grown) smallest_after_growth = std::min(smallest_after_growth, window);
    }
    BOOST_REQUIRE(grown);
    BOOST_TEST(smallest_after_growth == kMaxWindow);
    BOOST_TEST(s.leader_last - s.sent_through == 60u);  // caught up: one interval's writes behind
}

BOOST_AUTO_TEST_CASE(the_window_halves_back_to_the_start_once_it_is_less_than_half_used) {
    Stream s;
    for (int i = 0; i < 4; ++i) s.interval(50);
    BOOST_REQUIRE(s.pr.window_bytes() == kMaxWindow);
    // Writes stop: the follower closes in at 80 entries an interval, then is up to date.
    std::vector<std::size_t> windows{kMaxWindow};
    for (int i = 0; i < 40 && windows.back() != kInitialWindow; ++i) {
        const std::size_t window = s.interval(0);
        if (window != windows.back()) windows.push_back(window);
    }
    const std::vector<std::size_t> expected{8000, 4000, 2000, 1000};
    BOOST_TEST(windows == expected, boost::test_tools::per_element());
    BOOST_TEST(s.leader_last == s.sent_through);
}

BOOST_AUTO_TEST_CASE(an_interval_outside_replicate_is_not_judged) {
    Stream s;
    for (int i = 0; i < 2; ++i) s.interval(50);
    BOOST_REQUIRE(s.pr.window_bytes() == 2 * kInitialWindow);
    // A snapshot transfer: no streaming, so nothing to judge the window by; it keeps its size.
    s.pr.become_snapshot();
    BOOST_TEST(!s.pr.on_heartbeat_interval(s.leader_last + 500));
    BOOST_TEST(s.pr.window_bytes() == 2 * kInitialWindow);
}

BOOST_AUTO_TEST_CASE(an_initial_window_above_the_maximum_is_the_maximum) {
    Progress pr(1, 256, 4000, 1000);
    BOOST_TEST(pr.window_bytes() == 1000u);
}
