#include "bench/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>

#include "bench/charts.h"
#include "bench/snapshot_windows.h"

namespace ballot::bench {

namespace {

double ns_to_ms(std::uint64_t ns) {
    return static_cast<double>(ns) / 1e6;
}

std::string format_ops(double ops) {
    char buf[32];
    std::snprintf(buf, sizeof buf, ops >= 100 ? "%.0f" : "%.1f", ops);
    return buf;
}

std::string format_seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", s);
    return buf;
}

std::string percentile_name(double p) {
    std::ostringstream s;
    s << "p" << p;
    return s.str();
}

std::string pad(const std::string& s, std::size_t width, bool left) {
    if (s.size() >= width) return s;
    return left ? s + std::string(width - s.size(), ' ') : std::string(width - s.size(), ' ') + s;
}

std::string errors_text(const EngineResult& r) {
    std::string s;
    for (const auto& [kind, count] : r.errors)
        s += (s.empty() ? "" : ", ") + kind + " " + std::to_string(count);
    return s;
}

// "killed leader n2 (INFO role:leader) at 3.002 s: unavailable 412 ms (last success at 2.999 s,
// first success after it at 3.411 s)"
std::string failover_text(const Failover& f) {
    std::ostringstream s;
    s << "killed " << f.how << " at " << format_seconds(f.kill_at_s) << " s: ";
    if (const auto len = f.window.length_ms()) {
        s << "unavailable " << format_ms(*len) << " ms (last success at "
          << format_seconds(f.window.last_ok_before_ms / 1000) << " s, first success after it at "
          << format_seconds(*f.window.first_ok_after_ms / 1000) << " s)";
    } else {
        s << "no success after the kill before the run ended (last success at "
          << format_seconds(f.window.last_ok_before_ms / 1000) << " s)";
    }
    return s.str();
}

std::string format_mib(std::optional<std::uint64_t> bytes) {
    if (!bytes) return "?";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(*bytes) / (1024.0 * 1024.0));
    return buf;
}

const char* snapshot_word(SnapshotSeen s) {
    switch (s) {
        case SnapshotSeen::yes:
            return "yes";
        case SnapshotSeen::no:
            return "no";
        case SnapshotSeen::unknown:
            break;
    }
    return "unknown";
}

std::string p99_text(const LatencyHistogram& h) {
    return h.count() ? format_ms(ns_to_ms(h.value_at_percentile(99))) + " ms" : "- (no write)";
}

// "killed follower n3 (leader n1 by INFO role:leader) at 2.000 s for 10 s, restarted at 12.004 s:
// caught up in 840 ms to index 52311; snapshot: yes (INFO snapshots_installed:1); 0 elections,
// 0 leader changes; write p99 2.10 ms before the kill, 3.05 ms while down, 5.60 ms during the
// catch-up; leader n1 RSS 45.2 MiB before, at most 60.1 MiB during the catch-up"
std::string follower_text(const FollowerCatchup& f) {
    std::ostringstream s;
    s << "killed " << f.how << " at " << format_seconds(f.kill_at_s) << " s for " << f.down_s << " s";
    if (f.restart_at_s > 0) s << ", restarted at " << format_seconds(f.restart_at_s) << " s";
    if (f.slow_disk_factor > 1) s << " with a disk " << f.slow_disk_factor << "x slower (--slow-disk-factor)";
    s << ": ";
    if (f.catch_up_ms) {
        s << "caught up in " << format_ms(*f.catch_up_ms) << " ms to index " << f.target_index;
    } else if (f.problem.empty()) {
        s << "not caught up within " << f.catchup_bound_s << " s (applied " << f.applied_index_last << " of "
          << f.target_index << ")";
    } else {
        s << f.problem;
        if (!f.log_tail.empty()) s << " (its last log lines are in the JSON report)";
    }
    s << "; snapshot: " << snapshot_word(f.snapshot);
    if (!f.snapshot_evidence.empty()) s << " (" << f.snapshot_evidence << ")";
    if (f.watched_after_catch_up_s > 0)
        s << " by the end of the run, " << format_seconds(f.watched_after_catch_up_s) << " s after the catch-up";
    if (f.elections)
        s << "; " << *f.elections << " elections, " << f.leader_changes << " leader changes";
    else
        s << "; elections: none to count (no leader)";
    s << "; write p99 " << p99_text(f.write_before_ns) << " before the kill, " << p99_text(f.write_down_ns)
      << " while down, " << p99_text(f.write_catchup_ns) << " during the catch-up";
    s << "; n" << f.rss_node << " RSS " << format_mib(f.rss_before_bytes) << " before the kill, "
      << format_mib(f.rss_at_restart_bytes) << " at the restart, at most " << format_mib(f.rss_max_bytes)
      << " during the catch-up";
    return s.str();
}

std::string optional_ms(std::optional<double> ms) {
    return ms ? format_ms(*ms) + " ms" : "-";
}

