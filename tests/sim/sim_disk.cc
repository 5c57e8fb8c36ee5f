#include "tests/sim/sim_disk.h"

#include <algorithm>
#include <cerrno>

namespace ballot::sim {

std::vector<DiskRecord> records_of(const Ready& batch) {
    std::vector<DiskRecord> out;
    if (batch.metadata) {
        DiskRecord r;
        r.kind = DiskRecord::Kind::metadata;
        r.metadata = *batch.metadata;
        out.push_back(std::move(r));
    }
    if (batch.truncate_from) {
        DiskRecord r;
        r.kind = DiskRecord::Kind::truncate;
        r.from = *batch.truncate_from;
        out.push_back(std::move(r));
    }
    if (batch.compact_below) {
        DiskRecord r;
        r.kind = DiskRecord::Kind::compact;
        r.below = *batch.compact_below;
        out.push_back(std::move(r));
    }
    for (const LogRecord& e : batch.records) {
        DiskRecord r;
        r.kind = DiskRecord::Kind::record;
        r.record = e;
        out.push_back(std::move(r));
    }
    return out;
}

void DiskState::apply(const DiskRecord& r) {
    switch (r.kind) {
        case DiskRecord::Kind::metadata:
            metadata = r.metadata;
            break;
        case DiskRecord::Kind::truncate:
            records.erase(records.lower_bound(r.from), records.end());
            break;
        case DiskRecord::Kind::compact:
            compacted_below = std::max(compacted_below, r.below);
            records.erase(records.begin(), records.lower_bound(compacted_below));
            break;
        case DiskRecord::Kind::record:
            if (r.record.index >= compacted_below) records[r.record.index] = r.record.bytes;
            break;
    }
}

RecoveredState DiskState::recovered() const {
    RecoveredState s;
    s.metadata = metadata;
    s.compacted_below = compacted_below;
    s.records.reserve(records.size());
    for (const auto& [index, bytes] : records) s.records.push_back(LogRecord{index, bytes});
    return s;
}

SimDisk::SimDisk(NodeId node, EventQueue& queue, Rng& rng, DiskTiming timing, DiskObserver* observer)
    : node_(node), queue_(queue), rng_(rng), timing_(timing), observer_(observer) {}

void SimDisk::write(const Ready& batch) {
    if (observer_) observer_->on_disk_write(node_, written_, batch);
    Batch b{next_seq_++, records_of(batch)};
    for (const DiskRecord& r : b.records) written_.apply(r);
    unsynced_.push_back(std::move(b));
}

void SimDisk::flush(std::function<void(std::error_code)> done) {
    ++flushes_;
    ++flushes_in_flight_;
    const std::uint64_t through = next_seq_ - 1;  // only what was written before this call
    attempted_through_ = std::max(attempted_through_, through);
    const std::uint64_t generation = generation_;
    queue_.after(rng_.between(timing_.flush_min_us, timing_.flush_max_us),
                 [this, generation, through, done = std::move(done)]() mutable {
                     auto complete = [this, generation, through, done = std::move(done)] {
                         complete_flush(generation, through, done);
                     };
                     if (gate_)
                         gate_(std::move(complete));
                     else
                         complete();
                 });
}

void SimDisk::complete_flush(std::uint64_t generation, std::uint64_t through_seq,
                             const std::function<void(std::error_code)>& done) {
    if (generation != generation_) return;  // the node crashed meanwhile: nobody is waiting
    --flushes_in_flight_;
    if (fail_next_flush_) {
        fail_next_flush_ = false;
        ++fsync_failures_;
        done(std::make_error_code(std::errc::io_error));
        return;
    }
    std::vector<DiskRecord> applied;
    while (!unsynced_.empty() && unsynced_.front().seq <= through_seq) {
        for (DiskRecord& r : unsynced_.front().records) {
            durable_.apply(r);
            applied.push_back(std::move(r));
        }
        unsynced_.pop_front();
    }
    if (observer_ && !applied.empty()) observer_->on_disk_durable(node_, applied, durable_);
    done({});
}

std::size_t SimDisk::crash(bool torn) {
    ++generation_;
    flushes_in_flight_ = 0;
    fail_next_flush_ = false;
    if (platter_) {
        // The lying disk: what it acknowledged is gone (torn writes are not modelled on top).
        durable_ = *platter_;
        unsynced_.clear();
        written_ = durable_;
        return 0;
    }
    std::size_t kept = 0;
    if (torn) {
        // The records a flush had started on: any prefix of them may have reached the platter.
        std::size_t attempted = 0;
        for (const Batch& b : unsynced_)
            if (b.seq <= attempted_through_) attempted += b.records.size();
        kept = static_cast<std::size_t>(rng_.between(0, attempted));
        std::vector<DiskRecord> applied;
        for (Batch& b : unsynced_) {
            for (DiskRecord& r : b.records) {
                if (applied.size() == kept) break;
                durable_.apply(r);
                applied.push_back(std::move(r));
            }
        }
        if (observer_ && !applied.empty()) observer_->on_disk_durable(node_, applied, durable_);
    }
    unsynced_.clear();
    written_ = durable_;
    return kept;
}

}  // namespace ballot::sim
