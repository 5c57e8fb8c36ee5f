// FileStorage: the runtime's Storage on top of the log store. Encoding happens on the runtime's
// thread; the write and fdatasync happen on one dedicated background thread, so an fsync never
// blocks the io_context that serves peers and clients; completion is posted back to the
// io_context.
//
// Or, when the runtime asks (set_flush_on_runtime_thread: a Raft or Multi-Paxos follower), on
// the runtime's own thread, in a handler posted to `io` after the ones already queued. A
// follower's turn is: take the leader's entries, make them durable, answer; it has little else to
// do meanwhile, and a hand-off to the background thread and back costs it about four context
// switches per batch. Measured on this project's 2-core VM with redis-benchmark -c 32 through
// a Raft leader: 16,500 -> 18,000 SETs/s (five runs each, alternated). A leader keeps the
// background thread: it must read client requests and acknowledgements while its fsync runs (all
// flushes inline made the same run 20% slower).
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
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
    // in flight. The runtime asks for a flush whenever it has written something, with others still
    // in flight (Driver::start_flush): one asked for while another is being written waits for it,
    // and further ones join the waiting one (one write and fsync for them all), so at most
    // kMaxQueuedFlushes buffers are ever waiting and the next fsync starts as the previous ends.
    // Flushes complete in the order they were asked for.
    void flush(std::function<void(std::error_code)> done) override;

    // Runtime thread. Whether later flushes run on the runtime's thread (above). A flush runs
    // there only if the background thread has none in hand, so the store is never touched by
    // both threads at once, and flushes still complete in the order they were asked for.
    void set_flush_on_runtime_thread(bool on) { flush_inline_ = on; }

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
    // Runtime thread: writes the inline job, if close() has not taken it, and calls its `done`.
    void run_inline();
    // Writes `job` durably and updates the atomics below: on the background thread, or on the
    // runtime thread when no background job is in hand.
    std::error_code write_job(Job& job);
    // Posts `job.done(ec)` to the io_context (holding the io_context's work until it has run).
    void post_done(Job job, std::error_code ec);
    // Runtime thread: the inline job, leaving none behind.
    Job take_inline_job();

    boost::asio::io_context& io_;
    Bytes pending_;        // runtime thread only
    bool closed_ = false;  // runtime thread only
    bool flush_inline_ = false;  // runtime thread only: set_flush_on_runtime_thread
    // Runtime thread only: a flush posted to run on the runtime thread and not run yet (later
    // flushes join it). Shared with the posted handler, which finds it empty once close() ran it.
    std::shared_ptr<std::optional<Job>> inline_job_ = std::make_shared<std::optional<Job>>();

    std::mutex mutex_;
    std::condition_variable wake_;
    // Guarded by mutex_: flushes requested but not yet taken by the background thread.
    std::deque<Job> queued_;
    bool writing_ = false;  // the background thread holds a job it has not finished writing
    bool stopping_ = false;

    std::unique_ptr<LogStore> store_;  // background thread only, until close() joins it
    std::atomic<std::uint64_t> durable_sequence_{0};
    std::atomic<std::uint64_t> log_bytes_{0};
    std::thread thread_;
};

}  // namespace ballot
