// ballot-bench: compares the engines side by side under the same RESP workload (see
// bench/options.cc for the options, SPEC.md "ballot-bench" for the contract).
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

#include "bench/options.h"
#include "bench/report.h"
#include "bench/targets.h"
#include "common/version.h"

namespace fs = std::filesystem;
using namespace ballot::bench;

namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_signal(int) {
    g_interrupted.store(true);
}

// SIGINT/SIGTERM end the run early; the clusters are then stopped by their destructors rather
// than left running.
void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
}

// Every client is a socket: allow as many as the hard limit permits.
void raise_file_limit() {
    struct rlimit rl {};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

std::string default_server_path() {
    std::error_code ec;
    const auto self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return "ballot-server";
    return (self.parent_path() / "ballot-server").string();
}

std::string local_time(const char* format) {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::localtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, format, &tm);
    return buf;
}

// One stderr line per second: rewritten in place on a terminal, appended otherwise.
void print_progress(const Progress& p) {
    char line[160];
    std::snprintf(line, sizeof line, "[%s] %s %4.0f/%.0f s  %8.0f ops/s  %llu errors", p.label.c_str(),
                  p.warming_up ? "warmup  " : "measured", p.elapsed_s, p.total_s, p.ops_last_second,
                  static_cast<unsigned long long>(p.errors));
    if (::isatty(STDERR_FILENO))
        std::fprintf(stderr, "\r\033[K%s", line);
    else
        std::fprintf(stderr, "%s\n", line);
    std::fflush(stderr);
}

void end_progress_line() {
    if (::isatty(STDERR_FILENO)) std::fprintf(stderr, "\r\033[K");
}

void print_row_summary(const ballot::bench::EngineResult& r) {
    if (!r.completed) {
        std::fprintf(stderr, "[%s] not measured: %s\n", r.display_name().c_str(), r.failure.c_str());
        return;
    }
    std::fprintf(stderr, "[%s] done: %.0f ops/s, p99 %s ms, %llu errors\n", r.display_name().c_str(),
                 r.throughput_ops(),
                 format_ms(static_cast<double>(r.latency_ns.value_at_percentile(99)) / 1e6).c_str(),
                 static_cast<unsigned long long>(r.error_count()));
}

// "host (CPU model)", so a report says which machine produced it.
// What the report says of durability: the spawned servers' log fsync, or its absence under
// --unsafe-no-fsync, and the filesystem under it.
std::string durability_text(bool spawn, bool unsafe_no_fsync) {
    if (!spawn) return "as configured on the existing servers";
    const std::string where = ", data dirs on " + temp_filesystem();
    if (unsafe_no_fsync)
        return "UNSAFE (--unsafe-no-fsync): nothing fsync'ed, acknowledged once in a majority's page cache" +
               where;
    return "log fsync'ed on a majority before each acknowledgement" + where;
}

std::string machine_description() {
    char host[256] = "unknown host";
    ::gethostname(host, sizeof host - 1);
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line, model;
    while (model.empty() && std::getline(cpuinfo, line)) {
        if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos)
            model = line.substr(line.find(':') + 2);
    }
    return std::string(host) + (model.empty() ? "" : " (" + model + ")");
}

std::string sweep_text(const Sweep& sweep) {
    std::ostringstream s;
    s << sweep.name() << "=";
    for (std::size_t i = 0; i < sweep.values.size(); ++i) s << (i ? "," : "") << sweep.values[i];
    return s.str();
}

