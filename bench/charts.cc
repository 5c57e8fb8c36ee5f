#include "bench/charts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>

#include "engines/registry.h"

namespace ballot::bench {

namespace {

// Geometry shared by both charts: the plot area, with room on the right for the legend.
constexpr double kWidth = 960;
constexpr double kHeight = 440;
constexpr double kLeft = 78;
constexpr double kRight = kWidth - 190;
constexpr double kTop = 20;
constexpr double kBottom = kHeight - 56;

// Points per latency curve: enough for a smooth line at this width.
constexpr int kCurvePoints = 240;
// The right end of the percentile axis, in nines: 99.99%.
constexpr double kMaxNines = 4;

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

std::string svg_open(const std::string& title) {
    std::ostringstream s;
    s << "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << kWidth << " " << kHeight
      << "\" width=\"" << kWidth << "\" height=\"" << kHeight
      << "\" font-family=\"sans-serif\" font-size=\"12\" role=\"img\">"
      << "<title>" << escape_html(title) << "</title>"
      << "<rect x=\"0\" y=\"0\" width=\"" << kWidth << "\" height=\"" << kHeight << "\" fill=\"#fff\"/>";
    return s.str();
}

std::string line(double x1, double y1, double x2, double y2, const std::string& stroke, double width = 1,
                 const std::string& extra = "") {
    return "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" + num(y2) +
           "\" stroke=\"" + stroke + "\" stroke-width=\"" + num(width) + "\"" + extra + "/>";
}

std::string text(double x, double y, const std::string& content, const std::string& anchor = "middle",
                 const std::string& extra = "") {
    return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + anchor + "\"" + extra + ">" +
           escape_html(content) + "</text>";
}

std::string frame(const std::string& x_label, const std::string& y_label) {
    std::string s;
    s += "<rect x=\"" + num(kLeft) + "\" y=\"" + num(kTop) + "\" width=\"" + num(kRight - kLeft) +
         "\" height=\"" + num(kBottom - kTop) + "\" fill=\"none\" stroke=\"#444\"/>";
    s += text((kLeft + kRight) / 2, kHeight - 14, x_label);
    s += "<text transform=\"translate(18," + num((kTop + kBottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + escape_html(y_label) + "</text>";
    return s;
}

struct LegendEntry {
    std::string label;
    std::string color;
    std::string note;  // a second, grey line (e.g. "not replicated")
    std::string dash;  // the line's stroke-dasharray; empty for a solid line
};

std::string dash_attribute(const std::string& dash) {
    return dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"";
}

LegendEntry legend_entry(const EngineResult& r, std::size_t index) {
    return {r.engine, engine_color(r.engine, index), r.replicated ? "" : "not replicated", ""};
}

std::string legend(const std::vector<LegendEntry>& entries) {
    std::string s;
    double y = kTop + 14;
    for (const auto& e : entries) {
        s += line(kRight + 16, y - 4, kRight + 44, y - 4, e.color, 3, dash_attribute(e.dash));
        s += text(kRight + 52, y, e.label, "start");
        if (!e.note.empty()) {
            y += 15;
            s += text(kRight + 52, y, e.note, "start", " fill=\"#777\" font-size=\"11\"");
        }
        y += 20;
    }
    return s;
}

std::string no_data(const std::string& what) {
    return text((kLeft + kRight) / 2, (kTop + kBottom) / 2, what, "middle", " fill=\"#888\"");
}

// 1, 2 or 5 times a power of ten, at least `raw`.
double nice_step(double raw) {
    if (!(raw > 0)) return 1;
    const double p = std::pow(10, std::floor(std::log10(raw)));
    const double f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

std::string format_tick(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

std::string format_ops_tick(double v) {
    char buf[32];
    if (v >= 10000)
        std::snprintf(buf, sizeof buf, "%gk", v / 1000);
    else
        std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
}

double nines(double percentile) {
    return -std::log10(1 - percentile / 100);
}

// A latency axis in whole decades covering [lo_ms, hi_ms] (at least one), with grid lines at 1,
// 2 and 5 of each decade; returns the grid and sets `py` to map milliseconds to y.
std::string log_latency_axis(double lo_ms, double hi_ms, std::function<double(double)>& py) {
    const double lo_exp = std::floor(std::log10(lo_ms));
    double hi_exp = std::ceil(std::log10(hi_ms));
    if (hi_exp <= lo_exp) hi_exp = lo_exp + 1;
    py = [=](double ms) {
        return kBottom - (kBottom - kTop) * (std::log10(ms) - lo_exp) / (hi_exp - lo_exp);
    };
    std::string s;
    const bool label_minor = hi_exp - lo_exp <= 2;
    for (double e = lo_exp; e <= hi_exp; ++e) {
        const double decade = std::pow(10, e);
        s += line(kLeft, py(decade), kRight, py(decade), "#ccc");
        s += text(kLeft - 6, py(decade) + 4, format_tick(decade), "end");
        if (e == hi_exp) break;
        for (double m : {2.0, 5.0}) {
            s += line(kLeft, py(decade * m), kRight, py(decade * m), "#eee");
            if (label_minor)
                s += text(kLeft - 6, py(decade * m) + 4, format_tick(decade * m), "end", " fill=\"#666\"");
        }
    }
    return s;
}

// A linear requests-per-second axis from 0 to a round value above `peak` (y when `vertical`,
// else x); returns the grid and sets `to_px`.
std::string ops_axis(double peak, bool vertical, std::function<double(double)>& to_px) {
    const double top = std::max(1.0, peak);
    const double step = nice_step(top * 1.1 / 5);
    const double max = step * std::ceil(top * 1.05 / step);
    if (vertical)
        to_px = [=](double ops) { return kBottom - (kBottom - kTop) * ops / max; };
    else
        to_px = [=](double ops) { return kLeft + (kRight - kLeft) * ops / max; };
    std::string s;
    for (double v = 0; v <= max + step / 2; v += step) {
        const double at = to_px(v);
        if (vertical) {
            s += line(kLeft, at, kRight, at, v == 0 ? "#444" : "#ddd");
            s += text(kLeft - 6, at + 4, format_ops_tick(v), "end");
        } else {
            s += line(at, kTop, at, kBottom, "#eee");
            s += text(at, kBottom + 18, format_ops_tick(v));
        }
    }
    return s;
}

}  // namespace

std::uint32_t throughput_bin_ms(double duration_s) {
    constexpr double kMinPoints = 20;
    for (std::uint32_t bin_ms : {1000u, 500u, 250u, 200u})
        if (duration_s * 1000 / bin_ms >= kMinPoints) return bin_ms;
    return 100;
}

std::string escape_html(const std::string& in) {
    std::string out;
    out.reserve(in.size());
    for (char c : in) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

// Each engine keeps its colour in every chart: its place in the registry picks it. Baselines are
// grey; anything else takes the next free colour.
std::string engine_color(const std::string& engine, std::size_t index) {
    static const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                           "#8c564b", "#e377c2", "#17becf", "#bcbd22"};
    constexpr std::size_t kColours = sizeof kPalette / sizeof kPalette[0];
    if (engine.rfind("redis", 0) == 0) return "#7f7f7f";
    const auto& names = engine_names();
    auto it = std::find(names.begin(), names.end(), engine);
    if (it != names.end()) return kPalette[static_cast<std::size_t>(it - names.begin()) % kColours];
    return kPalette[(names.size() + index) % kColours];
}

std::string latency_chart_svg(const std::vector<EngineResult>& results) {
    struct Curve {
        LegendEntry legend;
        std::vector<std::pair<double, double>> points;  // (nines, ms)
    };
    std::vector<Curve> curves;
    double lo_ms = 0, hi_ms = 0;
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        if (!r.completed || r.latency_ns.count() == 0) continue;
        Curve c{legend_entry(r, i), {}};
        for (int k = 0; k <= kCurvePoints; ++k) {
            const double x = kMaxNines * k / kCurvePoints;
            const double p = k == kCurvePoints ? 99.99 : 100 * (1 - std::pow(10, -x));
            const double ms = static_cast<double>(r.latency_ns.value_at_percentile(p)) / 1e6;
            c.points.emplace_back(x, std::max(ms, 1e-6));
        }
        for (const auto& [x, ms] : c.points) {
            lo_ms = lo_ms == 0 ? ms : std::min(lo_ms, ms);
            hi_ms = std::max(hi_ms, ms);
        }
        curves.push_back(std::move(c));
    }

    std::string s = svg_open("Latency by percentile");
    s += frame("percentile (log scale of nines)", "latency (ms, log scale)");
    if (curves.empty()) return s + no_data("no latencies recorded") + "</svg>";

    auto px = [](double x) { return kLeft + (kRight - kLeft) * x / kMaxNines; };
    std::function<double(double)> py;
    s += log_latency_axis(lo_ms, hi_ms, py);
    const std::pair<double, const char*> x_ticks[] = {{0, "0%"},  {nines(50), "50%"}, {1, "90%"},
                                                      {2, "99%"}, {3, "99.9%"},       {4, "99.99%"}};
    for (const auto& [x, label] : x_ticks) {
        s += line(px(x), kTop, px(x), kBottom, "#ddd");
        s += text(px(x), kBottom + 18, label);
    }

    std::vector<LegendEntry> entries;
    for (const auto& c : curves) {
        std::string pts;
        for (const auto& [x, ms] : c.points) pts += num(px(x)) + "," + num(py(ms)) + " ";
        s += "<polyline fill=\"none\" stroke=\"" + c.legend.color + "\" stroke-width=\"2.5\" points=\"" +
             pts + "\"/>";
        entries.push_back(c.legend);
    }
    s += legend(entries);
    return s + "</svg>";
}

std::string throughput_chart_svg(const std::vector<EngineResult>& results) {
    struct Line {
        LegendEntry legend;
        std::vector<double> ops;  // requests per second, per bin
        const Failover* failover;
        const FollowerCatchup* follower;
        const LeaderChanges* changes;
        double duration_s;
    };
    double span_s = 0;
    for (const auto& r : results)
        if (r.completed) span_s = std::max(span_s, r.duration_s);
    const std::uint32_t bin_ms = throughput_bin_ms(span_s);
    const double bin_s = bin_ms / 1000.0;
    std::vector<Line> lines;
    double peak = 0;
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        if (!r.completed) continue;
        Line l{legend_entry(r, i), r.timeline.ops_per_bin(r.duration_s, bin_ms),
               r.failover ? &*r.failover : nullptr, r.follower ? &*r.follower : nullptr,
               r.leader_changes ? &*r.leader_changes : nullptr, r.duration_s};
        for (auto v : l.ops) peak = std::max(peak, v);
        lines.push_back(std::move(l));
    }

    std::string s = svg_open("Throughput over time");
    s += frame("seconds into the measured run", "successful requests per second");
    if (lines.empty() || span_s <= 0) return s + no_data("no throughput recorded") + "</svg>";

    auto px = [&](double sec) { return kLeft + (kRight - kLeft) * sec / span_s; };
    std::function<double(double)> py;
    s += ops_axis(peak, true, py);
    const double x_step = nice_step(span_s / 10);
    for (double t = 0; t <= span_s + 1e-9; t += x_step) {
        s += line(px(t), kTop, px(t), kBottom, "#eee");
        s += text(px(t), kBottom + 18, format_tick(t));
    }

    // Fail-leader windows first, under the lines: from the last success before the gap to the
    // first one after it (to the end of the run if service never came back), lightly shaded
    // over the whole height, and as a solid bar in the engine's own lane at the top so that
    // windows of several engines stay apart.
    int nth = 0;
    for (const auto& l : lines) {
        if (!l.failover) continue;
        const auto& w = l.failover->window;
        const double from = w.last_ok_before_ms / 1000;
        const double to = w.first_ok_after_ms ? *w.first_ok_after_ms / 1000 : l.duration_s;
        const double x = px(from);
        const double width = std::max(2.0, px(to) - x);
        s += "<rect x=\"" + num(x) + "\" y=\"" + num(kTop) + "\" width=\"" + num(width) + "\" height=\"" +
             num(kBottom - kTop) + "\" fill=\"" + l.legend.color + "\" fill-opacity=\"0.12\"/>";
        s += line(px(l.failover->kill_at_s), kTop, px(l.failover->kill_at_s), kBottom, l.legend.color, 1.5,
                  " stroke-dasharray=\"5,4\"");
        const double lane_y = kTop + 6 + 17 * nth;
        s += "<rect x=\"" + num(x) + "\" y=\"" + num(lane_y) + "\" width=\"" + num(width) +
             "\" height=\"10\" fill=\"" + l.legend.color + "\"/>";
        std::string label = l.legend.label;
        if (const auto len = w.length_ms())
            label += ": " + format_tick(std::round(*len)) + " ms unavailable";
        else
            label += ": no success after the kill";
        // Right of the bar, or left of it when that would leave the plot (about 6.5 px a character).
        const bool fits_right = x + width + 6 + 6.5 * static_cast<double>(label.size()) <= kRight;
        s += text(fits_right ? x + width + 6 : x - 6, lane_y + 9, label, fits_right ? "start" : "end",
                  " fill=\"" + l.legend.color + "\"");
        ++nth;
    }
    // Follower faults, in the same lanes: a pale bar while the follower was down, a solid one
    // from its restart until it had caught up (to the end of the run if it had not by then).
    for (const auto& l : lines) {
        if (!l.follower || l.follower->kill_at_s <= 0) continue;
        const auto& f = *l.follower;
        const double lane_y = kTop + 6 + 17 * nth;
        const double restart_s = f.restart_at_s > 0 ? f.restart_at_s : l.duration_s;
        const double caught_s =
            f.catch_up_ms ? std::min(l.duration_s, restart_s + *f.catch_up_ms / 1000) : l.duration_s;
        auto bar = [&](double from_s, double to_s, const char* opacity) {
            const double x = px(from_s);
            return "<rect x=\"" + num(x) + "\" y=\"" + num(lane_y) + "\" width=\"" +
                   num(std::max(2.0, px(to_s) - x)) + "\" height=\"10\" fill=\"" + l.legend.color +
                   "\" fill-opacity=\"" + opacity + "\"/>";
        };
        s += bar(f.kill_at_s, restart_s, "0.3");
        if (f.restart_at_s > 0) s += bar(restart_s, caught_s, "1");
        std::string label = l.legend.label + ": n" + std::to_string(f.killed) + " down, then ";
        label += f.catch_up_ms ? "caught up in " + format_tick(std::round(*f.catch_up_ms)) + " ms"
                               : "not caught up";
        // Right of the bars, else left of them, else on a lane of its own below them.
        const double label_px = 6.5 * static_cast<double>(label.size());
        const double right_x = px(std::max(restart_s, caught_s)) + 6;
        const double left_x = px(f.kill_at_s) - 6;
        const std::string fill = " fill=\"" + l.legend.color + "\"";
        if (right_x + label_px <= kRight) {
            s += text(right_x, lane_y + 9, label, "start", fill);
        } else if (left_x - label_px >= kLeft) {
            s += text(left_x, lane_y + 9, label, "end", fill);
        } else {
            ++nth;
            s += text(kLeft + 6, lane_y + 17 + 9, label, "start", fill);
        }
        ++nth;
    }
    // Leadership changes (--transfer-leader-*, --remove-leader-at): a tick in the engine's lane
    // where each command was sent, and on a lane below the ticks, what they cost.
    for (const auto& l : lines) {
        if (!l.changes || l.changes->changes.empty()) continue;
        const LeaderChanges& c = *l.changes;
        const double lane_y = kTop + 6 + 17 * nth;
        for (const LeaderChange& change : c.changes)
            if (change.at_s >= 0 && change.at_s <= span_s)
                s += line(px(change.at_s), lane_y, px(change.at_s), lane_y + 10, l.legend.color, 2);
        std::string label = l.legend.label + ": " + std::to_string(c.changes.size()) + " " + c.command;
        if (const auto p99 = c.unavailable_ms_at(99))
            label += ", unavailable p99 " + format_tick(std::round(*p99)) + " ms";
        s += text(kLeft + 6, lane_y + 17 + 9, label, "start", " fill=\"" + l.legend.color + "\"");
        nth += 2;
    }

    std::vector<LegendEntry> entries;
    for (const auto& l : lines) {
        std::string pts;
        std::string dots;
        for (std::size_t bin = 0; bin < l.ops.size(); ++bin) {
            // A point per bin, at its middle (the last bin may be partial: at its middle too).
            const double begin_s = static_cast<double>(bin) * bin_s;
            const double mid = std::min(begin_s + bin_s / 2, (begin_s + l.duration_s) / 2);
            const double x = px(mid), y = py(l.ops[bin]);
            pts += num(x) + "," + num(y) + " ";
            dots += "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"2.5\" fill=\"" + l.legend.color +
                    "\"/>";
        }
        s += "<polyline fill=\"none\" stroke=\"" + l.legend.color + "\" stroke-width=\"2\" points=\"" + pts +
             "\"/>";
        s += dots;
        entries.push_back(l.legend);
    }
    s += legend(entries);
    return s + "</svg>";
}

std::string sweep_chart_svg(const std::vector<EngineResult>& results) {
    struct Point {
        double ops, p50_ms, p99_ms;
        std::string label;  // the swept value
    };
    struct Curve {
        LegendEntry legend;
        std::vector<Point> points;  // in sweep order
    };
    std::vector<Curve> curves;
    double peak_ops = 0, lo_ms = 0, hi_ms = 0;
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        if (!r.point || !r.completed || r.latency_ns.count() == 0) continue;
        auto it = std::find_if(curves.begin(), curves.end(),
                               [&](const Curve& c) { return c.legend.label == r.engine; });
        if (it == curves.end()) {
            LegendEntry entry = legend_entry(r, i);
            if (!r.read_path.empty()) entry.note = r.read_path;
            curves.push_back({entry, {}});
            it = curves.end() - 1;
        }
        const double p50 = std::max(1e-6, static_cast<double>(r.latency_ns.value_at_percentile(50)) / 1e6);
        const double p99 = std::max(1e-6, static_cast<double>(r.latency_ns.value_at_percentile(99)) / 1e6);
        it->points.push_back({r.throughput_ops(), p50, p99, format_tick(r.point->value)});
        peak_ops = std::max(peak_ops, r.throughput_ops());
        lo_ms = lo_ms == 0 ? p50 : std::min(lo_ms, p50);
        hi_ms = std::max(hi_ms, p99);
    }

    std::string s = svg_open("Throughput against latency");
    s += frame("successful requests per second", "latency (ms, log scale)");
    if (curves.empty()) return s + no_data("no sweep point measured") + "</svg>";

    std::function<double(double)> px, py;
    s += ops_axis(peak_ops, false, px);
    s += log_latency_axis(lo_ms, hi_ms, py);

    std::vector<LegendEntry> entries;
    for (const auto& c : curves) {
        for (const bool tail : {false, true}) {
            std::string pts;
            for (const auto& p : c.points) {
                const double x = px(p.ops), y = py(tail ? p.p99_ms : p.p50_ms);
                pts += num(x) + "," + num(y) + " ";
                s += "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"3\" fill=\"" + c.legend.color +
                     "\"/>";
                if (tail) s += text(x + 5, y - 5, p.label, "start", " fill=\"#666\" font-size=\"10\"");
            }
            s += "<polyline fill=\"none\" stroke=\"" + c.legend.color + "\" stroke-width=\"2\"" +
                 dash_attribute(tail ? "6,4" : "") + " points=\"" + pts + "\"/>";
        }
        entries.push_back(c.legend);
    }
    entries.push_back({"p50", "#555", "", ""});
    entries.push_back({"p99", "#555", "", "6,4"});
    s += legend(entries);
    return s + "</svg>";
}

}  // namespace ballot::bench
