// The simulator's snapshot storage: a SnapshotDir (common/snapshot_file.h) that is only as
// durable as fsync makes it, and a SnapshotWorker (common/snapshot_worker.h) whose jobs take
// simulated time and die with the process.
//
// SimSnapshotDir models a POSIX directory the way a crash sees it: file contents are durable up
// to the last WritableFile::sync(); names (creations, renames, removals) are durable at the last
// directory sync(). crash() throws away everything else, except that with `torn` a random part
// of a file's unsynced bytes may survive (the page cache wrote some of it back). A file opened for
// reading stays readable after it is renamed over or removed, as an open descriptor does.
//
// SimSnapshotWorker runs each job after a random delay, in order, on the node's gate (so a paused
// node's jobs wait). crash() drops every job not yet run: the thread died with the process.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/random.h"
#include "common/snapshot_file.h"
#include "common/snapshot_worker.h"
#include "tests/sim/event_queue.h"

namespace ballot::sim {

class SimSnapshotDir final : public SnapshotDir {
public:
    explicit SimSnapshotDir(std::string path) : path_(std::move(path)) {}

    const std::string& path() const override { return path_; }
    std::error_code list(std::vector<std::string>& names) override;
    std::error_code create(const std::string& name, std::unique_ptr<WritableFile>& out) override;
    std::error_code open(const std::string& name, std::unique_ptr<ReadableFile>& out) override;
    std::error_code rename(const std::string& from, const std::string& to) override;
    std::error_code remove(const std::string& name) override;
    std::error_code sync() override;

    // Power loss. Returns how many files kept some unsynced bytes (torn).
    std::size_t crash(bool torn, Rng& rng);
    // The whole content of a file as written (for the invariant checkers); nullopt if absent.
    std::optional<std::string> content(const std::string& name) const;

    struct Inode {
        std::string data;
        std::size_t synced = 0;  // bytes durable
    };

private:
    std::string path_;
    std::map<std::string, std::shared_ptr<Inode>> names_;    // as the running process sees them
    std::map<std::string, std::shared_ptr<Inode>> durable_;  // as they would survive a crash
};

class SimSnapshotWorker final : public SnapshotWorker {
public:
    using Gate = std::function<void(std::function<void()>)>;
    SimSnapshotWorker(EventQueue& queue, std::uint64_t seed, std::uint64_t min_us, std::uint64_t max_us,
                      Gate gate)
        : queue_(queue), rng_(seed), min_us_(min_us), max_us_(max_us), gate_(std::move(gate)) {}

    void run(std::function<void()> work, std::function<void()> done) override;
    // The process died: no job not yet run ever runs. Their closures are kept, not destroyed:
    // destroying one may act (a SnapshotWriter deletes its temporary file), which a dead process
    // cannot; they go with this worker, at the end of the run.
    void crash();
    // From now on each job takes min_us to max_us (a slow disk healed, SimCluster::heal_disks).
    void set_timing(std::uint64_t min_us, std::uint64_t max_us) {
        min_us_ = min_us;
        max_us_ = max_us;
    }

private:
    struct Job {
        std::function<void()> work;
        std::function<void()> done;
    };
    EventQueue& queue_;
    Rng rng_;
    std::uint64_t min_us_, max_us_;
    Gate gate_;
    std::uint64_t next_id_ = 1;
    std::map<std::uint64_t, Job> pending_;
    std::vector<Job> dead_;
    std::uint64_t free_at_us_ = 0;  // when the job queued last will have run
};

}  // namespace ballot::sim
