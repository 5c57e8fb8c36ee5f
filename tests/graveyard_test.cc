// What engines compact away is freed a bounded amount per tick (common/graveyard.h): the
// container keeps exactly what is kept at once, and the trimmed elements die over later collects.
#define BOOST_TEST_MODULE graveyard
#include "common/graveyard.h"

#include <boost/test/unit_test.hpp>
#include <map>
#include <vector>

using namespace ballot;

namespace {

// Counts the live instances, to see when the buried ones are destroyed.
struct Counted {
    static inline int alive = 0;
    int value = 0;
    explicit Counted(int v = 0) : value(v) { ++alive; }
    Counted(const Counted& o) : value(o.value) { ++alive; }
    Counted(Counted&& o) noexcept : value(o.value) { ++alive; }
    Counted& operator=(const Counted&) = default;
    Counted& operator=(Counted&&) = default;
    ~Counted() { --alive; }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_long_prefix_of_a_map_is_gone_at_once_and_freed_over_ticks) {
    Counted::alive = 0;
    {
        Graveyard graveyard;
        std::map<std::uint64_t, Counted> m;
        for (std::uint64_t k = 1; k <= 10'000; ++k) m.emplace(k, Counted(static_cast<int>(k)));
        compact_front(m, m.upper_bound(9'000), 9'000, graveyard);
        BOOST_REQUIRE(m.size() == 1'000u);
        BOOST_TEST(m.begin()->first == 9'001u);
        BOOST_TEST(m.rbegin()->second.value == 10'000);
        BOOST_TEST(Counted::alive == 10'000);  // nothing freed yet
        graveyard.collect();
        BOOST_TEST(Counted::alive == 10'000 - static_cast<int>(Graveyard::kPerTick));
        graveyard.collect();
        graveyard.collect();
        BOOST_TEST(Counted::alive == 1'000);
        BOOST_TEST(graveyard.empty());
        // The kept map works as any other.
        m.emplace(10'001, Counted(1));
        BOOST_TEST(m.size() == 1'001u);
    }
    BOOST_TEST(Counted::alive == 0);
}

BOOST_AUTO_TEST_CASE(a_short_prefix_is_erased_in_place) {
    Graveyard graveyard;
    std::map<std::uint64_t, int> m;
    for (std::uint64_t k = 1; k <= 100; ++k) m.emplace(k, 0);
    compact_front(m, m.upper_bound(10), 10, graveyard);
    BOOST_TEST(m.size() == 90u);
    BOOST_TEST(m.begin()->first == 11u);
    BOOST_TEST(graveyard.empty());
}

BOOST_AUTO_TEST_CASE(a_vector_keeps_its_tail_in_order_and_frees_the_rest_over_ticks) {
    Counted::alive = 0;
    {
        Graveyard graveyard;
        std::vector<Counted> v;
        for (int i = 0; i < 9'000; ++i) v.emplace_back(i);
        compact_front(v, 8'000, graveyard);
        BOOST_REQUIRE(v.size() == 1'000u);
        BOOST_TEST(v.front().value == 8'000);
        BOOST_TEST(v.back().value == 8'999);
        // 8,000 trimmed, plus the 1,000 moved-from husks left in the buried vector.
        BOOST_TEST(Counted::alive == 10'000);
        while (!graveyard.empty()) graveyard.collect();
        BOOST_TEST(Counted::alive == 1'000);
    }
    BOOST_TEST(Counted::alive == 0);
}

BOOST_AUTO_TEST_CASE(burials_are_freed_oldest_first_within_the_budget) {
    Graveyard graveyard;
    std::vector<int> a(5'000), b(100);
    graveyard.bury(std::move(a));
    graveyard.bury(std::move(b));
    graveyard.collect(4'000);
    BOOST_TEST(!graveyard.empty());
    graveyard.collect(1'050);  // the rest of the first, and 50 of the second
    BOOST_TEST(!graveyard.empty());
    graveyard.collect(50);
    BOOST_TEST(graveyard.empty());
}

BOOST_AUTO_TEST_CASE(compact_through_erases_every_key_at_or_below_the_point) {
    Graveyard graveyard;
    std::map<std::uint64_t, int> m;
    for (std::uint64_t k = 101; k <= 10'100; ++k) m.emplace(k, 0);
    compact_through(m, std::uint64_t{50}, graveyard);  // below the first key: nothing
    BOOST_TEST(m.size() == 10'000u);
    compact_through(m, std::uint64_t{9'100}, graveyard);
    BOOST_TEST(m.size() == 1'000u);
    BOOST_TEST(m.begin()->first == 9'101u);
    BOOST_TEST(!graveyard.empty());  // 9,000 trimmed: more than a tick's worth, buried
}

BOOST_AUTO_TEST_CASE(a_long_tail_cut_from_a_vector_is_buried_and_the_head_stays) {
    Counted::alive = 0;
    {
        Graveyard graveyard;
        std::vector<Counted> v;
        for (int i = 0; i < 6'000; ++i) v.emplace_back(i);
        truncate_back(v, 100, graveyard);
        BOOST_REQUIRE(v.size() == 100u);
        BOOST_TEST(v.back().value == 99);
        BOOST_TEST(Counted::alive == 6'000);  // 100 kept, 5,900 buried
        graveyard.collect();
        graveyard.collect();
        BOOST_TEST(Counted::alive == 100);
        truncate_back(v, 90, graveyard);  // a short tail goes at once
        BOOST_TEST(Counted::alive == 90);
        BOOST_TEST(graveyard.empty());
    }
    BOOST_TEST(Counted::alive == 0);
}
