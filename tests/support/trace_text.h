// Checks of --trace text (Engine::describe) shared by the engine tests.
#pragma once

#include <cctype>
#include <string>

namespace ballot::test {

// True if `line` holds a run of more than 10 decimal digits: no index, count or term a test sets
// up is that long, so such a run is a packed ballot or a raw 64-bit id printed whole, which
// describe() must never show (ballots are ROUND.NODE, read ids read_id_str()).
inline bool shows_raw_64_bit_number(const std::string& line) {
    std::size_t run = 0;
    for (char ch : line) {
        run = std::isdigit(static_cast<unsigned char>(ch)) ? run + 1 : 0;
        if (run > 10) return true;
    }
    return false;
}

}  // namespace ballot::test
