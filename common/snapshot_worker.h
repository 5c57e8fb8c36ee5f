// Where snapshot file I/O runs: off the runtime's thread, so that writing, reading and fsyncing a
// snapshot never delays a heartbeat, and off the log's fsync thread, so that it never delays a
// log fsync either (etcd#2370: snapshot reads starving WAL fsyncs into leader churn).
//
// Jobs run one at a time, in the order they were submitted; each one's `done` then runs on the
// runtime's thread. The snapshot code relies on that order: a file is created, appended to and
// committed by jobs submitted in that order, so they need no locks.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace ballot {

class SnapshotWorker {
public:
    virtual ~SnapshotWorker() = default;
    // Runs `work` in the background after every job submitted before it, then `done` on the
    // runtime's thread. A worker that is stopped (the node is shutting down, or the simulated
    // process crashed) runs neither.
    virtual void run(std::function<void()> work, std::function<void()> done) = 0;
};

// The real one: a thread of its own, completions posted to the node's io_context.
class ThreadSnapshotWorker final : public SnapshotWorker {
public:
    // How far below the runtime's CPU priority the worker thread runs, in nice steps (nice 0 is
    // the default, 19 the lowest priority). The worker decodes the snapshots peers send and writes
    // and fsyncs every snapshot file; at the runtime's priority that work competed with the
    // request path for the CPU and raised write p99 while a follower caught up
    // (ballot-bench --fail-follower-for).
    static constexpr int kWorkerNice = 10;

    explicit ThreadSnapshotWorker(boost::asio::io_context& io);
    // stop()
    ~ThreadSnapshotWorker() override;
    void run(std::function<void()> work, std::function<void()> done) override;
    // Finishes the job in progress, drops the rest and joins the thread. Idempotent.
    void stop();

private:
    struct Job {
        std::function<void()> work;
        std::function<void()> done;
    };
    void loop();

    boost::asio::io_context& io_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Job> jobs_;
    bool stopping_ = false;
    std::shared_ptr<std::atomic<bool>> stopped_ = std::make_shared<std::atomic<bool>>(false);
    std::thread thread_;
};

}  // namespace ballot
