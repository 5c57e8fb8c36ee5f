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
    {
        std::lock_guard lock(mutex_);
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
        lock.unlock();

        std::error_code ec = store_->write_durably(job.records);
        if (!ec) durable_sequence_.store(store_->durable_sequence(), std::memory_order_release);
        log_bytes_.store(store_->log_bytes(), std::memory_order_relaxed);
        boost::asio::post(io_, [done = std::move(job.done), ec, work = std::move(job.work)]() mutable {
            for (auto& d : done) d(ec);
        });
    }
}

void FileStorage::close() {
    if (closed_) return;
    closed_ = true;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
    store_.reset();
}

}  // namespace ballot
