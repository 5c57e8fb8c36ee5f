// The live view's event stream (GET /events, common/live_view.h): one JSON object per protocol
// message this node sends or receives (the points --trace hooks) and per change of its state.
//
// The stream must never slow consensus. Events are made only while someone subscribes (the node
// installs its trace hook then, and removes it when the last one leaves, so with nobody watching
// no message is even described); each event is formatted once and shared; and every subscriber
// has a bounded queue: when a slow reader lets it fill, new events are dropped and counted, and
// the reader is told how many it missed. Nothing here ever waits for a reader. A reader may also
// ask for at most N protocol messages a second (a page under load): the rest are only counted
// per link, and not even formatted if no reader wants them.
//
// Single-threaded: every call comes from the node's io_context thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/driver.h"

namespace ballot {

class LiveEvents {
public:
    // Events a subscriber may have waiting; beyond it new ones are dropped (and counted).
    static constexpr std::size_t kMaxQueuedEvents = 4096;
    // Subscribers at once (pages open on this node); one more is refused.
    static constexpr std::size_t kMaxSubscribers = 32;

    using Event = std::shared_ptr<const std::string>;
    using Link = std::pair<NodeId, NodeId>;  // (from, to)
    struct Subscriber {
        std::deque<Event> queue;
        std::uint64_t dropped = 0;   // since the reader last took its queue
        std::function<void()> wake;  // called when the queue goes from empty to not empty
        // Sampling (0: every message): messages beyond this many a second are counted per link
        // in `sampled_out` instead of queued.
        std::size_t max_messages_per_s = 0;
        std::chrono::steady_clock::time_point window_start;
        std::size_t messages_in_window = 0;
        std::map<Link, std::uint64_t> sampled_out;  // since the reader last took its queue

        bool wants_message(std::chrono::steady_clock::time_point now);
    };

    // A new subscriber, or nullptr if there are kMaxSubscribers already.
    std::shared_ptr<Subscriber> subscribe(std::function<void()> wake, std::size_t max_messages_per_s = 0);
    void unsubscribe(const std::shared_ptr<Subscriber>& subscriber);
    bool active() const { return !subscribers_.empty(); }
    std::size_t subscribers() const { return subscribers_.size(); }

    // Queues `json` for every subscriber (a no-op with none).
    void publish(std::string json);
    // A protocol message on `link`: `json()` is called (once) only if some subscriber takes it.
    void publish_message(Link link, const std::function<std::string()>& json);
    // Called when the first subscriber arrives (true) and when the last one leaves (false).
    void set_on_active_changed(std::function<void(bool)> callback) {
        on_active_changed_ = std::move(callback);
    }

private:
    std::vector<std::shared_ptr<Subscriber>> subscribers_;
    std::function<void(bool)> on_active_changed_;
};

// {"event":"message","node":1,"from":1,"to":2,"dir":"sent","type":"AppendEntries",
//  "heartbeat":false,"text":"AppendEntries term=3 ...","time_ms":...}
std::string message_event_json(const TracedMessage& m, std::int64_t time_ms);
// {"event":"state","node":1,"time_ms":...,"status":<GET /status's object>}
std::string state_event_json(NodeId node, const std::string& status_json, std::int64_t time_ms);
// {"event":"dropped","node":1,"count":N}: the reader missed N events (its queue was full).
std::string dropped_event_json(NodeId node, std::uint64_t count);
// {"event":"sampled","node":1,"links":[{"from":1,"to":2,"count":N},...]}: messages left out
// because the reader asked for at most so many a second.
std::string sampled_event_json(NodeId node, const std::map<LiveEvents::Link, std::uint64_t>& skipped);

// Milliseconds since the Unix epoch: events carry wall-clock time so that a page can order the
// events of several nodes (on one machine) roughly.
std::int64_t unix_time_ms();

}  // namespace ballot
