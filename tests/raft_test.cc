// Raft scenario tests: one test per situation of the paper, on a deterministic in-memory cluster
// of bare engines (tests/support/engine_cluster.h). Read them next to the paper: each names the
// section it exercises. The harness checks on every step that no two nodes commit different data
// at one index; most tests also check Log Matching (§5.3) over every node's disk at the end.
#define BOOST_TEST_MODULE raft
#include "raft/raft.h"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/codec.h"
#include "common/random.h"
#include "raft/messages.h"
#include "tests/support/engine_cluster.h"
#include "tests/support/snapshot_cluster.h"
#include "tests/support/trace_text.h"

using ballot::Bytes;
using ballot::EngineConfig;
using ballot::Index;
using ballot::kNoNode;
using ballot::NodeId;
using ballot::ProposeResult;
using ballot::ReadState;
using ballot::raft::Entry;
using ballot::test::EngineCluster;
using ballot::test::InFlight;
namespace raft = ballot::raft;

namespace {

// What a node has persisted, decoded with Raft's own codec (raft/persist.h).
raft::HardState hard_state(const EngineCluster& c, NodeId id) {
    return ballot::test::decoded_metadata<&raft::decode_metadata>(c, id);
}

std::map<Index, Entry> disk(const EngineCluster& c, NodeId id) {
    return ballot::test::decoded_records<&raft::decode_record>(c, id);
}

// A Ready's metadata, decoded.
raft::HardState metadata_of(const ballot::Ready& r) {
    auto hs = raft::decode_metadata(*r.metadata);
    BOOST_REQUIRE(hs.has_value());
    return *hs;
}

// With BALLOT_TRACE set in the environment, prints every delivered message: run one test with
// --run_test=NAME --log_level=message to read the scenario as a protocol trace.
void trace_if_asked(EngineCluster& c) {
    if (std::getenv("BALLOT_TRACE") != nullptr)
        c.trace = [](const std::string& line) { BOOST_TEST_MESSAGE(line); };
}

using ballot::test::small_timeouts;

std::uint64_t term_of(EngineCluster& c, NodeId id) {
    return c.status(id).epoch.round;
}

std::optional<raft::Message> decode(const InFlight& m) {
    return raft::decode(m.payload);
}

const raft::AppendEntries* as_append(const std::optional<raft::Message>& m) {
    return m ? std::get_if<raft::AppendEntries>(&*m) : nullptr;
}

// Delivers the oldest queued message (dropped if its link is cut, its receiver is down, or `drop`
// says the network loses it), or ticks every node when nothing is queued.
void step_once(EngineCluster& c, const std::function<bool(const InFlight&)>& drop = {}) {
    if (c.in_flight().empty()) {
        c.tick_all();
        return;
    }
    InFlight m = std::move(c.in_flight().front());
    c.in_flight().pop_front();
    if (!c.linked(m.from, m.to) || !c.is_up(m.to) || (drop && drop(m))) return;
    c.deliver(m);
}

// step_once until `done` holds; false if it did not within `max_steps`.
bool run_until(EngineCluster& c, const std::function<bool()>& done,
               const std::function<bool(const InFlight&)>& drop = {}, int max_steps = 100000) {
    for (int i = 0; i < max_steps; ++i) {
        if (done()) return true;
        step_once(c, drop);
    }
    return done();
}

// One heartbeat interval: by its end every follower the leader reaches knows its commitIndex.
// Sooner, only a follower sent new entries or waiting for a command it forwarded hears it
// (raft/README.md, "Who hears a new commitIndex when").
template <class Cluster>
void heartbeat_interval(Cluster& c) {
    c.run(static_cast<int>(small_timeouts().heartbeat_ticks));
}

// §5.3 Log Matching, checked over what every node has on disk: if two logs hold an entry with the
// same index and term, they are identical in all entries up through that index.
void check_log_matching(EngineCluster& c) {
    std::vector<decltype(disk(c, 1))> disks;  // each node's log decoded once: this runs every tick
    for (NodeId id = 1; id <= static_cast<NodeId>(c.size()); ++id) disks.push_back(disk(c, id));
    for (NodeId a = 1; a <= static_cast<NodeId>(c.size()); ++a) {
        for (NodeId b = a + 1; b <= static_cast<NodeId>(c.size()); ++b) {
            // Walk both logs together: once they differ at some index, no later index may hold
            // entries of the same term in both.
            const auto& disk_a = disks[a - 1];
            const auto& disk_b = disks[b - 1];
            auto ia = disk_a.begin(), ib = disk_b.begin();
            bool diverged = false;
            for (; ia != disk_a.end() && ib != disk_b.end(); ++ia, ++ib) {
                if (ia->first != ib->first) BOOST_FAIL("a log with a gap on n" << a << " or n" << b);
                if (ia->second != ib->second)
                    diverged = true;
                else if (diverged)
                    BOOST_FAIL("Log Matching violated between n" << a << " and n" << b << " at index "
                                                                 << ia->first);
                if (diverged && ia->second.term == ib->second.term)
                    BOOST_FAIL("Log Matching violated between n" << a << " and n" << b << " at index "
                                                                 << ia->first);
            }
        }
    }
}

// §5.4.3 Leader Completeness: "if a log entry is committed in a given term, then that entry will
// be present in the logs of the leaders for all higher-numbered terms". The term in which an
// entry was committed is bounded by the highest term any node had when it was first seen
// committed; every leader of a higher term must hold it. Call record() after every step for the
// tightest bound (a stale leader of a lower term may rightly lack it), check() now and then.
class LeaderCompleteness {
public:
    void record(EngineCluster& c) {
        std::uint64_t max_term = 0;
        for (NodeId id = 1; id <= static_cast<NodeId>(c.size()); ++id)
            max_term = std::max(max_term, hard_state(c, id).term);
        seen_.resize(c.size() + 1, 0);
        for (NodeId id = 1; id <= static_cast<NodeId>(c.size()); ++id) {
            const auto& committed = c.committed(id);
            if (committed.size() < seen_[id]) seen_[id] = 0;  // restarted: it re-applies from 1
            for (; seen_[id] < committed.size(); ++seen_[id])
                committed_.try_emplace(committed[seen_[id]].index, Committed{committed[seen_[id]], max_term});
        }
    }

