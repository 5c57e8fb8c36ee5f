// FileStorage: the runtime's Storage on top of the log store. Encoding happens on the runtime's
// thread; the write and fdatasync happen on one dedicated background thread, so an fsync never
// blocks the io_context that serves peers and clients; completion is posted back to the
// io_context.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "common/log_store.h"
#include "common/storage.h"

namespace ballot {

// Threads: write(), flush() and close() are called on the runtime's thread (the one running
// `io`); the store itself is touched only by the background thread. Destroy (or close) a
// FileStorage before its io_context.
class FileStorage final : public Storage {
public:
    FileStorage(boost::asio::io_context& io, std::unique_ptr<LogStore> store);
    // close()
    ~FileStorage() override;

    FileStorage(const FileStorage&) = delete;
    FileStorage& operator=(const FileStorage&) = delete;

    // Runtime thread. Encodes the batch's records into the pending buffer.
    void write(const Ready& batch) override;

    // Runtime thread. Hands the pending buffer to the background thread; `done(ec)` runs on `io`
    // once it is durable (ec empty) or may not be (ec carries the errno; the store is then failed
    // and every later flush fails too). The io_context does not run out of work while a flush is
    // in flight. The runtime keeps one flush in flight; should a second come while one is being
    // written, it waits for it, and further ones join the waiting one (one write and fsync for
    // them all), so at most kMaxQueuedFlushes buffers are ever waiting.
    void flush(std::function<void(std::error_code)> done) override;

    // Runtime thread. Finishes the flushes already requested (their `done` are still posted),
    // stops the background thread and closes the store, releasing the data dir's lock. Later
    // flushes fail with operation_canceled. Idempotent.
    void close();

    static constexpr std::size_t kMaxQueuedFlushes = 1;

    // Any thread. The sequence of the last durable record (LogStore::durable_sequence()): the
    // data dir's high-water mark, which only grows while the node runs.
    std::uint64_t durable_sequence() const { return durable_sequence_.load(std::memory_order_acquire); }
    // Any thread. Bytes of the log on disk (LogStore::log_bytes()), as of the last flush: grows
    // with writes, shrinks when compaction deletes segments.
    std::uint64_t log_bytes() const { return log_bytes_.load(std::memory_order_relaxed); }

private:
    using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
    struct Job {
        Bytes records;
        std::vector<std::function<void(std::error_code)>> done;
        WorkGuard work;  // keeps io_'s run() going until `done` has been posted and run
    };

    void run();  // the background thread

    boost::asio::io_context& io_;
    Bytes pending_;        // runtime thread only
    bool closed_ = false;  // runtime thread only

    std::mutex mutex_;
    std::condition_variable wake_;
    // Guarded by mutex_: flushes requested but not yet taken by the background thread.
    std::deque<Job> queued_;
    bool stopping_ = false;

    std::unique_ptr<LogStore> store_;  // background thread only, until close() joins it
    std::atomic<std::uint64_t> durable_sequence_{0};
    std::atomic<std::uint64_t> log_bytes_{0};
    std::thread thread_;
};

}  // namespace ballot
