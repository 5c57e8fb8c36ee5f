// The two charts of the HTML report, drawn as inline SVG (no scripts, no network):
// - latency by percentile, every engine on one chart: x is the percentile on a "nines" scale
//   (-log10(1 - p), so 90%, 99%, 99.9%, 99.99% are equally spaced), y is latency in ms on a log
//   scale — the HdrHistogram plot, which shows the tail instead of hiding it in an average;
// - throughput over time, one line per engine, with each engine's fail-leader unavailability
//   window shaded, each --fail-follower-for outage and catch-up drawn as bars, and a tick for
//   each leadership change (--transfer-leader-*, --remove-leader-at) sent; at least
//   about 20 points however short the run (bins of 100 ms to 1 s, throughput_bin_ms);
// - for a --sweep, throughput (x) against latency (y, log scale), one curve per engine for p50
//   and one for p99, a point per swept value: the plot consensus papers show.
#pragma once

#include <string>
#include <vector>

#include "bench/result.h"

namespace ballot::bench {

std::string latency_chart_svg(const std::vector<EngineResult>& results);
std::string throughput_chart_svg(const std::vector<EngineResult>& results);
std::string sweep_chart_svg(const std::vector<EngineResult>& results);

// The bin width of the throughput-over-time chart for a run of `duration_s`: 1 s, or less (down
// to 100 ms) so that the line has at least about 20 points.
std::uint32_t throughput_bin_ms(double duration_s);

// The color an engine is drawn in (fixed for the three engines and redis, so reports compare).
std::string engine_color(const std::string& engine, std::size_t index);

// Escapes & < > " ' for HTML and SVG text.
std::string escape_html(const std::string& text);

}  // namespace ballot::bench
