// Who hears of a commit when, in the engines with a leader (Raft, Multi-Paxos): written once, run
// against both. A follower's client waits until that follower applies the command it forwarded
// (or the read index of a read it forwarded), so the leader tells that follower each commit step
// at once. A follower no client waits on hears it with its next entries or heartbeat, as Raft's
// Figure 2 has it: telling every follower at once was, at one client on the leader, two messages
// and two answers per write that nobody waited for (issue 15; raft/README.md "Who hears a new
// commitIndex when", multipaxos/README.md "Replication" step 5).
#define BOOST_TEST_MODULE commit_news
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "common/engine.h"
#include "tests/support/engine_cluster.h"

using ballot::kNoNode;
using ballot::NodeId;
using ballot::ProposeResult;
using ballot::test::EngineCluster;
using ballot::test::small_timeouts;

namespace {

// One heartbeat interval: by its end every follower the leader reaches knows what is committed.
void heartbeat_interval(EngineCluster& c) {
    c.run(static_cast<int>(small_timeouts().heartbeat_ticks));
}

}  // namespace

BOOST_AUTO_TEST_CASE(only_a_follower_whose_client_waits_hears_of_a_commit_at_once) {
    for (const char* protocol : {"raft", "multipaxos"}) {
        BOOST_TEST_CONTEXT(protocol) {
            EngineCluster c(protocol, 3, 14, small_timeouts());
            const NodeId leader = c.elect();
            BOOST_REQUIRE(leader != kNoNode);
            heartbeat_interval(c);
            const NodeId forwarder = leader == 1 ? 2 : 1;
            const NodeId other = 6 - leader - forwarder;

            // A write forwarded by a follower: that follower is told at once, the other is not.
            const std::vector<std::string> one{"via-follower"};
            BOOST_REQUIRE(c.propose(forwarder, "via-follower") == ProposeResult::accepted);
            c.stabilize();  // no tick: no heartbeat is due
            BOOST_TEST(c.committed_data(leader) == one);
            BOOST_TEST(c.committed_data(forwarder) == one);
            BOOST_TEST(c.committed_data(other).empty());

            // A write made on the leader: no follower waits for it, so only the leader knows it
            // committed. Its entries told the followers what was committed when they were sent.
            BOOST_REQUIRE(c.propose(leader, "on-leader") == ProposeResult::accepted);
            c.stabilize();
            const std::vector<std::string> two{"via-follower", "on-leader"};
            BOOST_TEST(c.committed_data(leader) == two);
            BOOST_TEST(c.committed_data(forwarder) == one);
            BOOST_TEST(c.committed_data(other) == one);

            // A read the other follower forwards while a third write is being decided: it answers
            // once it has applied the read index (Raft: the commit index; Multi-Paxos: the highest
            // slot assigned, here the third write's), so it is told what is committed through
            // there at once.
            BOOST_REQUIRE(c.propose(leader, "third") == ProposeResult::accepted);
            c.read(other, 7);
            c.stabilize();
            BOOST_REQUIRE_EQUAL(c.reads(other).size(), 1u);
            BOOST_TEST(c.reads(other)[0].ok);
            BOOST_TEST(c.reads(other)[0].index >= 3u);  // "on-leader" is at or below it
            BOOST_TEST(c.status(other).commit_index >= c.reads(other)[0].index);

            heartbeat_interval(c);
            const std::vector<std::string> three{"via-follower", "on-leader", "third"};
            for (NodeId id = 1; id <= 3; ++id) BOOST_TEST(c.committed_data(id) == three, "node " << id);
        }
    }
}
