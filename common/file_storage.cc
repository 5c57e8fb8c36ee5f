// FileStorage: group commit on a background thread. See file_storage.h.
#include "common/file_storage.h"

#include <boost/asio/post.hpp>
#include <cassert>
#include <utility>

namespace ballot {

FileStorage::FileStorage(boost::asio::io_context& io, std::unique_ptr<LogStore> store)
    : io_(io), store_(std::move(store)) {
    assert(store_ != nullptr);
    durable_sequence_ = store_->durable_sequence();
    log_bytes_ = store_->log_bytes();
    thread_ = std::thread([this] { run(); });
}

FileStorage::~FileStorage() {
    close();
}

void FileStorage::write(const Ready& batch) {
    if (batch.needs_persist()) LogStore::encode(batch, pending_);
}

void FileStorage::flush(std::function<void(std::error_code)> done) {
    if (closed_) {
        boost::asio::post(
            io_, [done = std::move(done)] { done(std::make_error_code(std::errc::operation_canceled)); });
        return;
    }
    std::optional<Job>& waiting_inline = *inline_job_;
    if (waiting_inline) {
        // Join the flush waiting to run on this thread, as below.
        waiting_inline->records.insert(waiting_inline->records.end(), pending_.begin(), pending_.end());
        waiting_inline->done.push_back(std::move(done));
        pending_.clear();
        return;
    }
    {
        std::lock_guard lock(mutex_);
        if (flush_inline_ && !writing_ && queued_.empty()) {
            waiting_inline.emplace(Job{std::exchange(pending_, {}), {}, boost::asio::make_work_guard(io_)});
            waiting_inline->done.push_back(std::move(done));
            // After the handlers already queued: the frames this turn sent leave before the fsync.
            boost::asio::post(io_, [this, job = inline_job_] {
                if (*job) run_inline();  // else close() wrote it (and this may be gone)
            });
            return;
        }
        // Join the waiting flush if there is one: its records were written before ours, so
        // appending ours after them keeps the order, and one fsync covers both.
        if (queued_.size() == kMaxQueuedFlushes) {
            Job& waiting = queued_.back();
            waiting.records.insert(waiting.records.end(), pending_.begin(), pending_.end());
            waiting.done.push_back(std::move(done));
            pending_.clear();
            return;
        }
        queued_.push_back(Job{std::exchange(pending_, {}), {}, boost::asio::make_work_guard(io_)});
        queued_.back().done.push_back(std::move(done));
    }
    wake_.notify_one();
}

void FileStorage::run() {
    for (;;) {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !queued_.empty(); });
        if (queued_.empty()) return;  // stopping, and nothing left to write
        Job job = std::move(queued_.front());
        queued_.pop_front();
        writing_ = true;
        lock.unlock();

        std::error_code ec = write_job(job);
        lock.lock();
        writing_ = false;
        lock.unlock();
        post_done(std::move(job), ec);
    }
}

void FileStorage::post_done(Job job, std::error_code ec) {
    boost::asio::post(io_, [done = std::move(job.done), ec, work = std::move(job.work)]() mutable {
        for (auto& d : done) d(ec);
    });
}

FileStorage::Job FileStorage::take_inline_job() {
    Job job = std::move(**inline_job_);
    inline_job_->reset();
    return job;
}

std::error_code FileStorage::write_job(Job& job) {
    std::error_code ec = store_->write_durably(job.records);
    if (!ec) durable_sequence_.store(store_->durable_sequence(), std::memory_order_release);
    log_bytes_.store(store_->log_bytes(), std::memory_order_relaxed);
    return ec;
}

void FileStorage::run_inline() {
    Job job = take_inline_job();
    std::error_code ec = write_job(job);
    for (auto& d : job.done) d(ec);
}

void FileStorage::close() {
    if (closed_) return;
    closed_ = true;
    if (*inline_job_) {
        // Finished like a background flush: written now, `done` posted.
        Job job = take_inline_job();
        const std::error_code ec = write_job(job);
        post_done(std::move(job), ec);
    }
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
    store_.reset();
}

}  // namespace ballot
