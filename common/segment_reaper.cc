#include "common/segment_reaper.h"

#include <unistd.h>

#include <cerrno>

namespace ballot {

SegmentReaper::SegmentReaper(int dir_fd, Durability durability)
    : dir_fd_(dir_fd), durability_(durability), thread_([this] { loop(); }) {}

SegmentReaper::~SegmentReaper() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

void SegmentReaper::remove(std::vector<std::string> paths) {
    {
        std::lock_guard lock(mutex_);
        for (auto& p : paths) queue_.push_back(std::move(p));
    }
    wake_.notify_one();
}

void SegmentReaper::drain() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

std::error_code SegmentReaper::error() const {
    std::lock_guard lock(mutex_);
    return error_;
}

// Runs until stopped with nothing left to delete: a store being closed still deletes what it
// queued, as the inline deletion would have before returning.
void SegmentReaper::loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and nothing left
        std::string path = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
        const bool failed_before = static_cast<bool>(error_);
        lock.unlock();
        std::error_code ec;
        // After a failure nothing more is deleted: the files stay, a suffix as always.
        if (!failed_before) {
            if (::unlink(path.c_str()) != 0 && errno != ENOENT) ec = std::error_code(errno, std::generic_category());
            if (!ec) ec = sync_file(dir_fd_, durability_);
        }
        lock.lock();
        if (ec && !error_) error_ = ec;
        busy_ = false;
        if (queue_.empty()) idle_.notify_all();
    }
}

}  // namespace ballot