// "MEMBER TRANSFER: 100 of 100 made, 100 answered OK; unavailable p50 31.0 ms, p99 52.1 ms, max
// 60.2 ms; write p99 during them 48.0 ms (5120 writes)", and the problem when there was one.
std::string leader_changes_text(const LeaderChanges& c) {
    std::ostringstream s;
    s << c.command << ": " << c.changes.size() << " of " << c.asked << " made, " << c.ok() << " answered OK";
    if (c.unavailable_ms_at(100)) {
        s << "; unavailable p50 " << optional_ms(c.unavailable_ms_at(50)) << ", p99 "
          << optional_ms(c.unavailable_ms_at(99)) << ", max " << optional_ms(c.unavailable_ms_at(100))
          << "; write p99 during them " << p99_text(c.write_during_ns) << " (" << c.write_during_ns.count()
          << " writes)";
    }
    if (!c.problem.empty()) s << "; " << c.problem;
    return s.str();
}

std::string format_ratio(double ratio) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", ratio);
    return buf;
}

// "write p99 3.10 ms (4,120 writes) while some node was making a snapshot, 2.00 ms (412,000) while
// none was: 1.55 x; 12 snapshots on 3 nodes, some node making one 2.310 s of the 10 s"
std::string snapshots_text(const SnapshotLatency& l, double duration_s) {
    std::ostringstream s;
    if (l.windows == 0) {
        s << "no snapshot was made during the measured run (" << l.nodes_watched << " nodes watched)";
        return s.str();
    }
    s << "write p99 " << p99_text(l.write_inside_ns) << " (" << l.write_inside_ns.count()
      << " writes) while some node was making a snapshot, " << p99_text(l.write_outside_ns) << " ("
      << l.write_outside_ns.count() << ") while none was";
    if (const auto ratio = l.p99_ratio()) s << ": " << format_ratio(*ratio) << " x";
    s << "; " << l.windows << (l.windows == 1 ? " snapshot" : " snapshots") << " on " << l.nodes_watched
      << " nodes, some node making one " << format_seconds(l.inside_ms / 1000) << " s of the " << duration_s
      << " s (INFO snapshot_in_progress polled every " << kSnapshotPollInterval.count() << " ms)";
    return s.str();
}

std::string p50_p99_text(const LatencyHistogram& h) {
    if (!h.count()) return "-";
    return "p50 " + format_ms(ns_to_ms(h.value_at_percentile(50))) + " ms, p99 " +
           format_ms(ns_to_ms(h.value_at_percentile(99))) + " ms";
}

// "lock workload, 1 client per lock (64 locks): 1520 LOCK+UNLOCK ops/s (760 acquire+release
// cycles/s), 0.95 x SET's 1600 ops/s measured before and after it with 64 clients; acquire p50 .. ms, p99 ..
// ms; release
// ...; SET p50 .., p99 .." and, contended, the handoffs.
std::string lock_text(const LockRun& l, double lock_ops) {
    std::ostringstream s;
    s << "lock workload, " << l.contention << (l.contention == 1 ? " client" : " clients") << " per lock ("
      << l.locks << (l.locks == 1 ? " lock" : " locks") << "): " << format_ops(lock_ops)
      << " LOCK+UNLOCK ops/s (" << format_ops(lock_ops / 2) << " acquire+release cycles/s)";
    if (const auto ratio = l.ops_ratio(lock_ops))
        s << ", " << format_ratio(*ratio) << " x SET's " << format_ops(l.set.ops)
          << " ops/s measured before and after it with " << l.set.clients
          << (l.set.clients == 1 ? " client" : " clients");
    else
        s << ", SET not measured (" << l.set.failure << ")";
    s << "; acquire " << p50_p99_text(l.acquire_ns) << "; release " << p50_p99_text(l.release_ns) << "; SET "
      << p50_p99_text(l.set.latency_ns);
    if (l.contention > 1) {
        s << "; " << l.released << " releases, " << l.handoffs
          << " handoffs: from the UNLOCK sent to the next holder's token " << p50_p99_text(l.handoff_ns);
        if (const auto ratio = l.handoff_p99_ratio()) s << " (p99 " << format_ratio(*ratio) << " x SET p99)";
        s << ", from its acknowledgement " << p50_p99_text(l.handoff_after_ack_ns);
    }
    s << "; " << l.overlapping_grants << " tokens given while another client held the lock";
    return s.str();
}

// "4512 proposals preempted by a higher ballot (INFO proposals_preempted, all nodes): 1.8 per
// 100 requests answered" (requests, not writes: the result counts reads and writes together).
// Shown only when some were: Raft never counts any, Multi-Paxos only when leaders
// change.
std::string preempted_text(const EngineResult& r) {
    const std::uint64_t n = r.proposals_preempted.value_or(0);
    std::ostringstream s;
    s << n << (n == 1 ? " proposal" : " proposals")
      << " preempted by a higher ballot (INFO proposals_preempted, all nodes)";
    if (r.ok > 0)
        s << ": " << std::fixed << std::setprecision(1)
          << 100.0 * static_cast<double>(n) / static_cast<double>(r.ok) << " per 100 requests answered";
    return s.str();
}

