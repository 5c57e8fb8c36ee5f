// ballot-sim (tests/sim/ballot_sim_main.cc): the recording a diagram is drawn from, on fixed seeds
// and scenarios. What is checked is the diagram's structure (lanes, arrows between existing
// lanes, times in order, the events a scenario is named after), not pixels; and that the same
// flags give the same bytes, and that recording leaves the run unchanged.
#define BOOST_TEST_MODULE ballot_sim
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "tests/sim/diagram.h"
#include "tests/sim/scenarios.h"

using namespace ballot;
using namespace ballot::sim;

namespace {

constexpr std::uint64_t kSeed = 7;

Recording record(const std::string& engine, const std::string& scenario, std::uint64_t seed = kSeed) {
    WatchedRun run;
    run.engine = engine;
    run.seed = seed;
    run.scenario = scenario;
    return record_run(run);
}

std::vector<const RecordedMark*> marks_of(const Recording& r, RecordedMark::Kind kind) {
    std::vector<const RecordedMark*> out;
    for (const RecordedMark& m : r.marks)
        if (m.kind == kind) out.push_back(&m);
    return out;
}

bool starts_with(const std::string& text, const std::string& prefix) {
    return text.rfind(prefix, 0) == 0;
}

// Exit status of a ballot-sim command line (output to a scratch file).
int run_tool(const std::string& args) {
    const std::string command = std::string(BALLOT_BIN_DIR) + "/ballot-sim " + args + " >/dev/null 2>&1";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

BOOST_AUTO_TEST_CASE(one_lane_per_node_arrows_between_lanes_times_in_order) {
    for (const char* scenario : {"seed", "leader-crash", "partition"}) {
        BOOST_TEST_CONTEXT("scenario " << scenario) {
            const Recording r = record("raft", scenario);
            BOOST_TEST((r.nodes == 3 || r.nodes == 5));
            BOOST_TEST(r.from_us == 0u);
            BOOST_TEST(r.until_us == 2'000'000u);
            BOOST_TEST(r.messages.size() > 100u);
            auto lane = [&](NodeId id) { return id >= 1 && id <= static_cast<NodeId>(r.nodes); };
            // Every arrow goes from one existing lane to another, sent within the window, and
            // each lane's sends come in time order.
            std::map<NodeId, std::uint64_t> last_send;
            for (const RecordedMessage& m : r.messages) {
                BOOST_TEST(lane(m.from));
                BOOST_TEST(lane(m.to));
                BOOST_TEST(m.from != m.to);
                BOOST_TEST((m.sent_us >= r.from_us && m.sent_us < r.until_us));
                BOOST_TEST(m.sent_us >= last_send[m.from]);
                last_send[m.from] = m.sent_us;
                BOOST_TEST(!m.what.empty());
                BOOST_TEST(m.what != "(not described)");
            }
            // Every arrival ends an existing arrow, no earlier than it started.
            for (const RecordedArrival& a : r.arrivals) {
                BOOST_REQUIRE(a.message < r.messages.size());
                BOOST_TEST(a.at_us >= r.messages[a.message].sent_us);
            }
            // Every mark is on an existing lane (or the whole cluster's), in time order per lane,
            // within the window; lasting ones end after they begin.
            std::map<NodeId, std::uint64_t> last_mark;
            for (const RecordedMark& m : r.marks) {
                BOOST_TEST((m.node == kNoNode || lane(m.node)));
                BOOST_TEST(m.at_us >= last_mark[m.node]);
                last_mark[m.node] = m.at_us;
                BOOST_TEST((m.at_us >= r.from_us && m.at_us < r.until_us));
                if (m.until_us != 0) BOOST_TEST((m.until_us >= m.at_us && m.until_us <= r.until_us));
                if (m.kind == RecordedMark::Kind::cut) BOOST_TEST(lane(m.peer));
            }
            // Every lane starts with the node's role; most messages arrive.
            for (NodeId id = 1; id <= static_cast<NodeId>(r.nodes); ++id) {
                auto first = std::find_if(r.marks.begin(), r.marks.end(),
                                          [id](const RecordedMark& m) { return m.node == id; });
                BOOST_REQUIRE(first != r.marks.end());
                BOOST_TEST((first->kind == RecordedMark::Kind::role && first->at_us == 0));
            }
            std::size_t delivered = 0;
            for (const RecordedArrival& a : r.arrivals) delivered += a.delivered ? 1 : 0;
            BOOST_TEST(delivered * 10 > r.messages.size() * 8);
            BOOST_TEST(!marks_of(r, RecordedMark::Kind::persist).empty());
            BOOST_TEST(!marks_of(r, RecordedMark::Kind::commit).empty());
            BOOST_TEST(r.passed, r.result);
        }
    }
}

// A window that opens mid-run starts each lane in the state its node is in then (its role, or
// down), and a down lane shows no role until it restarts.
BOOST_AUTO_TEST_CASE(a_later_window_starts_each_lane_in_its_state) {
    WatchedRun run;
    run.engine = "multipaxos";
    run.seed = 42;  // node 4 is down when the window opens, node 5 restarted before it
    run.from_ms = 9000;
    run.until_ms = 11000;
    const Recording r = record_run(run);
    BOOST_TEST(r.messages_before > 0u);
    for (NodeId id = 1; id <= static_cast<NodeId>(r.nodes); ++id) {
        bool down = false, has_state = false;
        for (const RecordedMark& m : r.marks) {
            if (m.node != id) continue;
            if (m.at_us == r.from_us && m.kind == RecordedMark::Kind::role) has_state = true;
            if (m.kind == RecordedMark::Kind::crash) down = true;
            if (m.kind == RecordedMark::Kind::restart) down = false;
            if (m.kind == RecordedMark::Kind::role)
                BOOST_TEST(!down, "node " << id << " has a role while down");
        }
        BOOST_TEST(has_state, "node " << id);
    }
}

// The leader crashes, another node wins an election in a later term or ballot, and the old
// leader restarts.
BOOST_AUTO_TEST_CASE(leader_crash_shows_the_crash_and_a_new_election) {
    for (const char* engine : {"raft", "multipaxos"}) {
        BOOST_TEST_CONTEXT(engine) {
            const Recording r = record(engine, "leader-crash");
            auto crashes = marks_of(r, RecordedMark::Kind::crash);
            BOOST_REQUIRE(crashes.size() == 1u);
            const RecordedMark& crash = *crashes.front();
            // It was the leader when it crashed.
            std::string role_at_crash;
            for (const RecordedMark* m : marks_of(r, RecordedMark::Kind::role))
                if (m->node == crash.node && m->at_us <= crash.at_us) role_at_crash = m->text;
            BOOST_TEST(starts_with(role_at_crash, "leader"), role_at_crash);
            bool new_leader = false;
            for (const RecordedMark* m : marks_of(r, RecordedMark::Kind::role))
                if (m->at_us > crash.at_us && m->node != crash.node && starts_with(m->text, "leader"))
                    new_leader = true;
            BOOST_TEST(new_leader);
            auto restarts = marks_of(r, RecordedMark::Kind::restart);
            BOOST_REQUIRE(restarts.size() == 1u);
            BOOST_TEST(restarts.front()->node == crash.node);
            BOOST_TEST(restarts.front()->at_us == crash.at_us + 700'000);
        }
    }
}

BOOST_AUTO_TEST_CASE(partition_shows_the_cut_and_lost_messages) {
    const Recording r = record("raft", "partition");
    auto cuts = marks_of(r, RecordedMark::Kind::cut);
    BOOST_REQUIRE(cuts.size() == 2u * (r.nodes - 1));  // the leader, both ways to everyone
    for (const RecordedMark* c : cuts) BOOST_TEST(c->until_us == c->at_us + 800'000);
    std::size_t lost = 0;
    for (const RecordedArrival& a : r.arrivals)
        if (!a.delivered && a.how.find("link cut") != std::string::npos) ++lost;
    BOOST_TEST(lost > 10u);
}

BOOST_AUTO_TEST_CASE(duelling_proposers_have_several_candidates_at_once) {
    for (const char* engine : {"raft", "multipaxos"}) {
        BOOST_TEST_CONTEXT(engine) {
            const Recording r = record(engine, "duelling-proposers");
            std::set<NodeId> candidates;  // candidates before the first leader
            for (const RecordedMark* m : marks_of(r, RecordedMark::Kind::role)) {
                if (starts_with(m->text, "leader")) break;
                if (starts_with(m->text, "candidate")) candidates.insert(m->node);
            }
            BOOST_TEST(candidates.size() >= 2u);
        }
    }
}

BOOST_AUTO_TEST_CASE(slow_disk_makes_the_leaders_fsyncs_longer) {
    const Recording r = record("raft", "slow-disk");
    std::uint64_t longest_before = 0, longest_during = 0;
    for (const RecordedMark* m : marks_of(r, RecordedMark::Kind::persist)) {
        const std::uint64_t took = m->until_us - m->at_us;
        if (m->until_us < 500'000) longest_before = std::max(longest_before, took);
        if (m->at_us > 600'000 && m->until_us < 1'500'000) longest_during = std::max(longest_during, took);
    }
    BOOST_TEST(longest_during > 5 * longest_before);
}

BOOST_AUTO_TEST_CASE(same_flags_same_bytes) {
    for (const char* engine : {"raft", "paxos"}) {
        const std::string a = render_diagram(record(engine, "leader-crash"));
        const std::string b = render_diagram(record(engine, "leader-crash"));
        BOOST_TEST(a.size() > 10'000u);
        BOOST_TEST((a == b), engine << ": two renders differ");
    }
}

// Recording observes only: the run and its result are the ones simulation_test gets.
BOOST_AUTO_TEST_CASE(recording_leaves_the_run_unchanged) {
    for (const char* engine : {"raft", "multipaxos", "paxos"}) {
        SimOptions plain;
        plain.engine = engine;
        plain.seed = kSeed;
        const SimReport without = run_simulation(plain);
        const Recording with = record(engine, "seed");
        BOOST_TEST(with.result == without.summary());
    }
}

BOOST_AUTO_TEST_CASE(the_page_holds_the_record_and_fetches_nothing) {
    const Recording r = record("multipaxos", "partition");
    const std::string page = render_diagram(r);
    BOOST_TEST(page.find("\"nodes\":" + std::to_string(r.nodes)) != std::string::npos);
    BOOST_TEST(page.find("/*BALLOT_SIM_DATA*/") == std::string::npos);
    for (const char* fetch : {"<link", "src=", "fetch(", "XMLHttpRequest", "import ", "https://"})
        BOOST_TEST(page.find(fetch) == std::string::npos, fetch);
    // Nothing in the data can close the script element early: no '<' until its end.
    const std::size_t data = page.find('>', page.find("application/json")) + 1;
    BOOST_TEST(page.find('<', data) == page.find("</script>", data));
    Recording hostile;
    hostile.engine = "</script><!--";
    BOOST_TEST(render_diagram(hostile).find("</script><!--") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_flags_exit_2_and_a_good_run_writes_the_page) {
    const std::string out = (std::filesystem::temp_directory_path() / "ballot_sim_test.html").string();
    BOOST_TEST(run_tool("") == 2);
    BOOST_TEST(run_tool("--protocol raft --out " + out) == 2);                             // no seed
    BOOST_TEST(run_tool("--protocol zab --seed 1 --out " + out) == 2);                     // no such engine
    BOOST_TEST(run_tool("--protocol raft --seed -1 --out " + out) == 2);                   // not a number
    BOOST_TEST(run_tool("--protocol raft --seed 1 --scenario meteor --out " + out) == 2);  // no such scenario
    BOOST_TEST(run_tool("--protocol raft --seed 1 --from-ms 500 --until-ms 400 --out " + out) == 2);
    BOOST_TEST(run_tool("--protocol raft --seed 1 --until-ms 999999 --out " + out) == 2);  // too wide
    BOOST_TEST(run_tool("--protocol raft --seed 1 --bogus --out " + out) == 2);
    BOOST_TEST(run_tool("--protocol raft --seed 1 --out /nonexistent-dir/x.html") == 1);
    std::filesystem::remove(out);
    BOOST_TEST(run_tool("--protocol raft --seed 1 --scenario leader-crash --until-ms 1000 --out " + out) ==
               0);
    std::ifstream in(out);
    std::stringstream page;
    page << in.rdbuf();
    BOOST_TEST(page.str() == render_diagram([] {
                   WatchedRun run;
                   run.seed = 1;
                   run.scenario = "leader-crash";
                   run.until_ms = 1000;
                   return record_run(run);
               }()));
    std::filesystem::remove(out);
}

// A failing seed's report names the command that draws it.
BOOST_AUTO_TEST_CASE(a_failure_prints_the_command_that_draws_it) {
    SimOptions o;
    o.engine = "raft";
    o.seed = kSeed;
    o.sabotage = Sabotage::divergent_report;
    const SimReport r = run_simulation(o);
    BOOST_REQUIRE(!r.ok());
    const std::string command = r.render_command();
    BOOST_TEST(r.summary().find("watch it: " + command) != std::string::npos);
    BOOST_TEST(command.find("/ballot-sim --protocol raft --seed 7 --from-ms ") != std::string::npos);
    BOOST_TEST(command.find(" --until-ms " + std::to_string(r.failed_at_us / 1000 + 1)) != std::string::npos);

    // That window shows the failure, as a note across the lanes at the moment it was found.
    WatchedRun run;
    run.seed = kSeed;
    run.sabotage = Sabotage::divergent_report;
    run.until_ms = r.failed_at_us / 1000 + 1;
    run.from_ms = run.until_ms > 2001 ? run.until_ms - 2001 : 0;
    const Recording drawn = record_run(run);
    BOOST_TEST(!drawn.passed);
    bool shown = false;
    for (const RecordedMark* m : marks_of(drawn, RecordedMark::Kind::note))
        shown = shown || (m->at_us == r.failed_at_us && starts_with(m->text, "FAILED: "));
    BOOST_TEST(shown);
}
