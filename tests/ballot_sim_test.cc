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

// The window of seed 1 that docs/runs/ draws for a scenario of the figures.
Recording record_figure(const std::string& engine, const std::string& scenario, std::uint64_t from_ms,
                        std::uint64_t until_ms) {
    WatchedRun run;
    run.engine = engine;
    run.seed = 1;
    run.scenario = scenario;
    run.from_ms = from_ms;
    run.until_ms = until_ms;
    return record_run(run);
}

bool delivered(const Recording& r, std::size_t message) {
    for (const RecordedArrival& a : r.arrivals)
        if (a.message == message && a.delivered) return true;
    return false;
}

// The nodes that `from`'s messages starting with `prefix` reached.
std::set<NodeId> delivered_to(const Recording& r, NodeId from, const std::string& prefix) {
    std::set<NodeId> out;
    for (std::size_t i = 0; i < r.messages.size(); ++i)
        if (r.messages[i].from == from && starts_with(r.messages[i].what, prefix) && delivered(r, i))
            out.insert(r.messages[i].to);
    return out;
}

// The slots of a list a message describes after `key`: "slots=[8..10]", "slots=[8,10]",
// "accepted=[8@1.3,9@1.3]" (a list cut short, ",...+3", gives the slots shown).
std::vector<Index> slots_in(const std::string& what, const std::string& key) {
    std::vector<Index> out;
    const std::size_t open = what.find(key + "[");
    if (open == std::string::npos) return out;
    const std::size_t begin = open + key.size() + 1;
    std::istringstream items(what.substr(begin, what.find(']', begin) - begin));
    for (std::string item; std::getline(items, item, ',');) {
        if (item.empty() || item[0] == '.') continue;
        const std::size_t range = item.find("..");
        const Index first = std::stoull(item);
        const Index last = range == std::string::npos ? first : std::stoull(item.substr(range + 2));
        for (Index slot = first; slot <= last; ++slot) out.push_back(slot);
    }
    return out;
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
            // The bootstrap members (3 or 5), and the spares the operator adds when the seed
            // draws membership changes (SimConfig::describe begins with the bootstrap count).
            const int bootstrap = std::stoi(r.config);
            BOOST_TEST((bootstrap == 3 || bootstrap == 5));
            BOOST_TEST((r.nodes >= bootstrap && r.nodes <= bootstrap + 2));
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
            // Every bootstrap member's lane starts with its role; most messages arrive.
            for (NodeId id = 1; id <= static_cast<NodeId>(bootstrap); ++id) {
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
            // Its role, or down (a crashed node, or a spare not started yet) when the window opens.
            if (m.at_us == r.from_us &&
                (m.kind == RecordedMark::Kind::role || m.kind == RecordedMark::Kind::crash))
                has_state = true;
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

// figure-8 (Raft §5.4.2, Figure 8) on the seed docs/runs/ draws: each term's leader is the one the
// figure names; the term-2 entry at index 2 reaches a majority (n1 and n2 in term 2, n3 in term
// 4) and is overwritten by n5's of term 3, and no node commits index 2 before n5 leads term 5.
BOOST_AUTO_TEST_CASE(member_change_adds_a_voter_and_removes_the_leader) {
    for (const char* engine : {"raft", "multipaxos", "paxos"}) {
        BOOST_TEST_CONTEXT(engine) {
            const Recording r = record_figure(engine, "member-change", 0, 13000);
            BOOST_TEST(r.passed, r.result);
            const NodeId joiner = static_cast<NodeId>(r.nodes);  // the spare: the highest id
            std::uint64_t voter_at = 0, removed_at = 0;
            for (const RecordedMark* m : marks_of(r, RecordedMark::Kind::note)) {
                if (m->text.find("is a voter; MEMBER REMOVE") != std::string::npos) voter_at = m->at_us;
                if (m->text == "scenario: MEMBER REMOVE answered +OK") removed_at = m->at_us;
            }
            BOOST_TEST(voter_at > 0);
            BOOST_TEST(removed_at > voter_at);
            // The joiner has a lane of its own and takes part: it persists what it is sent.
            bool joiner_persisted = false;
            for (const RecordedMark* m : marks_of(r, RecordedMark::Kind::persist))
                joiner_persisted = joiner_persisted || m->node == joiner;
            BOOST_TEST(joiner_persisted);
            if (std::string(engine) == "paxos") continue;  // no leader to hand over
            bool new_leader = false;
            for (const RecordedMark* m : marks_of(r, RecordedMark::Kind::role))
                new_leader = new_leader || (m->at_us > voter_at && starts_with(m->text, "leader"));
            BOOST_TEST(new_leader);
        }
    }
}

BOOST_AUTO_TEST_CASE(figure_8_overwrites_an_old_term_entry_that_was_on_a_majority) {
    const Recording r = record_figure("raft", "figure-8", 0, 2500);
    BOOST_TEST(r.passed, r.result);
    BOOST_TEST(r.nodes == 5);
    for (const RecordedMark* m : marks_of(r, RecordedMark::Kind::note))
        BOOST_TEST(m->text.find("gave up") == std::string::npos, m->text);
    std::map<std::string, NodeId> leader_of;  // "term 2" -> its leader
    std::map<std::string, std::uint64_t> elected_at;
    for (const RecordedMark* m : marks_of(r, RecordedMark::Kind::role))
        if (starts_with(m->text, "leader, ")) {
            leader_of[m->text.substr(8)] = m->node;
            elected_at[m->text.substr(8)] = m->at_us;
        }
    const std::map<std::string, NodeId> figure = {
        {"term 1", 2}, {"term 2", 1}, {"term 3", 5}, {"term 4", 1}, {"term 5", 5}};
    BOOST_TEST((leader_of == figure));

    // (a) n1 sends index 2 in term 2 to n2 only; (c) in term 4 it brings it to n3.
    BOOST_TEST(delivered_to(r, 1, "AppendEntries term=2 prev=(1,1) entries=[2..") == std::set<NodeId>{2});
    BOOST_TEST(delivered_to(r, 1, "AppendEntries term=4 prev=(1,1) entries=[2..") == std::set<NodeId>{3});
    // (b) n5's index 2 of term 3 reaches no one in term 3.
    BOOST_TEST(delivered_to(r, 5, "AppendEntries term=3 prev=(1,1) entries=[2..").empty());
    // (d) n2 and n3 had index 2 of term 2 when n5 of term 5 replaced it.
    std::set<NodeId> conflicted;
    for (NodeId from : {2, 3})
        if (!delivered_to(r, from, "AppendEntriesResponse term=5 reject prev=2 conflict=(2,2)").empty())
            conflicted.insert(from);
    BOOST_TEST((conflicted == std::set<NodeId>{2, 3}));
    // Index 2 is committed by no one before n5 leads term 5 (§5.4.2: n1 of term 4 may not).
    for (const RecordedMark* m : marks_of(r, RecordedMark::Kind::commit)) {
        const Index to = std::stoull(m->text.substr(m->text.rfind(' ') + 1));
        if (to >= 2) BOOST_TEST(m->at_us > elected_at["term 5"], m->text << " on n" << m->node);
    }
}

// hole-filled (Multi-Paxos) on the seed docs/runs/ draws: the old leader's Accepts of some slots
// reach no one (the hole), a later slot's reaches a follower, which accepts it; the leader
// crashes; the new leader's Promises report the later slot and nothing in the hole, its Accepts
// cover the hole (with no-ops: a slot no Promise reports gets one, PMMC), and it commits past it.
BOOST_AUTO_TEST_CASE(hole_filled_shows_a_new_leader_filling_a_hole_below_a_chosen_slot) {
    const Recording r = record_figure("multipaxos", "hole-filled", 400, 1300);
    BOOST_TEST(r.passed, r.result);
    for (const RecordedMark* m : marks_of(r, RecordedMark::Kind::note))
        BOOST_TEST(m->text.find("gave up") == std::string::npos, m->text);
    auto crashes = marks_of(r, RecordedMark::Kind::crash);
    BOOST_REQUIRE(crashes.size() == 1u);
    const NodeId old_leader = crashes.front()->node;
    const std::uint64_t crash_us = crashes.front()->at_us;
    std::string old_ballot, new_ballot;
    NodeId new_leader = kNoNode;
    std::uint64_t elected_us = 0;
    for (const RecordedMark* m : marks_of(r, RecordedMark::Kind::role)) {
        if (!starts_with(m->text, "leader, ballot ")) continue;
        if (m->at_us < crash_us && m->node == old_leader) old_ballot = m->text.substr(15);
        if (m->at_us > crash_us && new_leader == kNoNode)
            new_leader = m->node, new_ballot = m->text.substr(15), elected_us = m->at_us;
    }
    BOOST_REQUIRE(!old_ballot.empty());
    BOOST_REQUIRE(new_leader != kNoNode);

    // The old leader's slots: those whose Accept reached a follower, and those whose never did.
    std::set<Index> sent, arrived;
    for (std::size_t i = 0; i < r.messages.size(); ++i) {
        const RecordedMessage& m = r.messages[i];
        if (m.from != old_leader || !starts_with(m.what, "Accept ballot=" + old_ballot + " ")) continue;
        for (Index slot : slots_in(m.what, "slots=")) {
            sent.insert(slot);
            if (delivered(r, i)) arrived.insert(slot);
        }
    }
    std::set<Index> hole;
    for (Index slot : sent)
        if (!arrived.contains(slot)) hole.insert(slot);
    BOOST_REQUIRE(!hole.empty());
    const Index above = *arrived.rbegin();
    BOOST_TEST(above > *hole.rbegin());

    // Phase 1 of the new leader (the Promises that elected it; the old leader's, after its
    // restart, still reports the hole accepted at the old ballot): the slot above, nothing in the
    // hole.
    std::set<Index> reported;
    for (const RecordedMessage& m : r.messages)
        if (m.to == new_leader && m.sent_us <= elected_us &&
            starts_with(m.what, "Promise ballot=" + new_ballot + " "))
            for (Index slot : slots_in(m.what, "accepted=")) reported.insert(slot);
    BOOST_TEST(reported.contains(above));
    for (Index slot : hole) BOOST_TEST(!reported.contains(slot), "slot " << slot << " was reported");
    // Phase 2: its Accepts cover the hole, and it commits past it.
    std::set<Index> proposed;
    for (const RecordedMessage& m : r.messages)
        if (m.from == new_leader && starts_with(m.what, "Accept ballot=" + new_ballot + " "))
            for (Index slot : slots_in(m.what, "slots=")) proposed.insert(slot);
    for (Index slot : hole) BOOST_TEST(proposed.contains(slot), "slot " << slot << " not proposed");
    bool committed_past = false;
    for (const RecordedMark* m : marks_of(r, RecordedMark::Kind::commit))
        if (m->node == new_leader && m->at_us > crash_us)
            committed_past = committed_past || std::stoull(m->text.substr(m->text.rfind(' ') + 1)) >= above;
    BOOST_TEST(committed_past);
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
    BOOST_TEST(run_tool("--protocol paxos --seed 1 --scenario figure-8 --out " + out) == 2);  // Raft's
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