// The lines printed under the table for one row: its note, read path, errors, faults. A note
// that several rows share (a sweep's points of one engine) is listed once.
void add_row_notes(const EngineResult& r, std::vector<std::string>& notes) {
    auto add = [&](std::string line) {
        if (std::find(notes.begin(), notes.end(), line) == notes.end()) notes.push_back(std::move(line));
    };
    if (!r.note.empty()) add(r.engine + ": " + r.note);
    if (!r.read_path.empty()) add(r.engine + ": linearizable reads by " + r.read_path);
    std::string errors = errors_text(r);
    if (r.unfinished)
        errors += (errors.empty() ? "" : "; ") + std::to_string(r.unfinished) + " unfinished at the end";
    if (!errors.empty()) add(r.display_name() + ": errors: " + errors);
    if (r.failover) add(r.display_name() + ": " + failover_text(*r.failover));
    if (r.follower) add(r.display_name() + ": " + follower_text(*r.follower));
    if (r.leader_changes) add(r.display_name() + ": " + leader_changes_text(*r.leader_changes));
    if (r.snapshots) add(r.display_name() + ": " + snapshots_text(*r.snapshots, r.duration_s));
    if (r.proposals_preempted.value_or(0) > 0) add(r.display_name() + ": " + preempted_text(r));
    if (r.lock) add(r.display_name() + ": " + lock_text(*r.lock, r.throughput_ops()));
}

bool any_read_path(const std::vector<EngineResult>& results) {
    return std::any_of(results.begin(), results.end(),
                       [](const EngineResult& r) { return !r.read_path.empty(); });
}

// The caption under the throughput-over-time chart: only what the chart shows.
std::string throughput_caption(const std::vector<EngineResult>& results) {
    bool failover = false, follower = false, changes = false;
    double span_s = 0;
    for (const auto& r : results) {
        failover = failover || r.failover.has_value();
        follower = follower || r.follower.has_value();
        changes = changes || (r.leader_changes && !r.leader_changes->changes.empty());
        if (r.completed) span_s = std::max(span_s, r.duration_s);
    }
    const std::uint32_t bin_ms = throughput_bin_ms(span_s);
    std::string s = "Successful replies per second of the measured run, counted in bins of " +
                    (bin_ms == 1000 ? std::string("1 s") : std::to_string(bin_ms) + " ms");
    if (failover) s += "; a shaded band is the unavailability window after a leader kill (dashed line)";
    if (follower) s += "; a pale bar is a follower down, a solid one its catch-up after the restart";
    if (changes) s += "; a tick is a leadership change (MEMBER TRANSFER or REMOVE) sent to the leader";
    return s + ".";
}

// A small JSON writer: values are appended in order, commas and escaping handled here.
class Json {
public:
    Json& begin_object() { return open('{'); }
    Json& end_object() { return close('}'); }
    Json& begin_array() { return open('['); }
    Json& end_array() { return close(']'); }
    Json& key(const std::string& k) {
        comma();
        string_literal(k);
        out_ += ": ";
        after_key_ = true;
        return *this;
    }
    Json& value(const std::string& v) {
        comma();
        string_literal(v);
        return *this;
    }
    Json& value(const char* v) { return value(std::string(v)); }
    Json& value(double v) {
        comma();
        append_number(v);
        return *this;
    }
    Json& value(std::uint64_t v) {
        comma();
        out_ += std::to_string(v);
        return *this;
    }
    Json& value(int v) {
        comma();
        out_ += std::to_string(v);
        return *this;
    }
    Json& value(bool v) {
        comma();
        out_ += v ? "true" : "false";
        return *this;
    }
    // A short array of numbers on one line ([50, 1.25]; a per-second series).
    Json& numbers(const std::vector<double>& values) {
        comma();
        out_ += '[';
        for (std::size_t i = 0; i < values.size(); ++i) {
            if (i) out_ += ", ";
            append_number(values[i]);
        }
        out_ += ']';
        return *this;
    }
    Json& null() {
        comma();
        out_ += "null";
        return *this;
    }
    template <typename T>
    Json& field(const std::string& k, const T& v) {
        return key(k).value(v);
    }
    std::string str() const { return out_ + "\n"; }

private:
    Json& open(char c) {
        comma();
        out_ += c;
        first_ = true;
        ++depth_;
        return *this;
    }
    Json& close(char c) {
        --depth_;
        if (!first_) newline();
        out_ += c;
        first_ = false;
        return *this;
    }
    void comma() {
        if (after_key_) {
            after_key_ = false;
            return;
        }
        if (depth_ == 0) return;
        if (!first_) out_ += ",";
        newline();
        first_ = false;
    }
    void append_number(double v) {
        if (!std::isfinite(v)) {
            out_ += "null";
            return;
        }
        char buf[40];
        std::snprintf(buf, sizeof buf, "%.10g", v);
        out_ += buf;
    }
    void newline() {
        out_ += "\n";
        out_.append(static_cast<std::size_t>(depth_) * 2, ' ');
    }
    void string_literal(const std::string& s) {
        out_ += '"';
        for (unsigned char c : s) {
            switch (c) {
                case '"':
                    out_ += "\\\"";
                    break;
                case '\\':
                    out_ += "\\\\";
                    break;
                case '\n':
                    out_ += "\\n";
                    break;
                case '\r':
                    out_ += "\\r";
                    break;
                case '\t':
                    out_ += "\\t";
                    break;
                default:
                    if (c < 0x20) {
                        char buf[8];
                        std::snprintf(buf, sizeof buf, "\\u%04x", c);
                        out_ += buf;
                    } else {
                        out_ += static_cast<char>(c);
                    }
            }
        }
        out_ += '"';
    }

