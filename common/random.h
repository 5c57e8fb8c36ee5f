// A small seeded pseudo-random generator (splitmix64). Engines and the simulator take one of
// these instead of any global source, so a run is a pure function of its seed.
#pragma once

#include <cstdint>

namespace ballot {

class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}

    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }

    // Uniform in [lo, hi] (inclusive). Requires lo <= hi.
    std::uint64_t between(std::uint64_t lo, std::uint64_t hi) { return lo + next() % (hi - lo + 1); }

    // True with probability num/den.
    bool chance(std::uint64_t num, std::uint64_t den) { return next() % den < num; }

private:
    std::uint64_t state_;
};

}  // namespace ballot
