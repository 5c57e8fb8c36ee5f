// Redis's KEYS pattern language (util.c, stringmatchlen), so `KEYS` answers what Redis would:
//
//   *        any run of bytes, including none
//   ?        exactly one byte
//   [abc]    one of a, b, c;  [^abc] any byte but those;  [a-z] a range (ends may be reversed)
//   \x       the byte x literally (also inside brackets)
//
// Binary safe; bytes compare as unsigned. One fix over Redis: a pattern of only '*' also matches
// the empty string. Like Redis, pathological patterns are bounded: nesting of '*' is cut off at
// kMaxGlobNesting and a failed '*' stops trying longer matches, so matching is polynomial, never
// exponential.
#pragma once

#include <string_view>

namespace ballot::kv {

inline constexpr int kMaxGlobNesting = 1000;

bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace ballot::kv
