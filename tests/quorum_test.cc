// Table tests for common/quorum.h: VoteTally (distinct voters, won/lost) and quorum_index (the
// highest value a quorum has reached), over cluster sizes 1..7, duplicates and quorum 0.
#define BOOST_TEST_MODULE quorum
#include "common/quorum.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using ballot::quorum_index;
using ballot::VoteTally;

namespace {

struct Vote {
    ballot::NodeId from;
    bool granted;
};

struct TallyCase {
    std::string name;
    std::size_t members, quorum;
    std::vector<Vote> votes;
    std::size_t granted, rejected;
    bool won, lost;
};

struct IndexCase {
    std::string name;
    std::vector<std::uint64_t> values;
    std::size_t quorum;
    std::uint64_t expected;
};

}  // namespace

BOOST_AUTO_TEST_CASE(vote_tally_table) {
    const std::vector<TallyCase> table = {
        {"no votes yet", 3, 2, {}, 0, 0, false, false},
        {"one member, its own vote wins", 1, 1, {{1, true}}, 1, 0, true, false},
        {"one member, its own refusal loses", 1, 1, {{1, false}}, 0, 1, false, true},
        {"3 members: 2 yes win", 3, 2, {{1, true}, {2, true}}, 2, 0, true, false},
        {"3 members: 1 yes 1 no undecided", 3, 2, {{1, true}, {2, false}}, 1, 1, false, false},
        {"3 members: 2 no lose", 3, 2, {{2, false}, {3, false}}, 0, 2, false, true},
        {"duplicate yes counts once", 3, 2, {{1, true}, {1, true}}, 1, 0, false, false},
        {"a later answer from the same node is ignored", 3, 2, {{2, false}, {2, true}}, 0, 1, false, false},
        {"4 members: a 2-2 split can no longer win (3 needed)",
         4,
         3,
         {{1, true}, {2, true}, {3, false}, {4, false}},
         2,
         2,
         false,
         true},
        {"4 members: 3 yes win", 4, 3, {{1, true}, {2, true}, {3, true}}, 3, 0, true, false},
        {"5 members: 2 no still winnable", 5, 3, {{1, false}, {2, false}}, 0, 2, false, false},
        {"5 members: 3 no lose", 5, 3, {{1, false}, {2, false}, {3, false}}, 0, 3, false, true},
        {"7 members: 4 yes win", 7, 4, {{1, true}, {3, true}, {5, true}, {7, true}}, 4, 0, true, false},
        {"7 members: 3 yes 3 no undecided",
         7,
         4,
         {{1, true}, {2, true}, {3, true}, {4, false}, {5, false}, {6, false}},
         3,
         3,
         false,
         false},
        {"7 members: 4 no lose", 7, 4, {{1, false}, {2, false}, {3, false}, {4, false}}, 0, 4, false, true},
        {"quorum 0 never wins", 3, 0, {{1, true}, {2, true}, {3, true}}, 3, 0, false, false},
        {"default tally never wins", 0, 0, {{1, true}}, 1, 0, false, false},
    };
    for (const auto& c : table) {
        BOOST_TEST_CONTEXT(c.name) {
            VoteTally t(c.members, c.quorum);
            for (const Vote& v : c.votes) {
                const bool first = !t.answered(v.from);
                BOOST_TEST(t.record(v.from, v.granted) == first);
                BOOST_TEST(t.answered(v.from));
            }
            BOOST_TEST(t.granted() == c.granted);
            BOOST_TEST(t.rejected() == c.rejected);
            BOOST_TEST(t.won() == c.won);
            BOOST_TEST(t.lost() == c.lost);
        }
    }
}

BOOST_AUTO_TEST_CASE(quorum_index_table) {
    const std::vector<IndexCase> table = {
        {"no values", {}, 1, 0},
        {"quorum 0 is 0", {5, 6, 7}, 0, 0},
        {"fewer values than the quorum", {9, 9}, 3, 0},
        {"one node", {4}, 1, 4},
        {"3 nodes: the median", {1, 5, 3}, 2, 3},
        {"3 nodes: duplicates", {5, 5, 1}, 2, 5},
        {"3 nodes: all equal", {2, 2, 2}, 2, 2},
        {"3 nodes: one far ahead does not count alone", {100, 0, 0}, 2, 0},
        {"4 nodes: quorum 3", {4, 3, 2, 1}, 3, 2},
        {"5 nodes: Figure 2 matchIndex", {7, 7, 5, 3, 2}, 3, 5},
        {"5 nodes: unsorted with duplicates", {3, 9, 3, 9, 1}, 3, 3},
        {"6 nodes: quorum 4", {6, 5, 4, 3, 2, 1}, 4, 3},
        {"7 nodes: quorum 4", {10, 1, 9, 2, 8, 3, 7}, 4, 7},
        {"7 nodes: quorum 7 is the minimum", {10, 1, 9, 2, 8, 3, 7}, 7, 1},
        {"quorum 1 is the maximum", {3, 8, 1}, 1, 8},
        {"large values", {UINT64_MAX, UINT64_MAX, 0}, 2, UINT64_MAX},
    };
    for (const auto& c : table) BOOST_TEST(quorum_index(c.values, c.quorum) == c.expected, c.name);
}
