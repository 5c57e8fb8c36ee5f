#include "common/live_events.h"

#include <algorithm>
#include <chrono>

#include "common/node_report.h"

namespace ballot {

bool LiveEvents::Subscriber::wants_message(std::chrono::steady_clock::time_point now) {
    if (max_messages_per_s == 0) return true;
    if (now - window_start >= std::chrono::seconds(1)) {
        window_start = now;
        messages_in_window = 0;
    }
    return messages_in_window++ < max_messages_per_s;
}

std::shared_ptr<LiveEvents::Subscriber> LiveEvents::subscribe(std::function<void()> wake,
                                                              std::size_t max_messages_per_s) {
    if (subscribers_.size() >= kMaxSubscribers) return nullptr;
    auto subscriber = std::make_shared<Subscriber>();
    subscriber->wake = std::move(wake);
    subscriber->max_messages_per_s = max_messages_per_s;
    subscribers_.push_back(subscriber);
    if (subscribers_.size() == 1 && on_active_changed_) on_active_changed_(true);
    return subscriber;
}

void LiveEvents::unsubscribe(const std::shared_ptr<Subscriber>& subscriber) {
    const auto before = subscribers_.size();
    std::erase(subscribers_, subscriber);
    if (before > 0 && subscribers_.empty() && on_active_changed_) on_active_changed_(false);
}

namespace {

void enqueue(LiveEvents::Subscriber& s, const LiveEvents::Event& event) {
    if (s.queue.size() >= LiveEvents::kMaxQueuedEvents) {
        ++s.dropped;  // never wait for a slow reader
        return;
    }
    s.queue.push_back(event);
    if (s.queue.size() == 1 && s.wake) s.wake();
}

}  // namespace

void LiveEvents::publish(std::string json) {
    if (subscribers_.empty()) return;
    auto event = std::make_shared<const std::string>(std::move(json));
    for (auto& s : subscribers_) enqueue(*s, event);
}

void LiveEvents::publish_message(Link link, const std::function<std::string()>& json) {
    const auto now = std::chrono::steady_clock::now();
    Event event;
    for (auto& s : subscribers_) {
        if (!s->wants_message(now)) {
            ++s->sampled_out[link];
            continue;
        }
        if (!event) event = std::make_shared<const std::string>(json());
        enqueue(*s, event);
    }
}

std::string message_event_json(const TracedMessage& m, std::int64_t time_ms) {
    return "{\"event\":\"message\",\"node\":" + std::to_string(m.self) +
           ",\"from\":" + std::to_string(m.from()) + ",\"to\":" + std::to_string(m.to()) + ",\"dir\":\"" +
           (m.sent ? "sent" : "received") + "\",\"type\":" + json_string(m.type()) +
           ",\"heartbeat\":" + (m.heartbeat ? "true" : "false") + ",\"text\":" + json_string(m.what) +
           ",\"time_ms\":" + std::to_string(time_ms) + "}";
}

std::string state_event_json(NodeId node, const std::string& status_json, std::int64_t time_ms) {
    return "{\"event\":\"state\",\"node\":" + std::to_string(node) +
           ",\"time_ms\":" + std::to_string(time_ms) + ",\"status\":" + status_json + "}";
}

std::string dropped_event_json(NodeId node, std::uint64_t count) {
    return "{\"event\":\"dropped\",\"node\":" + std::to_string(node) + ",\"count\":" + std::to_string(count) +
           "}";
}

std::string sampled_event_json(NodeId node, const std::map<LiveEvents::Link, std::uint64_t>& skipped) {
    std::string links;
    for (auto& [link, count] : skipped)
        links += std::string(links.empty() ? "" : ",") + "{\"from\":" + std::to_string(link.first) +
                 ",\"to\":" + std::to_string(link.second) + ",\"count\":" + std::to_string(count) + "}";
    return "{\"event\":\"sampled\",\"node\":" + std::to_string(node) + ",\"links\":[" + links + "]}";
}

std::int64_t unix_time_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace ballot