    std::string out_;
    int depth_ = 0;
    bool first_ = true;
    bool after_key_ = false;
};

// Percentile points of the latency curve stored in the JSON, on the same nines scale as the
// chart, so the curve can be redrawn from the file.
std::vector<double> curve_percentiles() {
    std::vector<double> ps;
    for (int k = 0; k <= 40; ++k) ps.push_back(k == 40 ? 99.99 : 100 * (1 - std::pow(10, -k / 10.0)));
    return ps;
}

void write_optional(Json& j, const std::string& key, std::optional<std::uint64_t> v) {
    j.key(key);
    if (v)
        j.value(*v);
    else
        j.null();
}

// A text field that is null when empty (not given, no problem).
void write_text_or_null(Json& j, const std::string& key, const std::string& text) {
    j.key(key);
    if (text.empty())
        j.null();
    else
        j.value(text);
}

void write_phase(Json& j, const std::string& key, const LatencyHistogram& h) {
    j.key(key).begin_object();
    j.field("count", h.count());
    for (double p : {50.0, 99.0}) {
        j.key(percentile_name(p));
        if (h.count())
            j.value(ns_to_ms(h.value_at_percentile(p)));
        else
            j.null();
    }
    j.key("max");
    if (h.count())
        j.value(ns_to_ms(h.max()));
    else
        j.null();
    j.end_object();
}

void write_follower(Json& j, const FollowerCatchup& f) {
    j.begin_object();
    j.field("killed_node", static_cast<std::uint64_t>(f.killed));
    j.field("how", f.how);
    j.field("kill_at_s", f.kill_at_s);
    j.field("down_s", f.down_s);
    j.field("slow_disk_factor", static_cast<std::uint64_t>(f.slow_disk_factor));
    j.key("restart_at_s");
    if (f.restart_at_s > 0)
        j.value(f.restart_at_s);
    else
        j.null();
    write_text_or_null(j, "problem", f.problem);
    j.field("log_tail", f.log_tail);
    j.field("target_index", static_cast<std::uint64_t>(f.target_index));
    j.field("caught_up", f.catch_up_ms.has_value());
    j.key("catch_up_ms");
    if (f.catch_up_ms)
        j.value(*f.catch_up_ms);
    else
        j.null();
    j.field("catch_up_bound_s", f.catchup_bound_s);
    j.field("applied_index_last", static_cast<std::uint64_t>(f.applied_index_last));
    j.field("snapshot", snapshot_word(f.snapshot));
    j.field("snapshot_evidence", f.snapshot_evidence);
    j.field("watched_after_catch_up_s", f.watched_after_catch_up_s);
    write_optional(j, "elections", f.elections);
    j.field("leader_changes", f.leader_changes);
    j.field("rss_node", static_cast<std::uint64_t>(f.rss_node));
    write_optional(j, "rss_before_bytes", f.rss_before_bytes);
    write_optional(j, "rss_at_restart_bytes", f.rss_at_restart_bytes);
    write_optional(j, "rss_max_during_catch_up_bytes", f.rss_max_bytes);
    j.key("write_latency_ms").begin_object();
    write_phase(j, "before_kill", f.write_before_ns);
    write_phase(j, "while_down", f.write_down_ns);
    write_phase(j, "during_catch_up", f.write_catchup_ns);
    j.end_object();
    j.end_object();
}

void write_optional_number(Json& j, const std::string& key, std::optional<double> ms) {
    j.key(key);
    if (ms)
        j.value(*ms);
    else
        j.null();
}

void write_snapshots(Json& j, const SnapshotLatency& l) {
    j.begin_object();
    j.field("nodes_watched", static_cast<std::uint64_t>(l.nodes_watched));
    j.field("snapshots", l.windows);
    j.field("some_node_making_s", l.inside_ms / 1000);
    j.field("poll_interval_ms", static_cast<std::uint64_t>(kSnapshotPollInterval.count()));
    j.key("write_latency_ms").begin_object();
    write_phase(j, "while_making", l.write_inside_ns);
    write_phase(j, "while_not", l.write_outside_ns);
    j.end_object();
    write_optional_number(j, "p99_ratio", l.p99_ratio());
    j.end_object();
}

void write_leader_changes(Json& j, const LeaderChanges& c) {
    j.begin_object();
    j.field("command", c.command);
    j.field("asked", static_cast<std::uint64_t>(c.asked));
    j.field("made", static_cast<std::uint64_t>(c.changes.size()));
    j.field("ok", static_cast<std::uint64_t>(c.ok()));
    write_text_or_null(j, "problem", c.problem);
    j.key("unavailable_ms").begin_object();
    write_optional_number(j, "p50", c.unavailable_ms_at(50));
    write_optional_number(j, "p99", c.unavailable_ms_at(99));
    write_optional_number(j, "max", c.unavailable_ms_at(100));
    j.end_object();
    write_phase(j, "write_latency_during_ms", c.write_during_ns);
    j.key("changes").begin_array();
    for (const LeaderChange& change : c.changes) {
        j.begin_object();
        j.field("at_s", change.at_s);
        j.field("from", static_cast<std::uint64_t>(change.from));
        write_optional(j, "to",
                       change.to != kNoNode ? std::optional<std::uint64_t>(change.to) : std::nullopt);
        j.field("how", change.how);
        j.field("reply", change.reply);
        j.field("reply_ms", change.reply_ms);
        write_optional_number(j, "unavailable_ms", change.unavailable_ms);
        j.field("window_ms", change.window_ms);
        j.field("writes", change.writes);
        write_optional_number(j, "write_p99_ms", change.write_p99_ms);
        j.end_object();
    }
    j.end_array();
    j.end_object();
}

