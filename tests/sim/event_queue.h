// The simulator's clock and agenda: events ordered by (time, sequence number), so two events due
// at the same simulated instant run in the order they were scheduled, every run alike.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

namespace ballot::sim {

class EventQueue {
public:
    using Action = std::function<void()>;

    std::uint64_t now_us() const { return now_us_; }
    std::uint64_t events_run() const { return events_run_; }
    std::size_t pending() const { return heap_.size(); }

    // Runs `action` at simulated time `time_us` (not before now).
    void at(std::uint64_t time_us, Action action) {
        heap_.push_back(Event{std::max(time_us, now_us_), next_seq_++, std::move(action)});
        std::push_heap(heap_.begin(), heap_.end(), Later{});
    }
    void after(std::uint64_t delay_us, Action action) { at(now_us_ + delay_us, std::move(action)); }

    // Advances time to the earliest event and runs it. False when nothing is left.
    bool run_next() {
        if (heap_.empty()) return false;
        std::pop_heap(heap_.begin(), heap_.end(), Later{});
        Event e = std::move(heap_.back());
        heap_.pop_back();
        now_us_ = e.time_us;
        ++events_run_;
        e.action();
        return true;
    }

private:
    struct Event {
        std::uint64_t time_us;
        std::uint64_t seq;
        Action action;
    };
    struct Later {
        bool operator()(const Event& a, const Event& b) const {
            return a.time_us != b.time_us ? a.time_us > b.time_us : a.seq > b.seq;
        }
    };

    std::vector<Event> heap_;
    std::uint64_t now_us_ = 0;
    std::uint64_t next_seq_ = 0;
    std::uint64_t events_run_ = 0;
};

}  // namespace ballot::sim
