#include "bench/info_counter.h"

#include <charconv>

namespace ballot::bench {

void InfoCounterTotal::observe(NodeId node, double sent_ms, const std::map<std::string, std::string>& info) {
    auto it = info.find(key_);
    if (it == info.end()) return;
    std::uint64_t value = 0;
    const std::string& text = it->second;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) return;
    auto [last, first] = last_.try_emplace(node, value);
    if (first) return;  // the base: nothing is known to have been added before it
    // A value below the last one comes from a new process, which counted from 0.
    const std::uint64_t added = value >= last->second ? value - last->second : value;
    if (sent_ms >= 0) added_ += added;
    last->second = value;
}

std::optional<std::uint64_t> InfoCounterTotal::total() const {
    if (last_.empty()) return std::nullopt;
    return added_;
}

}  // namespace ballot::bench
