#include "bench/result.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace ballot::bench {

std::vector<std::uint64_t> Timeline::ok_per_second(double duration_s) const {
    const auto seconds = static_cast<std::size_t>(std::ceil(duration_s - 1e-9));
    std::vector<std::uint64_t> out(seconds, 0);
    for (std::size_t ms = 0; ms < ok_per_ms.size(); ++ms) {
        const std::size_t s = ms / 1000;
        if (s < out.size()) out[s] += ok_per_ms[ms];
    }
    return out;
}

std::vector<double> Timeline::ops_per_bin(double duration_s, std::uint32_t bin_ms) const {
    const double run_ms = duration_s * 1000;
    const auto bins = static_cast<std::size_t>(std::ceil(run_ms / bin_ms - 1e-9));
    std::vector<double> out(bins, 0);
    for (std::size_t ms = 0; ms < ok_per_ms.size(); ++ms) {
        const std::size_t b = ms / bin_ms;
        if (b < out.size()) out[b] += ok_per_ms[ms];
    }
    for (std::size_t b = 0; b < out.size(); ++b) {
        const double length_ms = std::min<double>(bin_ms, run_ms - static_cast<double>(b * bin_ms));
        out[b] = length_ms > 0 ? out[b] * 1000 / length_ms : 0;
    }
    return out;
}

std::string SweepPoint::str() const {
    std::ostringstream s;
    s << parameter << "=" << value;
    return s.str();
}

UnavailabilityWindow find_unavailability(const Timeline& timeline, double kill_ms, double settle_ms) {
    const auto& ok = timeline.ok_per_ms;
    const auto n = static_cast<long>(ok.size());
    UnavailabilityWindow w;
    w.kill_ms = kill_ms;

    // The last millisecond with a success that began before the kill.
    long last_before = -1;
    for (long i = std::min<long>(n, static_cast<long>(std::ceil(kill_ms))) - 1; i >= 0; --i) {
        if (ok[i] > 0) {
            last_before = i;
            break;
        }
    }

    // Walk the success-free runs from there: [gap_begin, gap_end), each ended by a success
    // (gap_end < n) or by the end of the run (gap_end == n, service never came back).
    long best_begin = last_before + 1;
    long best_end = best_begin;
    bool found = false;
    long i = last_before + 1;
    while (i < n && static_cast<double>(i) <= kill_ms + settle_ms) {
        if (ok[i] > 0) {
            ++i;
            continue;
        }
        const long gap_begin = i;
        while (i < n && ok[i] == 0) ++i;
        const long gap_end = i;
        if (static_cast<double>(gap_end) <= kill_ms) continue;  // a gap wholly before the kill
        const bool open = gap_end == n;
        if (!found || open || gap_end - gap_begin > best_end - best_begin) {
            best_begin = gap_begin;
            best_end = gap_end;
            found = true;
        }
        if (open) break;
    }
    w.last_ok_before_ms = static_cast<double>(best_begin);
    if (!found) {
        // Success in every millisecond from the kill on: no measurable gap.
        w.first_ok_after_ms = static_cast<double>(best_begin);
    } else if (best_end < n) {
        w.first_ok_after_ms = static_cast<double>(best_end);
    }
    return w;
}

std::uint64_t EngineResult::error_count() const {
    std::uint64_t total = 0;
    for (const auto& [kind, count] : errors) total += count;
    return total;
}

std::string RunConfig::line() const {
    std::ostringstream s;
    // In a sweep the swept figure is each row's own (its label names it).
    const bool clients_swept = sweep.rfind("clients=", 0) == 0;
    const bool rate_swept = sweep.rfind("rate=", 0) == 0;
    s << cluster << "; ";
    if (clients_swept)
        s << "clients as swept";
    else
        s << clients << " clients";
    if (rate_swept)
        s << " open loop at the swept rates";
    else if (rate_ops)
        s << " open loop at " << *rate_ops << " ops/s";
    else
        s << " closed loop";
    s << ", pipeline " << pipeline << ", target " << target << "; ";
    if (!workload.empty() && workload != "set") s << "workload " << workload << ", SET before and after it: ";
    s << value_size_bytes << "-byte values, " << keys << " keys, read ratio " << read_ratio << "; "
      << duration_s << " s measured after " << warmup_s << " s warmup; durability: " << durability << "; "
      << cores << " cores; seed " << seed;
    if (!link_delay.empty()) s << "; link delay " << link_delay << " one way on every peer link";
    if (tls) s << "; TLS on client and peer connections";
    if (!sweep.empty()) s << "; sweep " << sweep;
    if (!machine.empty()) s << "; machine " << machine;
    if (!version.empty()) s << "; " << version;
    return s.str();
}

std::optional<double> LockRun::ops_ratio(double lock_ops) const {
    if (!set.completed || set.ops <= 0) return std::nullopt;
    return lock_ops / set.ops;
}

std::optional<double> LockRun::handoff_p99_ratio() const {
    if (!set.completed || handoff_ns.count() == 0 || set.latency_ns.count() == 0) return std::nullopt;
    return static_cast<double>(handoff_ns.value_at_percentile(99)) /
           static_cast<double>(set.latency_ns.value_at_percentile(99));
}

std::optional<double> SnapshotLatency::p99_ratio() const {
    if (write_inside_ns.count() == 0 || write_outside_ns.count() == 0) return std::nullopt;
    return static_cast<double>(write_inside_ns.value_at_percentile(99)) /
           static_cast<double>(write_outside_ns.value_at_percentile(99));
}

std::size_t LeaderChanges::ok() const {
    return static_cast<std::size_t>(
        std::count_if(changes.begin(), changes.end(), [](const LeaderChange& c) { return c.reply == "OK"; }));
}

std::optional<double> LeaderChanges::unavailable_ms_at(double percentile) const {
    std::vector<double> values;
    for (const LeaderChange& c : changes)
        if (c.unavailable_ms) values.push_back(*c.unavailable_ms);
    if (values.empty()) return std::nullopt;
    std::sort(values.begin(), values.end());
    // Nearest rank: the smallest value with at least `percentile` percent of them at or below it.
    const auto rank =
        static_cast<std::size_t>(std::ceil(percentile / 100 * static_cast<double>(values.size())));
    return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

}  // namespace ballot::bench
