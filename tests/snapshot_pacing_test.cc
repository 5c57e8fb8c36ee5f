// Snapshot making is paced (common/snapshotter.h, MAKING; --snapshot-rate): the runtime's thread
// serializes at most DriverOptions::snapshot_make_bytes_per_tick per tick (a chunk may overdraw
// it; the next tick starts afresh, nothing saved up), and unpaced the whole snapshot is made as
// fast as the worker takes the chunks. The snapshot file comes out whole either way.
#define BOOST_TEST_MODULE snapshot_pacing
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <deque>
#include <functional>
#include <string>

#include "common/driver.h"
#include "common/snapshot_file.h"
#include "common/snapshotter.h"
#include "tests/support/temp_dir.h"

using namespace ballot;

namespace {

constexpr Index kApplied = 1000;

// A state of `size` bytes that hands out exactly what it is asked for, and counts it.
class SizedStateMachine final : public StateMachine {
public:
    explicit SizedStateMachine(std::size_t size) : size_(size) {}

    std::size_t served = 0;  // bytes handed out by snapshot_chunk so far

    std::string apply(Index, const Command&) override { return {}; }
    std::string query(std::string_view) const override { return {}; }
    Index applied_index() const override { return kApplied; }
    std::string snapshot() const override { return std::string(size_, 'x'); }
    Index begin_snapshot() override {
        open_ = true;
        served = 0;
        return kApplied;
    }
    SnapshotChunk snapshot_chunk(std::size_t max_bytes) override {
        const std::size_t n = std::min(max_bytes, size_ - served);
        served += n;
        if (served == size_) open_ = false;
        return {std::string(n, 'x'), served == size_};
    }
    void abort_snapshot() override { open_ = false; }
    bool snapshot_open() const override { return open_; }
    bool restore(std::string_view) override { return true; }

private:
    std::size_t size_;
    bool open_ = false;
};

// Runs each job at once and keeps its completion until the test lets it run, as the runtime's
// thread would take it later.
class HeldWorker final : public SnapshotWorker {
public:
    void run(std::function<void()> work, std::function<void()> done) override {
        work();
        if (done) completions_.push_back(std::move(done));
    }
    // Runs every completion, including those the completions queue.
    void complete_all() {
        while (!completions_.empty()) {
            auto done = std::move(completions_.front());
            completions_.pop_front();
            done();
        }
    }

private:
    std::deque<std::function<void()>> completions_;
};

class RecordingHost final : public SnapshotHost {
public:
    std::optional<SnapshotMeta> made;
    std::uint64_t made_bytes = 0;

    Index snapshot_host_has_through() const override { return kApplied; }
    Bytes snapshot_host_engine_metadata(Index) override { return {}; }
    void snapshot_host_made(const SnapshotMeta& meta, std::uint64_t bytes) override {
        made = meta;
        made_bytes = bytes;
    }
    std::unique_ptr<SnapshotDecoder> snapshot_host_decoder() const override { return nullptr; }
    bool snapshot_host_install(const SnapshotMeta&, SnapshotDecoder&) override { return false; }
    void snapshot_host_sent(NodeId, Index, bool) override {}
    void snapshot_host_send_bulk(NodeId, const SnapshotFrame&) override {}
    void snapshot_host_log(LogLevel, const std::string&) override {}
    void snapshot_host_pump() override {}
};

struct Fixture {
    static constexpr std::size_t kStateBytes = 10'000;
    static constexpr std::size_t kChunk = 1'000;

    test::TempDir temp{"ballot-snapshot-pacing"};
    PosixSnapshotDir dir{temp.path.string(), Durability::unsafe_no_fsync};
    HeldWorker worker;
    SizedStateMachine state{kStateBytes};
    RecordingHost host;
    DriverOptions options;

    explicit Fixture(std::size_t bytes_per_tick) {
        options.snapshot_entries = 0;  // made on request only, as BGSAVE does
        options.snapshot_make_chunk_bytes = kChunk;
        options.snapshot_make_bytes_per_tick = bytes_per_tick;
    }

    std::string payload_on_disk() {
        std::string payload;
        const std::string error = read_snapshot_payload(dir, snapshot_file_name(kApplied), payload);
        BOOST_REQUIRE_MESSAGE(error.empty(), error);
        return payload;
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(paced_making_serializes_at_most_a_tick_budget_plus_one_chunk_per_tick) {
    constexpr std::size_t kBudget = 2'500;
    Fixture f(kBudget);
    Snapshotter snapshots(1, SnapshotIo{&f.dir, &f.worker, std::nullopt}, f.state, f.host, f.options);

    BOOST_REQUIRE(snapshots.request(kApplied));
    f.worker.complete_all();
    // Nothing is serialized before the first tick gives a budget.
    BOOST_TEST(f.state.served == 0u);

    std::uint64_t ticks = 0;
    while (!f.host.made) {
        BOOST_REQUIRE_MESSAGE(ticks < 100, "the snapshot never finished");
        const std::size_t before = f.state.served;
        snapshots.tick(++ticks);
        f.worker.complete_all();
        const std::size_t this_tick = f.state.served - before;
        // The budget, overdrawn by at most the one chunk that crossed it ...
        BOOST_TEST(this_tick <= kBudget + Fixture::kChunk);
        // ... and used whole while there was more to serialize (two chunks wait for the disk at
        // most, and the worker here takes them as fast as they come).
        if (f.state.served < Fixture::kStateBytes) BOOST_TEST(this_tick >= kBudget);
    }
    // 10,000 bytes at 3 chunks of 1,000 a tick: four ticks.
    BOOST_TEST(ticks == 4u);
    BOOST_TEST(f.host.made->last_included_index == kApplied);
    BOOST_TEST(f.host.made_bytes == Fixture::kStateBytes);
    BOOST_TEST(f.payload_on_disk() == std::string(Fixture::kStateBytes, 'x'));
    BOOST_TEST(!snapshots.stats().making);
}

BOOST_AUTO_TEST_CASE(idle_ticks_save_no_budget_up) {
    constexpr std::size_t kBudget = 1'000;
    Fixture f(kBudget);
    Snapshotter snapshots(1, SnapshotIo{&f.dir, &f.worker, std::nullopt}, f.state, f.host, f.options);

    // Fifty ticks with nothing to make: a snapshot requested now gets what is left of the
    // current tick's budget, not fifty ticks' worth.
    for (std::uint64_t t = 1; t <= 50; ++t) snapshots.tick(t);
    BOOST_REQUIRE(snapshots.request(kApplied));
    f.worker.complete_all();
    BOOST_TEST(f.state.served == kBudget);
    snapshots.tick(51);
    f.worker.complete_all();
    BOOST_TEST(f.state.served == 2 * kBudget);
}

BOOST_AUTO_TEST_CASE(unpaced_making_runs_as_fast_as_the_worker_takes_chunks) {
    Fixture f(0);
    Snapshotter snapshots(1, SnapshotIo{&f.dir, &f.worker, std::nullopt}, f.state, f.host, f.options);

    BOOST_REQUIRE(snapshots.request(kApplied));
    f.worker.complete_all();  // no tick at all
    BOOST_REQUIRE(f.host.made.has_value());
    BOOST_TEST(f.host.made_bytes == Fixture::kStateBytes);
    BOOST_TEST(f.payload_on_disk() == std::string(Fixture::kStateBytes, 'x'));
}
