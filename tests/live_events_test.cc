// The live view's event hub (common/live_events.h): it never waits for a reader, makes nothing
// for nobody, and tells each reader what it missed.
#define BOOST_TEST_MODULE live_events
#include "common/live_events.h"

#include <boost/test/unit_test.hpp>

using namespace ballot;

BOOST_AUTO_TEST_CASE(the_first_reader_turns_events_on_and_the_last_one_off) {
    LiveEvents events;
    std::vector<bool> changes;
    events.set_on_active_changed([&](bool active) { changes.push_back(active); });
    auto a = events.subscribe({});
    auto b = events.subscribe({});
    events.unsubscribe(a);
    BOOST_TEST(events.active());
    events.unsubscribe(b);
    BOOST_TEST(!events.active());
    BOOST_TEST(changes == (std::vector<bool>{true, false}));
}

BOOST_AUTO_TEST_CASE(a_full_queue_drops_and_counts_instead_of_waiting) {
    LiveEvents events;
    int wakes = 0;
    auto reader = events.subscribe([&] { ++wakes; });
    for (std::size_t i = 0; i < LiveEvents::kMaxQueuedEvents + 10; ++i) events.publish("{}");
    BOOST_TEST(reader->queue.size() == LiveEvents::kMaxQueuedEvents);
    BOOST_TEST(reader->dropped == 10u);
    BOOST_TEST(wakes == 1);  // only when its queue stopped being empty
}

BOOST_AUTO_TEST_CASE(readers_are_bounded) {
    LiveEvents events;
    std::vector<std::shared_ptr<LiveEvents::Subscriber>> readers;
    for (std::size_t i = 0; i < LiveEvents::kMaxSubscribers; ++i) readers.push_back(events.subscribe({}));
    BOOST_TEST(events.subscribe({}) == nullptr);
}

BOOST_AUTO_TEST_CASE(a_sampling_reader_gets_counts_per_link_and_nobody_formats_for_nobody) {
    LiveEvents events;
    auto sampled = events.subscribe({}, /*max_messages_per_s=*/2);
    int formatted = 0;
    auto json = [&] {
        ++formatted;
        return std::string("{}");
    };
    for (int i = 0; i < 5; ++i) events.publish_message({1, 2}, json);
    events.publish_message({2, 1}, json);
    // Five messages and one more within a second: two taken, the rest counted by link (the
    // window is one second; nothing here takes that long).
    BOOST_TEST(sampled->queue.size() == 2u);
    BOOST_TEST(sampled->sampled_out.at({1, 2}) == 3u);
    BOOST_TEST(sampled->sampled_out.at({2, 1}) == 1u);
    BOOST_TEST(formatted == 2);  // not for the messages nobody took

    auto everything = events.subscribe({});
    events.publish_message({1, 3}, json);
    BOOST_TEST(everything->queue.size() == 1u);
    BOOST_TEST(formatted == 3);  // once, shared by every reader that takes it
}

BOOST_AUTO_TEST_CASE(events_are_json_with_the_structured_fields) {
    TracedMessage m{1, 2, /*sent=*/false, /*heartbeat=*/false, "AppendEntries term=3 \"quoted\""};
    const std::string json = message_event_json(m, 42);
    BOOST_TEST(json ==
               R"({"event":"message","node":1,"from":2,"to":1,"dir":"received","type":"AppendEntries",)"
               R"("heartbeat":false,"text":"AppendEntries term=3 \"quoted\"","time_ms":42})");
    BOOST_TEST(sampled_event_json(3, {{{3, 1}, 7}}) ==
               R"({"event":"sampled","node":3,"links":[{"from":3,"to":1,"count":7}]})");
    BOOST_TEST(m.line() == "n1 <- n2 AppendEntries term=3 \"quoted\"");
}