void write_lock(Json& j, const LockRun& l, double lock_ops) {
    j.begin_object();
    j.field("clients_per_lock", l.contention);
    j.field("locks", l.locks);
    j.field("acquired", l.acquired);
    j.field("released", l.released);
    j.field("lock_ops_per_s", lock_ops);
    j.field("cycles_per_s", lock_ops / 2);
    write_phase(j, "acquire_latency_ms", l.acquire_ns);
    write_phase(j, "release_latency_ms", l.release_ns);
    j.field("handoffs", l.handoffs);
    write_phase(j, "handoff_from_unlock_sent_ms", l.handoff_ns);
    write_phase(j, "handoff_from_unlock_acknowledged_ms", l.handoff_after_ack_ns);
    j.field("overlapping_grants", l.overlapping_grants);
    j.key("set").begin_object();
    j.field("completed", l.set.completed);
    write_text_or_null(j, "failure", l.set.failure);
    j.field("clients", l.set.clients);
    j.field("ops_per_s", l.set.ops);
    write_phase(j, "latency_ms", l.set.latency_ns);
    j.field("errors", l.set.errors);
    j.end_object();
    write_optional_number(j, "lock_ops_over_set_ops", l.ops_ratio(lock_ops));
    write_optional_number(j, "handoff_p99_over_set_p99", l.handoff_p99_ratio());
    j.end_object();
}

// The --workload lock figures side by side, one row per engine.
std::string lock_table_html(const std::vector<EngineResult>& results) {
    const bool any =
        std::any_of(results.begin(), results.end(), [](const EngineResult& r) { return r.lock.has_value(); });
    if (!any) return "";
    std::ostringstream s;
    s << "<h2>Locks</h2>\n"
         "<p class=\"config\">Each client LOCKs and UNLOCKs (one log write each) with its own lease; SET is "
         "measured on the same cluster before and after, with one client per lock (as many writes in "
         "flight). A "
         "handoff runs from the UNLOCK to "
         "the token of a LOCK that was already waiting.</p>\n"
         "<table>\n<tr><th>engine</th><th>clients per lock</th><th>LOCK+UNLOCK ops/s</th><th>SET ops/s</th>"
         "<th>lock / SET</th><th>acquire p99 ms</th><th>release p99 ms</th><th>SET p99 ms</th>"
         "<th>handoffs</th><th>handoff p99 ms</th><th>handoff p99 / SET p99</th></tr>\n";
    auto p99 = [](const LatencyHistogram& h) {
        return h.count() ? format_ms(ns_to_ms(h.value_at_percentile(99))) : std::string("-");
    };
    auto ratio = [](std::optional<double> v) { return v ? format_ratio(*v) : std::string("-"); };
    for (const auto& r : results) {
        if (!r.lock) continue;
        const auto& l = *r.lock;
        s << "<tr><td>" << escape_html(r.display_name()) << "</td><td>" << l.contention << "</td><td>"
          << format_ops(r.throughput_ops()) << "</td><td>" << format_ops(l.set.ops) << "</td><td>"
          << ratio(l.ops_ratio(r.throughput_ops())) << "</td><td>" << p99(l.acquire_ns) << "</td><td>"
          << p99(l.release_ns) << "</td><td>" << p99(l.set.latency_ns) << "</td><td>" << l.handoffs
          << "</td><td>" << p99(l.handoff_ns) << "</td><td>" << ratio(l.handoff_p99_ratio())
          << "</td></tr>\n";
    }
    s << "</table>\n";
    return s.str();
}

// A table cell's p99 in ms, "-" without values.
std::string p99_cell(const LatencyHistogram& h) {
    return h.count() ? format_ms(ns_to_ms(h.value_at_percentile(99))) : std::string("-");
}

