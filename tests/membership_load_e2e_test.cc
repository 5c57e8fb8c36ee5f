// Membership change under load (issue 12, "Done means"): on every engine, while ballot-bench
// drives a 3-node cluster of real ballot-server processes and four recorded clients read and write
// a few shared keys, an operator
//   1. adds a fourth node (started with --join: a learner, promoted once caught up),
//   2. transfers leadership (Raft, Multi-Paxos; basic Paxos has no leader and says so),
//   3. removes the leader (basic Paxos: a voter),
//   4. replaces a member whose disk died (SIGKILL, data dir wiped, MEMBER REMOVE, the node started
//      on an empty dir with --join, MEMBER ADD under the same id and address).
// Then every key is read once more, and the whole client history, final reads included, must be
// linearizable (tests/sim/linearizability.h): an acknowledged write that was lost, or a stale or
// invented read, makes it fail. Every time bound is a bound on progress, not a speed target.
#define BOOST_TEST_MODULE membership_load_e2e
#include <unistd.h>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <set>
#include <thread>

#include "bench/local_cluster.h"
#include "engines/registry.h"
#include "tests/support/background_process.h"
#include "tests/support/recorded_clients.h"

using namespace ballot;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kLiveness = 20s;
const std::string kServer = std::string(BALLOT_BIN_DIR) + "/ballot-server";
const std::string kBench = std::string(BALLOT_BIN_DIR) + "/ballot-bench";
// Long enough for the four changes with room to spare; the test checks the load outlasted them.
constexpr int kBenchSeconds = 20;

// Repeats `command` through node `via` until it is answered with something other than a passing
// refusal ("...; try again", TRYAGAIN right after a kill) or kLiveness passes.
kv::RespValue until_settled(LocalCluster& c, NodeId via, const std::vector<std::string>& command) {
    const auto deadline = Clock::now() + kLiveness;
    kv::RespValue v = c.command(via, command);
    auto passing = [](const kv::RespValue& r) {
        return r.is_error() && (r.str.ends_with("try again") || r.str.starts_with("TRYAGAIN"));
    };
    while (passing(v) && Clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
        v = c.command(via, command);
    }
    return v;
}

// The voters of MEMBER LIST through `via` ("2@127.0.0.1:7002 voter" ...).
std::set<NodeId> voters(LocalCluster& c, NodeId via) {
    std::set<NodeId> out;
    for (const auto& e : c.command(via, {"MEMBER", "LIST"}).elements)
        if (e.str.ends_with(" voter")) out.insert(static_cast<NodeId>(std::stoul(e.str.substr(0, e.str.find('@')))));
    return out;
}

bool wait_for(const std::function<bool()>& done) {
    const auto deadline = Clock::now() + kLiveness;
    while (!done()) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(100ms);
    }
    return true;
}

NodeId leader_seen_by(LocalCluster& c, NodeId via) {
    auto info = c.info(via);
    return info.count("leader_id") ? static_cast<NodeId>(std::stoul(info["leader_id"])) : kNoNode;
}

// Multi-Paxos and basic Paxos: a change chosen in slot s governs from config_governs_from on, and
// the configuration before it still decides the slots below (README "Changing the members"): the
// operator takes the next node away only once a majority of the voters applied up to there.
bool wait_until_in_force(LocalCluster& c, NodeId via) {
    return wait_for([&] {
        auto info = c.info(via);
        if (!info.count("config_governs_from")) return true;  // Raft: in force when applied
        const std::uint64_t from = std::stoull(info["config_governs_from"]);
        const auto members = voters(c, via);
        std::size_t there = 0;
        for (NodeId id : members) {
            auto other = c.info(id);
            if (other.count("applied_index") && std::stoull(other["applied_index"]) + 1 >= from) ++there;
        }
        return there > members.size() / 2;
    });
}

// MEMBER ADD `id` through `via`, then waits until it is listed as a voter.
void add_and_wait_for_voter(LocalCluster& c, NodeId via, NodeId id) {
    auto added = until_settled(c, via, {"MEMBER", "ADD", std::to_string(id), c.address(id)});
    BOOST_REQUIRE_MESSAGE(added.str == "OK", "MEMBER ADD " << id << ": " << added.str << "\n" << c.log_tail(via));
    BOOST_REQUIRE_MESSAGE(wait_for([&] { return voters(c, via).count(id) == 1; }),
                          "node " << id << " never promoted\n" << c.log_tail(id));
}

void remove_member(LocalCluster& c, NodeId via, NodeId id) {
    auto removed = until_settled(c, via, {"MEMBER", "REMOVE", std::to_string(id)});
    BOOST_REQUIRE_MESSAGE(removed.str == "OK", "MEMBER REMOVE " << id << ": " << removed.str << "\n" << c.log_tail(via));
    BOOST_REQUIRE(wait_until_in_force(c, via));
}

std::string seconds_since(Clock::time_point start) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()) + " ms";
}

}  // namespace

