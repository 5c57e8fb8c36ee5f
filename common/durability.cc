#include "common/durability.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace ballot {

namespace {

std::atomic<std::uint64_t> sync_calls{0};

std::error_code result_of(int rc) {
    return rc == 0 ? std::error_code{} : std::error_code(errno, std::generic_category());
}

}  // namespace

std::error_code sync_file(int fd, Durability durability) {
    if (durability == Durability::unsafe_no_fsync) return {};
    sync_calls.fetch_add(1, std::memory_order_relaxed);
    return result_of(::fsync(fd));
}

std::error_code sync_data(int fd, Durability durability) {
    if (durability == Durability::unsafe_no_fsync) return {};
    sync_calls.fetch_add(1, std::memory_order_relaxed);
    return result_of(::fdatasync(fd));
}

std::uint64_t sync_calls_made() {
    return sync_calls.load(std::memory_order_relaxed);
}

}  // namespace ballot