// The --fail-follower-for figures side by side, one row per engine that had the fault.
std::string follower_table_html(const std::vector<EngineResult>& results) {
    std::ostringstream s;
    bool any = false;
    for (const auto& r : results) any = any || r.follower.has_value();
    if (!any) return "";
    s << "<h2>Follower catch-up</h2>\n"
         "<p class=\"config\">A follower SIGKILLed and restarted on its data dir while the load went on; "
         "catch-up is from its restart until its applied index reached what the cluster had committed "
         "then (INFO polled every 20 ms). Write p99 by when the request was sent.</p>\n"
         "<table>\n<tr><th>engine</th><th>killed</th><th>down s</th><th>catch-up ms</th><th>snapshot</th>"
         "<th>elections</th><th>write p99 before ms</th><th>during catch-up ms</th><th>RSS before</th>"
         "<th>RSS at restart</th><th>RSS max during</th></tr>\n";
    for (const auto& r : results) {
        if (!r.follower) continue;
        const auto& f = *r.follower;
        s << "<tr><td>" << escape_html(r.display_name()) << "</td><td>n" << f.killed << "</td><td>"
          << f.down_s << (f.slow_disk_factor > 1 ? " (disk " + std::to_string(f.slow_disk_factor) + "x slower)" : "")
          << "</td><td>"
          << (f.catch_up_ms ? format_ms(*f.catch_up_ms)
                            : escape_html(f.problem.empty() ? "not caught up" : "failed"))
          << "</td><td>" << snapshot_word(f.snapshot) << "</td><td>"
          << (f.elections ? std::to_string(*f.elections) : std::string("n/a")) << "</td><td>"
          << p99_cell(f.write_before_ns) << "</td><td>" << p99_cell(f.write_catchup_ns) << "</td><td>"
          << format_mib(f.rss_before_bytes) << "</td><td>" << format_mib(f.rss_at_restart_bytes)
          << "</td><td>" << format_mib(f.rss_max_bytes) << "</td></tr>\n";
    }
    s << "</table>\n";
    return s.str();
}

// Write latency while some node was making a snapshot and while none was, one row per engine
// whose nodes were watched.
std::string snapshots_table_html(const std::vector<EngineResult>& results) {
    std::ostringstream s;
    bool any = false;
    for (const auto& r : results) any = any || r.snapshots.has_value();
    if (!any) return "";
    s << "<h2>Writes while a snapshot is made</h2>\n"
         "<p class=\"config\">Every node's INFO snapshot_in_progress polled every "
      << kSnapshotPollInterval.count()
      << " ms; a write is inside when it was sent while some node was making a snapshot (each window "
         "widened to the polls that bound it).</p>\n"
         "<table>\n<tr><th>engine</th><th>snapshots</th><th>some node making s</th><th>writes inside</th>"
         "<th>p99 inside ms</th><th>writes outside</th><th>p99 outside ms</th><th>inside / outside</th></tr>\n";
    for (const auto& r : results) {
        if (!r.snapshots) continue;
        const auto& l = *r.snapshots;
        const auto ratio = l.p99_ratio();
        s << "<tr><td>" << escape_html(r.display_name()) << "</td><td>" << l.windows << "</td><td>"
          << format_seconds(l.inside_ms / 1000) << "</td><td>" << l.write_inside_ns.count() << "</td><td>"
          << p99_cell(l.write_inside_ns) << "</td><td>" << l.write_outside_ns.count() << "</td><td>"
          << p99_cell(l.write_outside_ns) << "</td><td>" << (ratio ? format_ratio(*ratio) + " x" : std::string("-"))
          << "</td></tr>\n";
    }
    s << "</table>\n";
    return s.str();
}

// The --transfer-leader-*/--remove-leader-at figures side by side, one row per engine that had them.
std::string leader_changes_table_html(const std::vector<EngineResult>& results) {
    std::ostringstream s;
    bool any = false;
    for (const auto& r : results) any = any || r.leader_changes.has_value();
    if (!any) return "";
    s << "<h2>Leadership changes</h2>\n"
         "<p class=\"config\">Each command sent to the node reporting role:leader while the load went on. "
         "Unavailable: from the change to the first success of a write sent at its worst moment; the "
         "write p99 is of the writes in progress meanwhile.</p>\n"
         "<table>\n<tr><th>engine</th><th>command</th><th>made</th><th>answered OK</th>"
         "<th>unavailable p50 ms</th><th>p99 ms</th><th>max ms</th><th>write p99 during ms</th>"
         "<th>problem</th></tr>\n";
    for (const auto& r : results) {
        if (!r.leader_changes) continue;
        const auto& c = *r.leader_changes;
        auto ms = [](std::optional<double> v) { return v ? format_ms(*v) : std::string("-"); };
        s << "<tr><td>" << escape_html(r.display_name()) << "</td><td>" << escape_html(c.command) << "</td><td>"
          << c.changes.size() << " of " << c.asked << "</td><td>" << c.ok() << "</td><td>"
          << ms(c.unavailable_ms_at(50)) << "</td><td>" << ms(c.unavailable_ms_at(99)) << "</td><td>"
          << ms(c.unavailable_ms_at(100)) << "</td><td>"
          << (c.write_during_ns.count() ? format_ms(ns_to_ms(c.write_during_ns.value_at_percentile(99))) : "-")
          << "</td><td>" << escape_html(c.problem) << "</td></tr>\n";
    }
    s << "</table>\n";
    return s.str();
}

}  // namespace

std::string format_ms(double ms) {
    char buf[32];
    if (ms < 1)
        std::snprintf(buf, sizeof buf, "%.3f", ms);
    else if (ms < 10)
        std::snprintf(buf, sizeof buf, "%.2f", ms);
    else if (ms < 100)
        std::snprintf(buf, sizeof buf, "%.1f", ms);
    else
        std::snprintf(buf, sizeof buf, "%.0f", ms);
    return buf;
}

