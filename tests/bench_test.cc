// ballot-bench's pure parts: the latency histogram, option parsing, the unavailability window,
// the follower catch-up's INFO reading, and the reports, checked on synthetic data (no servers,
// no clocks).
#define BOOST_TEST_MODULE bench
#include <unistd.h>

#include <algorithm>
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <boost/test/unit_test.hpp>
#include <cctype>
#include <cmath>
#include <random>
#include <sstream>

#include "bench/charts.h"
#include "bench/follower.h"
#include "bench/histogram.h"
#include "bench/info_counter.h"
#include "bench/load.h"
#include "bench/options.h"
#include "bench/report.h"
#include "bench/result.h"
#include "bench/snapshot_windows.h"
#include "bench/transfer.h"

using namespace ballot;
using namespace ballot::bench;

namespace {

double relative_error(double got, double want) {
    return std::abs(got - want) / want;
}

ParseResult parse(std::vector<std::string> args) {
    return parse_options(args);
}

std::size_t count_of(const std::string& haystack, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
    return n;
}

}  // namespace

// ---------------------------------------------------------------- histogram

BOOST_AUTO_TEST_SUITE(histogram)

BOOST_AUTO_TEST_CASE(empty_histogram_reports_zero) {
    LatencyHistogram h;
    BOOST_TEST(h.count() == 0u);
    BOOST_TEST(h.value_at_percentile(50) == 0u);
    BOOST_TEST(h.max() == 0u);
    BOOST_TEST(h.mean() == 0.0);
}

BOOST_AUTO_TEST_CASE(small_values_are_exact) {
    // Values below 256 have buckets one unit wide.
    for (std::uint64_t v = 0; v < 256; ++v) {
        LatencyHistogram h;
        h.record(v);
        BOOST_TEST(h.value_at_percentile(0) == v);
        BOOST_TEST(h.value_at_percentile(50) == v);
        BOOST_TEST(h.value_at_percentile(100) == v);
        BOOST_TEST(LatencyHistogram::bucket_lowest(LatencyHistogram::bucket_index(v)) == v);
        BOOST_TEST(LatencyHistogram::bucket_highest(LatencyHistogram::bucket_index(v)) == v);
    }
    LatencyHistogram h;
    for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
    BOOST_TEST(h.count() == 100u);
    BOOST_TEST(h.min() == 1u);
    BOOST_TEST(h.max() == 100u);
    BOOST_TEST(h.mean() == 50.5);
    BOOST_TEST(h.value_at_percentile(50) == 50u);
    BOOST_TEST(h.value_at_percentile(90) == 90u);
    BOOST_TEST(h.value_at_percentile(99) == 99u);
    BOOST_TEST(h.value_at_percentile(99.9) == 100u);
    BOOST_TEST(h.value_at_percentile(0) == 1u);
}

BOOST_AUTO_TEST_CASE(relative_error_is_under_one_percent_across_the_range) {
    // Every bucket is at most 1/128 of its lowest value wide.
    for (std::size_t i = 0; i < LatencyHistogram::bucket_count(); ++i) {
        const auto lo = LatencyHistogram::bucket_lowest(i);
        const auto hi = LatencyHistogram::bucket_highest(i);
        BOOST_TEST_REQUIRE(hi >= lo);
        if (lo < 256)
            BOOST_TEST_REQUIRE(hi == lo);  // exact
        else
            BOOST_TEST_REQUIRE(static_cast<double>(hi - lo + 1) / static_cast<double>(lo) <= 1.0 / 128);
        if (i + 1 < LatencyHistogram::bucket_count())
            BOOST_TEST_REQUIRE(LatencyHistogram::bucket_lowest(i + 1) == hi + 1);
    }
    BOOST_TEST(LatencyHistogram::bucket_highest(LatencyHistogram::bucket_count() - 1) ==
               LatencyHistogram::kMaxValue);

    // A value comes back within 1% (in fact within half a bucket), from 1 ns to days.
    double worst = 0;
    for (double v = 1; v < static_cast<double>(LatencyHistogram::kMaxValue); v *= 1.0137) {
        const auto value = static_cast<std::uint64_t>(v);
        // Between a smaller and a larger value, so p50 is the bucket's reported value rather
        // than the exactly known min or max.
        LatencyHistogram h;
        h.record(0);
        h.record(value, 2);
        h.record(LatencyHistogram::kMaxValue);
        const auto index = LatencyHistogram::bucket_index(value);
        BOOST_TEST_REQUIRE(LatencyHistogram::bucket_lowest(index) <= value);
        BOOST_TEST_REQUIRE(LatencyHistogram::bucket_highest(index) >= value);
        worst = std::max(worst, relative_error(static_cast<double>(h.value_at_percentile(50)),
                                               static_cast<double>(value)));
    }
    BOOST_TEST(worst <= 0.01);

    // With other values around, the bucket midpoint is what is reported: still within 1%.
    LatencyHistogram h;
    h.record(1);
    h.record(123'456'789);
    h.record(123'456'789);
    h.record(1'000'000'000'000);
    BOOST_TEST(relative_error(static_cast<double>(h.value_at_percentile(50)), 123'456'789.0) <= 0.01);
}

