#include "common/segment_reaper.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace ballot {

namespace {

std::error_code errno_code() {
    return std::error_code(errno, std::generic_category());
}

bool ends_with_doomed_suffix(const std::string& name) {
    const std::string suffix = kDoomedSuffix;
    return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::error_code remove_doomed_segments(const std::string& dir) {
    std::error_code ec;
    for (const auto& item : std::filesystem::directory_iterator(dir, ec)) {
        if (!ends_with_doomed_suffix(item.path().filename().string())) continue;
        if (::unlink(item.path().c_str()) != 0 && errno != ENOENT) return errno_code();
    }
    return ec == std::errc::no_such_file_or_directory ? std::error_code{} : ec;
}

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
        if (!failed_before) ec = delete_segment(path);
        lock.lock();
        if (ec && !error_) error_ = ec;
        busy_ = false;
        if (queue_.empty()) idle_.notify_all();
    }
}

std::error_code SegmentReaper::delete_segment(const std::string& path) const {
    const std::string doomed = path + kDoomedSuffix;
    if (::rename(path.c_str(), doomed.c_str()) != 0) return errno == ENOENT ? std::error_code{} : errno_code();
    if (auto ec = sync_file(dir_fd_, durability_)) return ec;  // out of the log, in order
    const int fd = ::open(doomed.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno_code();
    std::error_code ec;
    struct stat st {};
    if (::fstat(fd, &st) != 0) ec = errno_code();
    for (off_t size = ec ? 0 : st.st_size; size > 0;) {
        size = size > kShrinkStepBytes ? size - kShrinkStepBytes : 0;
        if (::ftruncate(fd, size) != 0) {
            ec = errno_code();
            break;
        }
        if (size > 0) ::usleep(kShrinkPauseMicros);
    }
    ::close(fd);
    if (ec) return ec;
    // No directory fsync: if a crash brings this name back, opening the store deletes it.
    if (::unlink(doomed.c_str()) != 0 && errno != ENOENT) return errno_code();
    return {};
}

}  // namespace ballot
