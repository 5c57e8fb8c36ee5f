#include "tests/sim/sim_snapshots.h"

#include <algorithm>
#include <cstring>

namespace ballot::sim {

namespace {

class SimWritable final : public SnapshotDir::WritableFile {
public:
    explicit SimWritable(std::shared_ptr<SimSnapshotDir::Inode> inode) : inode_(std::move(inode)) {}
    std::error_code append(std::span<const std::uint8_t> bytes) override {
        inode_->data.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        return {};
    }
    std::error_code sync() override {
        inode_->synced = inode_->data.size();
        return {};
    }

private:
    std::shared_ptr<SimSnapshotDir::Inode> inode_;
};

class SimReadable final : public SnapshotDir::ReadableFile {
public:
    explicit SimReadable(std::shared_ptr<SimSnapshotDir::Inode> inode) : inode_(std::move(inode)) {}
    std::uint64_t size() const override { return inode_->data.size(); }
    std::error_code read(std::uint64_t offset, std::span<std::uint8_t> into, std::size_t& got) override {
        const std::string& d = inode_->data;
        got = offset >= d.size() ? 0 : std::min<std::size_t>(into.size(), d.size() - offset);
        if (got > 0) std::memcpy(into.data(), d.data() + offset, got);
        return {};
    }

private:
    std::shared_ptr<SimSnapshotDir::Inode> inode_;
};

std::error_code not_found() {
    return std::make_error_code(std::errc::no_such_file_or_directory);
}

}  // namespace

std::error_code SimSnapshotDir::list(std::vector<std::string>& names) {
    names.clear();
    for (auto& [name, inode] : names_) names.push_back(name);
    return {};
}

std::error_code SimSnapshotDir::create(const std::string& name, std::unique_ptr<WritableFile>& out) {
    auto inode = std::make_shared<Inode>();
    names_[name] = inode;
    out = std::make_unique<SimWritable>(inode);
    return {};
}

std::error_code SimSnapshotDir::open(const std::string& name, std::unique_ptr<ReadableFile>& out) {
    auto it = names_.find(name);
    if (it == names_.end()) return not_found();
    out = std::make_unique<SimReadable>(it->second);
    return {};
}

std::error_code SimSnapshotDir::rename(const std::string& from, const std::string& to) {
    auto it = names_.find(from);
    if (it == names_.end()) return not_found();
    auto inode = it->second;
    names_.erase(it);
    names_[to] = inode;
    return {};
}

std::error_code SimSnapshotDir::remove(const std::string& name) {
    return names_.erase(name) == 1 ? std::error_code{} : not_found();
}

std::error_code SimSnapshotDir::sync() {
    durable_ = names_;
    return {};
}

std::size_t SimSnapshotDir::crash(bool torn, Rng& rng) {
    std::size_t kept_unsynced = 0;
    names_.clear();
    for (auto& [name, inode] : durable_) {
        // A fresh inode per surviving name: the dead process's open files are gone.
        auto survived = std::make_shared<Inode>();
        std::size_t keep = inode->synced;
        if (torn && inode->data.size() > keep && rng.chance(1, 2)) {
            keep = rng.between(keep, inode->data.size());
            if (keep > inode->synced) ++kept_unsynced;
        }
        survived->data = inode->data.substr(0, keep);
        survived->synced = keep;
        names_[name] = survived;
    }
    durable_ = names_;
    return kept_unsynced;
}

std::optional<std::string> SimSnapshotDir::content(const std::string& name) const {
    auto it = names_.find(name);
    if (it == names_.end()) return std::nullopt;
    return it->second->data;
}

void SimSnapshotWorker::run(std::function<void()> work, std::function<void()> done) {
    free_at_us_ = std::max(free_at_us_, queue_.now_us()) + rng_.between(min_us_, max_us_);
    const std::uint64_t id = next_id_++;
    pending_[id] = Job{std::move(work), std::move(done)};
    queue_.at(free_at_us_, [this, id] {
        if (!pending_.contains(id)) return;  // died with a crash
        gate_([this, id] {
            auto it = pending_.find(id);
            if (it == pending_.end()) return;
            Job job = std::move(it->second);
            pending_.erase(it);
            job.work();
            if (job.done) job.done();
        });
    });
}

void SimSnapshotWorker::crash() {
    for (auto& [id, job] : pending_) dead_.push_back(std::move(job));
    pending_.clear();
}

}  // namespace ballot::sim
