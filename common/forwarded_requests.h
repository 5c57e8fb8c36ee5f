// Requests this node passed to another node and still awaits an answer for: a follower's read
// forwarded to its leader (Raft §6.4 "reads from followers"; the Multi-Paxos equivalent).
//
// The request or its answer can be lost, and the leader can change or die, so every request has
// a deadline; one not answered by then is given up and reported to the runtime as failed, which
// retries it. Never answered twice: once given up, a late answer is ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <utility>
#include <vector>

namespace ballot {

class ForwardedRequests {
public:
    explicit ForwardedRequests(std::size_t limit) : limit_(limit) {}

    // At `limit` requests waiting, a new one must be refused at once (bounded memory).
    bool full() const { return waiting_.size() >= limit_; }
    std::size_t size() const { return waiting_.size(); }
    std::size_t limit() const { return limit_; }

    // Deadlines must not decrease from one add to the next (they are `now + a fixed timeout`).
    void add(std::uint64_t id, std::uint64_t deadline) {
        waiting_[id] = deadline;
        order_.emplace_back(id, deadline);
    }

    // The answer to `id` arrived: true if it was still waited for (it is now forgotten).
    bool answer(std::uint64_t id) { return waiting_.erase(id) != 0; }

    // Gives up every request whose deadline is at or before `now`; returns their ids, oldest first.
    std::vector<std::uint64_t> expire(std::uint64_t now) {
        std::vector<std::uint64_t> expired;
        while (!order_.empty()) {
            const auto [id, deadline] = order_.front();
            auto it = waiting_.find(id);
            const bool waiting = it != waiting_.end() && it->second == deadline;
            if (waiting && deadline > now) break;
            order_.pop_front();  // answered already, or expired now
            if (waiting) {
                waiting_.erase(it);
                expired.push_back(id);
            }
        }
        return expired;
    }

    // Gives up every request (the node they went to is no longer the one to ask); ascending ids.
    std::vector<std::uint64_t> take_all() {
        std::vector<std::uint64_t> ids;
        ids.reserve(waiting_.size());
        for (const auto& [id, deadline] : waiting_) ids.push_back(id);
        waiting_.clear();
        order_.clear();
        return ids;
    }

private:
    std::size_t limit_;
    std::map<std::uint64_t, std::uint64_t> waiting_;             // id -> deadline
    std::deque<std::pair<std::uint64_t, std::uint64_t>> order_;  // (id, deadline), as added
};

}  // namespace ballot