bool write_file(const fs::path& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    ParseResult parsed = parse_options(args);
    if (!parsed.help.empty()) {
        std::cout << parsed.help;
        return 0;
    }
    if (parsed.version) {
        std::cout << ballot::version_line("ballot-bench") << "\n";
        return 0;
    }
    if (!parsed.options) {
        std::cerr << "ballot-bench: " << parsed.error << "\n";
        return 2;
    }
    Options o = *parsed.options;

    const bool spawn = o.existing.empty();
    if (spawn) {
        if (o.server.empty()) o.server = default_server_path();
        if (::access(o.server.c_str(), X_OK) != 0) {
            std::cerr << "ballot-bench: no ballot-server executable at " << o.server
                      << " (build it, or pass --server PATH)\n";
            return 2;
        }
    }
    std::error_code ec;
    fs::create_directories(o.out_dir, ec);
    if (ec) {
        std::cerr << "ballot-bench: --out " << o.out_dir << ": cannot create the directory: " << ec.message()
                  << "\n";
        return 2;
    }

    install_signal_handlers();
    raise_file_limit();

    RunConfig config;
    config.cluster = spawn ? std::to_string(o.nodes) + "-node local clusters of ballot-server on loopback"
                           : "existing cluster (--node)";
    if (!o.server_args.empty()) {
        config.cluster += " (server arguments:";
        for (const auto& arg : o.server_args) config.cluster += " " + arg;
        config.cluster += ")";
    }
    config.clients = o.clients;
    config.pipeline = o.pipeline;
    config.rate_ops = o.rate_ops;
    config.target = o.target == Target::all ? "all nodes" : "leader";
    config.value_size_bytes = o.value_size_bytes;
    config.keys = o.keys;
    config.read_ratio = o.read_ratio;
    config.workload = o.workload == WorkloadKind::set
                          ? "set"
                          : "lock, " + std::to_string(o.lock_contention) +
                                (o.lock_contention == 1 ? " client per lock" : " clients per lock");
    config.duration_s = o.duration_s;
    config.warmup_s = o.warmup_s;
    config.durability = durability_text(spawn, o.unsafe_no_fsync);
    config.unsafe_no_fsync = spawn && o.unsafe_no_fsync;
    config.cores = std::thread::hardware_concurrency();
    config.seed = o.seed;
    config.started_at = local_time("%Y-%m-%dT%H:%M:%S%z");
    if (o.link_delay.enabled()) config.link_delay = o.link_delay.str();
    config.tls = o.tls;
    if (o.sweep) config.sweep = sweep_text(*o.sweep);
    config.version = ballot::version_line("ballot-bench");
    config.machine = machine_description();
    const std::string stamp = local_time("%Y-%m-%d_%H-%M-%S");

    std::vector<EngineResult> results;
    // Without a sweep, one run per target; with one, a run per target and value, each target's
    // runs together (its curve is then measured in one stretch of time).
    const std::vector<double> points = o.sweep ? o.sweep->values : std::vector<double>{0};
    auto run_all_points = [&](const std::function<EngineResult(const BenchContext&)>& run) {
        for (double value : points) {
            if (g_interrupted) return;
            const Options at = o.at_sweep_point(value);
            EngineResult r = run(BenchContext{at, print_progress, &g_interrupted});
            if (o.sweep) r.point = SweepPoint{o.sweep->name(), value};
            end_progress_line();
            print_row_summary(r);
            results.push_back(std::move(r));
        }
    };
    if (spawn) {
        for (const auto& protocol : o.protocols)
            run_all_points([&](const BenchContext& c) { return bench_engine(c, protocol); });
    } else {
        run_all_points([](const BenchContext& c) { return bench_existing(c); });
    }
    if (o.baseline) run_all_points([&](const BenchContext& c) { return bench_redis(c, *o.baseline); });
    if (g_interrupted) {
        std::cerr << "ballot-bench: interrupted; clusters stopped, no report written\n";
        return 130;
    }

    const std::string table = format_table(results, config);
    const std::string json = format_json(results, config);
    // With --json, stdout carries only the JSON (for jq and scripts); the table goes to stderr.
    (o.json_stdout ? std::cerr : std::cout) << "\n" << table;
    if (o.json_stdout) std::cout << json;

    const fs::path base = fs::path(o.out_dir) / stamp;
    const fs::path json_path = base.string() + ".json";
    const fs::path html_path = base.string() + ".html";
    if (!write_file(json_path, json) || !write_file(html_path, format_html(results, config))) {
        std::cerr << "ballot-bench: cannot write the report to " << o.out_dir << "\n";
        return 1;
    }
    std::cerr << "report: " << json_path.string() << " and " << html_path.string() << "\n";

    for (const auto& r : results)
        if (!r.completed) return 1;
    return 0;
}
