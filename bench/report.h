// ballot-bench's outputs: the text table for the terminal, the JSON record, and the HTML report
// with its charts (bench/charts.h). All are pure functions of the results, so they are tested
// with synthetic results.
#pragma once

#include <string>
#include <vector>

#include "bench/result.h"

namespace ballot::bench {

// The percentiles the table and the JSON report (p100 is the max).
inline constexpr double kReportedPercentiles[] = {50, 90, 99, 99.9, 99.99};

// The table, then one line per noteworthy thing (errors by kind, failovers, notes), then the
// configuration line.
std::string format_table(const std::vector<EngineResult>& results, const RunConfig& config);

std::string format_json(const std::vector<EngineResult>& results, const RunConfig& config);

// A self-contained page: inline CSS and SVG, nothing fetched.
std::string format_html(const std::vector<EngineResult>& results, const RunConfig& config);

// Latency formatting shared by the table and the HTML: milliseconds with three significant
// figures ("0.412", "12.3", "1530").
std::string format_ms(double ms);

}  // namespace ballot::bench
