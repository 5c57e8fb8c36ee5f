// What an engine compacts away after a snapshot, freed a bounded amount per tick instead of all
// at once. A snapshot every 100,000 entries meant about 100,000 log entries or acceptor records
// freed in one step on the runtime's thread: 10-17 ms (perf: the Rb-tree erase and the frees),
// on every node at about the same moment, with every write waiting behind it.
//
// The trim itself stays immediate and exact: the engine's container holds only what is kept
// from that step on (compact_front moves the kept tail into a fresh container, which costs the
// kept part, the trailing entries, not the trimmed one), and the old container, now holding only
// trimmed elements, is buried here. collect(), called from the engine's tick(), destroys at most
// `budget` elements per call. Nothing buried is ever read again, so this is invisible to the
// protocol: engines stay deterministic, and the simulator's runs are unchanged but for memory.
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

namespace ballot {

class Graveyard {
public:
    // Elements destroyed per collect() call: 4,096 per 10 ms tick frees a snapshot interval's
    // entries in a fraction of a second, at well under a millisecond a tick.
    static constexpr std::size_t kPerTick = 4096;

    // Takes `c` (a vector, or any container whose front elements can be erased) to destroy
    // piecewise.
    template <typename Container>
    void bury(Container&& c) {
        if (c.empty()) return;
        auto held = std::make_shared<std::decay_t<Container>>(std::forward<Container>(c));
        const std::size_t size = held->size();
        graves_.push_back({[held](std::size_t n) {
                               auto& x = *held;
                               if constexpr (requires { x.pop_back(); }) {
                                   for (std::size_t i = 0; i < n; ++i) x.pop_back();  // nothing moves
                               } else {
                                   x.erase(x.begin(), std::next(x.begin(), static_cast<std::ptrdiff_t>(n)));
                               }
                           },
                           size});
    }

    // Destroys up to `budget` buried elements, oldest burial first.
    void collect(std::size_t budget = kPerTick) {
        while (budget > 0 && !graves_.empty()) {
            Grave& g = graves_.front();
            const std::size_t n = std::min(budget, g.left);
            g.destroy(n);
            g.left -= n;
            budget -= n;
            if (g.left == 0) graves_.pop_front();
        }
    }

    bool empty() const { return graves_.empty(); }

private:
    struct Grave {
        std::function<void(std::size_t)> destroy;  // the next n elements
        std::size_t left = 0;
    };
    std::deque<Grave> graves_;
};

// Erases the elements of the ordered map `m` before `keep_from`. A short prefix is erased in
// place; a long one (more than `Graveyard::kPerTick` elements, counted by key distance, which for
// slot- or index-keyed maps is an upper bound) leaves with the old map into `graveyard`, the kept
// tail having moved, node by node, into a fresh map.
template <typename Map>
void compact_front(Map& m, typename Map::iterator keep_from, std::size_t prefix_upper_bound, Graveyard& graveyard) {
    if (keep_from == m.begin()) return;
    if (prefix_upper_bound <= Graveyard::kPerTick) {
        m.erase(m.begin(), keep_from);
        return;
    }
    Map kept;
    for (auto it = keep_from; it != m.end();) kept.insert(kept.end(), m.extract(it++));
    graveyard.bury(std::move(m));
    m = std::move(kept);
}

// compact_front for a map keyed by slot or log index: erases every element at or below
// `through`.
template <typename Map>
void compact_through(Map& m, typename Map::key_type through, Graveyard& graveyard) {
    if (m.empty() || m.begin()->first > through) return;
    compact_front(m, m.upper_bound(through), static_cast<std::size_t>(through - m.begin()->first + 1), graveyard);
}

// The same for a vector: the elements from `keep_from` on move to a fresh vector, the old one
// (the trimmed elements, and moved-from husks) is buried.
template <typename T>
void compact_front(std::vector<T>& v, std::size_t keep_from, Graveyard& graveyard) {
    if (keep_from == 0) return;
    if (keep_from <= Graveyard::kPerTick) {
        v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(keep_from));
        return;
    }
    std::vector<T> kept(std::make_move_iterator(v.begin() + static_cast<std::ptrdiff_t>(keep_from)),
                        std::make_move_iterator(v.end()));
    graveyard.bury(std::move(v));
    v = std::move(kept);
}

// Cuts `v` to its first `keep` elements; a long tail is moved out and buried rather than
// destroyed here (a Raft follower's whole log, at an install).
template <typename T>
void truncate_back(std::vector<T>& v, std::size_t keep, Graveyard& graveyard) {
    if (keep >= v.size()) return;
    if (v.size() - keep > Graveyard::kPerTick) {
        graveyard.bury(std::vector<T>(std::make_move_iterator(v.begin() + static_cast<std::ptrdiff_t>(keep)),
                                      std::make_move_iterator(v.end())));
    }
    v.resize(keep);
}

}  // namespace ballot
