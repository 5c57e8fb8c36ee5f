#include "common/durability.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <thread>

namespace ballot {

namespace {

std::atomic<std::uint64_t> sync_calls{0};
std::atomic<std::uint32_t> slow_factor{1};

std::error_code result_of(int rc) {
    return rc == 0 ? std::error_code{} : std::error_code(errno, std::generic_category());
}

// Runs one call that waits on the disk, then sleeps as --slow-disk-factor asks (errno is read
// before the sleep).
template <typename Wait>
std::error_code slowed(Wait sync) {
    const std::uint32_t factor = slow_factor.load(std::memory_order_relaxed);
    if (factor <= 1) return result_of(sync());
    const auto start = std::chrono::steady_clock::now();
    const std::error_code ec = result_of(sync());
    std::this_thread::sleep_for(slow_disk_delay(std::chrono::steady_clock::now() - start, factor));
    return ec;
}

// The same, for an fsync or fdatasync, counted.
template <typename Sync>
std::error_code timed_sync(Sync sync) {
    sync_calls.fetch_add(1, std::memory_order_relaxed);
    return slowed(sync);
}

}  // namespace

std::error_code sync_file(int fd, Durability durability) {
    if (durability == Durability::unsafe_no_fsync) return {};
    return timed_sync([fd] { return ::fsync(fd); });
}

std::error_code sync_data(int fd, Durability durability) {
    if (durability == Durability::unsafe_no_fsync) return {};
    return timed_sync([fd] { return ::fdatasync(fd); });
}

std::error_code write_behind(int fd, std::uint64_t end, Durability durability) {
    if (durability == Durability::unsafe_no_fsync || end == 0) return {};
    return slowed([fd, end] {
        return ::sync_file_range(fd, 0, static_cast<off64_t>(end),
                                 SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE);
    });
}

std::uint64_t sync_calls_made() {
    return sync_calls.load(std::memory_order_relaxed);
}

void set_slow_disk_factor(std::uint32_t factor) {
    slow_factor.store(std::clamp<std::uint32_t>(factor, 1, kMaxSlowDiskFactor), std::memory_order_relaxed);
}

std::uint32_t slow_disk_factor() {
    return slow_factor.load(std::memory_order_relaxed);
}

std::chrono::nanoseconds slow_disk_delay(std::chrono::nanoseconds took, std::uint32_t factor) {
    if (factor <= 1 || took.count() <= 0) return std::chrono::nanoseconds{0};
    return took * (factor - 1);
}

}  // namespace ballot
