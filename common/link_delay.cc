#include "common/link_delay.h"

#include <algorithm>
#include <charconv>

namespace ballot {

namespace {

// One of the two numbers of --link-delay: plain digits, at most kMaxLinkDelayMs.
std::optional<std::uint32_t> parse_ms(const std::string& text, const char* what, const std::string& whole,
                                      std::string& error) {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec == std::errc::invalid_argument || end != text.data() + text.size()) {
        error = "--link-delay " + whole + ": " + what + " '" + text +
                "' is not a whole number of milliseconds (expected MS or MS:JITTER_MS, e.g. 20 or 20:5)";
        return std::nullopt;
    }
    if (ec == std::errc::result_out_of_range || v > kMaxLinkDelayMs) {
        error = "--link-delay " + whole + ": " + what + " " + text + " ms is more than " +
                std::to_string(kMaxLinkDelayMs) + " ms";
        return std::nullopt;
    }
    return static_cast<std::uint32_t>(v);
}

}  // namespace

std::string LinkDelay::str() const {
    std::string s = std::to_string(delay_ms) + " ms";
    if (jitter_ms > 0) s += " +- " + std::to_string(jitter_ms) + " ms";
    return s;
}

std::optional<LinkDelay> parse_link_delay(const std::string& text, std::string& error) {
    const auto colon = text.find(':');
    LinkDelay d;
    auto delay = parse_ms(text.substr(0, colon), "the delay", text, error);
    if (!delay) return std::nullopt;
    d.delay_ms = *delay;
    if (colon != std::string::npos) {
        auto jitter = parse_ms(text.substr(colon + 1), "the jitter", text, error);
        if (!jitter) return std::nullopt;
        d.jitter_ms = *jitter;
    }
    if (d.jitter_ms > d.delay_ms) {
        error = "--link-delay " + text + ": the jitter (" + std::to_string(d.jitter_ms) +
                " ms) is larger than the delay (" + std::to_string(d.delay_ms) +
                " ms); a frame cannot arrive before it was sent";
        return std::nullopt;
    }
    return d;
}

DelayLine::Clock::time_point DelayLine::due(Clock::time_point sent, std::chrono::microseconds jitter) {
    const std::chrono::microseconds bound = std::chrono::milliseconds(delay_.jitter_ms);
    const auto one_way = std::chrono::milliseconds(delay_.delay_ms) + std::clamp(jitter, -bound, bound);
    Clock::time_point at = sent + one_way;
    // TCP delivers a connection's bytes in order: a frame drawn a shorter delay than the one
    // before it waits for that one.
    if (last_due_ && at < *last_due_) at = *last_due_;
    last_due_ = at;
    return at;
}

}  // namespace ballot
