// A log-linear latency histogram in the manner of HdrHistogram (Gil Tene): every power of two is
// split into kSubBuckets equal buckets, so a recorded value is known to within 1/kSubBuckets of
// itself (< 1% with 128) whatever its magnitude, in a fixed amount of memory, and two
// histograms merge by adding counts. Percentiles come from the buckets; count, min, max and
// mean are exact.
//
// Values are unsigned integers (the bench records nanoseconds). Values below 2 * kSubBuckets
// (256) have buckets one unit wide and are therefore exact; values above kMaxValue are clamped
// to it (and counted in clamped()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ballot::bench {

class LatencyHistogram {
public:
    // 2^7 sub-buckets per power of two: bucket width / bucket start <= 1/128 < 1%.
    static constexpr int kSubBucketBits = 7;
    static constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << kSubBucketBits;
    // 2^50 ns is about 13 days: far beyond any request the bench waits for.
    static constexpr int kMaxValueBits = 50;
    static constexpr std::uint64_t kMaxValue = (std::uint64_t{1} << kMaxValueBits) - 1;

    LatencyHistogram();

    void record(std::uint64_t value) { record(value, 1); }
    void record(std::uint64_t value, std::uint64_t count);
    // Adds every value recorded in `other`, as if recorded here.
    void merge(const LatencyHistogram& other);
    void clear();

    std::uint64_t count() const { return count_; }
    std::uint64_t min() const { return count_ ? min_ : 0; }
    std::uint64_t max() const { return max_; }
    double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
    std::uint64_t clamped() const { return clamped_; }

    // The value at or below which `percentile` percent (0..100) of the recorded values lie: the
    // smallest bucket holding the ceil(percentile/100 * count)-th smallest value, reported as
    // that bucket's midpoint, clamped into [min, max]. The smallest and largest values are
    // reported exactly (p0 is the min, p100 the max). 0 when empty.
    std::uint64_t value_at_percentile(double percentile) const;

    // Bucket geometry, exposed for tests: the index of the bucket holding `value`, and the
    // lowest and highest values that bucket holds.
    static std::size_t bucket_index(std::uint64_t value);
    static std::uint64_t bucket_lowest(std::size_t index);
    static std::uint64_t bucket_highest(std::size_t index);
    static std::size_t bucket_count();

private:
    std::vector<std::uint64_t> counts_;
    std::uint64_t count_ = 0;
    std::uint64_t min_ = 0;
    std::uint64_t max_ = 0;
    double sum_ = 0;
    std::uint64_t clamped_ = 0;
};

}  // namespace ballot::bench
