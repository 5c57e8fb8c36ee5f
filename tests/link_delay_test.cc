// The link delay stage's rule (common/link_delay.h), as a pure function of send times and jitter
// draws: no clock, no sockets, no sleeps. The transport feeds DelayLine the same way.
#define BOOST_TEST_MODULE link_delay
#include "common/link_delay.h"

#include <boost/test/unit_test.hpp>

using namespace ballot;
using namespace std::chrono_literals;
using Clock = DelayLine::Clock;

namespace {

// Milliseconds after an arbitrary origin, and back.
Clock::time_point at_ms(double ms) {
    return Clock::time_point{} + std::chrono::microseconds(static_cast<std::int64_t>(ms * 1000));
}
double ms_of(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(t.time_since_epoch()).count();
}

LinkDelay delay(std::uint32_t ms, std::uint32_t jitter_ms = 0) {
    return LinkDelay{ms, jitter_ms};
}

}  // namespace

BOOST_AUTO_TEST_CASE(without_jitter_every_frame_arrives_exactly_the_delay_later) {
    DelayLine line(delay(20));
    for (double sent : {0.0, 0.5, 3.0, 100.0, 100.0, 250.25})
        BOOST_TEST(ms_of(line.due(at_ms(sent), 0us)) == sent + 20);
}

BOOST_AUTO_TEST_CASE(jitter_moves_a_frame_within_plus_or_minus_the_bound) {
    DelayLine line(delay(20, 5));
    BOOST_TEST(ms_of(line.due(at_ms(0), -5ms)) == 15.0);
    BOOST_TEST(ms_of(line.due(at_ms(100), 5ms)) == 125.0);
    BOOST_TEST(ms_of(line.due(at_ms(200), 1500us)) == 221.5);
    // A draw outside the bound is clamped to it, never beyond.
    BOOST_TEST(ms_of(line.due(at_ms(300), 40ms)) == 325.0);
    BOOST_TEST(ms_of(line.due(at_ms(400), -40ms)) == 415.0);
}

// TCP does not reorder a connection's bytes: a frame that drew a shorter delay than the frame
// before it waits for that one, and then goes right after it.
BOOST_AUTO_TEST_CASE(a_frame_never_overtakes_the_one_sent_before_it) {
    DelayLine line(delay(20, 10));
    // Sent at 0 with +10 (due 30); sent at 1 with -10 (its own 11): held until 30.
    BOOST_TEST(ms_of(line.due(at_ms(0), 10ms)) == 30.0);
    BOOST_TEST(ms_of(line.due(at_ms(1), -10ms)) == 30.0);
    BOOST_TEST(ms_of(line.due(at_ms(2), -10ms)) == 30.0);
    // Once the line has drained past, a frame gets its own time again.
    BOOST_TEST(ms_of(line.due(at_ms(50), -10ms)) == 60.0);
}

BOOST_AUTO_TEST_CASE(due_times_never_decrease_along_a_line) {
    DelayLine line(delay(30, 30));
    double previous = 0;
    // A deterministic zig-zag of draws across the whole jitter range, frames 1 ms apart.
    for (int i = 0; i < 1000; ++i) {
        const auto jitter = std::chrono::microseconds(((i * 7919) % 60001) - 30000);
        const double due = ms_of(line.due(at_ms(i), jitter));
        BOOST_TEST(due >= previous);
        BOOST_TEST(due >= i);              // never delivered before it was sent
        BOOST_TEST(due <= i + 60 + 1e-9);  // at most delay + jitter, or the one before it
        previous = due;
    }
}

BOOST_AUTO_TEST_CASE(parses_ms_and_ms_colon_jitter) {
    std::string error;
    auto d = parse_link_delay("20", error);
    BOOST_TEST_REQUIRE(d.has_value(), error);
    BOOST_TEST(d->delay_ms == 20u);
    BOOST_TEST(d->jitter_ms == 0u);
    BOOST_TEST(d->enabled());
    BOOST_TEST(d->str() == "20 ms");
    d = parse_link_delay("20:5", error);
    BOOST_TEST_REQUIRE(d.has_value(), error);
    BOOST_TEST(d->jitter_ms == 5u);
    BOOST_TEST(d->str() == "20 ms +- 5 ms");
    d = parse_link_delay("0", error);
    BOOST_TEST_REQUIRE(d.has_value(), error);
    BOOST_TEST(!d->enabled());
    d = parse_link_delay("10000:10000", error);
    BOOST_TEST(d.has_value(), error);
}

BOOST_AUTO_TEST_CASE(hostile_values_are_refused_with_a_reason) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"", "not a whole number"},         {"-5", "not a whole number"},
        {"fast", "not a whole number"},     {"20ms", "not a whole number"},
        {"2.5", "not a whole number"},      {" 20", "not a whole number"},
        {"20:", "not a whole number"},      {":5", "not a whole number"},
        {"20:-1", "not a whole number"},    {"20:5:1", "not a whole number"},
        {"10001", "more than 10000 ms"},    {"99999999999999999999999", "more than 10000 ms"},
        {"20:10001", "more than 10000 ms"}, {"10:20", "larger than the delay"},
    };
    for (const auto& [text, reason] : cases) {
        std::string error;
        BOOST_TEST(!parse_link_delay(text, error).has_value(), text);
        BOOST_TEST(error.find("--link-delay") != std::string::npos, text << ": " << error);
        BOOST_TEST(error.find(reason) != std::string::npos, text << ": " << error);
    }
}