BOOST_AUTO_TEST_CASE(percentiles_of_a_uniform_distribution) {
    // 1..100000 once each: the p-th percentile is p * 1000.
    LatencyHistogram h;
    for (std::uint64_t v = 1; v <= 100'000; ++v) h.record(v * 1000);
    for (double p : {10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99}) {
        const double want = p / 100 * 100'000 * 1000;
        BOOST_TEST(relative_error(static_cast<double>(h.value_at_percentile(p)), want) <= 0.01, "p" << p);
    }
    BOOST_TEST(h.value_at_percentile(100) == 100'000'000u);  // the exact max
    BOOST_TEST(h.max() == 100'000'000u);
    BOOST_TEST(h.min() == 1000u);
    BOOST_TEST(relative_error(h.mean(), 50'000.5 * 1000) < 1e-12);
}

BOOST_AUTO_TEST_CASE(percentiles_of_a_bimodal_distribution) {
    // 990 fast requests at 1 ms and 10 stalled at 1 s: p99 is fast, p99.1 is the stall.
    LatencyHistogram h;
    h.record(1'000'000, 990);
    h.record(1'000'000'000, 10);
    BOOST_TEST(h.count() == 1000u);
    BOOST_TEST(relative_error(static_cast<double>(h.value_at_percentile(50)), 1e6) <= 0.01);
    BOOST_TEST(relative_error(static_cast<double>(h.value_at_percentile(99)), 1e6) <= 0.01);
    BOOST_TEST(relative_error(static_cast<double>(h.value_at_percentile(99.1)), 1e9) <= 0.01);
    BOOST_TEST(h.value_at_percentile(99.9) == 1'000'000'000u);
}

BOOST_AUTO_TEST_CASE(percentiles_of_an_exponential_distribution) {
    // Exponential with mean 2 ms: the p-th percentile is -mean * ln(1 - p). 10^6 samples keep
    // the sampling error well under the 2% allowed here (1% histogram + sampling noise).
    std::mt19937_64 rng(42);
    std::exponential_distribution<double> exp(1.0 / 2e6);
    LatencyHistogram h;
    for (int i = 0; i < 1'000'000; ++i) h.record(static_cast<std::uint64_t>(exp(rng)));
    for (double p : {50.0, 90.0, 99.0}) {
        const double want = -2e6 * std::log(1 - p / 100);
        BOOST_TEST(relative_error(static_cast<double>(h.value_at_percentile(p)), want) <= 0.02, "p" << p);
    }
}

BOOST_AUTO_TEST_CASE(merge_equals_recording_into_one) {
    std::mt19937_64 rng(7);
    std::lognormal_distribution<double> dist(14, 1.5);  // around a millisecond, long tail
    LatencyHistogram a, b, c, all;
    for (int i = 0; i < 30'000; ++i) {
        const auto v = static_cast<std::uint64_t>(dist(rng));
        (i % 3 == 0 ? a : i % 3 == 1 ? b : c).record(v);
        all.record(v);
    }
    LatencyHistogram merged;
    merged.merge(a);
    merged.merge(b);
    merged.merge(LatencyHistogram{});  // merging an empty one changes nothing
    merged.merge(c);
    BOOST_TEST(merged.count() == all.count());
    BOOST_TEST(merged.min() == all.min());
    BOOST_TEST(merged.max() == all.max());
    BOOST_TEST(relative_error(merged.mean(), all.mean()) < 1e-9);
    for (double p = 0; p <= 100; p += 0.5)
        BOOST_TEST(merged.value_at_percentile(p) == all.value_at_percentile(p));
    BOOST_TEST(merged.value_at_percentile(99.99) == all.value_at_percentile(99.99));
}

BOOST_AUTO_TEST_CASE(values_past_the_maximum_are_clamped_and_counted) {
    LatencyHistogram h;
    h.record(LatencyHistogram::kMaxValue + 12345);
    h.record(5);
    BOOST_TEST(h.clamped() == 1u);
    BOOST_TEST(h.max() == LatencyHistogram::kMaxValue);
    BOOST_TEST(h.count() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- options

BOOST_AUTO_TEST_SUITE(options)

BOOST_AUTO_TEST_CASE(defaults) {
    const auto r = parse({});
    BOOST_TEST_REQUIRE(r.options.has_value());
    BOOST_TEST(r.error.empty());
    const Options& o = *r.options;
    BOOST_TEST((o.protocols == std::vector<std::string>{"raft", "multipaxos", "paxos"}));
    BOOST_TEST(o.nodes == 3);
    BOOST_TEST(o.clients == 64);
    BOOST_TEST(o.pipeline == 1);
    BOOST_TEST(o.duration_s == 10.0);
    BOOST_TEST(o.warmup_s == 2.0);
    BOOST_TEST(o.value_size_bytes == 100u);
    BOOST_TEST(o.keys == 10000u);
    BOOST_TEST(o.read_ratio == 0.0);
    BOOST_TEST(!o.rate_ops.has_value());
    BOOST_TEST(o.closed_loop());
    BOOST_TEST((o.target == Target::all));
    BOOST_TEST(o.existing.empty());
    BOOST_TEST(!o.baseline.has_value());
    BOOST_TEST(!o.fail_leader_at_s.has_value());
    BOOST_TEST(!o.fail_follower_for_s.has_value());
    BOOST_TEST(o.server_args.empty());
    BOOST_TEST(o.out_dir == "bench-results");
    BOOST_TEST(!o.json_stdout);
    BOOST_TEST(o.server.empty());
    BOOST_TEST(o.seed == 1u);
    BOOST_TEST(!o.link_delay.enabled());
    BOOST_TEST(!o.port_base.has_value());
    BOOST_TEST(!o.sweep.has_value());
}

BOOST_AUTO_TEST_CASE(help_lists_every_option_with_its_default) {
    const auto r = parse({"--help"});
    BOOST_TEST(!r.options.has_value());
    BOOST_TEST(r.error.empty());
    for (const char* option : {"--protocol",
                               "--nodes",
                               "--clients",
                               "--pipeline",
                               "--duration",
                               "--warmup",
                               "--value-size",
                               "--keys",
                               "--read-ratio",
                               "--rate",
                               "--target",
                               "--node",
                               "--baseline",
                               "--fail-leader-at",
                               "--fail-follower-for",
                               "--server-arg",
                               "--out",
                               "--json",
                               "--server",
                               "--seed",
                               "--link-delay",
                               "--sweep",
                               "--port-base",
                               "--version",
                               "--unsafe-no-fsync",
                               "--transfer-leader-at",
                               "--transfer-leader-every",
                               "--remove-leader-at"}) {
        BOOST_TEST(r.help.find(option) != std::string::npos, option);
    }
    // Whitespace collapsed: the help text is wrapped.
    std::string help;
    for (char c : r.help) {
        if (std::isspace(static_cast<unsigned char>(c))) {
            if (!help.empty() && help.back() != ' ') help += ' ';
        } else {
            help += c;
        }
    }
    for (const char* def :
         {"default: every engine built in", "default: 3", "default: 64", "default: 1)", "default: 10)",
          "default: 2)", "default: 100", "default: 10000", "default: 0)", "default: all", "bench-results"}) {
        BOOST_TEST(help.find(def) != std::string::npos, def);
    }
}

BOOST_AUTO_TEST_CASE(every_option) {
    const auto r = parse({"--protocol",
                          "paxos,raft",
                          "--protocol=multipaxos",
                          "--nodes",
                          "5",
                          "--clients",
                          "16",
                          "--pipeline",
                          "8",
                          "--duration",
                          "2.5",
                          "--warmup",
                          "0",
                          "--value-size",
                          "4096",
                          "--keys",
                          "77",
                          "--read-ratio",
                          "0.25",
                          "--rate",
                          "5000",
                          "--target",
                          "leader",
                          "--baseline",
                          "redis-nofsync",
                          "--fail-leader-at",
                          "1.5",
                          "--out",
                          "/tmp/x",
                          "--json",
                          "--server",
                          "/opt/ballot-server",
                          "--seed",
                          "99"});
    BOOST_TEST_REQUIRE(r.options.has_value(), r.error);
    const Options& o = *r.options;
    BOOST_TEST((o.protocols == std::vector<std::string>{"paxos", "raft", "multipaxos"}));
    BOOST_TEST(o.nodes == 5);
    BOOST_TEST(o.clients == 16);
    BOOST_TEST(o.pipeline == 8);
    BOOST_TEST(o.duration_s == 2.5);
    BOOST_TEST(o.warmup_s == 0.0);
    BOOST_TEST(o.value_size_bytes == 4096u);
    BOOST_TEST(o.keys == 77u);
    BOOST_TEST(o.read_ratio == 0.25);
    BOOST_TEST_REQUIRE(o.rate_ops.has_value());
    BOOST_TEST(*o.rate_ops == 5000.0);
    BOOST_TEST(!o.closed_loop());
    BOOST_TEST((o.target == Target::leader));
    BOOST_TEST(*o.baseline == "redis-nofsync");
    BOOST_TEST(*o.fail_leader_at_s == 1.5);
    BOOST_TEST(o.out_dir == "/tmp/x");
    BOOST_TEST(o.json_stdout);
    BOOST_TEST(o.server == "/opt/ballot-server");
    BOOST_TEST(o.seed == 99u);
}

BOOST_AUTO_TEST_CASE(fail_follower_for_and_server_args) {
    // 2 s before the kill + 10 s down + 3 s of catch-up: 15 s is just enough.
    const auto r =
        parse({"--fail-follower-for", "10", "--duration", "15", "--server-arg", "--snapshot-entries=20000",
               "--server-arg", "--snapshot-trailing", "--server-arg=2000"});
    BOOST_TEST_REQUIRE(r.options.has_value(), r.error);
    BOOST_TEST(*r.options->fail_follower_for_s == 10);
    BOOST_TEST((r.options->server_args ==
                std::vector<std::string>{"--snapshot-entries=20000", "--snapshot-trailing", "2000"}));
    // The duration may come after the option it bounds.
    const auto later = parse({"--duration=30", "--nodes", "5", "--fail-follower-for=20"});
    BOOST_TEST_REQUIRE(later.options.has_value(), later.error);
    BOOST_TEST(*later.options->fail_follower_for_s == 20);
    BOOST_TEST(later.options->slow_follower_disk == 1u);  // off unless asked
    // --slow-follower-disk: the restarted follower's fsyncs, FACTOR times as long.
    const auto slow = parse({"--slow-follower-disk", "40", "--fail-follower-for", "10", "--duration", "15"});
    BOOST_TEST_REQUIRE(slow.options.has_value(), slow.error);
    BOOST_TEST(slow.options->slow_follower_disk == 40u);
}

BOOST_AUTO_TEST_CASE(leader_transfers_and_a_leader_removal) {
    const auto at = parse({"--transfer-leader-at", "1,2.5,4", "--duration", "5"});
    BOOST_TEST_REQUIRE(at.options.has_value(), at.error);
    BOOST_TEST((at.options->change_leader_at_s == std::vector<double>{1, 2.5, 4}));
    BOOST_TEST((at.options->leader_action == LeaderAction::transfer));
    // --transfer-leader-every 0.5 for 60 s: 119 transfers, the last half a second before the end.
    const auto every_half = parse({"--transfer-leader-every=0.5", "--duration=60"});
    BOOST_TEST_REQUIRE(every_half.options.has_value(), every_half.error);
    const auto& times = every_half.options->change_leader_at_s;
    BOOST_TEST_REQUIRE(times.size() == 119u);
    BOOST_TEST(times.front() == 0.5);
    BOOST_TEST(times.back() == 59.5);
    const auto removal = parse({"--remove-leader-at", "3", "--duration", "6"});
    BOOST_TEST_REQUIRE(removal.options.has_value(), removal.error);
    BOOST_TEST((removal.options->change_leader_at_s == std::vector<double>{3}));
    BOOST_TEST((removal.options->leader_action == LeaderAction::remove));
    BOOST_TEST(parse({}).options->change_leader_at_s.empty());
}

BOOST_AUTO_TEST_CASE(tls_is_for_spawned_clusters_without_the_redis_baseline) {
    const auto r = parse({"--tls"});
    BOOST_TEST_REQUIRE(r.options.has_value(), r.error);
    BOOST_TEST(r.options->tls);
    BOOST_TEST(!parse({}).options->tls);
    const auto existing = parse({"--tls", "--node", "127.0.0.1:7001:1"});
    BOOST_TEST(!existing.options.has_value());
    BOOST_TEST(
        existing.error.find("--tls applies to clusters ballot-bench starts itself") != std::string::npos,
        existing.error);
    const auto baseline = parse({"--tls", "--baseline", "redis"});
    BOOST_TEST(!baseline.options.has_value());
    BOOST_TEST(baseline.error.find("--tls cannot be used with --baseline") != std::string::npos,
               baseline.error);
}

BOOST_AUTO_TEST_CASE(link_delay_port_base_and_a_clients_sweep) {
    const auto r = parse(
        {"--link-delay", "20:5", "--nodes", "7", "--port-base", "30000", "--sweep", "clients=1,4,16,64,256"});
    BOOST_TEST_REQUIRE(r.options.has_value(), r.error);
    const Options& o = *r.options;
    BOOST_TEST(o.link_delay.delay_ms == 20u);
    BOOST_TEST(o.link_delay.jitter_ms == 5u);
    BOOST_TEST_REQUIRE(o.port_base.has_value());
    BOOST_TEST(*o.port_base == 30000);
    BOOST_TEST_REQUIRE(o.sweep.has_value());
    BOOST_TEST(o.sweep->name() == "clients");
    BOOST_TEST((o.sweep->values == std::vector<double>{1, 4, 16, 64, 256}));
    const Options at = o.at_sweep_point(16);
    BOOST_TEST(at.clients == 16);
    BOOST_TEST(at.closed_loop());
    // The highest base that still leaves the last node's peer port (10000 above) a port.
    const auto highest = parse({"--nodes", "3", "--port-base=55533"});
    BOOST_TEST_REQUIRE(highest.options.has_value(), highest.error);
    BOOST_TEST(*highest.options->port_base == 55533);
}

BOOST_AUTO_TEST_CASE(a_rate_sweep_is_open_loop_at_each_rate) {
    const auto r = parse({"--sweep=rate=1000,2500.5,8000", "--clients", "32"});
    BOOST_TEST_REQUIRE(r.options.has_value(), r.error);
    BOOST_TEST(r.options->sweep->name() == "rate");
    BOOST_TEST(r.options->closed_loop());  // the sweep sets the rate of each run, not the whole bench
    const Options at = r.options->at_sweep_point(2500.5);
    BOOST_TEST(!at.closed_loop());
    BOOST_TEST(*at.rate_ops == 2500.5);
    BOOST_TEST(at.clients == 32);
}

BOOST_AUTO_TEST_CASE(the_lock_workload_uncontended_and_contended) {
    const auto set = parse({});
    BOOST_TEST_REQUIRE(set.options.has_value());
    BOOST_TEST((set.options->workload == WorkloadKind::set));
    BOOST_TEST(set.options->lock_contention == 1);

    const auto lock = parse({"--workload", "lock"});
    BOOST_TEST_REQUIRE(lock.options.has_value(), lock.error);
    BOOST_TEST((lock.options->workload == WorkloadKind::lock));
    BOOST_TEST(lock.options->lock_contention == 1);

    const auto contended =
        parse({"--workload=lock", "--clients", "1000", "--lock-contention", "1000", "--pipeline", "1"});
    BOOST_TEST_REQUIRE(contended.options.has_value(), contended.error);
    BOOST_TEST(contended.options->lock_contention == 1000);
    const Workload w = Workload::from(*contended.options);
    BOOST_TEST((w.kind == WorkloadKind::lock));
    BOOST_TEST(w.lock_contention == 1000);

    const auto help = parse({"--help"}).help;
    BOOST_TEST(help.find("--workload set|lock") != std::string::npos);
    BOOST_TEST(help.find("--lock-contention N") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(version_is_asked_for_not_an_error) {
    const auto r = parse({"--version"});
    BOOST_TEST(r.version);
    BOOST_TEST(!r.options.has_value());
    BOOST_TEST(r.error.empty());
}

BOOST_AUTO_TEST_CASE(existing_cluster_nodes) {
    const auto r = parse({"--node", "127.0.0.1:7001:1", "--node", "db.example:7002:2", "--node",
                          "[::1]:7003:3", "--baseline", "redis"});
    BOOST_TEST_REQUIRE(r.options.has_value(), r.error);
    const auto& e = r.options->existing;
    BOOST_TEST_REQUIRE(e.size() == 3u);
    BOOST_TEST(e[0].host == "127.0.0.1");
    BOOST_TEST(e[0].port == 7001);
    BOOST_TEST(e[0].id == 1u);
    BOOST_TEST(e[1].host == "db.example");
    BOOST_TEST(e[1].address() == "db.example:7002");
    BOOST_TEST(e[2].host == "[::1]");
    BOOST_TEST(e[2].id == 3u);
    BOOST_TEST(*r.options->baseline == "redis");
}

BOOST_AUTO_TEST_CASE(every_bad_option_gives_one_error_line) {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--bogus"}, "--bogus"},
        {{"stray"}, "unexpected argument 'stray'"},
        {{"--json=yes"}, "--json"},
        {{"--clients", "4", "--clients", "5"}, "more than once"},
        {{"--seed", "-1"}, "--seed"},
        {{"--protocol", "zab"}, "zab"},
        {{"--protocol", "raft,,paxos"}, "--protocol"},
        {{"--nodes", "0"}, "--nodes"},
        {{"--nodes", "9"}, "--nodes"},
        {{"--nodes", "three"}, "nodes"},
        {{"--clients", "0"}, "--clients"},
        {{"--clients", "100000"}, "--clients"},
        {{"--clients", "1.5"}, "clients"},
        {{"--pipeline", "0"}, "--pipeline"},
        {{"--pipeline", "5000"}, "--pipeline"},
        {{"--duration", "0"}, "--duration"},
        {{"--duration", "-3"}, "--duration"},
        {{"--duration", "nan"}, "--duration"},
        {{"--duration", "soon"}, "duration"},
        {{"--warmup", "-1"}, "--warmup"},
        {{"--value-size", "-1"}, "--value-size"},
        {{"--value-size", "2000000"}, "--value-size"},
        {{"--keys", "0"}, "--keys"},
        {{"--read-ratio", "1.5"}, "--read-ratio"},
        {{"--read-ratio", "-0.1"}, "--read-ratio"},
        {{"--rate", "0"}, "--rate"},
        {{"--rate", "-10"}, "--rate"},
        {{"--target", "followers"}, "--target"},
        {{"--node", "127.0.0.1:7001"}, "HOST:PORT:ID"},
        {{"--node", "localhost"}, "HOST:PORT:ID"},
        {{"--node", "127.0.0.1:99999:1"}, "port"},
        {{"--node", "127.0.0.1:0:1"}, "port"},
        {{"--node", "127.0.0.1:x:1"}, "port"},
        {{"--node", "127.0.0.1:7001:0"}, "id"},
        {{"--node", "127.0.0.1:7001:one"}, "id"},
        {{"--node", "127.0.0.1:7001:1", "--node", "127.0.0.1:7002:1"}, "id 1"},
        {{"--node", "127.0.0.1:7001:1", "--node", "127.0.0.1:7001:2"}, "127.0.0.1:7001"},
        {{"--node", "127.0.0.1:7001:1", "--protocol", "raft"}, "--protocol"},
        {{"--node", "127.0.0.1:7001:1", "--nodes", "3"}, "--nodes"},
        {{"--node", "127.0.0.1:7001:1", "--server", "/bin/true"}, "--server"},
        {{"--node", "127.0.0.1:7001:1", "--fail-leader-at", "1"}, "--fail-leader-at"},
        {{"--baseline", "memcached"}, "--baseline"},
        {{"--fail-leader-at", "0"}, "--fail-leader-at"},
        {{"--fail-leader-at", "10"}, "--fail-leader-at"},
        {{"--duration", "5", "--fail-leader-at", "6"}, "--fail-leader-at"},
        {{"--fail-follower-for", "0"}, "--fail-follower-for"},
        {{"--fail-follower-for", "-2"}, "--fail-follower-for"},
        {{"--fail-follower-for", "1.5", "--duration", "30"}, "fail-follower-for"},
        {{"--fail-follower-for", "soon"}, "fail-follower-for"},
        {{"--fail-follower-for", "99999", "--duration", "80000"}, "--fail-follower-for"},
        {{"--fail-follower-for", "6"}, "needs --duration 11 or more"},
        {{"--fail-follower-for", "3", "--duration", "7.5"}, "needs --duration 8 or more"},
        {{"--fail-follower-for", "3", "--fail-leader-at", "1"}, "cannot be combined"},
        {{"--fail-follower-for", "3", "--nodes", "2"}, "--nodes 3 or more"},
        {{"--fail-follower-for", "3", "--nodes", "1"}, "--nodes 3 or more"},
        {{"--slow-follower-disk", "40"}, "--slow-follower-disk needs --fail-follower-for"},
        {{"--slow-follower-disk", "1", "--fail-follower-for", "3", "--duration", "8"}, "between 2 and 1000"},
        {{"--slow-follower-disk", "1001", "--fail-follower-for", "3", "--duration", "8"}, "between 2 and 1000"},
        {{"--slow-follower-disk", "x", "--fail-follower-for", "3", "--duration", "8"}, "not an integer"},
        {{"--slow-follower-disk", "40", "--fail-follower-for", "3", "--duration", "8", "--server-arg",
          "--slow-disk-factor=2"},
         "cannot be combined with --slow-follower-disk"},
        {{"--node", "127.0.0.1:7001:1", "--fail-follower-for", "3"}, "--fail-follower-for"},
        {{"--node", "127.0.0.1:7001:1", "--server-arg", "--heartbeat-ms=20"}, "--server-arg"},
        {{"--server-arg", ""}, "--server-arg must not be empty"},
        {{"--server-arg", "--id=2"}, "sets --id"},
        {{"--server-arg", "--data-dir"}, "sets --data-dir"},
        {{"--server-arg", "--node=127.0.0.1:1:1"}, "sets --node"},
        {{"--server-arg", "--protocol"}, "sets --protocol"},
        {{"--server-arg"}, "--server-arg needs a value"},
        {{"--out", ""}, "--out"},
        {{"--server", ""}, "--server"},
        {{"--clients"}, "--clients needs a value"},
        {{"--link-delay", "-5"}, "--link-delay"},
        {{"--link-delay", "fast"}, "not a whole number"},
        {{"--link-delay", "99999"}, "more than 10000 ms"},
        {{"--link-delay", "20:30"}, "larger than the delay"},
        {{"--link-delay", "20:x"}, "--link-delay"},
        {{"--node", "127.0.0.1:7001:1", "--link-delay", "20"}, "--link-delay"},
        {{"--server-arg", "--link-delay=5"}, "sets --link-delay"},
        {{"--server-arg", "--unsafe-no-fsync"}, "sets --unsafe-no-fsync"},
        {{"--node", "127.0.0.1:7001:1", "--unsafe-no-fsync"}, "--unsafe-no-fsync"},
        {{"--port-base", "80"}, "--port-base must be between 1024"},
        {{"--port-base", "55534", "--nodes", "3"}, "--port-base"},
        {{"--port-base", "70000"}, "--port-base"},
        {{"--port-base", "x"}, "port-base"},
        {{"--node", "127.0.0.1:7001:1", "--port-base", "30000"}, "--port-base"},
        {{"--sweep", "threads=1,2"}, "--sweep"},
        {{"--sweep", "clients"}, "--sweep"},
        {{"--sweep", "clients="}, "--sweep"},
        {{"--sweep", "clients=1,0"}, "--sweep"},
        {{"--sweep", "clients=1,2.5"}, "--sweep"},
        {{"--sweep", "clients=1,,4"}, "--sweep"},
        {{"--sweep", "clients=4,1"}, "must increase"},
        {{"--sweep", "clients=1,100000"}, "--sweep"},
        {{"--sweep", "rate=0,100"}, "--sweep"},
        {{"--sweep", "rate=nan"}, "--sweep"},
        {{"--sweep", "clients=1,4", "--clients", "8"}, "cannot be combined"},
        {{"--sweep", "rate=100,200", "--rate", "50"}, "cannot be combined"},
        {{"--sweep", "clients=1,4", "--fail-leader-at", "1"}, "--sweep"},
        {{"--sweep", "clients=1,4", "--transfer-leader-at", "1"}, "--sweep"},
        {{"--transfer-leader-at", "0"}, "--transfer-leader-at must be after 0"},
        {{"--transfer-leader-at", "10"}, "before the end of the 10 s run"},
        {{"--transfer-leader-at", "3,2"}, "the times must increase"},
        {{"--transfer-leader-at", "1,,2"}, "'' is not a number"},
        {{"--transfer-leader-at", "soon"}, "'soon' is not a number"},
        {{"--transfer-leader-every", "0"}, "--transfer-leader-every must be after 0"},
        {{"--transfer-leader-every", "0.0001", "--duration", "100"}, "more than 10000 transfers"},
        {{"--transfer-leader-every", "1", "--transfer-leader-at", "2"}, "cannot be combined"},
        {{"--transfer-leader-every", "1", "--fail-leader-at", "2"}, "cannot be combined"},
        {{"--remove-leader-at", "1,2"}, "takes one time"},
        {{"--remove-leader-at", "1", "--nodes", "2"}, "--nodes 3 or more"},
        {{"--transfer-leader-at", "1", "--nodes", "1"}, "--nodes 2 or more"},
        {{"--node", "127.0.0.1:7001:1", "--transfer-leader-every", "1"}, "--transfer-leader-every"},
        {{"--workload", "mixed"}, "--workload must be 'set' or 'lock'"},
        {{"--lock-contention", "4"}, "--lock-contention applies to --workload lock only"},
        {{"--workload", "lock", "--lock-contention", "0"}, "--lock-contention must be between 1"},
        {{"--workload", "lock", "--lock-contention", "two"}, "--lock-contention: 'two' is not an integer"},
        {{"--workload", "lock", "--clients", "8", "--lock-contention", "9"}, "more than --clients 8"},
        {{"--workload", "lock", "--pipeline", "2"}, "--pipeline 1"},
        {{"--workload", "lock", "--rate", "100"}, "--rate cannot be used with --workload lock"},
        {{"--workload", "lock", "--read-ratio", "0.5"}, "--read-ratio applies to --workload set only"},
        {{"--workload", "lock", "--baseline", "redis"}, "--baseline cannot be used with --workload lock"},
        {{"--workload", "lock", "--fail-leader-at", "1"}, "--fail-leader-at cannot be used"},
        {{"--workload", "lock", "--transfer-leader-every", "1"}, "--transfer-leader-every cannot be used"},
        {{"--workload", "lock", "--sweep", "rate=10,20"}, "sweep clients instead"},
    };
    for (const auto& [args, mention] : cases) {
        std::string joined;
        for (const auto& a : args) joined += a + " ";
        const auto r = parse(args);
        BOOST_TEST(!r.options.has_value(), joined);
        BOOST_TEST(!r.error.empty(), joined);
        BOOST_TEST(r.error.find('\n') == std::string::npos, joined << ": " << r.error);
        BOOST_TEST(r.error.find(mention) != std::string::npos, joined << ": " << r.error);
    }
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- unavailability window

BOOST_AUTO_TEST_SUITE(unavailability)

namespace {

// A timeline of `length_ms` with one success per millisecond except in the [from, to) gaps.
Timeline with_gaps(std::size_t length_ms, std::vector<std::pair<std::size_t, std::size_t>> gaps) {
    Timeline t;
    t.ok_per_ms.assign(length_ms, 1);
    for (const auto& [from, to] : gaps)
        for (std::size_t ms = from; ms < to && ms < length_ms; ++ms) t.ok_per_ms[ms] = 0;
    return t;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_clean_gap_at_the_kill) {
    const auto w = find_unavailability(with_gaps(10'000, {{3000, 3400}}), 3000.2);
    BOOST_TEST(w.kill_ms == 3000.2);
    BOOST_TEST(w.last_ok_before_ms == 3000.0);
    BOOST_TEST_REQUIRE(w.first_ok_after_ms.has_value());
    BOOST_TEST(*w.first_ok_after_ms == 3400.0);
    BOOST_TEST(*w.length_ms() == 400.0);
}

BOOST_AUTO_TEST_CASE(replies_already_on_their_way_do_not_end_the_window) {
    // Successes keep arriving for 4 ms after the kill (committed before it), then nothing.
    const auto w = find_unavailability(with_gaps(10'000, {{3005, 3600}}), 3000.5);
    BOOST_TEST(w.last_ok_before_ms == 3005.0);
    BOOST_TEST(*w.first_ok_after_ms == 3600.0);
    BOOST_TEST(*w.length_ms() == 595.0);
}

BOOST_AUTO_TEST_CASE(the_longest_gap_after_the_kill_is_the_outage) {
    // A straggler at 3100 splits the silence; the longer part is reported.
    const auto w = find_unavailability(with_gaps(10'000, {{3005, 3100}, {3101, 3500}}), 3000);
    BOOST_TEST(w.last_ok_before_ms == 3101.0);
    BOOST_TEST(*w.first_ok_after_ms == 3500.0);
}

BOOST_AUTO_TEST_CASE(gaps_before_the_kill_or_long_after_it_are_ignored) {
    const auto w = find_unavailability(with_gaps(10'000, {{1000, 1500}, {3000, 3050}, {5000, 6000}}), 3000);
    BOOST_TEST(w.last_ok_before_ms == 3000.0);
    BOOST_TEST(*w.first_ok_after_ms == 3050.0);
}

BOOST_AUTO_TEST_CASE(service_that_never_comes_back) {
    const auto w = find_unavailability(with_gaps(10'000, {{3000, 10'000}}), 3000);
    BOOST_TEST(w.last_ok_before_ms == 3000.0);
    BOOST_TEST(!w.first_ok_after_ms.has_value());
    BOOST_TEST(!w.length_ms().has_value());
}

BOOST_AUTO_TEST_CASE(no_gap_at_all) {
    // Basic Paxos: the survivors keep answering every millisecond.
    const auto w = find_unavailability(with_gaps(10'000, {}), 3000.5);
    BOOST_TEST_REQUIRE(w.length_ms().has_value());
    BOOST_TEST(*w.length_ms() == 0.0);
}

BOOST_AUTO_TEST_CASE(a_kill_before_the_first_success) {
    const auto w = find_unavailability(with_gaps(10'000, {{0, 200}}), 50);
    BOOST_TEST(w.last_ok_before_ms == 0.0);
    BOOST_TEST(*w.first_ok_after_ms == 200.0);
}

BOOST_AUTO_TEST_CASE(per_second_throughput_from_the_millisecond_timeline) {
    Timeline t;
    t.ok_per_ms.assign(2500, 2);
    t.ok_per_ms[1999] = 10;
    const auto per_second = t.ok_per_second(2.5);
    BOOST_TEST((per_second == std::vector<std::uint64_t>{2000, 2008, 1000}));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- follower catch-up

BOOST_AUTO_TEST_SUITE(follower_catchup)

BOOST_AUTO_TEST_CASE(info_numbers_and_epochs) {
    const Info info = parse_info(
        "# Ballot\r\nprotocol:raft\r\nterm:7\r\ncommit_index:1200\r\napplied_index:abc\r\n"
        "snapshot_index:\r\n");
    BOOST_TEST(*info_number(info, "commit_index") == 1200u);
    BOOST_TEST(!info_number(info, "applied_index").has_value());        // not a number
    BOOST_TEST(!info_number(info, "snapshot_index").has_value());       // empty
    BOOST_TEST(!info_number(info, "snapshots_installed").has_value());  // missing
    BOOST_TEST((*info_epoch(info) == std::pair<std::uint64_t, std::uint64_t>{7, 0}));
    BOOST_TEST(
        (*info_epoch(parse_info("ballot:12.3\r\n")) == std::pair<std::uint64_t, std::uint64_t>{12, 3}));
    BOOST_TEST(!info_epoch(parse_info("ballot:x.3\r\n")).has_value());
    BOOST_TEST(!info_epoch(parse_info("ballot:4.\r\n")).has_value());
    BOOST_TEST(!info_epoch(parse_info("role:leader\r\n")).has_value());
}

BOOST_AUTO_TEST_CASE(vm_rss_from_proc_status) {
    const std::string status =
        "Name:\tballot-server\nVmPeak:\t  900000 kB\nVmRSS:\t   51200 kB\nThreads:\t4\n";
    BOOST_TEST(*parse_vm_rss_bytes(status) == 51200u * 1024);
    BOOST_TEST(!parse_vm_rss_bytes("Name:\tx\n").has_value());
    BOOST_TEST(!parse_vm_rss_bytes("VmRSS:\tlots\n").has_value());
    BOOST_TEST(!parse_vm_rss_bytes("VmRSS:\t12 MB\n").has_value());
    // This process has one.
    BOOST_TEST(read_vm_rss_bytes(static_cast<int>(::getpid())).value_or(0) > 0u);
}

BOOST_AUTO_TEST_CASE(writes_are_filed_by_the_phase_they_were_sent_in) {
    // Kill at 100, restart at 200, caught up at 300; 0 means "not yet".
    BOOST_TEST((phase_at(50, 0, 0, 0) == FaultPhase::before_kill));
    BOOST_TEST((phase_at(99, 100, 0, 0) == FaultPhase::before_kill));
    BOOST_TEST((phase_at(100, 100, 0, 0) == FaultPhase::down));
    BOOST_TEST((phase_at(250, 100, 0, 0) == FaultPhase::down));  // restart not marked yet
    BOOST_TEST((phase_at(199, 100, 200, 0) == FaultPhase::down));
    BOOST_TEST((phase_at(200, 100, 200, 0) == FaultPhase::catching_up));
    BOOST_TEST((phase_at(999, 100, 200, 0) == FaultPhase::catching_up));  // never caught up
    BOOST_TEST((phase_at(299, 100, 200, 300) == FaultPhase::catching_up));
    BOOST_TEST((phase_at(300, 100, 200, 300) == FaultPhase::after));
}

BOOST_AUTO_TEST_CASE(elections_are_terms_started_and_leader_changes_need_a_higher_epoch) {
    ElectionCounter quiet;
    for (int i = 0; i < 5; ++i) {
        quiet.observe(parse_info("leader_id:1\r\nterm:4\r\n"));
        quiet.observe(parse_info("leader_id:1\r\nterm:4\r\n"));
    }
    BOOST_TEST(quiet.elections() == 0u);
    BOOST_TEST(quiet.leader_changes() == 0u);

    ElectionCounter c;
    c.observe(parse_info("leader_id:1\r\nterm:4\r\n"));
    c.observe(parse_info("leader_id:0\r\nterm:5\r\n"));  // a failed election
    c.observe(parse_info("leader_id:2\r\nterm:6\r\n"));  // n2 won the next one
    c.observe(parse_info("leader_id:1\r\nterm:4\r\n"));  // a survivor that has not heard yet
    c.observe(parse_info("leader_id:2\r\nterm:6\r\n"));
    BOOST_TEST(c.elections() == 2u);
    BOOST_TEST(c.leader_changes() == 1u);

    // Multi-Paxos ballots: rounds started; the same leader in a new round is not a change.
    ElectionCounter m;
    m.observe(parse_info("leader_id:3\r\nballot:2.3\r\n"));
    m.observe(parse_info("leader_id:3\r\nballot:3.3\r\n"));
    BOOST_TEST(m.elections() == 1u);
    BOOST_TEST(m.leader_changes() == 0u);

    // Unreachable survivors (empty replies) and replies without an epoch count nothing.
    ElectionCounter none;
    none.observe({});
    none.observe(parse_info("leader_id:2\r\n"));
    BOOST_TEST(none.elections() == 0u);
    BOOST_TEST(none.leader_changes() == 0u);
}

BOOST_AUTO_TEST_CASE(caught_up_when_applied_reaches_the_target) {
    CatchupObserver o(1000, std::nullopt);
    BOOST_TEST(!o.observe(20, {}));  // not listening yet
    BOOST_TEST(!o.observe(40, parse_info("applied_index:400\r\n")));
    BOOST_TEST(!o.observe(60, parse_info("applied_index:999\r\n")));
    BOOST_TEST(o.observe(80, parse_info("applied_index:1000\r\n")));
    BOOST_TEST(*o.catch_up_ms() == 80.0);
    // Later replies do not move it.
    BOOST_TEST(o.observe(100, parse_info("applied_index:1500\r\n")));
    BOOST_TEST(*o.catch_up_ms() == 80.0);
    BOOST_TEST(o.applied_index() == 1500u);

    // A reply without applied_index is no evidence of a catch-up, even for a target of 0.
    CatchupObserver zero(0, std::nullopt);
    BOOST_TEST(!zero.observe(20, parse_info("role:follower\r\n")));
    BOOST_TEST(zero.observe(40, parse_info("applied_index:0\r\n")));
}

BOOST_AUTO_TEST_CASE(snapshot_evidence_prefers_snapshots_installed) {
    std::string why;
    CatchupObserver installed(100, 50);
    installed.observe(10, parse_info("applied_index:50\r\nsnapshot_index:50\r\nsnapshots_installed:0\r\n"));
    installed.observe(30, parse_info("applied_index:120\r\nsnapshot_index:110\r\nsnapshots_installed:1\r\n"));
    BOOST_TEST((installed.snapshot(why) == SnapshotSeen::yes));
    BOOST_TEST(why == "INFO snapshots_installed:1");

    CatchupObserver log_only(100, 50);
    log_only.observe(10, parse_info("applied_index:150\r\nsnapshot_index:50\r\nsnapshots_installed:0\r\n"));
    BOOST_TEST((log_only.snapshot(why) == SnapshotSeen::no));

    // Without snapshots_installed: the snapshot_index against the one it had on disk.
    CatchupObserver rose(100, 50);
    rose.observe(10, parse_info("applied_index:50\r\nsnapshot_index:50\r\n"));
    rose.observe(30, parse_info("applied_index:120\r\nsnapshot_index:110\r\n"));
    BOOST_TEST((rose.snapshot(why) == SnapshotSeen::yes));
    BOOST_TEST(why.find("50 at the restart, 110 at the last poll") != std::string::npos, why);

    CatchupObserver same(100, 50);
    same.observe(10, parse_info("applied_index:120\r\nsnapshot_index:50\r\n"));
    BOOST_TEST((same.snapshot(why) == SnapshotSeen::no));

    CatchupObserver unknown(100, std::nullopt);
    unknown.observe(10, parse_info("applied_index:120\r\n"));
    BOOST_TEST((unknown.snapshot(why) == SnapshotSeen::unknown));
    BOOST_TEST(why.find("neither") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- reports

BOOST_AUTO_TEST_SUITE(snapshot_windows)

namespace {

std::map<std::string, std::string> snapshot_info(bool making, std::uint64_t made) {
    return {{"snapshot_in_progress", making ? "1" : "0"}, {"snapshots_made", std::to_string(made)}};
}

// A poll sent at `at_ms` and answered 1 ms later.
void poll(SnapshotWindowTracker& t, NodeId node, double at_ms, bool making, std::uint64_t made) {
    t.observe(node, at_ms, at_ms + 1, snapshot_info(making, made));
}

}  // namespace

// The window holds the real one: from the last poll that saw the node idle (sent) to the first
// that saw it idle again (answered).
BOOST_AUTO_TEST_CASE(a_window_runs_from_the_last_idle_poll_to_the_next_idle_answer) {
    SnapshotWindowTracker t;
    poll(t, 1, 0, false, 0);
    poll(t, 1, 10, false, 0);
    poll(t, 1, 20, true, 0);
    poll(t, 1, 30, true, 0);
    poll(t, 1, 40, false, 1);
    poll(t, 1, 50, false, 1);
    const auto windows = t.finish(100);
    BOOST_TEST_REQUIRE(windows.size() == 1u);
    BOOST_TEST(windows[0].node == 1u);
    BOOST_TEST(windows[0].start_ms == 10.0);
    BOOST_TEST(windows[0].end_ms == 41.0);
    BOOST_TEST(t.nodes_watched() == 1u);
}

// A snapshot made entirely between two polls shows only as a rise of snapshots_made.
BOOST_AUTO_TEST_CASE(a_snapshot_between_two_polls_is_found_by_its_count) {
    SnapshotWindowTracker t;
    poll(t, 2, 0, false, 4);
    poll(t, 2, 10, false, 5);
    poll(t, 2, 20, false, 5);
    const auto windows = t.finish(100);
    BOOST_TEST_REQUIRE(windows.size() == 1u);
    BOOST_TEST(windows[0].start_ms == 0.0);
    BOOST_TEST(windows[0].end_ms == 11.0);
}

// Killed while making one: the window ends at the failed poll; restarted, its count starts from
// 0 again, which is no snapshot; one still open when the run ends is closed there.
BOOST_AUTO_TEST_CASE(a_node_killed_restarted_or_still_making_at_the_end) {
    SnapshotWindowTracker t;
    poll(t, 3, 0, false, 7);
    poll(t, 3, 10, true, 7);
    t.unreachable(3, 25);
    poll(t, 3, 500, false, 0);
    poll(t, 3, 510, false, 0);
    poll(t, 3, 520, true, 0);
    auto windows = t.finish(600);
    BOOST_TEST_REQUIRE(windows.size() == 2u);
    std::sort(windows.begin(), windows.end(),
              [](const SnapshotWindow& a, const SnapshotWindow& b) { return a.start_ms < b.start_ms; });
    BOOST_TEST(windows[0].start_ms == 0.0);
    BOOST_TEST(windows[0].end_ms == 25.0);
    BOOST_TEST(windows[1].start_ms == 510.0);
    BOOST_TEST(windows[1].end_ms == 600.0);
}

// A node whose INFO has no snapshot_in_progress (a redis-server, an older node) is not watched.
BOOST_AUTO_TEST_CASE(a_node_without_the_field_is_not_watched) {
    SnapshotWindowTracker t;
    t.observe(1, 0, 1, {{"redis_version", "7.0.15"}});
    t.observe(1, 10, 11, {});
    BOOST_TEST(t.nodes_watched() == 0u);
    BOOST_TEST(t.finish(100).empty());
}

// proposals_preempted over the measured run: what each node added after its base (the last poll
// sent before measurement began), a restarted node's new count included, summed over nodes.
BOOST_AUTO_TEST_CASE(an_info_counter_sums_what_each_node_added_in_the_run) {
    InfoCounterTotal t("proposals_preempted");
    BOOST_TEST(!t.total().has_value());
    auto info = [](const char* v) { return std::map<std::string, std::string>{{"proposals_preempted", v}}; };
    t.observe(1, -500, info("40"));  // warmup
    t.observe(1, -10, info("70"));   // the base
    t.observe(1, 10, info("75"));
    t.observe(1, 990, info("100"));                   // node 1: 30
    t.observe(2, 5, info("8"));                       // first seen inside the run: the base
    t.observe(2, 500, info("20"));                    // 12 ...
    t.observe(2, 900, info("3"));                     // ... restarted: 3 more
    t.observe(3, 10, {{"redis_version", "7.0.15"}});  // no such field
    t.observe(3, 20, info("many"));                   // not a number
    BOOST_TEST(t.total().value_or(0) == 45u);
}

// Writes are filed by send time against the union of the windows (two nodes overlapping count
// once), clipped to the measured run.
BOOST_AUTO_TEST_CASE(writes_are_split_by_send_time_against_the_windows_union) {
    const std::vector<SnapshotWindow> windows = {
        {1, 100, 200}, {2, 150, 250}, {3, 900, 1200}, {1, -50, -10}};
    std::vector<WriteSample> writes;
    for (double t : {50.0, 99.0, 100.0, 180.0, 249.0, 250.0, 950.0, 999.0}) writes.push_back({t, t + 2});
    writes.push_back({120, 140});  // the slow one, inside
    const auto l = split_by_snapshot_windows(writes, windows, 1000, 3);
    BOOST_TEST(l.nodes_watched == 3u);
    BOOST_TEST(l.windows == 3u);  // the one before the run does not count
    BOOST_TEST(l.inside_ms == 250.0);  // 100..250 and 900..1000
    BOOST_TEST(l.write_inside_ns.count() == 6u);   // 100, 120, 180, 249, 950, 999
    BOOST_TEST(l.write_outside_ns.count() == 3u);  // 50, 99, 250
    BOOST_TEST(l.write_inside_ns.max() == 20'000'000u);
    BOOST_TEST(l.write_outside_ns.max() == 2'000'000u);
    BOOST_TEST_REQUIRE(l.p99_ratio().has_value());
    BOOST_TEST(*l.p99_ratio() == 10.0, boost::test_tools::tolerance(0.01));
}

BOOST_AUTO_TEST_CASE(no_ratio_without_writes_on_both_sides) {
    const std::vector<WriteSample> writes = {{10, 12}, {20, 21}};
    const auto none = split_by_snapshot_windows(writes, {}, 1000, 3);
    BOOST_TEST(none.windows == 0u);
    BOOST_TEST(none.write_outside_ns.count() == 2u);
    BOOST_TEST(!none.p99_ratio().has_value());
    const auto all = split_by_snapshot_windows(writes, {{1, 0, 1000}}, 1000, 3);
    BOOST_TEST(all.write_inside_ns.count() == 2u);
    BOOST_TEST(!all.p99_ratio().has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(reports)

namespace {

RunConfig synthetic_config() {
    RunConfig c;
    c.cluster = "3-node local clusters";
    c.clients = 64;
    c.pipeline = 1;
    c.target = "all nodes";
    c.value_size_bytes = 100;
    c.keys = 10000;
    c.read_ratio = 0;
    c.duration_s = 10;
    c.warmup_s = 2;
    c.durability = "log fsync'ed";
    c.cores = 2;
    c.seed = 1;
    c.started_at = "2024-01-01T00:00:00+0000";
    return c;
}

// raft: 5000 ok in 10 s (500 ops/s), latencies 1..1000 us at 5 each, 3 TRYAGAIN, a failover;
// paxos: did not start.
std::vector<EngineResult> synthetic_results() {
    EngineResult raft;
    raft.engine = "raft";
    raft.completed = true;
    raft.duration_s = 10;
    raft.ok = 5000;
    for (std::uint64_t us = 1; us <= 1000; ++us) raft.latency_ns.record(us * 1000, 5);
    raft.errors = {{"TRYAGAIN", 3}, {"connection lost", 2}};
    raft.unfinished = 1;
    raft.timeline.ok_per_ms.assign(10'000, 0);
    for (std::size_t ms = 0; ms < 10'000; ++ms)
        if (ms % 2 == 0 && (ms < 3000 || ms >= 3400)) raft.timeline.ok_per_ms[ms] = 1;
    Failover f;
    f.kill_at_s = 3.0;
    f.killed = 2;
    f.how = "leader n2 (INFO role:leader)";
    f.window = find_unavailability(raft.timeline, 3000);
    raft.failover = f;

    EngineResult redis;
    redis.engine = "redis";
    redis.note = "one redis-server, not replicated; AOF";
    redis.replicated = false;
    redis.completed = true;
    redis.duration_s = 10;
    redis.ok = 20000;
    redis.latency_ns.record(50'000, 20000);
    redis.timeline.ok_per_ms.assign(10'000, 2);

    EngineResult paxos;
    paxos.engine = "paxos";
    paxos.failure =
        "paxos node 1 exited (exit code 2) before the cluster was ready; its log ends:\nbad <flag>";
    return {raft, redis, paxos};
}

// multipaxos with a follower fault: n3 down 10 s, caught up 840 ms after its restart through a
// snapshot; writes at 2 ms before the kill and 6 ms during the catch-up.
EngineResult synthetic_follower_row() {
    EngineResult mp;
    mp.engine = "multipaxos";
    mp.completed = true;
    mp.duration_s = 20;
    mp.ok = 40000;
    mp.latency_ns.record(2'000'000, 40000);
    mp.timeline.ok_per_ms.assign(20'000, 2);
    FollowerCatchup f;
    f.killed = 3;
    f.how = "follower n3 (leader n1 by INFO role:leader)";
    f.kill_at_s = 2.0;
    f.restart_at_s = 12.0;
    f.down_s = 10;
    f.target_index = 52311;
    f.catch_up_ms = 840;
    f.catchup_bound_s = 60;
    f.applied_index_last = 52400;
    f.snapshot = SnapshotSeen::yes;
    f.snapshot_evidence = "INFO snapshots_installed:1";
    f.elections = 0;
    f.rss_node = 1;
    f.rss_before_bytes = 40ull << 20;
    f.rss_at_restart_bytes = 50ull << 20;
    f.rss_max_bytes = 60ull << 20;
    f.write_before_ns.record(2'000'000, 100);
    f.write_down_ns.record(3'000'000, 100);
    f.write_catchup_ns.record(6'000'000, 100);
    mp.follower = f;
    return mp;
}

boost::property_tree::ptree parse_json(const std::string& text) {
    std::istringstream in(text);
    boost::property_tree::ptree tree;
    boost::property_tree::read_json(in, tree);
    return tree;
}

// Paths with '/' as separator: keys such as "p99.9" contain dots.
template <typename T>
T get(const boost::property_tree::ptree& tree, const std::string& path) {
    return tree.get<T>(boost::property_tree::ptree::path_type(path, '/'));
}

}  // namespace

BOOST_AUTO_TEST_CASE(json_has_the_fields_and_numbers) {
    const auto json = format_json(synthetic_results(), synthetic_config());
    const auto tree = parse_json(json);
    BOOST_TEST(get<std::string>(tree, "tool") == "ballot-bench");
    BOOST_TEST(get<int>(tree, "config/clients") == 64);
    BOOST_TEST(get<std::string>(tree, "config/mode") == "closed loop");
    BOOST_TEST(get<std::string>(tree, "config/rate_ops") == "null");
    BOOST_TEST(get<int>(tree, "config/value_size_bytes") == 100);
    BOOST_TEST(get<double>(tree, "config/duration_s") == 10.0);
    BOOST_TEST(get<std::string>(tree, "config/durability") == "log fsync'ed");
    BOOST_TEST(get<int>(tree, "config/cores") == 2);

    std::vector<boost::property_tree::ptree> rows;
    for (const auto& [key, row] : tree.get_child("results")) rows.push_back(row);
    BOOST_TEST_REQUIRE(rows.size() == 3u);

    const auto& raft = rows[0];
    BOOST_TEST(get<std::string>(raft, "engine") == "raft");
    BOOST_TEST(get<bool>(raft, "completed"));
    BOOST_TEST(get<bool>(raft, "replicated"));
    BOOST_TEST(get<double>(raft, "throughput_ops") == 500.0);
    BOOST_TEST(get<std::uint64_t>(raft, "ok") == 5000u);
    BOOST_TEST(get<std::uint64_t>(raft, "latency_ms/count") == 5000u);
    // Latencies 1..1000 us uniformly: p50 = 0.5 ms, p99 = 0.99 ms, p99.9 = 0.999 ms, max 1 ms.
    BOOST_TEST(relative_error(get<double>(raft, "latency_ms/p50"), 0.5) <= 0.01);
    BOOST_TEST(relative_error(get<double>(raft, "latency_ms/p90"), 0.9) <= 0.01);
    BOOST_TEST(relative_error(get<double>(raft, "latency_ms/p99"), 0.99) <= 0.01);
    BOOST_TEST(relative_error(get<double>(raft, "latency_ms/p99.9"), 0.999) <= 0.01);
    BOOST_TEST(get<double>(raft, "latency_ms/max") == 1.0);
    BOOST_TEST(get<double>(raft, "latency_ms/min") == 0.001);
    BOOST_TEST(relative_error(get<double>(raft, "latency_ms/mean"), 0.5005) < 1e-9);
    BOOST_TEST(raft.get_child("latency_curve_ms").size() > 10u);
    BOOST_TEST(get<int>(raft, "errors/TRYAGAIN") == 3);
    BOOST_TEST(get<int>(raft, "errors/connection lost") == 2);
    BOOST_TEST(get<int>(raft, "errors_total") == 5);
    BOOST_TEST(get<int>(raft, "unfinished") == 1);
    std::vector<int> per_second;
    for (const auto& [key, v] : raft.get_child("ops_per_second")) per_second.push_back(v.get_value<int>());
    BOOST_TEST((per_second == std::vector<int>{500, 500, 500, 300, 500, 500, 500, 500, 500, 500}));
    BOOST_TEST(get<double>(raft, "failover/kill_at_s") == 3.0);
    BOOST_TEST(get<int>(raft, "failover/killed_node") == 2);
    BOOST_TEST(get<std::string>(raft, "failover/how") == "leader n2 (INFO role:leader)");
    // Successes on even milliseconds: the last before the gap is at 2998 (ends 2999), the first
    // after it at 3400.
    BOOST_TEST(get<double>(raft, "failover/last_ok_before_s") == 2.999);
    BOOST_TEST(get<double>(raft, "failover/first_ok_after_s") == 3.4);
    BOOST_TEST(get<double>(raft, "failover/unavailable_ms") == 401.0);

    const auto& redis = rows[1];
    BOOST_TEST(!get<bool>(redis, "replicated"));
    BOOST_TEST(get<double>(redis, "throughput_ops") == 2000.0);
    BOOST_TEST(get<std::string>(redis, "failover") == "null");
    BOOST_TEST(get<std::string>(redis, "note") == "one redis-server, not replicated; AOF");

    const auto& paxos = rows[2];
    BOOST_TEST(!get<bool>(paxos, "completed"));
    BOOST_TEST(get<std::string>(paxos, "failure").find("exit code 2") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(table_has_a_row_per_engine_and_the_configuration) {
    const auto table = format_table(synthetic_results(), synthetic_config());
    BOOST_TEST(table.find("engine") != std::string::npos);
    BOOST_TEST(table.find("p99.9 ms") != std::string::npos);
    BOOST_TEST(table.find("raft") != std::string::npos);
    BOOST_TEST(table.find("500") != std::string::npos);
    BOOST_TEST(table.find("\npaxos ") != std::string::npos);
    BOOST_TEST(table.find("  not measured: paxos node 1 exited (exit code 2)") != std::string::npos);
    BOOST_TEST(table.find("\nredis (not replicated) ") != std::string::npos);
    BOOST_TEST(table.find("TRYAGAIN 3") != std::string::npos);
    BOOST_TEST(table.find("unavailable 401 ms") != std::string::npos);
    BOOST_TEST(table.find("not replicated") != std::string::npos);
    BOOST_TEST(table.find("config: 3-node local clusters; 64 clients closed loop") != std::string::npos);
    BOOST_TEST(table.find("2 cores") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(html_has_an_svg_per_chart_and_the_table_rows) {
    const auto html = format_html(synthetic_results(), synthetic_config());
    BOOST_TEST(html.rfind("<!DOCTYPE html>", 0) == 0u);
    BOOST_TEST(count_of(html, "<svg") == 2u);
    BOOST_TEST(count_of(html, "</svg>") == 2u);
    BOOST_TEST(html.find("Latency by percentile") != std::string::npos);
    BOOST_TEST(html.find("Throughput over time") != std::string::npos);
    BOOST_TEST(count_of(html, "<tr>") == 4u);  // header + 3 engines
    BOOST_TEST(html.find("raft</td><td>500</td>") != std::string::npos);
    BOOST_TEST(html.find("redis (not replicated)</td><td>2000</td>") != std::string::npos);
    // The failure text is escaped, not markup.
    BOOST_TEST(html.find("bad &lt;flag&gt;") != std::string::npos);
    BOOST_TEST(html.find("bad <flag>") == std::string::npos);
    // One curve per measured engine in the latency chart and one line each in the throughput
    // chart; the failover window is shaded.
    BOOST_TEST(count_of(html, "<polyline") == 4u);
    BOOST_TEST(html.find("fill-opacity=\"0.12\"") != std::string::npos);
    BOOST_TEST(html.find("raft: 401 ms unavailable") != std::string::npos);
    BOOST_TEST(html.find("99.99%") != std::string::npos);
    // Self-contained: nothing is fetched.
    BOOST_TEST(html.find("http://") == html.find("http://www.w3.org/2000/svg"));
    BOOST_TEST(html.find("https://") == std::string::npos);
    BOOST_TEST(html.find("<script") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(follower_catchup_in_json_table_and_html) {
    auto results = synthetic_results();
    results.push_back(synthetic_follower_row());
    const auto tree = parse_json(format_json(results, synthetic_config()));
    std::vector<boost::property_tree::ptree> rows;
    for (const auto& [key, row] : tree.get_child("results")) rows.push_back(row);
    BOOST_TEST_REQUIRE(rows.size() == 4u);
    BOOST_TEST(get<std::string>(rows[0], "follower_catchup") == "null");
    const auto& f = rows[3].get_child("follower_catchup");
    BOOST_TEST(get<int>(f, "killed_node") == 3);
    BOOST_TEST(get<double>(f, "kill_at_s") == 2.0);
    BOOST_TEST(get<double>(f, "restart_at_s") == 12.0);
    BOOST_TEST(get<double>(f, "down_s") == 10.0);
    BOOST_TEST(get<std::string>(f, "problem") == "null");
    BOOST_TEST(get<std::uint64_t>(f, "target_index") == 52311u);
    BOOST_TEST(get<bool>(f, "caught_up"));
    BOOST_TEST(get<double>(f, "catch_up_ms") == 840.0);
    BOOST_TEST(get<std::string>(f, "snapshot") == "yes");
    BOOST_TEST(get<std::string>(f, "snapshot_evidence") == "INFO snapshots_installed:1");
    BOOST_TEST(get<int>(f, "elections") == 0);
    BOOST_TEST(get<int>(f, "leader_changes") == 0);
    BOOST_TEST(get<int>(f, "rss_node") == 1);
    BOOST_TEST(get<std::uint64_t>(f, "rss_before_bytes") == 40ull << 20);
    BOOST_TEST(get<std::uint64_t>(f, "rss_at_restart_bytes") == 50ull << 20);
    BOOST_TEST(get<std::uint64_t>(f, "rss_max_during_catch_up_bytes") == 60ull << 20);
    BOOST_TEST(get<int>(f, "write_latency_ms/before_kill/count") == 100);
    BOOST_TEST(relative_error(get<double>(f, "write_latency_ms/before_kill/p99"), 2.0) <= 0.01);
    BOOST_TEST(relative_error(get<double>(f, "write_latency_ms/while_down/p99"), 3.0) <= 0.01);
    BOOST_TEST(relative_error(get<double>(f, "write_latency_ms/during_catch_up/p99"), 6.0) <= 0.01);

    const auto table = format_table(results, synthetic_config());
    BOOST_TEST(
        table.find("multipaxos: killed follower n3 (leader n1 by INFO role:leader) at 2.000 s for 10 s, "
                   "restarted at 12.000 s: caught up in 840 ms to index 52311; snapshot: yes") !=
            std::string::npos,
        table);
    BOOST_TEST(table.find("0 elections, 0 leader changes") != std::string::npos);
    BOOST_TEST(table.find("n1 RSS 40.0 MiB before the kill, 50.0 MiB at the restart, at most 60.0 MiB during "
                          "the catch-up") != std::string::npos);

    const auto html = format_html(results, synthetic_config());
    BOOST_TEST(html.find("<h2>Follower catch-up</h2>") != std::string::npos);
    BOOST_TEST(html.find("<td>multipaxos</td><td>n3</td><td>10</td><td>840</td><td>yes</td><td>0</td>") !=
               std::string::npos);
    BOOST_TEST(get<int>(f, "slow_disk_factor") == 1);
    BOOST_TEST(table.find("slower") == std::string::npos);
    // --slow-follower-disk: the text, the JSON and the table say how slow the restarted disk was.
    results.back().follower->slow_disk_factor = 40;
    results.back().follower->watched_after_catch_up_s = 3.5;
    const std::string slow_table = format_table(results, synthetic_config());
    BOOST_TEST(slow_table.find("restarted at 12.000 s with a disk 40x slower") != std::string::npos, slow_table);
    BOOST_TEST(slow_table.find("(INFO snapshots_installed:1) by the end of the run, 3.500 s after the catch-up") !=
                   std::string::npos,
               slow_table);
    BOOST_TEST(get<int>(parse_json(format_json(results, synthetic_config())).get_child("results").back().second,
                        "follower_catchup/slow_disk_factor") == 40);
    BOOST_TEST(format_html(results, synthetic_config()).find("<td>10 (disk 40x slower)</td>") != std::string::npos);
    // The throughput chart draws the outage and the catch-up.
    BOOST_TEST(html.find("multipaxos: n3 down, then caught up in 840 ms") != std::string::npos);
    // Without the fault there is no such section.
    BOOST_TEST(format_html(synthetic_results(), synthetic_config()).find("Follower catch-up") ==
               std::string::npos);
}

// Three transfers of a 10 s run; a write every millisecond answered 2 ms after it was sent, except
// that the writes sent in [t, t + 40) wait until t + 40 + 2 (the hand-over).
LeaderChanges synthetic_transfers() {
    LeaderChanges c;
    c.command = "MEMBER TRANSFER";
    c.asked = 3;
    std::vector<WriteSample> samples;
    for (double t : {2000.0, 5000.0, 8000.0}) {
        LeaderChange change;
        change.at_s = t / 1000;
        change.from = 1;
        change.to = 2;
        change.reply = "OK";
        change.reply_ms = 30;
        c.changes.push_back(change);
    }
    for (int ms = 0; ms < 10'000; ++ms) {
        const double sent = ms;
        double done = sent + 2;
        for (double t : {2000.0, 5000.0, 8000.0})
            if (sent >= t && sent < t + 40) done = t + 42;
        samples.push_back({sent, done});
    }
    analyse_leader_changes(samples, c);
    return c;
}

BOOST_AUTO_TEST_CASE(a_transfer_costs_the_first_write_sent_after_it) {
    const LeaderChanges c = synthetic_transfers();
    BOOST_REQUIRE(c.changes.size() == 3u);
    for (const LeaderChange& change : c.changes) {
        BOOST_TEST(*change.unavailable_ms == 42.0);  // the write sent at t waits until t + 42
        BOOST_TEST(change.window_ms == 42.0);        // longer than the 30 ms reply
        // In progress during [t, t + 42]: sent from t - 2 (answered at t) to t + 42.
        BOOST_TEST(change.writes == 45u);
        BOOST_TEST(relative_error(*change.write_p99_ms, 42.0) <= 0.01);
    }
    BOOST_TEST(c.ok() == 3u);
    BOOST_TEST(*c.unavailable_ms_at(50) == 42.0);
    BOOST_TEST(*c.unavailable_ms_at(100) == 42.0);
    BOOST_TEST(c.write_during_ns.count() == 135u);
}

// A removal takes effect when applied, at about its reply (30 ms): writes sent from then wait
// 50 ms for the hand-over. The worst is a write sent just after the last one before the gap.
BOOST_AUTO_TEST_CASE(a_removal_costs_the_writes_sent_when_it_is_applied) {
    LeaderChanges c;
    LeaderChange removal;
    removal.at_s = 2;
    removal.from = 1;
    removal.reply = "OK";
    removal.reply_ms = 30;
    c.changes.push_back(removal);
    std::vector<WriteSample> samples;
    for (int ms = 0; ms < 5000; ++ms) {
        const double sent = ms;
        samples.push_back({sent, sent >= 2030 && sent < 2080 ? 2082.0 : sent + 2});
    }
    analyse_leader_changes(samples, c);
    const LeaderChange& r = c.changes[0];
    BOOST_TEST(*r.unavailable_ms == 53.0);  // sent just after 2029, first success at 2082
    BOOST_TEST(r.window_ms == 82.0);        // to the first success of a write sent after 2030
    BOOST_TEST(relative_error(*r.write_p99_ms, 52.0) <= 0.01);
}

BOOST_AUTO_TEST_CASE(unavailability_percentiles_are_nearest_rank) {
    LeaderChanges c;
    for (double ms : {40.0, 10.0, 30.0, 20.0}) {
        LeaderChange change;
        change.unavailable_ms = ms;
        c.changes.push_back(change);
    }
    c.changes.push_back(LeaderChange{});  // no write succeeded after it: not counted
    BOOST_TEST(*c.unavailable_ms_at(50) == 20.0);
    BOOST_TEST(*c.unavailable_ms_at(99) == 40.0);
    BOOST_TEST(*c.unavailable_ms_at(100) == 40.0);
    BOOST_TEST(!LeaderChanges{}.unavailable_ms_at(50).has_value());
}

BOOST_AUTO_TEST_CASE(leader_transfers_in_json_and_table) {
    auto results = synthetic_results();
    results[0].leader_changes = synthetic_transfers();
    const auto tree = parse_json(format_json(results, synthetic_config()));
    std::vector<boost::property_tree::ptree> rows;
    for (const auto& [key, row] : tree.get_child("results")) rows.push_back(row);
    BOOST_TEST(get<std::string>(rows[1], "leader_changes") == "null");
    const auto& c = rows[0].get_child("leader_changes");
    BOOST_TEST(get<std::string>(c, "command") == "MEMBER TRANSFER");
    BOOST_TEST(get<int>(c, "asked") == 3);
    BOOST_TEST(get<int>(c, "made") == 3);
    BOOST_TEST(get<int>(c, "ok") == 3);
    BOOST_TEST(get<std::string>(c, "problem") == "null");
    BOOST_TEST(get<double>(c, "unavailable_ms/p99") == 42.0);
    BOOST_TEST(get<int>(c, "write_latency_during_ms/count") == 135);
    const auto& first = c.get_child("changes").begin()->second;
    BOOST_TEST(get<double>(first, "at_s") == 2.0);
    BOOST_TEST(get<int>(first, "from") == 1);
    BOOST_TEST(get<int>(first, "to") == 2);
    BOOST_TEST(get<std::string>(first, "reply") == "OK");
    BOOST_TEST(get<double>(first, "unavailable_ms") == 42.0);

    const auto table = format_table(results, synthetic_config());
    BOOST_TEST(table.find("raft: MEMBER TRANSFER: 3 of 3 made, 3 answered OK; unavailable p50 42.0 ms, p99 "
                          "42.0 ms, max 42.0 ms; write p99 during them 42.") != std::string::npos,
               table);

    const auto html = format_html(results, synthetic_config());
    BOOST_TEST(html.find("<h2>Leadership changes</h2>") != std::string::npos);
    BOOST_TEST(html.find("<td>raft</td><td>MEMBER TRANSFER</td><td>3 of 3</td><td>3</td><td>42.0</td>"
                         "<td>42.0</td><td>42.0</td><td>42.") != std::string::npos,
               html);
    // The throughput chart has a tick per transfer and says what they cost; the caption says so.
    BOOST_TEST(html.find("raft: 3 MEMBER TRANSFER, unavailable p99 42 ms") != std::string::npos);
    BOOST_TEST(html.find("a tick is a leadership change") != std::string::npos);
    // Without them there is no such section, tick or caption.
    const auto plain = format_html(synthetic_results(), synthetic_config());
    BOOST_TEST(plain.find("Leadership changes") == std::string::npos);
    BOOST_TEST(plain.find("MEMBER TRANSFER") == std::string::npos);
    BOOST_TEST(plain.find("a tick is") == std::string::npos);
}

// Shown under the table only when some proposal was preempted; always in the JSON when reported.
BOOST_AUTO_TEST_CASE(preempted_proposals_in_json_and_table) {
    auto results = synthetic_results();  // raft: 5,000 writes
    results[0].proposals_preempted = 900;
    const auto tree = parse_json(format_json(results, synthetic_config()));
    std::vector<boost::property_tree::ptree> rows;
    for (const auto& [key, row] : tree.get_child("results")) rows.push_back(row);
    BOOST_TEST(get<int>(rows[0], "proposals_preempted") == 900);
    BOOST_TEST(get<std::string>(rows[1], "proposals_preempted") == "null");
    const auto table = format_table(results, synthetic_config());
    BOOST_TEST(table.find("raft: 900 proposals preempted by a higher ballot (INFO proposals_preempted, all "
                          "nodes): 18.0 per 100 requests answered") != std::string::npos,
               table);
    results[0].proposals_preempted = 0;
    BOOST_TEST(format_table(results, synthetic_config()).find("preempted") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(snapshot_latency_in_json_table_and_html) {
    auto results = synthetic_results();
    SnapshotLatency l;
    l.nodes_watched = 3;
    l.windows = 4;
    l.inside_ms = 1500;
    for (int i = 0; i < 100; ++i) l.write_inside_ns.record(6'000'000);
    for (int i = 0; i < 100; ++i) l.write_outside_ns.record(2'000'000);
    results[0].snapshots = l;
    const auto tree = parse_json(format_json(results, synthetic_config()));
    std::vector<boost::property_tree::ptree> rows;
    for (const auto& [key, row] : tree.get_child("results")) rows.push_back(row);
    BOOST_TEST(get<std::string>(rows[1], "snapshots") == "null");
    const auto& s = rows[0].get_child("snapshots");
    BOOST_TEST(get<int>(s, "nodes_watched") == 3);
    BOOST_TEST(get<int>(s, "snapshots") == 4);
    BOOST_TEST(get<double>(s, "some_node_making_s") == 1.5);
    BOOST_TEST(get<int>(s, "write_latency_ms/while_making/count") == 100);
    BOOST_TEST(get<double>(s, "write_latency_ms/while_not/p99") == 2.0, boost::test_tools::tolerance(0.01));
    BOOST_TEST(get<double>(s, "p99_ratio") == 3.0, boost::test_tools::tolerance(0.01));

    const auto table = format_table(results, synthetic_config());
    BOOST_TEST(table.find("raft: write p99 6.0") != std::string::npos, table);
    BOOST_TEST(table.find("while none was: 3.00 x; 4 snapshots on 3 nodes, some node making one 1.500 s") !=
                   std::string::npos,
               table);

    const auto html = format_html(results, synthetic_config());
    BOOST_TEST(html.find("<h2>Writes while a snapshot is made</h2>") != std::string::npos);
    BOOST_TEST(html.find("<td>raft</td><td>4</td><td>1.500</td><td>100</td>") != std::string::npos, html);
    BOOST_TEST(html.find("<td>3.00 x</td>") != std::string::npos);
    BOOST_TEST(format_html(synthetic_results(), synthetic_config()).find("while a snapshot") == std::string::npos);

    results[0].snapshots = SnapshotLatency{};
    results[0].snapshots->nodes_watched = 3;
    BOOST_TEST(format_table(results, synthetic_config())
                       .find("raft: no snapshot was made during the measured run (3 nodes watched)") !=
               std::string::npos);
}

// Multi-Paxos and basic Paxos refuse transfers today: the first -ERR ends the series, and the
// report says why in the engine's words.
BOOST_AUTO_TEST_CASE(a_refused_transfer_is_reported_with_the_engines_reason) {
    std::vector<NodeId> asked;
    const NodeCommand command = [&](NodeId id, const std::vector<std::string>& args) {
        if (args[0] == "INFO")
            return kv::RespValue::bulk_string(id == 2 ? "role:leader\r\n" : "role:follower\r\n");
        asked.push_back(id);
        return kv::RespValue::error_string("ERR leadership transfer is not built for Multi-Paxos yet");
    };
    const auto c = change_leader(LeaderAction::transfer, {0.001, 0.002, 0.003},
                                 std::chrono::steady_clock::now(), {1, 2, 3}, command, nullptr);
    BOOST_TEST(asked == std::vector<NodeId>{2});  // the leader, once
    BOOST_REQUIRE(c.changes.size() == 1u);
    BOOST_TEST(c.changes[0].to == 3u);  // the next voter
    BOOST_TEST(c.problem ==
               "MEMBER TRANSFER refused by n2: ERR leadership transfer is not built for Multi-Paxos yet");
    auto row = synthetic_results()[0];
    row.leader_changes = c;
    BOOST_TEST(format_table({row}, synthetic_config()).find("1 of 3 made, 0 answered OK") !=
               std::string::npos);
}

namespace {

// A contended lock run beside its SET run: 100 LOCK+UNLOCK ops/s against 160 SET ops/s (0.625),
// handoff p99 6 ms against SET p99 4 ms (1.5).
LockRun synthetic_lock_run() {
    LockRun l;
    l.contention = 4;
    l.locks = 2;
    l.acquired = 500;
    l.released = 500;
    for (int i = 0; i < 500; ++i) {
        l.acquire_ns.record(20'000'000);
        l.release_ns.record(3'000'000);
    }
    l.handoffs = 100;
    for (int i = 0; i < 100; ++i) {
        l.handoff_ns.record(6'000'000);
        l.handoff_after_ack_ns.record(500'000);
    }
    l.set.completed = true;
    l.set.clients = 2;
    l.set.ops = 160;
    for (int i = 0; i < 100; ++i) l.set.latency_ns.record(4'000'000);
    return l;
}

}  // namespace

BOOST_AUTO_TEST_CASE(lock_ratios_need_both_figures) {
    LockRun l = synthetic_lock_run();
    BOOST_TEST(*l.ops_ratio(100) == 0.625);
    BOOST_TEST(std::abs(*l.handoff_p99_ratio() - 1.5) < 0.02);  // histogram buckets: < 1% each
    l.handoff_ns = LatencyHistogram{};
    BOOST_TEST(!l.handoff_p99_ratio().has_value());
    l.set.completed = false;
    BOOST_TEST(!l.ops_ratio(100).has_value());
}

BOOST_AUTO_TEST_CASE(lock_run_in_json_table_and_html) {
    auto results = synthetic_results();
    results[0].lock = synthetic_lock_run();
    RunConfig config = synthetic_config();
    config.workload = "lock, 4 clients per lock";
    const auto tree = parse_json(format_json(results, config));
    BOOST_TEST(get<std::string>(tree, "config/workload") == "lock, 4 clients per lock");
    std::vector<boost::property_tree::ptree> rows;
    for (const auto& [key, row] : tree.get_child("results")) rows.push_back(row);
    BOOST_TEST(get<std::string>(rows[1], "lock") == "null");
    const auto& l = rows[0].get_child("lock");
    BOOST_TEST(get<int>(l, "clients_per_lock") == 4);
    BOOST_TEST(get<int>(l, "locks") == 2);
    BOOST_TEST(get<int>(l, "acquired") == 500);
    BOOST_TEST(get<int>(l, "handoffs") == 100);
    BOOST_TEST(get<int>(l, "overlapping_grants") == 0);
    BOOST_TEST(get<int>(l, "handoff_from_unlock_sent_ms/count") == 100);
    BOOST_TEST(std::abs(get<double>(l, "handoff_from_unlock_sent_ms/p99") - 6.0) < 0.06);
    BOOST_TEST(std::abs(get<double>(l, "release_latency_ms/p50") - 3.0) < 0.03);
    BOOST_TEST(get<int>(l, "set/clients") == 2);
    BOOST_TEST(get<double>(l, "set/ops_per_s") == 160.0);
    const double lock_ops = results[0].throughput_ops();
    BOOST_TEST(get<double>(l, "lock_ops_per_s") == lock_ops);
    BOOST_TEST(std::abs(get<double>(l, "lock_ops_over_set_ops") - lock_ops / 160) < 1e-6);
    BOOST_TEST(std::abs(get<double>(l, "handoff_p99_over_set_p99") - 1.5) < 0.02);

    const auto table = format_table(results, config);
    BOOST_TEST(table.find("raft: lock workload, 4 clients per lock (2 locks): ") != std::string::npos, table);
    BOOST_TEST(
        table.find("x SET's 160 ops/s measured before and after it with 2 clients") != std::string::npos,
        table);
    BOOST_TEST(
        table.find("500 releases, 100 handoffs: from the UNLOCK sent to the next holder's token p50 6.") !=
            std::string::npos,
        table);
    BOOST_TEST(table.find("(p99 1.5") != std::string::npos, table);
    BOOST_TEST(table.find("0 tokens given while another client held the lock") != std::string::npos, table);
    BOOST_TEST(table.find("workload lock, 4 clients per lock, SET before and after it") != std::string::npos,
               table);

    const auto html = format_html(results, config);
    BOOST_TEST(html.find("<h2>Locks</h2>") != std::string::npos);
    BOOST_TEST(html.find("<th>handoff p99 / SET p99</th>") != std::string::npos);
    BOOST_TEST(count_of(html, "<td>1.5") == 1u, html);
    BOOST_TEST(format_html(synthetic_results(), synthetic_config()).find("<h2>Locks</h2>") ==
               std::string::npos);
}

// Uncontended: no handoff is claimed, and the table says what the ratio is against.
BOOST_AUTO_TEST_CASE(an_uncontended_lock_run_reports_no_handoffs) {
    auto row = synthetic_results()[0];
    LockRun l = synthetic_lock_run();
    l.contention = 1;
    l.locks = 64;
    l.handoffs = 0;
    l.handoff_ns = LatencyHistogram{};
    l.handoff_after_ack_ns = LatencyHistogram{};
    row.lock = l;
    const auto table = format_table({row}, synthetic_config());
    BOOST_TEST(table.find("1 client per lock (64 locks)") != std::string::npos, table);
    BOOST_TEST(table.find("handoffs") == std::string::npos, table);
}

BOOST_AUTO_TEST_CASE(a_follower_that_never_caught_up) {
    auto row = synthetic_follower_row();
    row.follower->catch_up_ms.reset();
    row.follower->elections.reset();  // an engine with no leader
    row.follower->snapshot = SnapshotSeen::unknown;
    row.follower->rss_max_bytes.reset();
    const auto tree = parse_json(format_json({row}, synthetic_config()));
    const auto& f = tree.get_child("results").begin()->second.get_child("follower_catchup");
    BOOST_TEST(!get<bool>(f, "caught_up"));
    BOOST_TEST(get<std::string>(f, "catch_up_ms") == "null");
    BOOST_TEST(get<std::string>(f, "elections") == "null");
    BOOST_TEST(get<std::string>(f, "snapshot") == "unknown");
    BOOST_TEST(get<std::string>(f, "rss_max_during_catch_up_bytes") == "null");
    const auto table = format_table({row}, synthetic_config());
    BOOST_TEST(table.find("not caught up within 60 s (applied 52400 of 52311)") != std::string::npos, table);
    BOOST_TEST(table.find("elections: none to count (no leader)") != std::string::npos);

    row.follower->problem = "n3 exited after its restart (exit code 1)";
    row.follower->log_tail = "bad snapshot\n";
    const auto failed = format_table({row}, synthetic_config());
    BOOST_TEST(
        failed.find("for 10 s, restarted at 12.000 s: n3 exited after its restart (exit code 1) (its last "
                    "log lines are in the JSON report); snapshot: unknown") != std::string::npos,
        failed);
    const auto failed_json = parse_json(format_json({row}, synthetic_config()));
    BOOST_TEST(get<std::string>(failed_json.get_child("results").begin()->second,
                                "follower_catchup/log_tail") == "bad snapshot\n");
}

namespace {

// A --sweep clients=1,4,16 of raft and paxos: throughput 1000 * clients ops/s (paxos half of
// it), p50 of 1 ms * clients and a p99 ten times that.
std::vector<EngineResult> synthetic_sweep() {
    std::vector<EngineResult> rows;
    for (const std::string engine : {"raft", "paxos"}) {
        for (double clients : {1.0, 4.0, 16.0}) {
            EngineResult r;
            r.engine = engine;
            r.point = SweepPoint{"clients", clients};
            r.read_path = engine == "raft" ? "ReadIndex (6.4)" : "";
            r.completed = true;
            r.duration_s = 5;
            r.ok = static_cast<std::uint64_t>(5000 * clients / (engine == "raft" ? 1 : 2));
            const auto p50_ns = static_cast<std::uint64_t>(clients * 1e6);
            r.latency_ns.record(p50_ns, 90);
            r.latency_ns.record(p50_ns * 10, 10);
            r.timeline.ok_per_ms.assign(5000, 1);
            rows.push_back(std::move(r));
        }
    }
    return rows;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_sweep_draws_throughput_against_latency_per_engine) {
    RunConfig config = synthetic_config();
    config.sweep = "clients=1,4,16";
    config.link_delay = "20 ms";
    const auto rows = synthetic_sweep();

    const auto html = format_html(rows, config);
    BOOST_TEST(html.find("Throughput against latency") != std::string::npos);
    // One chart, with a p50 and a p99 line per engine (p99 dashed), a dot per point and line.
    BOOST_TEST(count_of(html, "<svg") == 1u);
    BOOST_TEST(count_of(html, "<polyline") == 4u);
    BOOST_TEST(count_of(html, "<circle") == 12u);
    BOOST_TEST(html.find("latency (ms, log scale)") != std::string::npos);
    BOOST_TEST(count_of(html, "stroke-dasharray=\"6,4\"") == 3u);  // raft, paxos, and the legend
    BOOST_TEST(html.find(">ReadIndex (6.4)</text>") != std::string::npos);
    BOOST_TEST(html.find("names how it serves a linearizable read") != std::string::npos);
    BOOST_TEST(html.find("raft clients=4</td>") != std::string::npos);
    BOOST_TEST(html.find("link delay 20 ms one way") != std::string::npos);

    const auto table = format_table(rows, config);
    BOOST_TEST(table.find("paxos clients=16") != std::string::npos, table);
    BOOST_TEST(table.find("clients as swept") != std::string::npos, table);
    BOOST_TEST(count_of(table, "linearizable reads by ReadIndex") == 1u, table);

    const auto json = parse_json(format_json(rows, config));
    BOOST_TEST(get<std::string>(json, "config/sweep") == "clients=1,4,16");
    BOOST_TEST(get<std::string>(json, "config/link_delay") == "20 ms");
    std::vector<double> clients;
    for (const auto& [key, row] : json.get_child("results"))
        clients.push_back(get<double>(row, "sweep_point/clients"));
    BOOST_TEST((clients == std::vector<double>{1, 4, 16, 1, 4, 16}));
}

BOOST_AUTO_TEST_CASE(the_throughput_caption_mentions_a_leader_kill_only_when_there_was_one) {
    auto rows = synthetic_results();
    BOOST_TEST(format_html(rows, synthetic_config()).find("after a leader kill") != std::string::npos);
    for (auto& r : rows) r.failover.reset();
    const auto html = format_html(rows, synthetic_config());
    BOOST_TEST(html.find("after a leader kill") == std::string::npos);
    BOOST_TEST(html.find("fill-opacity=\"0.12\"") == std::string::npos);
    BOOST_TEST(html.find("bins of 500 ms") != std::string::npos);  // 10 s: 20 points
}

BOOST_AUTO_TEST_CASE(short_runs_get_at_least_twenty_throughput_points) {
    BOOST_TEST(throughput_bin_ms(60) == 1000u);
    BOOST_TEST(throughput_bin_ms(20) == 1000u);
    BOOST_TEST(throughput_bin_ms(10) == 500u);
    BOOST_TEST(throughput_bin_ms(5) == 250u);
    BOOST_TEST(throughput_bin_ms(3) == 100u);
    BOOST_TEST(throughput_bin_ms(0.5) == 100u);
    EngineResult r;
    r.engine = "raft";
    r.completed = true;
    r.duration_s = 3;
    r.timeline.ok_per_ms.assign(3000, 1);
    BOOST_TEST(count_of(throughput_chart_svg({r}), "<circle") == 30u);
}

BOOST_AUTO_TEST_CASE(throughput_bins_are_rates_and_a_partial_bin_is_scaled) {
    Timeline t;
    t.ok_per_ms.assign(2500, 1);  // 1000 ops/s for 2.5 s
    BOOST_TEST((t.ops_per_bin(2.5, 1000) == std::vector<double>{1000, 1000, 1000}));
    BOOST_TEST((t.ops_per_bin(2.5, 500) == std::vector<double>{1000, 1000, 1000, 1000, 1000}));
    t.ok_per_ms[0] = 101;  // 100 more in the first 250 ms bin: 400 ops/s more there
    BOOST_TEST(t.ops_per_bin(1, 250).front() == 1400.0);
}

BOOST_AUTO_TEST_CASE(the_page_is_wide_and_the_two_charts_sit_side_by_side) {
    const auto html = format_html(synthetic_results(), synthetic_config());
    BOOST_TEST(html.find("max-width:1800px") != std::string::npos);
    BOOST_TEST(html.find("grid-template-columns") != std::string::npos);
    BOOST_TEST(count_of(html, "<div class=\"charts\">") == 1u);
}

// --unsafe-no-fsync: off by default; when on, every spawned row and the report's title and
// heading say UNSAFE (no fsync), so no figure of it is mistaken for a durable one.
BOOST_AUTO_TEST_CASE(unsafe_no_fsync_is_parsed_and_labels_every_row_and_the_title) {
    const auto plain = parse({});
    BOOST_TEST_REQUIRE(plain.options.has_value(), plain.error);
    BOOST_TEST(!plain.options->unsafe_no_fsync);
    const auto r = parse({"--unsafe-no-fsync", "--protocol", "raft"});
    BOOST_TEST_REQUIRE(r.options.has_value(), r.error);
    BOOST_TEST(r.options->unsafe_no_fsync);

    std::vector<EngineResult> rows = synthetic_results();
    for (auto& row : rows) row.unsafe_no_fsync = true;
    RunConfig config = synthetic_config();
    config.unsafe_no_fsync = true;
    const auto html = format_html(rows, config);
    BOOST_TEST(html.find("<title>ballot-bench UNSAFE (no fsync) ") != std::string::npos);
    BOOST_TEST(html.find("<h1>ballot-bench UNSAFE (no fsync)</h1>") != std::string::npos);
    for (const auto& row : rows) {
        BOOST_TEST(row.display_name().find("UNSAFE (no fsync)") != std::string::npos, row.display_name());
        BOOST_TEST(format_table(rows, config).find(row.display_name()) != std::string::npos);
    }
    BOOST_TEST(format_html(synthetic_results(), synthetic_config()).find("UNSAFE") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(charts_without_data_say_so) {
    EngineResult failed;
    failed.engine = "raft";
    failed.failure = "no";
    BOOST_TEST(latency_chart_svg({failed}).find("no latencies recorded") != std::string::npos);
    BOOST_TEST(throughput_chart_svg({}).find("no throughput recorded") != std::string::npos);
    BOOST_TEST(sweep_chart_svg({failed}).find("no sweep point measured") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(info_lines_are_parsed) {
    const auto info =
        parse_info("# Ballot\r\nprotocol:raft\r\nrole:leader\r\nleader_id:2\r\n\r\nmembers:1@a:1,2@b:2\r\n");
    BOOST_TEST(info.at("protocol") == "raft");
    BOOST_TEST(info.at("role") == "leader");
    BOOST_TEST(info.at("leader_id") == "2");
    BOOST_TEST(info.at("members") == "1@a:1,2@b:2");
    BOOST_TEST(info.count("# Ballot") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
