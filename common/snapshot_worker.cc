#include "common/snapshot_worker.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

namespace ballot {

ThreadSnapshotWorker::ThreadSnapshotWorker(boost::asio::io_context& io)
    : io_(io), thread_([this] { loop(); }) {}

ThreadSnapshotWorker::~ThreadSnapshotWorker() { stop(); }

void ThreadSnapshotWorker::run(std::function<void()> work, std::function<void()> done) {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    jobs_.push_back(Job{std::move(work), std::move(done)});
    wake_.notify_one();
}

void ThreadSnapshotWorker::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
        stopped_->store(true);
        jobs_.clear();
        wake_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
}

void ThreadSnapshotWorker::loop() {
    // Background work yields the CPU to the request path: this thread (and only it: on Linux a
    // thread has its own nice value) runs kWorkerNice below the thread that started it (Linux
    // caps the value at 19). RocksDB lowers its compaction threads' priority for the same reason.
    // Lowering one's own priority needs no privilege; were it refused, the worker would run at
    // the runtime's priority, as it did before, so the result is not checked.
    const auto self = static_cast<id_t>(::gettid());
    errno = 0;
    const int inherited = ::getpriority(PRIO_PROCESS, self);
    if (errno == 0) (void)::setpriority(PRIO_PROCESS, self, inherited + kWorkerNice);
    for (;;) {
        Job job;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
            if (stopping_) return;
            job = std::move(jobs_.front());
            jobs_.pop_front();
        }
        // The io_context must not run out of work between the job and its completion.
        auto guard = boost::asio::make_work_guard(io_);
        job.work();
        // The completion may run after this worker is gone (the node stopped meanwhile): it
        // checks the shared flag, never `this`.
        boost::asio::post(io_, [stopped = stopped_, done = std::move(job.done), guard = std::move(guard)]() mutable {
            if (!stopped->load() && done) done();
        });
    }
}

}  // namespace ballot
