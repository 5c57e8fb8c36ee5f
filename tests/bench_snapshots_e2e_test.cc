// ballot-bench's "writes while a snapshot is made" end to end (issue 11's target is measured with
// it): on every engine, a short bench against a spawned cluster that snapshots every 2,000
// entries must report snapshots seen on all three nodes, and file every measured write on one
// side or the other of the windows. The filing itself is tested on synthetic data in
// bench_test (snapshot_windows); this checks that real INFO replies reach it.
#define BOOST_TEST_MODULE bench_snapshots_e2e
#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <sys/wait.h>

#include "engines/registry.h"
#include "tests/support/background_process.h"
#include "tests/support/temp_dir.h"

using namespace ballot;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;

namespace {

const std::string kBench = std::string(BALLOT_BIN_DIR) + "/ballot-bench";
// A bound on the whole bench (cluster start, 1 s warmup, 3 s measured, stop), not a speed target.
constexpr auto kBenchBound = 90s;

// The one JSON report ballot-bench wrote into `dir`.
boost::property_tree::ptree read_report(const std::filesystem::path& dir) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".json") continue;
        boost::property_tree::ptree tree;
        boost::property_tree::read_json(entry.path().string(), tree);
        return tree;
    }
    BOOST_FAIL("no JSON report in " << dir);
    return {};
}

}  // namespace

BOOST_DATA_TEST_CASE(writes_are_split_by_the_snapshots_the_nodes_report, bdata::make(engine_names()), protocol) {
    test::TempDir out("bench-snapshots-e2e");
    test::BackgroundProcess bench(
        kBench, {"--protocol", protocol, "--json", "--duration", "3", "--warmup", "1", "--clients", "16", "--out",
                 out.path.string(), "--server-arg=--snapshot-entries=2000", "--server-arg=--snapshot-trailing=500"});
    const auto status = bench.wait(std::chrono::duration_cast<std::chrono::milliseconds>(kBenchBound));
    BOOST_REQUIRE_MESSAGE(status.has_value(), "ballot-bench still running:\n" << bench.stderr_text());
    BOOST_REQUIRE_MESSAGE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0, bench.stderr_text());

    const auto report = read_report(out.path);
    const auto& row = report.get_child("results").begin()->second;
    BOOST_REQUIRE_MESSAGE(row.get<bool>("completed"), bench.stderr_text());
    const auto& snapshots = row.get_child("snapshots");
    BOOST_TEST(snapshots.get<int>("nodes_watched") == 3);
    // Thousands of writes at 2,000 entries a snapshot: each node makes several.
    BOOST_TEST(snapshots.get<int>("snapshots") >= 3, bench.stderr_text());
    BOOST_TEST(snapshots.get<double>("some_node_making_s") > 0.0);
    const auto inside = snapshots.get<std::uint64_t>("write_latency_ms.while_making.count");
    const auto outside = snapshots.get<std::uint64_t>("write_latency_ms.while_not.count");
    BOOST_TEST(inside > 0u);
    BOOST_TEST(outside > 0u);
    // Every measured write is filed on exactly one side (a SET workload: every request writes).
    BOOST_TEST(inside + outside == row.get<std::uint64_t>("latency_ms.count"));
    // The line under the table (on stderr with --json) says it too.
    BOOST_TEST(bench.stderr_text().find("while some node was making a snapshot") != std::string::npos);
}