std::string format_table(const std::vector<EngineResult>& results, const RunConfig& config) {
    std::size_t name_width = 10;
    for (const auto& r : results) name_width = std::max(name_width, r.display_name().size() + 2);
    constexpr std::size_t kNumberWidth = 10;

    std::ostringstream s;
    s << pad("engine", name_width, true) << pad("ops/s", kNumberWidth, false);
    for (double p : {50.0, 90.0, 99.0, 99.9}) s << pad(percentile_name(p) + " ms", kNumberWidth, false);
    s << pad("max ms", kNumberWidth, false) << pad("errors", kNumberWidth, false) << "\n";

    std::vector<std::string> notes;
    for (const auto& r : results) {
        s << pad(r.display_name(), name_width, true);
        if (!r.completed) {
            s << "  not measured: " << r.failure.substr(0, r.failure.find('\n')) << "\n";
            continue;
        }
        s << pad(format_ops(r.throughput_ops()), kNumberWidth, false);
        for (double p : {50.0, 90.0, 99.0, 99.9}) {
            s << pad(r.latency_ns.count() ? format_ms(ns_to_ms(r.latency_ns.value_at_percentile(p))) : "-",
                     kNumberWidth, false);
        }
        s << pad(r.latency_ns.count() ? format_ms(ns_to_ms(r.latency_ns.max())) : "-", kNumberWidth, false);
        s << pad(std::to_string(r.error_count()), kNumberWidth, false) << "\n";

        add_row_notes(r, notes);
    }
    for (const auto& n : notes) s << "  " << n << "\n";
    s << "config: " << config.line() << "\n";
    return s.str();
}

std::string format_json(const std::vector<EngineResult>& results, const RunConfig& config) {
    Json j;
    j.begin_object();
    j.field("tool", "ballot-bench");
    j.field("started_at", config.started_at);
    j.key("config").begin_object();
    j.field("cluster", config.cluster);
    j.field("clients", config.clients);
    j.field("pipeline", config.pipeline);
    j.field("mode", config.rate_ops ? "open loop" : "closed loop");
    j.key("rate_ops");
    if (config.rate_ops)
        j.value(*config.rate_ops);
    else
        j.null();
    j.field("target", config.target);
    j.field("value_size_bytes", static_cast<std::uint64_t>(config.value_size_bytes));
    j.field("keys", config.keys);
    j.field("read_ratio", config.read_ratio);
    j.field("workload", config.workload.empty() ? std::string("set") : config.workload);
    j.field("duration_s", config.duration_s);
    j.field("warmup_s", config.warmup_s);
    j.field("durability", config.durability);
    j.field("unsafe_no_fsync", config.unsafe_no_fsync);
    j.field("cores", static_cast<std::uint64_t>(config.cores));
    j.field("seed", config.seed);
    write_text_or_null(j, "link_delay", config.link_delay);
    j.field("tls", config.tls);
    write_text_or_null(j, "sweep", config.sweep);
    j.field("version", config.version);
    j.field("machine", config.machine);
    j.field("line", config.line());
    j.end_object();

    j.key("results").begin_array();
    for (const auto& r : results) {
        j.begin_object();
        j.field("engine", r.engine);
        j.key("sweep_point");
        if (r.point)
            j.begin_object().field(r.point->parameter, r.point->value).end_object();
        else
            j.null();
        j.field("read_path", r.read_path);
        j.field("note", r.note);
        j.field("replicated", r.replicated);
        j.field("unsafe_no_fsync", r.unsafe_no_fsync);
        j.field("completed", r.completed);
        j.key("failure");
        if (r.completed)
            j.null();
        else
            j.value(r.failure);
        j.field("duration_s", r.duration_s);
        j.field("ok", r.ok);
        j.field("throughput_ops", r.throughput_ops());

        const auto& h = r.latency_ns;
        j.key("latency_ms").begin_object();
        j.field("count", h.count());
        j.field("min", ns_to_ms(h.min()));
        j.field("mean", h.mean() / 1e6);
        for (double p : kReportedPercentiles) j.field(percentile_name(p), ns_to_ms(h.value_at_percentile(p)));
        j.field("max", ns_to_ms(h.max()));
        j.end_object();

        j.key("latency_curve_ms").begin_array();
        if (h.count()) {
            for (double p : curve_percentiles()) j.numbers({p, ns_to_ms(h.value_at_percentile(p))});
        }
        j.end_array();

        j.key("errors").begin_object();
        for (const auto& [kind, count] : r.errors) j.field(kind, count);
        j.end_object();
        j.field("errors_total", r.error_count());
        j.field("unfinished", r.unfinished);

        std::vector<double> per_second;
        for (auto v : r.timeline.ok_per_second(r.duration_s)) per_second.push_back(static_cast<double>(v));
        j.key("ops_per_second").numbers(per_second);

        j.key("failover");
        if (!r.failover) {
            j.null();
        } else {
            const auto& f = *r.failover;
            j.begin_object();
            j.field("kill_at_s", f.kill_at_s);
            j.field("killed_node", static_cast<std::uint64_t>(f.killed));
            j.field("how", f.how);
            j.field("last_ok_before_s", f.window.last_ok_before_ms / 1000);
            j.key("first_ok_after_s");
            if (f.window.first_ok_after_ms)
                j.value(*f.window.first_ok_after_ms / 1000);
            else
                j.null();
            j.key("unavailable_ms");
            if (const auto len = f.window.length_ms())
                j.value(*len);
            else
                j.null();
            j.end_object();
        }
        j.key("follower_catchup");
        if (!r.follower)
            j.null();
        else
            write_follower(j, *r.follower);
        j.key("leader_changes");
        if (!r.leader_changes)
            j.null();
        else
            write_leader_changes(j, *r.leader_changes);
        j.key("snapshots");
        if (!r.snapshots)
            j.null();
        else
            write_snapshots(j, *r.snapshots);
        j.key("proposals_preempted");
        if (!r.proposals_preempted)
            j.null();
        else
            j.value(*r.proposals_preempted);
        j.key("lock");
        if (!r.lock)
            j.null();
        else
            write_lock(j, *r.lock, r.throughput_ops());
        j.end_object();
    }
    j.end_array();
    j.end_object();
    return j.str();
}