BOOST_DATA_TEST_CASE(members_change_under_load_and_the_history_stays_linearizable, bdata::make(engine_names()),
                     protocol) {
    const bool has_leader = protocol != "paxos";
    LocalCluster c(kServer, protocol, 4);
    for (NodeId id : {1, 2, 3}) c.start_with(id, c.node_args({1, 2, 3}), {});
    BOOST_REQUIRE_MESSAGE(c.write_until_ok(1, "before", "1", kLiveness), c.log_tail(1));
    c.start_with(4, c.node_args({1, 4}), {"--join"});

    const auto out = std::filesystem::temp_directory_path() / ("ballot-load-members-" + std::to_string(::getpid()));
    std::filesystem::remove_all(out);
    std::vector<std::string> bench_args = {"--clients", "16", "--duration", std::to_string(kBenchSeconds),
                                           "--warmup", "0", "--out", out.string()};
    for (NodeId id : {1, 2, 3}) {
        bench_args.push_back("--node");
        bench_args.push_back(c.address(id) + ":" + std::to_string(id));
    }
    test::BackgroundProcess bench(kBench, bench_args);
    test::RecordedClients clients({c.port(1), c.port(2), c.port(3), c.port(4)}, {.clients = 4, .keys = 4});
    clients.start();
    std::this_thread::sleep_for(1s);  // the load gets going before the first change
    const auto start = Clock::now();

    // The node changes go through: the leader, or on basic Paxos any voter (node 2: node 1 goes).
    NodeId via = has_leader ? c.wait_for_leader(kLiveness) : 2;
    BOOST_REQUIRE(via != kNoNode);

    // 1. A fourth node: a learner, promoted once caught up.
    add_and_wait_for_voter(c, via, 4);
    BOOST_TEST_MESSAGE(protocol << ": node 4 added and promoted at " << seconds_since(start));

    // 2. Leadership transfer to another of the first three.
    const NodeId target = via == 1 ? 2 : 1;
    auto transfer = until_settled(c, via, {"MEMBER", "TRANSFER", std::to_string(target)});
    if (has_leader) {
        BOOST_REQUIRE_MESSAGE(transfer.str == "OK", "MEMBER TRANSFER " << target << ": " << transfer.str);
        BOOST_REQUIRE(wait_for([&] { return leader_seen_by(c, target) == target; }));
        via = target;
        BOOST_TEST_MESSAGE(protocol << ": leadership moved to node " << target << " at " << seconds_since(start));
    } else {
        BOOST_TEST(transfer.str == "ERR basic Paxos has no leader");
    }

    // 3. Remove the leader (basic Paxos: node 1). It stays up: its clients move on.
    const NodeId removed = has_leader ? via : 1;
    remove_member(c, has_leader ? via : 2, removed);
    if (has_leader) {
        const NodeId witness = removed == 4 ? 3 : 4;
        BOOST_REQUIRE_MESSAGE(wait_for([&] {
                                  const NodeId l = leader_seen_by(c, witness);
                                  return l != kNoNode && l != removed;
                              }),
                              c.log_tail(witness));
        via = leader_seen_by(c, witness);
    } else {
        via = 2;
    }
    BOOST_TEST_MESSAGE(protocol << ": node " << removed << " removed, node " << via << " takes the changes, at "
                                << seconds_since(start));

    // 4. A member's disk dies: a voter of the first three that neither leads nor was removed.
    NodeId lost = kNoNode;
    for (NodeId id : {1, 2, 3})
        if (id != removed && id != via) lost = id;
    BOOST_REQUIRE(lost != kNoNode);
    c.signal(lost, SIGKILL);
    std::filesystem::remove_all(c.data_dir(lost));
    remove_member(c, via, lost);
    c.start_with(lost, c.node_args({via, lost}), {"--join"});
    add_and_wait_for_voter(c, via, lost);
    BOOST_TEST_MESSAGE(protocol << ": node " << lost << " replaced on an empty data dir at " << seconds_since(start));
    const auto members = voters(c, via);
    BOOST_TEST(members.size() == 3u);
    BOOST_TEST(members.count(removed) == 0u);

    // Every change happened under load.
    BOOST_REQUIRE_MESSAGE(bench.running(), "ballot-bench ended before the changes did:\n" << bench.stderr_text());
    clients.stop();
    BOOST_REQUIRE_MESSAGE(clients.read_every_key(c.port(via), kLiveness), c.log_tail(via));
    const auto history = clients.history();
    BOOST_TEST_MESSAGE(protocol << ": " << history.size() << " recorded operations: " << clients.acknowledged_writes()
                                << " writes acknowledged, " << clients.indeterminate_writes()
                                << " with no outcome, " << clients.answered_reads() << " reads");
    BOOST_TEST(clients.acknowledged_writes() > 0u);
    const auto verdict = sim::check_linearizability(history);
    BOOST_TEST(verdict.ok(), sim::to_string(verdict.verdict) << " on key " << verdict.key << "\n" << verdict.explanation);
    // The history has teeth: with the final read of a written key answered (nil), as if every
    // write to it were lost, the same check fails.
    auto lost_writes = history;
    for (auto it = lost_writes.rbegin(); it != lost_writes.rend(); ++it)
        if (it->note == test::RecordedClients::kFinalRead && it->result.type == sim::KvResult::Type::value) {
            it->result = sim::KvResult::nil();
            break;
        }
    BOOST_TEST(std::string(sim::to_string(sim::check_linearizability(lost_writes).verdict)) ==
               sim::to_string(sim::LinearizabilityResult::Verdict::violation));

    const auto status = bench.wait(std::chrono::seconds(kBenchSeconds + 30));
    BOOST_REQUIRE(status.has_value());
    BOOST_TEST(describe_exit_status(*status) == "exit code 0", bench.stderr_text());
    BOOST_TEST_MESSAGE(protocol << ": ballot-bench during the changes:\n" << bench.stderr_text());
    std::filesystem::remove_all(out);
}
