#include "bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ballot::bench {

// Layout: values 0 .. 2*kSubBuckets-1 each have their own bucket. Above that, a value v with
// bit width b is shifted right by s = b - (kSubBucketBits + 1), leaving a sub-bucket number
// v >> s in [kSubBuckets, 2*kSubBuckets); each shift s >= 1 contributes kSubBuckets buckets of
// width 2^s. A bucket's width is at most 1/kSubBuckets of its lowest value.

namespace {
constexpr std::uint64_t kLinearBuckets = 2 * LatencyHistogram::kSubBuckets;
}

std::size_t LatencyHistogram::bucket_count() {
    return kLinearBuckets + (kMaxValueBits - (kSubBucketBits + 1)) * kSubBuckets;
}

std::size_t LatencyHistogram::bucket_index(std::uint64_t value) {
    value = std::min(value, kMaxValue);
    if (value < kLinearBuckets) return static_cast<std::size_t>(value);
    const int shift = std::bit_width(value) - (kSubBucketBits + 1);
    const std::uint64_t sub = (value >> shift) - kSubBuckets;
    return static_cast<std::size_t>(kLinearBuckets + (shift - 1) * kSubBuckets + sub);
}

std::uint64_t LatencyHistogram::bucket_lowest(std::size_t index) {
    if (index < kLinearBuckets) return index;
    const std::uint64_t k = index - kLinearBuckets;
    const int shift = static_cast<int>(k / kSubBuckets) + 1;
    return (k % kSubBuckets + kSubBuckets) << shift;
}

std::uint64_t LatencyHistogram::bucket_highest(std::size_t index) {
    if (index < kLinearBuckets) return index;
    const int shift = static_cast<int>((index - kLinearBuckets) / kSubBuckets) + 1;
    return bucket_lowest(index) + (std::uint64_t{1} << shift) - 1;
}

LatencyHistogram::LatencyHistogram() : counts_(bucket_count(), 0) {}

void LatencyHistogram::record(std::uint64_t value, std::uint64_t count) {
    if (count == 0) return;
    if (value > kMaxValue) {
        clamped_ += count;
        value = kMaxValue;
    }
    counts_[bucket_index(value)] += count;
    if (count_ == 0 || value < min_) min_ = value;
    max_ = std::max(max_, value);
    count_ += count;
    sum_ += static_cast<double>(value) * static_cast<double>(count);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
    if (other.count_ == 0) return;
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    count_ += other.count_;
    sum_ += other.sum_;
    clamped_ += other.clamped_;
}

void LatencyHistogram::clear() {
    std::fill(counts_.begin(), counts_.end(), 0);
    count_ = min_ = max_ = clamped_ = 0;
    sum_ = 0;
}

std::uint64_t LatencyHistogram::value_at_percentile(double percentile) const {
    if (count_ == 0) return 0;
    percentile = std::clamp(percentile, 0.0, 100.0);
    // The rank of the value asked for, 1-based; at least 1 so p0 is the smallest value. The small
    // tolerance keeps 99.9% of 1000 at rank 999 despite binary rounding of 99.9.
    const double exact_rank = percentile * static_cast<double>(count_) / 100.0;
    auto rank = static_cast<std::uint64_t>(std::ceil(exact_rank - 1e-9 * std::max(1.0, exact_rank)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    // The extremes are known exactly.
    if (rank == 1) return min_;
    if (rank == count_) return max_;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
        seen += counts_[i];
        if (seen >= rank) {
            const std::uint64_t lo = bucket_lowest(i);
            const std::uint64_t mid = lo + (bucket_highest(i) - lo) / 2;
            return std::clamp(mid, min_, max_);
        }
    }
    return max_;
}

}  // namespace ballot::bench