std::string format_html(const std::vector<EngineResult>& results, const RunConfig& config) {
    std::ostringstream s;
    s << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      << "<title>ballot-bench " << (config.unsafe_no_fsync ? std::string(kUnsafeLabel) + " " : "")
      << escape_html(config.started_at) << "</title>\n"
      << "<style>\n"
         "body{font-family:sans-serif;margin:24px;color:#222;max-width:1800px}\n"
         ".charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(620px,1fr));gap:8px 28px}\n"
         ".charts svg{width:100%;max-width:1100px;height:auto}\n"
         "h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px}\n"
         ".config{color:#444;font-size:13px;line-height:1.5}\n"
         "table{border-collapse:collapse;font-size:14px}\n"
         "th,td{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}\n"
         "th:first-child,td:first-child{text-align:left}\n"
         "td.failed{text-align:left;color:#b00}\n"
         ".swatch{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:-1px}\n"
         "ul{font-size:13px;color:#333}\n"
         "</style></head><body>\n"
      << "<h1>ballot-bench" << (config.unsafe_no_fsync ? std::string(" ") + kUnsafeLabel : "") << "</h1>\n"
      << "<p class=\"config\">" << escape_html(config.started_at) << "<br>" << escape_html(config.line())
      << "</p>\n";

    const bool sweep = !config.sweep.empty();
    if (sweep) {
        s << "<h2>Throughput against latency</h2>\n"
             "<p class=\"config\">One point per run of the sweep ("
          << escape_html(config.sweep)
          << "; the value is written beside each p99 point): successful replies per second of the "
             "measured run against the p50 (solid) and p99 (dashed) latency of its successful requests, "
             "log scale"
          << (any_read_path(results)
                  ? "; the grey line under each engine names how it serves a linearizable read"
                  : "")
          << ".</p>\n"
          << "<div class=\"charts\">" << sweep_chart_svg(results) << "</div>\n";
    }

    s << "<table>\n<tr><th>engine</th><th>ops/s</th>";
    for (double p : {50.0, 90.0, 99.0, 99.9}) s << "<th>" << percentile_name(p) << " ms</th>";
    s << "<th>max ms</th><th>errors</th></tr>\n";
    std::vector<std::string> notes;
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        s << "<tr><td><span class=\"swatch\" style=\"background:" << engine_color(r.engine, i) << "\"></span>"
          << escape_html(r.display_name()) << "</td>";
        if (!r.completed) {
            s << "<td class=\"failed\" colspan=\"7\">not measured: " << escape_html(r.failure)
              << "</td></tr>\n";
            continue;
        }
        s << "<td>" << format_ops(r.throughput_ops()) << "</td>";
        for (double p : {50.0, 90.0, 99.0, 99.9}) {
            s << "<td>"
              << (r.latency_ns.count() ? format_ms(ns_to_ms(r.latency_ns.value_at_percentile(p))) : "-")
              << "</td>";
        }
        s << "<td>" << (r.latency_ns.count() ? format_ms(ns_to_ms(r.latency_ns.max())) : "-") << "</td>";
        s << "<td>" << r.error_count() << "</td></tr>\n";
        add_row_notes(r, notes);
    }
    s << "</table>\n";
    if (!notes.empty()) {
        s << "<ul>\n";
        for (const auto& n : notes) s << "<li>" << escape_html(n) << "</li>\n";
        s << "</ul>\n";
    }

    s << follower_table_html(results);
    s << leader_changes_table_html(results);
    s << snapshots_table_html(results);
    s << lock_table_html(results);

    // A sweep's rows are many runs of each engine: their time series would be a tangle, so only
    // the curve above is drawn (the JSON keeps every run's percentiles and per-second series).
    if (sweep) {
        s << "</body></html>\n";
        return s.str();
    }
    s << "<div class=\"charts\"><div>\n<h2>Latency by percentile</h2>\n"
         "<p class=\"config\">Successful requests sent during the measured seconds; from each request's "
      << (config.rate_ops ? "intended send time (open loop)" : "send time (closed loop)")
      << " to its reply. Log-linear histogram, &lt;1% relative error.</p>\n"
      << latency_chart_svg(results) << "\n</div><div>\n";
    s << "<h2>Throughput over time</h2>\n"
         "<p class=\"config\">"
      << escape_html(throughput_caption(results)) << "</p>\n"
      << throughput_chart_svg(results) << "\n</div></div>\n";
    s << "</body></html>\n";
    return s.str();
}

}  // namespace ballot::bench