    void check(EngineCluster& c) {
        record(c);
        for (NodeId l = 1; l <= static_cast<NodeId>(c.size()); ++l) {
            if (!c.is_up(l) || c.status(l).role != ballot::Role::leader) continue;
            const std::uint64_t term = hard_state(c, l).term;
            const auto log = disk(c, l);  // decoded once: this runs after every tick
            for (const auto& [index, committed] : committed_) {
                if (term <= committed.term_bound) continue;
                auto it = log.find(index);
                if (it == log.end() || it->second.data != committed.entry.data)
                    BOOST_FAIL("leader n" << l << " of term " << term << " lacks committed entry " << index);
            }
        }
    }

private:
    struct Committed {
        ballot::Committed entry;
        std::uint64_t term_bound = 0;
    };
    std::map<Index, Committed> committed_;
    std::vector<std::size_t> seen_;  // per node, how many of its committed entries were recorded
};

void check_invariants(EngineCluster& c) {
    check_log_matching(c);
    LeaderCompleteness().check(c);
}

bool has_read(EngineCluster& c, NodeId id, std::uint64_t read_id, bool ok) {
    for (const ReadState& r : c.reads(id))
        if (r.id == read_id && r.ok == ok) return true;
    return false;
}

bool any_read_ok(EngineCluster& c, NodeId id) {
    for (const ReadState& r : c.reads(id))
        if (r.ok) return true;
    return false;
}

NodeId some_follower(EngineCluster&, NodeId leader) {
    return leader == 1 ? 2 : 1;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// §5.2 Leader election

BOOST_AUTO_TEST_CASE(single_leader_elected) {
    EngineCluster c("raft", 3, 1, small_timeouts());
    trace_if_asked(c);
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    c.run(50);  // and it stays leader: heartbeats hold off new elections
    BOOST_TEST(c.leader() == leader);
    for (NodeId id = 1; id <= 3; ++id) {
        BOOST_TEST(c.status(id).role == (id == leader ? ballot::Role::leader : ballot::Role::follower));
        BOOST_TEST(c.status(id).leader == leader);
        BOOST_TEST(term_of(c, id) == term_of(c, leader));
    }
    // §8: the new leader's first entry is a no-op of its own term, committed everywhere.
    BOOST_TEST(c.committed(leader).size() == 1u);
    BOOST_TEST(c.committed(leader)[0].data.empty());
    BOOST_TEST(c.committed(3).size() == 1u);
}

BOOST_AUTO_TEST_CASE(election_safety_across_seeds) {
    // §5.2 Election Safety: at most one leader can be elected in a given term. Fifty seeds of a
    // 5-node cluster under a new fault every 30 ticks (the leader isolated or crashed, a random
    // partition, a random crash, or calm), with one message in ten lost and one in ten delayed
    // behind later ones. Every node's view is recorded after every message; Log Matching and
    // Leader Completeness are checked after every tick. Then the faults stop and the cluster
    // must commit a new command everywhere.
    std::size_t elections = 0;
    for (std::uint64_t seed = 1; seed <= 50; ++seed) {
        EngineCluster c("raft", 5, seed, small_timeouts());
        ballot::Rng faults(seed * 7 + 3);
        std::map<std::uint64_t, NodeId> leader_of_term;
        LeaderCompleteness completeness;
        auto record_leaders = [&] {
            completeness.record(c);
            for (NodeId id = 1; id <= 5; ++id) {
                if (!c.is_up(id) || c.status(id).role != ballot::Role::leader) continue;
                auto [it, fresh] = leader_of_term.emplace(term_of(c, id), id);
                if (it->second != id)
                    BOOST_FAIL("seed " << seed << ": two leaders in term " << it->first << ": n" << it->second
                                       << " and n" << id);
            }
        };
        auto lossy = [&](const InFlight& m) {
            if (faults.chance(1, 10)) return true;  // lost
            if (faults.chance(1, 10)) {             // delayed behind everything queued now
                c.in_flight().push_back(m);
                return true;
            }
            return false;
        };
        for (int tick = 0; tick < 600; ++tick) {
            if (tick % 30 == 0) {
                c.heal();
                for (NodeId id = 1; id <= 5; ++id)
                    if (!c.is_up(id)) c.restart(id);
                const NodeId leader = c.leader();
                switch (faults.between(0, 4)) {
                    case 0:
                        if (leader != kNoNode) c.isolate(leader);
                        break;
                    case 1:
                        if (leader != kNoNode) c.crash(leader);
                        break;
                    case 2:  // a random partition into two sides
                        for (NodeId a = 1; a <= 5; ++a)
                            for (NodeId b = a + 1; b <= 5; ++b)
                                if (((seed + tick) >> a & 1) != ((seed + tick) >> b & 1)) c.cut(a, b);
                        break;
                    case 3:
                        c.crash(faults.between(1, 5));
                        break;
                    default:
                        break;  // calm
                }
            }
            c.tick_all();
            record_leaders();
            check_log_matching(c);
            completeness.check(c);
            if (faults.chance(1, 4)) {
                const NodeId at = faults.between(1, 5);
                if (c.is_up(at)) c.propose(at, "s" + std::to_string(seed) + "-" + std::to_string(tick));
            }
            while (!c.in_flight().empty()) {
                step_once(c, lossy);
                record_leaders();
            }
        }
        elections += leader_of_term.size();
        // Liveness once the faults stop: a leader emerges and a new command commits everywhere.
        c.heal();
        for (NodeId id = 1; id <= 5; ++id)
            if (!c.is_up(id)) c.restart(id);
        auto final_everywhere = [&] {
            for (NodeId id = 1; id <= 5; ++id) {
                auto data = c.committed_data(id);
                if (data.empty() || data.back() != "final") return false;
            }
            return true;
        };
        // A leader elected before the heal may still be deposed, losing the proposal: retry.
        for (int attempt = 0; attempt < 10 && !final_everywhere(); ++attempt) {
            const NodeId leader = c.elect();
            if (leader != kNoNode) c.propose(leader, "final");
            c.run_until(final_everywhere, 100);
        }
        BOOST_REQUIRE_MESSAGE(final_everywhere(),
                              "seed " << seed << ": the final command did not commit everywhere");
        check_invariants(c);
    }
    BOOST_TEST_MESSAGE(elections << " terms had a leader over 50 seeds");
    BOOST_TEST(elections >= 50u * 5);  // the faults did force many elections
}

BOOST_AUTO_TEST_CASE(split_vote_resolves) {
    // §5.2: with links 1-4 and 2-3 cut, nodes 1 and 2 both pass PreVote and stand in term 1; node 3
    // votes for 1, node 4 for 2, and each has 2 of the 4 votes it needs 3 of: no leader in term 1.
    EngineCluster c("raft", 4, 7, small_timeouts());
    trace_if_asked(c);
    c.cut(1, 4);
    c.cut(2, 3);
    for (int i = 0; i < 100 && c.status(1).role != ballot::Role::pre_candidate; ++i) c.tick(1);
    for (int i = 0; i < 100 && c.status(2).role != ballot::Role::pre_candidate; ++i) c.tick(2);
    c.stabilize();
    BOOST_TEST(c.status(1).role == ballot::Role::candidate);
    BOOST_TEST(c.status(2).role == ballot::Role::candidate);
    BOOST_TEST(hard_state(c, 1).term == 1u);
    BOOST_TEST(hard_state(c, 2).term == 1u);
    BOOST_TEST(hard_state(c, 3).vote == 1u);
    BOOST_TEST(hard_state(c, 4).vote == 2u);
    BOOST_TEST(c.leader() == kNoNode);
    // Healed, randomized timeouts make one candidate time out first and win a later term.
    c.heal();
    const NodeId leader = c.elect(500);
    BOOST_REQUIRE(leader != kNoNode);
    BOOST_TEST(hard_state(c, leader).term >= 2u);
}

// ---------------------------------------------------------------------------------------------
// §5.3 Log replication

BOOST_AUTO_TEST_CASE(replication_to_all) {
    EngineCluster c("raft", 5, 2, small_timeouts());
    trace_if_asked(c);
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    std::vector<std::string> commands;
    for (int i = 0; i < 20; ++i) {
        commands.push_back("cmd" + std::to_string(i));
        BOOST_TEST((c.propose(leader, commands.back()) == ProposeResult::accepted));
        if (i % 3 == 0) c.stabilize();
    }
    c.stabilize();
    BOOST_TEST(c.committed_data(leader) == commands);
    heartbeat_interval(c);
    for (NodeId id = 1; id <= 5; ++id) BOOST_TEST(c.committed_data(id) == commands, "node " << id);
    check_invariants(c);
}

BOOST_AUTO_TEST_CASE(proposals_between_batches_share_one_append_entries) {
    // Batching: every proposal made before the runtime takes the next Ready goes out in a single
    // AppendEntries per follower.
    EngineCluster c("raft", 3, 2, small_timeouts());
    trace_if_asked(c);
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    c.stabilize();
    for (int i = 0; i < 10; ++i) c.engine(leader).propose("batch" + std::to_string(i));
    c.collect();
    int appends = 0;
    for (const InFlight& m : c.in_flight()) {
        const auto decoded = decode(m);
        if (const auto* ae = as_append(decoded); ae && !ae->entries.empty()) {
            ++appends;
            BOOST_TEST(ae->entries.size() == 10u);
        }
    }
    BOOST_TEST(appends == 2);  // one per follower
    c.stabilize();
    BOOST_TEST(c.committed_data(leader).size() == 10u);
    heartbeat_interval(c);
    BOOST_TEST(c.committed_data(some_follower(c, leader)).size() == 10u);
}

// The most unacknowledged AppendEntries (and their entry bytes) seen in the network at once
// while a follower that missed 300 entries catches up; each message is checked against
// max_message_bytes.
struct CatchUpWindow {
    std::size_t messages = 0;
    std::size_t bytes = 0;
};
CatchUpWindow catch_up_window(const EngineConfig& config) {
    EngineCluster c("raft", 3, 20, config);
    trace_if_asked(c);
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    const NodeId lagging = some_follower(c, leader);
    c.crash(lagging);
    for (int i = 0; i < 300; ++i) c.propose(leader, "entry" + std::to_string(i));
    c.stabilize();
    BOOST_REQUIRE(c.committed_data(leader).size() == 300u);

    c.restart(lagging);
    CatchUpWindow most;
    BOOST_REQUIRE(run_until(c, [&] {
        CatchUpWindow now;
        for (const InFlight& m : c.in_flight()) {
            const auto decoded = decode(m);
            const auto* ae = as_append(decoded);
            if (m.to != lagging || !ae || ae->entries.empty()) continue;
            const std::size_t bytes = raft::entries_bytes(ae->entries);
            BOOST_REQUIRE(bytes <= config.max_message_bytes);
            ++now.messages;
            now.bytes += bytes;
        }
        most.messages = std::max(most.messages, now.messages);
        most.bytes = std::max(most.bytes, now.bytes);
        return c.committed_data(lagging).size() == 300u;
    }));
    check_invariants(c);
    return most;
}

BOOST_AUTO_TEST_CASE(lagging_follower_catches_up_within_the_inflight_window) {
    // §5.3 with the dissertation's §10.2 flow control: a follower that missed 300 entries is
    // probed until its log matches, then streamed to with at most max_inflight_messages
    // unacknowledged AppendEntries, each at most max_message_bytes of entries.
    EngineConfig config = small_timeouts();
    config.max_inflight_messages = 4;
    config.max_message_bytes = 200;
    const CatchUpWindow most = catch_up_window(config);
    BOOST_TEST(most.messages <= config.max_inflight_messages);
    BOOST_TEST(most.messages == config.max_inflight_messages);  // the window was used
}

BOOST_AUTO_TEST_CASE(lagging_follower_catch_up_is_bounded_in_bytes_too) {
    // etcd's MaxInflightBytes: with a window of 64 messages but 500 bytes, no new AppendEntries
    // goes while 500 bytes of entries are unacknowledged, so at most 500 + one message's 200 are.
    EngineConfig config = small_timeouts();
    config.max_inflight_messages = 64;
    config.max_message_bytes = 200;
    config.max_inflight_bytes = 500;
    const CatchUpWindow most = catch_up_window(config);
    BOOST_TEST(most.bytes < config.max_inflight_bytes + config.max_message_bytes);
    BOOST_TEST(most.messages >= 2u);  // still pipelined, within the bytes
    BOOST_TEST(most.messages <= 3u);  // the bytes bound, not the count, was the limit
}

BOOST_AUTO_TEST_CASE(single_node_cluster_commits_and_reads_alone) {
    // A one-node cluster is its own majority: it elects itself, commits once its own write is
    // durable (its note to itself, §10.2.1), and confirms reads without asking anyone.
    EngineCluster c("raft", 1, 21, small_timeouts());
    trace_if_asked(c);
    BOOST_REQUIRE(c.elect() == 1u);
    BOOST_TEST((c.propose(1, "solo") == ProposeResult::accepted));
    BOOST_TEST(c.committed_data(1) == std::vector<std::string>{"solo"});
    c.read(1, 1);
    BOOST_TEST(has_read(c, 1, 1, true));
    BOOST_TEST(c.reads(1)[0].index == 2u);
}

BOOST_AUTO_TEST_CASE(leader_crash_new_leader_keeps_committed_entries) {
    // §5.4 Leader Completeness: a committed entry is in the log of every later leader.
    EngineCluster c("raft", 5, 3, small_timeouts());
    trace_if_asked(c);
    const NodeId old_leader = c.elect();
    BOOST_REQUIRE(old_leader != kNoNode);
    for (std::string cmd : {"a", "b", "c"}) c.propose(old_leader, cmd);
    c.stabilize();
    c.crash(old_leader);
    const NodeId new_leader = c.elect();
    BOOST_REQUIRE(new_leader != kNoNode);
    BOOST_TEST(new_leader != old_leader);
    c.propose(new_leader, "d");
    c.stabilize();
    heartbeat_interval(c);
    const std::vector<std::string> expected{"a", "b", "c", "d"};
    for (NodeId id = 1; id <= 5; ++id)
        if (id != old_leader) BOOST_TEST(c.committed_data(id) == expected, "node " << id);
    // The old leader comes back as a follower and catches up.
    c.restart(old_leader);
    BOOST_REQUIRE(c.run_until([&] { return c.committed_data(old_leader) == expected; }, 200));
    BOOST_TEST(c.status(old_leader).role == ballot::Role::follower);
    check_invariants(c);
}

BOOST_AUTO_TEST_CASE(follower_log_repair) {
    // §5.3: a leader cut off from the others keeps accepting commands that can never commit; a
    // new leader is elected in a later term. When the old leader reconnects, its divergent,
    // uncommitted suffix is found (conflict hint: one round trip per term), removed and replaced.
    EngineCluster c("raft", 3, 4, small_timeouts());
    trace_if_asked(c);
    const NodeId old_leader = c.elect();
    BOOST_REQUIRE(old_leader != kNoNode);
    c.propose(old_leader, "a");
    c.stabilize();
    const Index base = c.status(old_leader).log_last_index;
    const std::uint64_t old_term = hard_state(c, old_leader).term;

    c.isolate(old_leader);
    for (int i = 0; i < 30; ++i)
        BOOST_TEST((c.propose(old_leader, "lost" + std::to_string(i)) == ProposeResult::accepted));
    BOOST_TEST(c.status(old_leader).log_last_index == base + 30);

    // (c.leader() reports the leader of the highest term, so it names the new one once elected.)
    BOOST_REQUIRE(c.run_until([&] { return c.leader() != kNoNode && c.leader() != old_leader; }, 500));
    const NodeId new_leader = c.leader();
    for (std::string cmd : {"b", "c"}) c.propose(new_leader, cmd);
    c.stabilize();
    const std::uint64_t new_term = hard_state(c, new_leader).term;
    BOOST_TEST(new_term > old_term);

    c.heal();
    int rejections = 0;
    c.trace = [&](const std::string& line) {
        if (line.rfind("n" + std::to_string(old_leader) + " ->", 0) == 0 &&
            line.find("AppendEntriesResponse") != std::string::npos &&
            line.find("reject") != std::string::npos)
            ++rejections;
    };
    BOOST_REQUIRE(c.run_until([&] { return disk(c, old_leader) == disk(c, new_leader); }, 200));
    BOOST_TEST(rejections <= 2);  // not one per divergent entry (there were 30)
    // The divergent entries are gone, replaced by the new leader's from index base + 1 on.
    BOOST_TEST(disk(c, old_leader).at(base + 1).term == new_term);
    BOOST_TEST(c.status(old_leader).log_last_index == c.status(new_leader).log_last_index);
    BOOST_TEST(c.committed_data(old_leader) == (std::vector<std::string>{"a", "b", "c"}));
    check_invariants(c);
}

// ---------------------------------------------------------------------------------------------
// §5.4.2 and Figure 8: committing entries from previous terms

namespace {

// Every AppendEntries carries one entry at most, so the test can hold back exactly the entries of
// one term.
EngineConfig one_entry_per_message() {
    EngineConfig c = small_timeouts();
    c.max_message_bytes = 1;
    return c;
}

// Only `candidate` can collect a majority: every other live node is linked to `candidate` alone.
void only_reachable_through(EngineCluster& c, NodeId candidate) {
    c.heal();
    for (NodeId a = 1; a <= 5; ++a)
        for (NodeId b = a + 1; b <= 5; ++b)
            if (a != candidate && b != candidate) c.cut(a, b);
}

// Builds Figure 8 (c). Returns the index of the old-term entry ("x") and fills the terms.
struct Figure8 {
    Index x_index = 0;
    std::uint64_t x_term = 0;   // term in which S1 created x (Figure 8's term 2)
    std::uint64_t s5_term = 0;  // term in which S5 led and wrote its own entry at x_index (term 3)
    std::uint64_t s1_term = 0;  // S1's second term as leader (term 4)
};

Figure8 build_figure_8_c(EngineCluster& c) {
    Figure8 f;
    // S1 leads; one command commits everywhere.
    only_reachable_through(c, 1);
    BOOST_REQUIRE(run_until(c, [&] { return c.status(1).role == ballot::Role::leader; }));
    c.heal();
    c.propose(1, "first");
    c.stabilize();
    heartbeat_interval(c);
    BOOST_REQUIRE(c.committed_data(5) == std::vector<std::string>{"first"});

    // (a) S1 replicates x only to S2, then crashes.
    f.x_index = c.status(1).log_last_index + 1;
    f.x_term = hard_state(c, 1).term;
    for (NodeId id : {3, 4, 5}) c.cut(1, id);
    c.propose(1, "x");
    c.stabilize();
    BOOST_REQUIRE(disk(c, 2).count(f.x_index) && disk(c, 2).at(f.x_index).data == "x");
    c.crash(1);

    // (b) S5 is elected with the votes of S3 and S4 and writes its own entry (its no-op) at the
    // same index, then crashes before sending it anywhere.
    c.heal();
    c.isolate(2);
    c.cut(3, 4);
    BOOST_REQUIRE(run_until(c, [&] { return c.status(5).role == ballot::Role::leader; }));
    f.s5_term = hard_state(c, 5).term;
    BOOST_REQUIRE(disk(c, 5).at(f.x_index).term == f.s5_term);
    c.crash(5);

    // (c) S1 restarts and is elected by S2, S3 and S4. It replicates x to S3 and S4, but the
    // network loses every AppendEntries that would give a follower an entry of S1's new term.
    c.restart(1);
    only_reachable_through(c, 1);
    BOOST_REQUIRE(run_until(c, [&] { return c.status(1).role == ballot::Role::leader; }));
    f.s1_term = hard_state(c, 1).term;
    c.cut(1, 2);
    auto loses_current_term_entries = [&](const InFlight& m) {
        const auto decoded = decode(m);
        const auto* ae = as_append(decoded);
        if (!ae || std::none_of(ae->entries.begin(), ae->entries.end(),
                                [&](const Entry& e) { return e.term == f.s1_term; }))
            return false;
        // Lost only if the follower would accept it (it holds the entry before them); a probe it
        // rejects anyway may pass.
        const auto log = disk(c, m.to);
        return ae->prev_log_index == 0 ||
               (log.count(ae->prev_log_index) && log.at(ae->prev_log_index).term == ae->prev_log_term);
    };
    auto holds_x = [&](NodeId id) {
        return disk(c, id).count(f.x_index) && disk(c, id).at(f.x_index).term == f.x_term;
    };
    BOOST_REQUIRE(run_until(
        c, [&] { return holds_x(3) && holds_x(4) && c.in_flight().empty(); }, loses_current_term_entries));
    // x is now stored on S1, S2, S3 and S4: a majority. Counting replicas would commit it, but it
    // is from an earlier term, so §5.4.2 does not.
    BOOST_TEST(holds_x(1));
    BOOST_TEST(holds_x(2));
    BOOST_TEST(c.status(1).role == ballot::Role::leader);
    BOOST_TEST(c.status(1).commit_index < f.x_index);
    return f;
}

}  // namespace

BOOST_AUTO_TEST_CASE(figure_8_old_term_entry_on_a_majority_can_still_be_overwritten) {
    // Figure 8 (d): had S1 committed x by counting, this would lose a committed entry. S1
    // crashes; S5, whose last entry has a later term than x, is elected by S2, S3 and S4 (§5.4.1
    // allows it) and overwrites x everywhere. Safe only because x was never committed.
    EngineCluster c("raft", 5, 8, one_entry_per_message());
    trace_if_asked(c);
    const Figure8 f = build_figure_8_c(c);
    c.crash(1);
    c.restart(5);
    only_reachable_through(c, 5);
    BOOST_REQUIRE(run_until(c, [&] { return c.status(5).role == ballot::Role::leader; }));
    BOOST_REQUIRE(run_until(c, [&] { return c.status(3).commit_index > f.x_index; }));
    for (NodeId id : {2, 3, 4}) {
        BOOST_TEST(disk(c, id).at(f.x_index).term == f.s5_term, "node " << id);
        BOOST_TEST(c.committed_data(id) == std::vector<std::string>{"first"}, "node " << id);
    }
    check_invariants(c);
}

BOOST_AUTO_TEST_CASE(figure_8_old_term_entry_commits_beneath_a_current_term_entry) {
    // Figure 8 (e): instead S1 gets an entry of its own term (its no-op) onto a majority; x then
    // commits with it, indirectly. Observed after every message: the commit index goes from
    // before x straight past it, never stopping at x alone.
    EngineCluster c("raft", 5, 8, one_entry_per_message());
    trace_if_asked(c);
    const Figure8 f = build_figure_8_c(c);
    c.heal();
    BOOST_REQUIRE(run_until(c, [&] {
        BOOST_REQUIRE(c.status(1).commit_index != f.x_index);
        return c.status(1).commit_index > f.x_index;
    }));
    BOOST_TEST(disk(c, 1).at(f.x_index + 1).term == f.s1_term);
    BOOST_REQUIRE(c.run_until(
        [&] {
            for (NodeId id : {1, 2, 3, 4})
                if (c.committed_data(id) != std::vector<std::string>{"first", "x"}) return false;
            return true;
        },
        100));
    check_invariants(c);
}

// ---------------------------------------------------------------------------------------------
// Dissertation §9.6 PreVote and §6.2 check-quorum

BOOST_AUTO_TEST_CASE(prevote_partitioned_node_does_not_disrupt_leader) {
    EngineCluster c("raft", 3, 5, small_timeouts());
    trace_if_asked(c);
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    c.propose(leader, "a");
    c.stabilize();
    const std::uint64_t term = hard_state(c, leader).term;
    const NodeId cut_off = some_follower(c, leader);

    c.isolate(cut_off);
    c.run(200);  // ten election timeouts and more
    // It keeps asking for pre-votes, in vain, and never bumps its term.
    BOOST_TEST(c.status(cut_off).role == ballot::Role::pre_candidate);
    BOOST_TEST(hard_state(c, cut_off).term == term);
    BOOST_TEST(c.leader() == leader);

    c.heal();
    c.run(20);
    BOOST_TEST(c.leader() == leader);
    BOOST_TEST(hard_state(c, leader).term == term);
    BOOST_TEST(c.status(cut_off).role == ballot::Role::follower);
    BOOST_TEST(c.status(cut_off).leader == leader);
    BOOST_TEST(c.committed_data(cut_off) == std::vector<std::string>{"a"});
}

// A vote request carries the candidate's commitIndex and that entry's term: a voter whose log holds
// the same entry there learns that it, and everything before it, is committed (Log Matching, §5.3),
// whatever the request's fate. Configurations take effect when applied, so a voter that never
// heard that a removal committed could not elect with the voters left (simulator seed 110749).
BOOST_AUTO_TEST_CASE(a_voter_learns_the_commit_index_from_a_vote_request) {
    EngineCluster c("raft", 3, 23, small_timeouts());
    trace_if_asked(c);
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    c.propose(leader, "a");
    c.stabilize();
    const NodeId f = some_follower(c, leader);
    const NodeId other = 6 - leader - f;
    // "x" reaches f's log, and nothing tells f it committed.
    c.propose(leader, "x");
    c.collect();
    for (InFlight& m : c.take_if([&](const InFlight& m) { return m.from == leader && m.to == f; })) c.deliver(m);
    c.in_flight().clear();
    const Index x = c.status(f).log_last_index;
    const std::uint64_t term = hard_state(c, leader).term;
    BOOST_REQUIRE(c.status(f).commit_index < x);
    BOOST_REQUIRE(c.committed_data(f) == std::vector<std::string>{"a"});
    // A commit index f's log does not hold (one past its last entry): nothing learned.
    BOOST_TEST(c.deliver(InFlight{other, f, raft::encode(raft::RequestVote{true, term + 1, x + 1, term, false, x + 1, term})}));
    BOOST_TEST(c.status(f).commit_index < x);
    // The entry f holds: committed, handed to its state machine, though the pre-vote is refused
    // (f heard its leader a moment ago).
    BOOST_TEST(c.deliver(InFlight{other, f, raft::encode(raft::RequestVote{true, term + 1, x, term, false, x, term})}));
    BOOST_TEST(c.status(f).commit_index == x);
    BOOST_TEST((c.committed_data(f) == std::vector<std::string>{"a", "x"}));
    check_invariants(c);
}

// The commit hint a node persisted with its hard state is a fact: after a restart its commitIndex
// starts there, and it re-applies its log through it at once, cut off from everyone; its vote
// requests then carry it to voters that never learned it (simulator seed raft 131822: a voter that
// had applied a removal and one that had not both restarted, and neither could elect).
BOOST_AUTO_TEST_CASE(a_restarted_node_starts_from_its_persisted_commit_hint) {
    EngineCluster c("raft", 3, 24, small_timeouts());
    trace_if_asked(c);
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    c.propose(leader, "a");
    c.propose(leader, "b");
    c.stabilize();
    heartbeat_interval(c);
    // A new term makes the followers write their hard state, with the commit index they know.
    c.crash(leader);
    const NodeId next = c.elect();
    BOOST_REQUIRE(next != kNoNode);
    c.stabilize();
    const NodeId f = 6 - leader - next;
    const Index hint = hard_state(c, f).commit;
    BOOST_REQUIRE(hint >= 3u);  // the first leader's no-op, "a" and "b"
    c.crash(f);
    c.isolate(f);
    c.restart(f);
    BOOST_TEST(c.status(f).commit_index == hint);
    BOOST_TEST((c.committed_data(f) == std::vector<std::string>{"a", "b"}));
    // Left alone it campaigns, and its pre-vote tells the commit index.
    std::optional<raft::RequestVote> asked;
    for (int i = 0; i < 200 && !asked; ++i) {
        c.tick(f);
        c.collect();
        for (const InFlight& m : c.take_if([&](const InFlight& m) { return m.from == f; }))
            if (auto decoded = raft::decode(m.payload))
                if (auto* vote = std::get_if<raft::RequestVote>(&*decoded)) asked = *vote;
    }
    BOOST_REQUIRE(asked.has_value());
    BOOST_TEST(asked->commit == hint);
    check_invariants(c);
}

BOOST_AUTO_TEST_CASE(vote_request_ignored_while_the_leader_is_heard) {
    // Dissertation §4.2.3: a server that heard from a leader within the minimum election timeout
    // ignores a RequestVote, even of a higher term, so a server that cannot see the leader cannot
    // depose it by bumping terms.
    EngineCluster c("raft", 3, 22, small_timeouts());
    trace_if_asked(c);
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    const NodeId voter = some_follower(c, leader);
    const NodeId disruptor = 6 - leader - voter;
    const std::uint64_t term = hard_state(c, voter).term;
    const auto& log = disk(c, disruptor);
    const raft::RequestVote request{false, term + 5, log.rbegin()->first, log.rbegin()->second.term};
    BOOST_REQUIRE(c.deliver(InFlight{disruptor, voter, raft::encode(request)}));
    BOOST_TEST(hard_state(c, voter).term == term);
    BOOST_TEST(c.in_flight().empty());  // not even an answer
    BOOST_TEST(c.status(voter).leader == leader);
    // Once the leader has been silent for the minimum election timeout, the same request counts.
    for (std::uint32_t i = 0; i < small_timeouts().election_timeout_min_ticks; ++i) c.tick(voter);
    BOOST_REQUIRE(c.deliver(InFlight{disruptor, voter, raft::encode(request)}));
    BOOST_TEST(hard_state(c, voter).term == term + 5);
}

BOOST_AUTO_TEST_CASE(check_quorum_isolated_leader_steps_down) {
    EngineCluster c("raft", 5, 6, small_timeouts());
    trace_if_asked(c);
    const NodeId old_leader = c.elect();
    BOOST_REQUIRE(old_leader != kNoNode);
    const std::uint64_t old_term = hard_state(c, old_leader).term;
    c.isolate(old_leader);
    BOOST_REQUIRE(c.run_until([&] { return c.status(old_leader).role != ballot::Role::leader; }, 100));
    BOOST_TEST(c.status(old_leader).role != ballot::Role::leader);
    BOOST_TEST(c.status(old_leader).leader == kNoNode);
    // The majority side elects a new leader in a later term.
    const NodeId new_leader = c.elect(200);
    BOOST_REQUIRE(new_leader != kNoNode);
    BOOST_TEST(new_leader != old_leader);
    BOOST_TEST(hard_state(c, new_leader).term > old_term);
    BOOST_TEST((c.propose(old_leader, "x") == ProposeResult::no_leader));
}

// ---------------------------------------------------------------------------------------------
// Dissertation §6.4 ReadIndex

BOOST_AUTO_TEST_CASE(read_index_on_leader_and_follower) {
    EngineCluster c("raft", 3, 9, small_timeouts());
    trace_if_asked(c);
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    c.propose(leader, "a");
    c.stabilize();
    const Index written = c.committed(leader).back().index;

    c.read(leader, 1);
    c.stabilize();
    BOOST_REQUIRE(c.reads(leader).size() == 1u);
    BOOST_TEST(c.reads(leader)[0].id == 1u);
    BOOST_TEST(c.reads(leader)[0].ok);
    BOOST_TEST(c.reads(leader)[0].index >= written);

    const NodeId follower = some_follower(c, leader);
    c.read(follower, 2);
    c.stabilize();
    BOOST_REQUIRE(c.reads(follower).size() == 1u);
    BOOST_TEST(c.reads(follower)[0].id == 2u);
    BOOST_TEST(c.reads(follower)[0].ok);
    BOOST_TEST(c.reads(follower)[0].index >= written);
    BOOST_TEST(c.status(follower).commit_index >= c.reads(follower)[0].index);  // it can serve it
}

BOOST_AUTO_TEST_CASE(read_index_waits_for_the_leaders_first_commit) {
    // §6.4 step 1: a new leader does not know the commit index until its no-op commits.
    EngineCluster c("raft", 3, 10, small_timeouts());
    trace_if_asked(c);
    NodeId leader = kNoNode;
    BOOST_REQUIRE(run_until(c, [&] { return (leader = c.leader()) != kNoNode; }));
    BOOST_REQUIRE(c.status(leader).commit_index == 0u);
    c.read(leader, 5);
    BOOST_TEST(c.reads(leader).empty());
    c.stabilize();
    BOOST_REQUIRE(c.reads(leader).size() == 1u);
    BOOST_TEST(c.reads(leader)[0].ok);
    BOOST_TEST(c.reads(leader)[0].index == 1u);  // the no-op
}

BOOST_AUTO_TEST_CASE(read_index_isolated_leader_never_answers_ok) {
    EngineCluster c("raft", 3, 11, small_timeouts());
    trace_if_asked(c);
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    c.propose(leader, "a");
    c.stabilize();
    c.isolate(leader);
    c.read(leader, 7);
    for (int i = 0; i < 100 && c.reads(leader).empty(); ++i) {
        c.tick_all();
        c.stabilize();
        BOOST_REQUIRE(!any_read_ok(c, leader));
    }
    // Check-quorum deposed it; the read fails so the runtime can retry elsewhere.
    BOOST_TEST(has_read(c, leader, 7, false));
    BOOST_TEST(!any_read_ok(c, leader));
    BOOST_TEST(c.status(leader).role != ballot::Role::leader);
}

// A response counts only for the request it answers. The counterexample of a review: a follower
// rejects a heartbeat of an old term (Figure 2, AppendEntries rule 1) and, were its reply stamped
// only with its own current term, a leader re-elected in that term would take the echoed read
// context as confirmation of its new reads (§6.4) and as a sign of life for check-quorum (§6.2),
// although the follower has since moved on to another leader. L leads term 1; its heartbeat with
// read context 3 to F is delayed; L leads term 2; F answers the old heartbeat "term 2, reject,
// read 3", also delayed; L is cut off; F and G elect a leader of term 3 and commit x; L takes
// three reads (contexts 1-3 of term 2) and the delayed reply arrives. Serving them would miss x.
BOOST_AUTO_TEST_CASE(stale_rejection_confirms_no_read_and_no_quorum) {
    EngineCluster c("raft", 3, 21, small_timeouts());
    trace_if_asked(c);
    const NodeId L = c.elect();
    BOOST_REQUIRE(L != kNoNode);
    c.stabilize();
    const NodeId F = L == 1 ? 2 : 1;
    const NodeId G = 6 - L - F;
    BOOST_REQUIRE(c.status(L).commit_index >= 1u);  // the term's no-op: reads may start

    // Term 1: three reads take contexts 1-3; the heartbeat carrying context 3 to F is held back.
    for (std::uint64_t id = 1; id <= 3; ++id) c.read(L, id);
    auto carries_context_3 = [&](const InFlight& m) {
        const std::optional<raft::Message> decoded = decode(m);  // outlives the pointer into it
        const raft::AppendEntries* ae = as_append(decoded);
        return m.from == L && m.to == F && ae && ae->read_context == 3;
    };
    std::vector<InFlight> held = c.take_if(carries_context_3);
    BOOST_REQUIRE(held.size() == 1u);
    c.stabilize();

    // L loses term 1 (check-quorum, only L's clock runs) and wins term 2: F's and G's own vote
    // requests are lost, so L is the only candidate.
    c.isolate(L);
    for (int i = 0; i < 1000 && c.status(L).role == ballot::Role::leader; ++i) {
        c.tick(L);
        c.stabilize();
    }
    BOOST_REQUIRE(c.status(L).role != ballot::Role::leader);
    c.heal();
    auto others_campaign = [&](const InFlight& m) {
        auto msg = decode(m);
        return m.from != L && msg && std::holds_alternative<raft::RequestVote>(*msg);
    };
    BOOST_REQUIRE(run_until(
        c, [&] { return c.status(L).role == ballot::Role::leader; }, others_campaign));
    c.stabilize();
    BOOST_REQUIRE(term_of(c, L) == 2u);
    BOOST_REQUIRE(term_of(c, F) == 2u);
    BOOST_REQUIRE(c.status(L).commit_index >= 2u);  // its term-2 no-op is committed

    // F processes the old heartbeat now and rejects it (rule 1); its reply is held back too.
    c.deliver(held[0]);
    std::vector<InFlight> stale = c.take_if([&](const InFlight& m) { return m.from == F && m.to == L; });
    BOOST_REQUIRE(stale.size() == 1u);

    // L is cut off and its clock stops; F and G elect a leader of term 3 and commit x.
    c.isolate(L);
    NodeId new_leader = kNoNode;
    for (int i = 0; i < 1000 && new_leader == kNoNode; ++i) {
        c.tick(F);
        c.tick(G);
        c.stabilize();
        for (NodeId id : {F, G})
            if (c.status(id).role == ballot::Role::leader) new_leader = id;
    }
    BOOST_REQUIRE(new_leader != kNoNode);
    c.propose(new_leader, "x");
    c.stabilize();
    const Index x_index = c.committed(new_leader).back().index;
    BOOST_REQUIRE(c.committed(new_leader).back().data == "x");

    // L, still leader of term 2 in its own eyes, takes three reads; then the stale reply arrives.
    for (std::uint64_t id = 11; id <= 13; ++id) c.read(L, id);
    c.stabilize();  // their heartbeats are lost across the cut
    c.deliver(stale[0]);
    for (const ReadState& r : c.reads(L))
        if (r.id >= 11)
            BOOST_TEST((!r.ok || r.index >= x_index), "read " << r.id << " served at " << r.index);

    // Nor does the stale reply keep L alive: replayed every tick, L still steps down (§6.2).
    for (int i = 0; i < 100 && c.status(L).role == ballot::Role::leader; ++i) {
        c.deliver(stale[0]);
        c.tick(L);
        c.stabilize();
    }
    BOOST_TEST(c.status(L).role != ballot::Role::leader);
    BOOST_TEST(!has_read(c, L, 11, true));
}

BOOST_AUTO_TEST_CASE(read_with_no_leader_fails_at_once) {
    EngineCluster c("raft", 3, 12, small_timeouts());
    trace_if_asked(c);
    c.read(1, 3);
    BOOST_TEST(has_read(c, 1, 3, false));
}

BOOST_AUTO_TEST_CASE(forwarded_read_fails_when_the_leader_changes) {
    EngineCluster c("raft", 3, 13, small_timeouts());
    trace_if_asked(c);
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    const NodeId follower = some_follower(c, leader);
    c.cut(follower, leader);  // the ReadIndex request is lost
    c.read(follower, 4);
    c.stabilize();
    BOOST_TEST(c.reads(follower).empty());
    // The follower stops hearing from its leader and starts an election: the read fails.
    BOOST_REQUIRE(c.run_until([&] { return !c.reads(follower).empty(); }, 100));
    BOOST_TEST(has_read(c, follower, 4, false));
    BOOST_TEST(!any_read_ok(c, follower));
}

// A read forwarded again under the same id (the runtime retries a failed read with its id) gets
// a full timeout from the new send: an earlier send of that id, already answered, does not make
// it expire early. (Before ForwardedRequests the old send's tick stayed queued and could.)
BOOST_AUTO_TEST_CASE(forwarded_read_sent_again_gets_a_full_timeout) {
    EngineConfig config = small_timeouts();
    config.id = 1;
    config.members = {1, 2, 3};
    raft::Raft n1(config, ballot::RecoveredState{});
    auto heartbeat = [&] {  // keeps node 2 n1's leader through the test
        raft::AppendEntries hb;
        hb.term = 1;
        BOOST_REQUIRE(n1.step(2, raft::encode(hb)));
    };
    auto failed_reads = [&] {
        std::size_t failed = 0;
        for (const ballot::ReadState& r : n1.take_ready().reads) failed += r.ok ? 0 : 1;
        return failed;
    };
    heartbeat();
    n1.read(7);
    for (int i = 0; i < 5; ++i) {
        n1.tick();
        heartbeat();
    }
    BOOST_REQUIRE(n1.step(2, raft::encode(raft::ReadIndexResponse{7, 0, false})));
    BOOST_REQUIRE(failed_reads() == 1u);
    n1.read(7);  // sent again, 5 ticks after the first send
    const std::uint32_t timeout = config.election_timeout_max_ticks;
    for (std::uint32_t i = 1; i < timeout; ++i) {
        n1.tick();
        heartbeat();
        BOOST_REQUIRE_MESSAGE(failed_reads() == 0u, "failed " << i << " ticks after the second send");
    }
    n1.tick();
    BOOST_TEST(failed_reads() == 1u);  // exactly the maximum election timeout after it was sent
}

// ---------------------------------------------------------------------------------------------
// Proposals

BOOST_AUTO_TEST_CASE(proposal_forwarded_from_follower_commits) {
    EngineCluster c("raft", 3, 14, small_timeouts());
    trace_if_asked(c);
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    const NodeId follower = some_follower(c, leader);
    BOOST_TEST((c.propose(follower, "via-follower") == ProposeResult::accepted));
    c.stabilize();
    heartbeat_interval(c);
    for (NodeId id = 1; id <= 3; ++id)
        BOOST_TEST(c.committed_data(id) == std::vector<std::string>{"via-follower"}, "node " << id);
}

BOOST_AUTO_TEST_CASE(proposal_with_no_leader_returns_no_leader) {
    EngineCluster c("raft", 3, 15, small_timeouts());
    trace_if_asked(c);
    BOOST_TEST((c.propose(1, "x") == ProposeResult::no_leader));
    for (int i = 0; i < 100 && c.status(1).role != ballot::Role::pre_candidate; ++i) c.tick(1);
    BOOST_TEST((c.propose(1, "x") == ProposeResult::no_leader));  // during an election
}

BOOST_AUTO_TEST_CASE(leader_backlog_is_bounded) {
    EngineConfig config = small_timeouts();
    config.max_pending_proposals = 3;
    EngineCluster c("raft", 3, 16, config);
    trace_if_asked(c);
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    c.isolate(leader);  // nothing commits any more
    for (int i = 0; i < 3; ++i) BOOST_TEST((c.propose(leader, "p") == ProposeResult::accepted));
    BOOST_TEST((c.propose(leader, "p") == ProposeResult::overloaded));
}

// ---------------------------------------------------------------------------------------------
// Persistence and restarts (Figure 2, "Persistent state on all servers")

BOOST_AUTO_TEST_CASE(restart_recovers_term_vote_and_log) {
    EngineCluster c("raft", 3, 17, small_timeouts());
    trace_if_asked(c);
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    for (std::string cmd : {"a", "b"}) c.propose(leader, cmd);
    c.stabilize();
    const NodeId follower = some_follower(c, leader);
    const raft::HardState before = hard_state(c, follower);
    const auto disk_before = disk(c, follower);

    c.crash(follower);
    c.restart(follower);
    BOOST_TEST(term_of(c, follower) == before.term);
    BOOST_TEST(c.status(follower).log_last_index == disk_before.rbegin()->first);
    BOOST_TEST(c.status(follower).commit_index == 0u);  // volatile: learned again from the leader
    BOOST_TEST(disk(c, follower) == disk_before);
    // It learns the commit index again and re-applies from index 1.
    BOOST_REQUIRE(c.run_until([&] { return c.committed_data(follower).size() == 2; }, 50));
    BOOST_TEST(c.committed(follower).front().index == 1u);
    BOOST_TEST(c.committed_data(follower) == (std::vector<std::string>{"a", "b"}));
    check_invariants(c);
}

BOOST_AUTO_TEST_CASE(never_votes_twice_in_a_term_across_restart) {
    EngineCluster c("raft", 3, 18, small_timeouts());
    trace_if_asked(c);
    auto request_vote = [&](NodeId candidate, std::uint64_t term) {
        return InFlight{candidate, 3, raft::encode(raft::RequestVote{false, term, 0, 0})};
    };
    auto answer_to = [&](NodeId candidate) {
        auto answers = c.take_if([&](const InFlight& m) { return m.from == 3 && m.to == candidate; });
        BOOST_REQUIRE(answers.size() == 1u);
        const auto decoded = decode(answers[0]);
        BOOST_REQUIRE(decoded.has_value());
        return std::get<raft::RequestVoteResponse>(*decoded);
    };
    BOOST_REQUIRE(c.deliver(request_vote(1, 1)));
    BOOST_TEST(answer_to(1).vote_granted);
    BOOST_TEST(hard_state(c, 3).vote == 1u);

    c.crash(3);
    c.restart(3);
    BOOST_REQUIRE(c.deliver(request_vote(2, 1)));
    BOOST_TEST(!answer_to(2).vote_granted);  // same term, another candidate
    BOOST_REQUIRE(c.deliver(request_vote(1, 1)));
    BOOST_TEST(answer_to(1).vote_granted);  // the same candidate asking again is fine
    BOOST_TEST(hard_state(c, 3).term == 1u);
    BOOST_TEST(hard_state(c, 3).vote == 1u);
}

// ---------------------------------------------------------------------------------------------
// Hostile input: step() returns false and changes nothing

namespace {

struct Observed {
    ballot::EngineStatus status;
    bool operator==(const Observed& o) const {
        return status.role == o.status.role && status.leader == o.status.leader &&
               status.epoch.str() == o.status.epoch.str() && status.commit_index == o.status.commit_index &&
               status.log_last_index == o.status.log_last_index;
    }
};

std::vector<Bytes> sample_messages() {
    raft::AppendEntries ae;
    ae.term = 3;
    ae.prev_log_index = 7;
    ae.prev_log_term = 2;
    ae.entries = {Entry{8, 3, "eight"}, Entry{9, 3, "nine"}};
    ae.leader_commit = 7;
    raft::AppendEntriesResponse rej;
    rej.term = 3;
    rej.request_term = 3;
    rej.rejected_index = 9;
    rej.conflict_term = 2;
    rej.conflict_index = 5;
    return {raft::encode(raft::RequestVote{false, 4, 9, 3}),
            raft::encode(raft::RequestVote{true, 4, 9, 3}),
            raft::encode(raft::RequestVoteResponse{false, 4, true}),
            raft::encode(ae),
            raft::encode(rej),
            raft::encode(raft::Propose{"command"}),
            raft::encode(raft::ReadIndex{12}),
            raft::encode(raft::ReadIndexResponse{12, 9, true}),
            raft::encode(raft::RequestVote{false, 4, 9, 3, /*transfer=*/true}),
            raft::encode(raft::TimeoutNow{4})};
}

}  // namespace

BOOST_AUTO_TEST_CASE(hostile_payloads_are_rejected_without_effect) {
    EngineCluster c("raft", 3, 19, small_timeouts());
    trace_if_asked(c);
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    c.propose(leader, "a");
    c.stabilize();
    const NodeId follower = some_follower(c, leader);

    auto expect_rejected = [&](const Bytes& payload, NodeId from, const char* what) {
        for (NodeId to : {leader, follower}) {
            const Observed before{c.status(to)};
            BOOST_TEST(!c.engine(to).step(from, payload), what);
            BOOST_TEST((Observed{c.status(to)} == before), what);
            BOOST_TEST(!c.engine(to).has_ready(), what);
        }
    };

    // Truncated and extended versions of every valid message.
    for (const Bytes& valid : sample_messages()) {
        BOOST_REQUIRE(raft::decode(valid).has_value());
        for (std::size_t n = 0; n < valid.size(); ++n)
            expect_rejected(Bytes(valid.begin(), valid.begin() + n), leader, "truncated");
        Bytes longer = valid;
        longer.push_back(0);
        expect_rejected(longer, leader, "trailing byte");
        // A valid message from a node that is not a member (but a leader's AppendEntries and a
        // candidate's vote request: either may be a voter added by an entry the receiver has not
        // applied yet, membership_test, simulator seed 2226).
        const raft::Message decoded = *raft::decode(valid);
        if (!std::holds_alternative<raft::AppendEntries>(decoded) &&
            !std::holds_alternative<raft::RequestVote>(decoded))
            expect_rejected(valid, 99, "non-member sender");
    }

    // An AppendEntries claiming four billion entries in a few bytes.
    {
        Bytes huge;
        ballot::Writer w(huge);
        w.u8(static_cast<std::uint8_t>(raft::MessageType::append_entries));
        w.u64(3);
        w.u64(0);
        w.u64(0);
        w.u32(0xFFFFFFFFu);
        w.u64(0);
        expect_rejected(huge, leader, "huge count");
    }
    // Entries not numbered from prev_log_index + 1, and an entry from a later term than the message.
    {
        raft::AppendEntries ae;
        ae.term = 3;
        ae.prev_log_index = 1;
        ae.prev_log_term = 1;
        ae.entries = {Entry{5, 3, "gap"}};
        expect_rejected(raft::encode(ae), leader, "misnumbered entries");
        ae.entries = {Entry{2, 4, "future"}};
        expect_rejected(raft::encode(ae), leader, "entry from a later term");
        // Positions and terms no cluster reaches (kMaxIndex, kMaxTerm): +1 on them would wrap.
        ae.entries = {};
        ae.leader_commit = ~Index{0};
        expect_rejected(raft::encode(ae), leader, "commit index past the last position");
        ae.leader_commit = 0;
        ae.term = ballot::kMaxTerm + 1;
        expect_rejected(raft::encode(ae), leader, "term past the last term");
        raft::RequestVote rv;
        rv.term = 3;
        rv.last_log_index = ballot::kMaxIndex + 1;
        rv.last_log_term = 3;
        expect_rejected(raft::encode(rv), leader, "last log index past the last position");
    }
    // Random bytes, with a plausible type byte first.
    ballot::Rng rng(42);
    int rejected = 0;
    for (int i = 0; i < 3000; ++i) {
        Bytes junk(rng.between(0, 80));
        for (auto& b : junk) b = static_cast<std::uint8_t>(rng.next());
        if (!junk.empty() && rng.chance(3, 4)) junk[0] = static_cast<std::uint8_t>(rng.between(0, 10));
        if (raft::decode(junk).has_value()) continue;  // by chance a well-formed message
        expect_rejected(junk, leader, "random bytes");
        ++rejected;
    }
    BOOST_TEST(rejected > 2500);
    // Still a working cluster.
    c.propose(leader, "b");
    c.stabilize();
    heartbeat_interval(c);
    BOOST_TEST(c.committed_data(follower) == (std::vector<std::string>{"a", "b"}));
}

// ---------------------------------------------------------------------------------------------
// The persist-before-send rule (common/engine.h), read off the Ready batches of bare engines

BOOST_AUTO_TEST_CASE(persist_before_send_flags) {
    auto make = [](NodeId id) {
        EngineConfig config = small_timeouts();
        config.id = id;
        config.members = {1, 2, 3};
        return raft::Raft(config, ballot::RecoveredState{});
    };
    auto decoded = [](const ballot::Envelope& e) { return *raft::decode(e.payload); };
    raft::Raft n1 = make(1);
    ballot::Ready r;
    while (!n1.has_ready()) n1.tick();
    r = n1.take_ready();
    // PreVote: nothing to persist, nothing promised.
    BOOST_TEST(!r.needs_persist());
    BOOST_REQUIRE(r.messages.size() == 2u);
    for (const auto& m : r.messages) BOOST_TEST(!m.after_persist);

    BOOST_REQUIRE(n1.step(2, raft::encode(raft::RequestVoteResponse{true, 1, true})));
    r = n1.take_ready();
    // Candidate: the new term and the vote for itself go out with the RequestVotes, which wait.
    BOOST_REQUIRE(r.metadata.has_value());
    BOOST_TEST(metadata_of(r).term == 1u);
    BOOST_TEST(metadata_of(r).vote == 1u);
    BOOST_REQUIRE(r.messages.size() == 2u);
    for (const auto& m : r.messages) {
        BOOST_TEST(m.after_persist);
        BOOST_TEST(std::holds_alternative<raft::RequestVote>(decoded(m)));
    }

    BOOST_REQUIRE(n1.step(2, raft::encode(raft::RequestVoteResponse{false, 1, true})));
    r = n1.take_ready();
    // Leader (§10.2.1): its no-op is persisted while the AppendEntries already leave; its note to
    // itself waits for the write.
    BOOST_TEST(n1.status().role == ballot::Role::leader);
    BOOST_REQUIRE(r.records.size() == 1u);
    BOOST_TEST(raft::decode_record(r.records[0].index, r.records[0].bytes)->data.empty());
    int appends = 0, notes_to_self = 0;
    for (const auto& m : r.messages) {
        if (m.to == 1) {
            ++notes_to_self;
            BOOST_TEST(m.after_persist);
        } else {
            ++appends;
            BOOST_TEST(!m.after_persist);
            BOOST_TEST(std::holds_alternative<raft::AppendEntries>(decoded(m)));
        }
    }
    BOOST_TEST(appends == 2);
    BOOST_TEST(notes_to_self == 1);

    // Follower: the entries and the new term are persisted before the success leaves.
    raft::Raft n2 = make(2);
    const auto& to_n2 =
        *std::find_if(r.messages.begin(), r.messages.end(), [](auto& m) { return m.to == 2; });
    BOOST_REQUIRE(n2.step(1, to_n2.payload));
    const ballot::Ready f = n2.take_ready();
    BOOST_TEST(f.metadata.has_value());
    BOOST_TEST(f.records.size() == 1u);
    BOOST_REQUIRE(f.messages.size() == 1u);
    BOOST_TEST(f.messages[0].after_persist);
    BOOST_TEST(raft::describe(decoded(f.messages[0])) == "AppendEntriesResponse term=1 success match=1");
}

// ---------------------------------------------------------------------------------------------
// Traces and determinism

BOOST_AUTO_TEST_CASE(describe_gives_one_readable_line) {
    const auto samples = sample_messages();
    auto line = [](const Bytes& b) { return raft::describe(*raft::decode(b)); };
    BOOST_TEST(line(samples[0]) == "RequestVote term=4 last=(9,3)");
    BOOST_TEST(line(samples[1]) == "PreVote term=4 last=(9,3)");
    BOOST_TEST(line(samples[2]) == "RequestVoteResponse term=4 granted");
    BOOST_TEST(line(samples[3]) == "AppendEntries term=3 prev=(7,2) entries=[8..9] commit=7");
    BOOST_TEST(line(samples[4]) == "AppendEntriesResponse term=3 reject prev=9 conflict=(5,2)");
    BOOST_TEST(line(samples[8]) == "RequestVote(transfer) term=4 last=(9,3)");
    BOOST_TEST(line(samples[9]) == "TimeoutNow term=4");
    raft::AppendEntriesResponse ok;
    ok.term = 3;
    ok.request_term = 3;
    ok.success = true;
    ok.match_index = 9;
    BOOST_TEST(raft::describe(ok) == "AppendEntriesResponse term=3 success match=9");
    EngineCluster c("raft", 3, 1, small_timeouts());
    trace_if_asked(c);
    BOOST_TEST(c.engine(1).describe(Bytes{0xFF}) == "malformed raft message (unknown message type)");
}

BOOST_AUTO_TEST_CASE(describe_shows_read_ids_short_never_raw) {
    // Read ids start at a random 64-bit number (common/driver.cc); --trace shows their low 32 bits.
    const std::uint64_t id = 6564266605884088876ull;
    const std::string ask = raft::describe(raft::ReadIndex{id});
    const std::string answer = raft::describe(raft::ReadIndexResponse{id, 12, true});
    BOOST_TEST(ask == "ReadIndex id=" + ballot::read_id_str(id));
    BOOST_TEST(answer == "ReadIndexResponse id=" + ballot::read_id_str(id) + " index=12 ok");
    BOOST_TEST(ballot::read_id_str(0x1234abcd5b18c0f2ull) == "#5b18c0f2");
    for (const Bytes& m : sample_messages()) {
        const std::string line = raft::describe(*raft::decode(m));
        BOOST_TEST(!ballot::test::shows_raw_64_bit_number(line), line);
    }
    BOOST_TEST(!ballot::test::shows_raw_64_bit_number(ask));
    BOOST_TEST(!ballot::test::shows_raw_64_bit_number(answer));
}

// --trace leaves heartbeats out unless asked (Engine::is_heartbeat): an AppendEntries without
// entries, and an ack that tells the node classifying it nothing new. Entries and their acks are
// always shown, on both sides.
BOOST_AUTO_TEST_CASE(heartbeats_and_their_acks_are_told_from_replication) {
    EngineCluster c("raft", 3, 1, small_timeouts());
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    c.stabilize();
    const NodeId follower = leader == 1 ? 2 : 1;
    auto only = [&](NodeId from, NodeId to) {
        std::vector<InFlight> got =
            c.take_if([&](const InFlight& m) { return m.from == from && m.to == to; });
        BOOST_REQUIRE_EQUAL(got.size(), 1u);
        return got[0];
    };
    // Both ends judge a message: its sender when it leaves, its receiver before step().
    auto heartbeat_at_both_ends = [&](const InFlight& m) {
        const bool at_sender = c.engine(m.from).is_heartbeat(m.to, m.payload);
        const bool at_receiver = c.engine(m.to).is_heartbeat(m.from, m.payload);
        BOOST_TEST(at_sender == at_receiver, c.engine(m.to).describe(m.payload));
        return at_sender && at_receiver;
    };

    // Replication: news both ways.
    BOOST_REQUIRE(c.propose(leader, "x") == ProposeResult::accepted);
    const InFlight append = only(leader, follower);
    BOOST_TEST(c.engine(leader).describe(append.payload).find("entries=[]") == std::string::npos);
    BOOST_TEST(!heartbeat_at_both_ends(append));
    BOOST_REQUIRE(c.deliver(append));
    const InFlight ack = only(follower, leader);
    BOOST_TEST(!heartbeat_at_both_ends(ack));
    BOOST_REQUIRE(c.deliver(ack));
    c.stabilize();

    // An idle leader's heartbeat, and its ack.
    std::vector<InFlight> beats;
    for (int i = 0; i < 100 && beats.empty(); ++i) {
        c.tick(leader);
        beats = c.take_if([&](const InFlight& m) { return m.from == leader && m.to == follower; });
    }
    BOOST_REQUIRE_EQUAL(beats.size(), 1u);
    BOOST_TEST(c.engine(leader).describe(beats[0].payload).find("entries=[]") != std::string::npos);
    BOOST_TEST(heartbeat_at_both_ends(beats[0]));
    BOOST_REQUIRE(c.deliver(beats[0]));
    BOOST_TEST(heartbeat_at_both_ends(only(follower, leader)));

    // Votes and anything malformed are never heartbeats.
    for (const Bytes& m : sample_messages()) {
        if (raft::describe(*raft::decode(m)).find("AppendEntries ") == 0) continue;
        BOOST_TEST(!c.engine(leader).is_heartbeat(follower, m), raft::describe(*raft::decode(m)));
    }
    BOOST_TEST(!c.engine(leader).is_heartbeat(follower, Bytes{0xFF}));
}

BOOST_AUTO_TEST_CASE(same_seed_same_trace) {
    auto run = [](std::uint64_t seed) {
        EngineCluster c("raft", 5, seed, small_timeouts());
        std::vector<std::string> trace;
        c.trace = [&](const std::string& line) { trace.push_back(line); };
        const NodeId leader = c.elect();
        c.propose(leader, "a");
        c.isolate(leader);
        c.run(40);
        c.heal();
        c.run(30);
        return trace;
    };
    const auto first = run(21);
    BOOST_TEST(first.size() > 50u);
    BOOST_TEST(first == run(21));
}

// ---------------------------------------------------------------------------------------------
// Extended paper §7 (log compaction) and Figure 13 (InstallSnapshot), on a cluster of bare
// engines that plays the runtime's part, which EngineCluster does not model
// (tests/support/snapshot_cluster.h): it compacts what Ready::compact_below says, keeps a state
// machine (the committed commands, in order) to snapshot, and carries the snapshot transfers
// Ready::snapshot_to asks for, one per peer at a time, when the test says so.

namespace {

using ballot::Committed;
using ballot::SnapshotMeta;
using ballot::test::Snapshot;
using ballot::test::SnapshotCluster;
using ballot::test::Transfer;

// Nodes 1..n of Raft on the snapshot harness, seeded as these tests always were.
SnapshotCluster raft_cluster(int n, EngineConfig config) {
    SnapshotCluster c("raft", n, std::move(config),
                      [](NodeId id, std::uint64_t built) { return 7919 * id + built; });
    if (std::getenv("BALLOT_TRACE") != nullptr)
        c.trace = [](const std::string& line) { BOOST_TEST_MESSAGE(line); };
    return c;
}

// Proposes on `id`, which must take the command.
void propose(SnapshotCluster& c, NodeId id, std::string command) {
    BOOST_REQUIRE(c.propose(id, std::move(command)) == ProposeResult::accepted);
}

// Counts, from the moment it is attached, the AppendEntries with entries delivered to each node
// and the rejections (AppendEntriesResponse !success) each node sent that were delivered.
struct AppendCounts {
    std::map<NodeId, int> entries_to, rejections_from;
    explicit AppendCounts(SnapshotCluster& c) {
        c.observe = [this](const InFlight& m) {
            const auto decoded = raft::decode(m.payload);
            if (const auto* ae = as_append(decoded); ae && !ae->entries.empty()) ++entries_to[m.to];
            if (decoded)
                if (auto* r = std::get_if<raft::AppendEntriesResponse>(&*decoded); r && !r->success)
                    ++rejections_from[m.from];
        };
    }
};

EngineConfig snapshot_config(Index trailing) {
    EngineConfig c = small_timeouts();
    c.snapshot_trailing = trailing;
    c.snapshot_retry_ticks = 50;
    return c;
}

// A bare follower (node 2 of 3) holding entries 1..`count` of `term` from leader 1, `commit` of
// them known committed, with everything it wrote handed over.
raft::Raft follower_with_log(std::uint64_t term, Index count, Index commit) {
    EngineConfig config = small_timeouts();
    config.id = 2;
    config.members = {1, 2, 3};
    raft::Raft f(config, ballot::RecoveredState{});
    raft::AppendEntries ae;
    ae.term = term;
    for (Index i = 1; i <= count; ++i) ae.entries.push_back(Entry{i, term, "c" + std::to_string(i)});
    ae.leader_commit = commit;
    BOOST_REQUIRE(f.step(1, raft::encode(ae)));
    f.take_ready();
    return f;
}

// A snapshot of the three-node clusters these tests run (its configuration: voters 1-3).
SnapshotMeta snapshot_meta(Index index, std::uint64_t term) {
    return SnapshotMeta{index, raft::encode_snapshot_metadata(term, ballot::Configuration::of_voters({1, 2, 3}))};
}

}  // namespace

// §7: "Each server takes snapshots independently ... Once a server completes writing a snapshot,
// it may delete all log entries up through the last included index". We keep snapshot_trailing
// of them for followers a little behind.
BOOST_AUTO_TEST_CASE(compaction_keeps_the_trailing_entries_below_the_snapshot) {
    SnapshotCluster c = raft_cluster(3, snapshot_config(5));
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    for (int i = 1; i <= 20; ++i) propose(c, leader, "v" + std::to_string(i));
    c.stabilize();
    BOOST_REQUIRE(c.applied_index(leader) == 21u);       // the no-op and 20 commands
    BOOST_TEST(c.records(leader).begin()->first == 1u);  // nothing compacted before a snapshot

    const Index x = c.take_snapshot(leader);
    BOOST_TEST(x == 21u);
    BOOST_TEST(c.compacted_below(leader) == x - 5 + 1);
    BOOST_TEST(c.records(leader).begin()->first == x - 5 + 1);  // 5 entries kept at and below X
    BOOST_TEST(c.status(leader).log_first_index == x - 5 + 1);
    BOOST_TEST(c.status(leader).snapshot_index == x);
    BOOST_TEST(c.status(leader).log_last_index == 21u);

    // A follower compacts on its own snapshot alone, and the log goes on as before.
    const NodeId follower = leader == 1 ? 2 : 1;
    BOOST_TEST(c.compacted_below(follower) == 0u);
    for (int i = 21; i <= 30; ++i) propose(c, leader, "v" + std::to_string(i));
    c.stabilize();
    heartbeat_interval(c);
    const Index y = c.take_snapshot(follower);
    BOOST_TEST(y == 31u);
    BOOST_TEST(c.status(follower).log_first_index == y - 5 + 1);
    BOOST_TEST(c.status(follower).snapshot_index == y);
    BOOST_TEST(c.applied_data(follower).size() == 30u);
}

// §7: "the leader must occasionally send snapshots to followers that lag behind": a follower that
// needs an entry the leader compacted away is named in Ready::snapshot_to; while the transfer is
// in flight it gets heartbeats it never rejects (so it neither probes endlessly nor starts an
// election) and no entries; once the transfer is reported it continues from the log after it.
BOOST_AUTO_TEST_CASE(lagging_follower_gets_a_snapshot_then_the_log_after_it) {
    SnapshotCluster c = raft_cluster(3, snapshot_config(5));
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    const NodeId lagging = leader == 3 ? 2 : 3;
    propose(c, leader, "before");
    c.stabilize();
    c.isolate(lagging);
    for (int i = 1; i <= 30; ++i) propose(c, leader, "v" + std::to_string(i));
    c.stabilize();
    const Index x = c.take_snapshot(leader);
    BOOST_REQUIRE(c.status(leader).log_first_index > c.applied_index(lagging) + 1);
    c.heal();
    const auto term = c.status(leader).epoch;
    // Counted as delivered: from here on, everything sent to it arrives.
    AppendCounts counts(c);
    c.run(45);  // over two maximum election timeouts, within snapshot_retry_ticks (50)
    BOOST_TEST(c.transferring(leader, lagging));
    BOOST_TEST(c.asks(leader, lagging) == 1);
    BOOST_TEST(counts.entries_to[lagging] == 0);       // nothing it cannot use
    BOOST_TEST(counts.rejections_from[lagging] <= 1);  // at most the probe that found it behind
    BOOST_TEST(c.leader() == leader);
    BOOST_TEST((c.status(lagging).epoch == term));
    BOOST_TEST(c.status(lagging).leader == leader);  // it hears the heartbeats: no election timeout
    BOOST_TEST((c.status(lagging).role == ballot::Role::follower));
    BOOST_TEST(c.status(lagging).commit_index < x);

    c.end_transfer(leader, lagging);  // installed there, then reported to the leader
    BOOST_TEST(c.status(lagging).snapshot_index == x);
    BOOST_TEST(c.status(lagging).commit_index >= x);
    for (int i = 31; i <= 35; ++i) propose(c, leader, "v" + std::to_string(i));
    c.stabilize();
    heartbeat_interval(c);
    // Entries after X came from the log (handed out from X + 1 on: the harness checks the order).
    BOOST_TEST(c.applied_index(lagging) == c.applied_index(leader));
    BOOST_TEST(c.applied_data(lagging) == c.applied_data(leader));
    BOOST_TEST(c.records(lagging).begin()->first == x + 1);
    BOOST_TEST(c.asks(leader, lagging) == 1);
}

// A failed transfer (snapshot_sent !ok) is asked for again once the follower answers a heartbeat;
// one never reported is taken as lost after snapshot_retry_ticks and asked for again.
BOOST_AUTO_TEST_CASE(failed_or_unreported_snapshot_transfer_is_asked_for_again) {
    SnapshotCluster c = raft_cluster(3, snapshot_config(0));
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    const NodeId lagging = leader == 3 ? 2 : 3;
    c.isolate(lagging);
    for (int i = 1; i <= 10; ++i) propose(c, leader, "v" + std::to_string(i));
    c.stabilize();
    c.take_snapshot(leader);
    c.heal();
    c.run(10);  // the entries it was sent are found lost (Progress::kLostAfterIntervals)
    BOOST_REQUIRE(c.transferring(leader, lagging));
    BOOST_REQUIRE(c.asks(leader, lagging) == 1);

    c.end_transfer(leader, lagging, /*ok=*/false);
    BOOST_TEST(!c.transferring(leader, lagging));
    c.run(small_timeouts().heartbeat_ticks + 1);  // a heartbeat answered: ask again
    BOOST_TEST(c.transferring(leader, lagging));
    BOOST_TEST(c.asks(leader, lagging) == 2);

    // Never reported: asked again after snapshot_retry_ticks (50), not before.
    c.run(45);
    BOOST_TEST(c.asks(leader, lagging) == 2);
    c.run(10);
    BOOST_TEST(c.asks(leader, lagging) == 3);

    c.end_transfer(leader, lagging);
    propose(c, leader, "after");
    c.stabilize();
    heartbeat_interval(c);
    BOOST_TEST(c.applied_data(lagging) == c.applied_data(leader));
}

// A leader whose transfer of snapshot S to `lagging` is under way while it makes snapshot X2 > S
// (writes go on; the follower hears none of them).
struct SlowTransfer {
    NodeId leader = kNoNode;
    NodeId lagging = kNoNode;
    Index s = 0;
    Index x2 = 0;
};

SlowTransfer slow_transfer(SnapshotCluster& c) {
    SlowTransfer t;
    t.leader = c.elect();
    BOOST_REQUIRE(t.leader != kNoNode);
    t.lagging = t.leader == 3 ? 2 : 3;
    c.isolate(t.lagging);
    for (int i = 1; i <= 10; ++i) propose(c, t.leader, "v" + std::to_string(i));
    c.stabilize();
    t.s = c.take_snapshot(t.leader);
    c.heal();
    c.run(10);  // the entries it was sent are found lost (Progress::kLostAfterIntervals)
    BOOST_REQUIRE(c.transferring(t.leader, t.lagging));
    BOOST_REQUIRE(c.sending(t.leader, t.lagging) == t.s);  // S, what the runtime streams
    c.isolate(t.lagging);
    for (int i = 11; i <= 30; ++i) propose(c, t.leader, "v" + std::to_string(i));
    c.stabilize();
    t.x2 = c.take_snapshot(t.leader);
    BOOST_REQUIRE(t.x2 > t.s + 10);
    return t;
}

// consul#9609, cockroach#8629: never compact past a snapshot in flight, or the follower that
// installs it needs another one. A later snapshot compacts only down to S + 1 until the transfer
// is reported; then, if it failed, all the way, and the next transfer sends the latest snapshot.
BOOST_AUTO_TEST_CASE(compaction_never_passes_a_transfer_in_flight) {
    SnapshotCluster c = raft_cluster(3, snapshot_config(0));
    const SlowTransfer t = slow_transfer(c);
    BOOST_TEST(c.compacted_below(t.leader) == t.s + 1);
    BOOST_TEST(c.status(t.leader).log_first_index == t.s + 1);  // S + 1 is still there

    c.heal();
    // The runtime streams the snapshot it had when asked (Snapshotter::send_to), S, never X2
    // (this test used to report X2 sent by the transfer of S). So the transfer of S fails here:
    // nothing holds the log any more, and the transfer asked for next carries X2.
    c.end_transfer(t.leader, t.lagging, /*ok=*/false);
    BOOST_TEST(c.compacted_below(t.leader) == t.x2 + 1);
    c.run(small_timeouts().heartbeat_ticks + 1);  // a heartbeat answered: asked again
    BOOST_REQUIRE(c.transferring(t.leader, t.lagging));
    BOOST_TEST(c.sending(t.leader, t.lagging) == t.x2);
    c.end_transfer(t.leader, t.lagging);
    BOOST_TEST(c.compacted_below(t.leader) == t.x2 + 1);
    propose(c, t.leader, "after");
    c.stabilize();
    heartbeat_interval(c);
    BOOST_TEST(c.applied_data(t.lagging) == c.applied_data(t.leader));
}

// The transfer sent S, the snapshot the leader had when it started; X2, made meanwhile, would let
// the leader compact past S + 1, which the follower needs next. Its catch-up hold keeps the log
// from there until the follower has caught up (one outage, one snapshot), and then ends.
BOOST_AUTO_TEST_CASE(a_follower_catches_up_from_the_log_after_installing_an_older_snapshot) {
    SnapshotCluster c = raft_cluster(3, snapshot_config(0));
    const SlowTransfer t = slow_transfer(c);
    c.heal();
    c.end_transfer(t.leader, t.lagging);
    BOOST_TEST(c.compacted_below(t.leader) == t.s + 1);  // held for its catch-up
    c.stabilize();
    BOOST_TEST(c.applied_data(t.lagging) == c.applied_data(t.leader));
    BOOST_TEST(c.asks(t.leader, t.lagging) == 1);         // no second snapshot
    BOOST_TEST(c.compacted_below(t.leader) == t.x2 + 1);  // caught up: the hold is gone
}

// A follower that installed the leader's snapshot and then went away again holds compaction back
// for snapshot_retry_ticks at most: it cannot pin the leader's log, and its memory, for ever.
BOOST_AUTO_TEST_CASE(a_catch_up_hold_expires) {
    SnapshotCluster c = raft_cluster(3, snapshot_config(0));
    const SlowTransfer t = slow_transfer(c);
    c.end_transfer(t.leader, t.lagging);  // installed; it hears nothing after it
    BOOST_TEST(c.compacted_below(t.leader) == t.s + 1);
    c.run(45);
    BOOST_TEST(c.compacted_below(t.leader) == t.s + 1);  // within snapshot_retry_ticks (50)
    c.run(10);
    BOOST_TEST(c.compacted_below(t.leader) == t.x2 + 1);  // expired
}

// Figure 13 rule 6: "If existing log entry has same index and term as snapshot's last included
// entry, retain log entries following it".
BOOST_AUTO_TEST_CASE(install_keeps_the_entries_after_a_matching_last_included_entry) {
    raft::Raft f = follower_with_log(1, 10, 3);
    f.snapshot_installed(snapshot_meta(6, 1));
    BOOST_TEST(f.status().snapshot_index == 6u);
    BOOST_TEST(f.status().commit_index == 6u);
    BOOST_TEST(f.status().log_first_index == 7u);
    BOOST_TEST(f.status().log_last_index == 10u);
    ballot::Ready r = f.take_ready();
    BOOST_TEST(!r.truncate_from.has_value());
    BOOST_TEST((r.compact_below == std::optional<Index>(7)));
    BOOST_TEST(r.committed.empty());  // everything through 6 is in the state machine already
    f.check_invariants();

    // The leader's commit index moves on: handed out from 7, not again from 4.
    raft::AppendEntries hb;
    hb.term = 1;
    hb.prev_log_index = 10;
    hb.prev_log_term = 1;
    hb.leader_commit = 9;
    BOOST_REQUIRE(f.step(1, raft::encode(hb)));
    r = f.take_ready();
    BOOST_REQUIRE(r.committed.size() == 3u);
    BOOST_TEST(r.committed.front().index == 7u);
    BOOST_TEST(r.committed.front().data == "c7");
}

// Figure 13 rule 7: "Discard the entire log" when it has no entry at the last included index with
// the last included term (here: one of another term, from a deposed leader, uncommitted).
BOOST_AUTO_TEST_CASE(install_discards_a_log_that_conflicts_with_the_snapshot) {
    raft::Raft f = follower_with_log(1, 10, 2);
    f.snapshot_installed(snapshot_meta(8, 2));
    BOOST_TEST(f.status().snapshot_index == 8u);
    BOOST_TEST(f.status().commit_index == 8u);
    BOOST_TEST(f.status().log_first_index == 0u);  // holds no entry
    BOOST_TEST(f.status().log_last_index == 8u);
    BOOST_TEST(f.status().epoch.round == 2u);  // the snapshot's term is a term that was reached
    ballot::Ready r = f.take_ready();
    BOOST_TEST((r.truncate_from == std::optional<Index>(1)));  // every record, 1..10
    BOOST_TEST((r.compact_below == std::optional<Index>(9)));
    BOOST_TEST(r.records.empty());
    BOOST_TEST(r.committed.empty());
    f.check_invariants();

    // The log goes on from (8, 2): the consistency check of the entry after the snapshot works.
    raft::AppendEntries ae;
    ae.term = 2;
    ae.prev_log_index = 8;
    ae.prev_log_term = 2;
    ae.entries = {Entry{9, 2, "n9"}};
    ae.leader_commit = 9;
    BOOST_REQUIRE(f.step(1, raft::encode(ae)));
    r = f.take_ready();
    BOOST_REQUIRE(r.records.size() == 1u);
    BOOST_TEST(r.records[0].index == 9u);
    BOOST_REQUIRE(r.committed.size() == 1u);
    BOOST_TEST(r.committed[0].index == 9u);
    BOOST_TEST(r.committed[0].data == "n9");
    // A message from before the snapshot is read from its base on; a heartbeat at (0, 0) matches.
    raft::AppendEntries old;
    old.term = 2;
    old.entries = {Entry{1, 1, "x"}, Entry{2, 2, "y"}};
    BOOST_REQUIRE(f.step(1, raft::encode(old)));
    r = f.take_ready();
    BOOST_REQUIRE(r.messages.size() == 1u);
    BOOST_TEST(raft::describe(*raft::decode(r.messages[0].payload)) ==
               "AppendEntriesResponse term=2 success match=8");
    BOOST_TEST(r.records.empty());
    // An entry claiming another term at the base contradicts a committed entry: refused.
    raft::AppendEntries liar;
    liar.term = 2;
    liar.prev_log_index = 7;
    liar.prev_log_term = 1;
    liar.entries = {Entry{8, 1, "z"}};
    BOOST_TEST(!f.step(1, raft::encode(liar)));
}

// Recovery (common/engine.h): the runtime restored the snapshot; records at or below it remain
// (a crash before the compaction). They are dropped, the log goes on after the snapshot, commit
// and applied start there, and the store is told to delete them.
BOOST_AUTO_TEST_CASE(recovery_from_a_snapshot_drops_the_records_it_covers) {
    EngineConfig config = small_timeouts();
    config.id = 2;
    config.members = {1, 2, 3};
    auto recovered_with = [&](std::vector<std::pair<Index, std::uint64_t>> entries, Index x,
                              std::uint64_t term) {
        ballot::RecoveredState rs;
        rs.metadata = raft::encode_metadata(raft::HardState{3, 1, 0});
        for (auto [index, t] : entries) rs.records.push_back(raft::encode_record(Entry{index, t, "r"}));
        rs.snapshot = snapshot_meta(x, term);
        return rs;
    };
    std::vector<std::pair<Index, std::uint64_t>> log;
    for (Index i = 1; i <= 10; ++i) log.emplace_back(i, i <= 6 ? 1 : 2);

    // Rule 6 at restart: the record at X has the snapshot's term; 7..10 stay.
    raft::Raft a(config, recovered_with(log, 6, 1));
    BOOST_TEST(a.status().snapshot_index == 6u);
    BOOST_TEST(a.status().commit_index == 6u);
    BOOST_TEST(a.status().log_first_index == 7u);
    BOOST_TEST(a.status().log_last_index == 10u);
    BOOST_TEST(a.status().epoch.round == 3u);
    ballot::Ready r = a.take_ready();
    BOOST_TEST((r.compact_below == std::optional<Index>(7)));
    BOOST_TEST(!r.truncate_from.has_value());
    BOOST_TEST(r.committed.empty());
    a.check_invariants();

    // Rule 7 at restart: the record at X is of another term: the whole recovered log goes.
    raft::Raft b(config, recovered_with(log, 7, 1));
    BOOST_TEST(b.status().log_first_index == 0u);
    BOOST_TEST(b.status().log_last_index == 7u);
    r = b.take_ready();
    BOOST_TEST((r.truncate_from == std::optional<Index>(8)));
    BOOST_TEST((r.compact_below == std::optional<Index>(8)));

    // Compacted exactly at the snapshot: nothing to drop.
    ballot::RecoveredState compacted = recovered_with({{7, 2}, {8, 2}}, 6, 1);
    compacted.compacted_below = 7;
    raft::Raft d(config, compacted);
    BOOST_TEST(d.status().log_first_index == 7u);
    BOOST_TEST(!d.take_ready().needs_persist());

    // An install whose truncation reached the disk but whose compaction did not (a torn write):
    // no records, a floor below the snapshot. The store is told its floor is X + 1 before anything
    // after X is appended, or it would show a hole below X + 1 (simulator seed 149).
    ballot::RecoveredState torn = recovered_with({}, 6, 1);
    torn.compacted_below = 3;
    raft::Raft e(config, torn);
    BOOST_TEST((e.take_ready().compact_below == std::optional<Index>(7)));

    // What Raft never writes is refused: a gap after the snapshot, a term below the snapshot's.
    BOOST_CHECK_THROW(raft::Raft(config, recovered_with({{8, 2}}, 6, 1)), std::invalid_argument);
    BOOST_CHECK_THROW(raft::Raft(config, recovered_with({{7, 1}}, 6, 2)), std::invalid_argument);
    ballot::RecoveredState bad = recovered_with({}, 6, 1);
    bad.snapshot->engine_metadata = {1, 2};
    BOOST_CHECK_THROW(raft::Raft(config, bad), std::invalid_argument);
}

// A data dir restored from a backup: a snapshot, no metadata (currentTerm 0), no records. Every
// node of a new cluster starts so; they elect a leader (the snapshot's term is adopted, and its
// last included entry is what elections compare, §5.4.1) and go on from the snapshot.
BOOST_AUTO_TEST_CASE(cluster_restored_from_a_backup_elects_and_goes_on) {
    SnapshotCluster c = raft_cluster(3, snapshot_config(5));
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    for (int i = 1; i <= 10; ++i) propose(c, leader, "v" + std::to_string(i));
    c.stabilize();
    c.take_snapshot(leader);
    const Snapshot backup = *c.snapshot(leader);

    SnapshotCluster restored = raft_cluster(3, snapshot_config(5));
    for (NodeId id = 1; id <= 3; ++id) {
        restored.crash(id);
        restored.put_snapshot(id, backup);  // the same file in every new data dir, nothing else
        restored.restart(id);
        BOOST_TEST(restored.status(id).commit_index == backup.meta.last_included_index);
        BOOST_TEST(restored.status(id).epoch.round >= 1u);
    }
    const NodeId new_leader = restored.elect();
    BOOST_REQUIRE(new_leader != kNoNode);
    propose(restored, new_leader, "after restore");
    restored.stabilize();
    heartbeat_interval(restored);
    for (NodeId id = 1; id <= 3; ++id) {
        BOOST_TEST(restored.applied_data(id).size() == 11u);
        BOOST_TEST(restored.applied_data(id).back() == "after restore");
    }
}

// A follower that restarts after compacting goes on from its snapshot: the next entry it hands
// out is the one after it, and a leader that compacted past it sends it a snapshot.
BOOST_AUTO_TEST_CASE(restart_after_compaction_goes_on_from_the_snapshot) {
    SnapshotCluster c = raft_cluster(3, snapshot_config(2));
    const NodeId leader = c.elect();
    BOOST_REQUIRE(leader != kNoNode);
    const NodeId follower = leader == 1 ? 2 : 1;
    for (int i = 1; i <= 10; ++i) propose(c, leader, "v" + std::to_string(i));
    c.stabilize();
    heartbeat_interval(c);
    const Index x = c.take_snapshot(follower);
    c.crash(follower);
    for (int i = 11; i <= 20; ++i) propose(c, leader, "v" + std::to_string(i));
    c.stabilize();
    c.take_snapshot(leader);
    c.restart(follower);
    BOOST_TEST(c.status(follower).commit_index == x);
    BOOST_TEST(c.status(follower).snapshot_index == x);
    BOOST_TEST(c.status(follower).log_last_index == x);  // the records it kept below X are dropped
    c.run(10);
    BOOST_REQUIRE(c.transferring(leader, follower));
    c.end_transfer(leader, follower);
    c.stabilize();
    BOOST_TEST(c.applied_data(follower) == c.applied_data(leader));
}

// Everything above at once, under faults, across seeds: snapshots taken at random nodes and
// times, compaction with 0-4 trailing entries, leaders and followers isolated and crashed, one
// message in twenty lost, snapshot transfers that succeed, fail or are never reported. The
// harness checks on every step that no two nodes hand out different commands at one index, that
// each hands them out in order without gaps (from X + 1 after a snapshot X), that compact_below
// only rises and never passes a durable snapshot, and every engine's check_invariants(). Then the
// faults stop and every node must end with the same state machine.
BOOST_AUTO_TEST_CASE(snapshots_under_faults_across_seeds) {
    int installs = 0;
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        ballot::Rng rng(seed * 31 + 7);
        EngineConfig config = snapshot_config(rng.between(0, 4));
        config.snapshot_retry_ticks = 40;
        SnapshotCluster c = raft_cluster(5, config);
        auto lossy = [&](const InFlight&) { return rng.chance(1, 20); };
        for (int tick = 0; tick < 600; ++tick) {
            if (tick % 30 == 0) {
                c.heal();
                for (NodeId id = 1; id <= 5; ++id)
                    if (!c.is_up(id)) c.restart(id);
                const NodeId leader = c.leader();
                switch (rng.between(0, 4)) {
                    case 0:
                        if (leader != kNoNode) c.isolate(leader);
                        break;
                    case 1:
                        if (leader != kNoNode) c.crash(leader);
                        break;
                    case 2:
                        c.isolate(rng.between(1, 5));
                        break;
                    case 3:
                        c.crash(rng.between(1, 5));
                        break;
                    default:
                        break;
                }
            }
            c.tick_all();
            if (const NodeId leader = c.leader(); leader != kNoNode && rng.chance(1, 2))
                c.propose(leader, "s" + std::to_string(seed) + "-" + std::to_string(tick));
            if (rng.chance(1, 8)) {
                const NodeId at = rng.between(1, 5);
                if (c.is_up(at) && c.applied_index(at) > c.status(at).snapshot_index) c.take_snapshot(at);
            }
            for (const Transfer& t : std::vector<Transfer>(c.transfers())) {
                if (!rng.chance(1, 4)) continue;  // still streaming
                if (rng.chance(1, 10)) {
                    c.lose_transfer_report(t.from, t.to);
                    continue;
                }
                c.end_transfer(t.from, t.to, c.reachable(t.from, t.to) && rng.chance(3, 4));
            }
            c.stabilize(lossy);
        }
        installs += c.installs();
        // The faults stop: every node ends with the same state machine, whatever it takes (log
        // or snapshots, reported at once).
        c.heal();
        for (NodeId id = 1; id <= 5; ++id)
            if (!c.is_up(id)) c.restart(id);
        auto converged = [&] {
            for (NodeId id = 1; id <= 5; ++id)
                if (c.applied_data(id).empty() || c.applied_data(id).back() != "final") return false;
            return true;
        };
        for (int t = 0; t < 400 && !converged(); ++t) {
            c.run(1);
            for (const Transfer& t : std::vector<Transfer>(c.transfers())) c.end_transfer(t.from, t.to);
            if (t % 40 == 0 && c.leader() != kNoNode) c.propose(c.leader(), "final");
        }
        BOOST_REQUIRE_MESSAGE(converged(), "seed " << seed << ": the cluster did not converge");
        for (NodeId id = 2; id <= 5; ++id)
            BOOST_REQUIRE_MESSAGE(c.state(id) == c.state(1),
                                  "seed " << seed << ": n" << id << " and n1 differ");
    }
    BOOST_TEST(installs > 40);  // the scenario did exercise installs
    BOOST_TEST_MESSAGE("snapshots installed across seeds: " << installs);
}
