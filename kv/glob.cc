#include "kv/glob.h"

#include <cstddef>
#include <utility>

namespace ballot::kv {

namespace {

unsigned char byte(const char* p) {
    return static_cast<unsigned char>(*p);
}

// A direct port of Redis 7's stringmatchlen_impl; `skip_longer` is its skipLongerMatches.
bool match(const char* pattern, std::size_t pattern_len, const char* text, std::size_t text_len,
           bool& skip_longer, int nesting) {
    if (nesting > kMaxGlobNesting) return false;  // protection against abusive patterns
    while (pattern_len > 0 && text_len > 0) {
        switch (pattern[0]) {
            case '*': {
                while (pattern_len >= 2 && pattern[1] == '*') {
                    ++pattern;
                    --pattern_len;
                }
                if (pattern_len == 1) return true;
                while (text_len > 0) {
                    if (match(pattern + 1, pattern_len - 1, text, text_len, skip_longer, nesting + 1)) {
                        return true;
                    }
                    if (skip_longer) return false;
                    ++text;
                    --text_len;
                }
                // The rest of the pattern matches nowhere in the rest of the text, so no earlier
                // '*' can help by matching more: stop the whole search.
                skip_longer = true;
                return false;
            }
            case '?':
                ++text;
                --text_len;
                break;
            case '[': {
                ++pattern;
                --pattern_len;
                const bool negate = pattern_len > 0 && pattern[0] == '^';
                if (negate) {
                    ++pattern;
                    --pattern_len;
                }
                bool matched = false;
                for (;;) {
                    if (pattern_len >= 2 && pattern[0] == '\\') {
                        ++pattern;
                        --pattern_len;
                        if (pattern[0] == text[0]) matched = true;
                    } else if (pattern_len == 0) {
                        // An unterminated class: step back so the increment below ends the pattern.
                        --pattern;
                        ++pattern_len;
                        break;
                    } else if (pattern[0] == ']') {
                        break;
                    } else if (pattern_len >= 3 && pattern[1] == '-') {
                        unsigned char start = byte(pattern);
                        unsigned char end = byte(pattern + 2);
                        if (start > end) std::swap(start, end);
                        const unsigned char c = byte(text);
                        pattern += 2;
                        pattern_len -= 2;
                        if (c >= start && c <= end) matched = true;
                    } else if (pattern[0] == text[0]) {
                        matched = true;
                    }
                    ++pattern;
                    --pattern_len;
                }
                if (negate) matched = !matched;
                if (!matched) return false;
                ++text;
                --text_len;
                break;
            }
            case '\\':
                if (pattern_len >= 2) {
                    ++pattern;
                    --pattern_len;
                }
                [[fallthrough]];
            default:
                if (pattern[0] != text[0]) return false;
                ++text;
                --text_len;
                break;
        }
        ++pattern;
        --pattern_len;
        if (text_len == 0) {
            while (pattern_len > 0 && pattern[0] == '*') {
                ++pattern;
                --pattern_len;
            }
            break;
        }
    }
    // One deliberate difference from Redis: its loop never runs for an empty text, so "*" did
    // not match the empty key there (KEYS * found it only through a fast path). Trailing stars
    // match nothing here whatever the text.
    while (pattern_len > 0 && pattern[0] == '*') {
        ++pattern;
        --pattern_len;
    }
    return pattern_len == 0 && text_len == 0;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
    bool skip_longer = false;
    return match(pattern.data(), pattern.size(), text.data(), text.size(), skip_longer, 0);
}

}  // namespace ballot::kv
