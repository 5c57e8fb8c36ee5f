#include "kv/sessions.h"

#include <algorithm>

#include "kv/resp.h"

namespace ballot::kv {

namespace {
constexpr std::uint8_t kSessionsVersion = 1;
// Smallest encodings, for Reader::count: a session is id, acked_below, evicted_through and a
// count; a kept reply is a seq and a string length.
constexpr std::size_t kMinSessionBytes = 8 + 8 + 8 + 4;
constexpr std::size_t kMinKeptBytes = 8 + 4;
}  // namespace

Sessions::Sessions(SessionLimits limits) : limits_(limits) {
    if (limits_.max_sessions == 0) limits_.max_sessions = 1;
    if (limits_.max_kept_per_session == 0) limits_.max_kept_per_session = 1;
}

std::optional<std::string> Sessions::check(const Command& command) {
    auto it = sessions_.find(command.client_id);
    if (it == sessions_.end()) return std::nullopt;  // a new client: apply
    Entry& entry = it->second;
    touch(entry);
    const Session& s = entry.session;
    if (command.seq < s.acked_below) return error_reply(kStaleAcknowledged);
    if (auto kept = s.kept.find(command.seq); kept != s.kept.end()) return kept->second;
    if (command.seq <= s.evicted_through) return error_reply(kStaleEvicted);
    return std::nullopt;
}

void Sessions::record(const Command& command, std::string reply) {
    auto it = sessions_.find(command.client_id);
    if (it == sessions_.end()) {
        if (sessions_.size() >= limits_.max_sessions) evict_least_recent();
        lru_.push_back(command.client_id);
        it = sessions_.emplace(command.client_id, Entry{Session{}, std::prev(lru_.end())}).first;
    } else {
        touch(it->second);
    }
    Session& s = it->second.session;
    s.kept[command.seq] = std::move(reply);
    // §6.3: the client's acknowledgement lets us discard the replies it will never ask for.
    s.acked_below = std::max(s.acked_below, command.acked_below);
    s.kept.erase(s.kept.begin(), s.kept.lower_bound(s.acked_below));
    while (s.kept.size() > limits_.max_kept_per_session) {
        s.evicted_through = std::max(s.evicted_through, s.kept.begin()->first);
        s.kept.erase(s.kept.begin());
    }
}

const Sessions::Session* Sessions::find(std::uint64_t client_id) const {
    auto it = sessions_.find(client_id);
    return it == sessions_.end() ? nullptr : &it->second.session;
}

void Sessions::touch(Entry& entry) {
    lru_.splice(lru_.end(), lru_, entry.lru_position);
}

void Sessions::evict_least_recent() {
    if (lru_.empty()) return;
    sessions_.erase(lru_.front());
    lru_.pop_front();
}

void Sessions::encode(Writer& w) const {
    w.u8(kSessionsVersion);
    w.u32(static_cast<std::uint32_t>(lru_.size()));
    for (std::uint64_t id : lru_) {
        const Session& s = sessions_.at(id).session;
        w.u64(id);
        w.u64(s.acked_below);
        w.u64(s.evicted_through);
        w.u32(static_cast<std::uint32_t>(s.kept.size()));
        for (const auto& [seq, reply] : s.kept) {
            w.u64(seq);
            w.str(reply);
        }
    }
}

bool Sessions::decode(Reader& r) {
    if (r.u8() != kSessionsVersion) r.fail("unknown sessions version");
    const std::uint32_t n = r.count(kMinSessionBytes);
    std::unordered_map<std::uint64_t, Entry> sessions;
    std::list<std::uint64_t> lru;
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        const std::uint64_t id = r.u64();
        Session s;
        s.acked_below = r.u64();
        s.evicted_through = r.u64();
        const std::uint32_t kept = r.count(kMinKeptBytes);
        for (std::uint32_t k = 0; k < kept && r.ok(); ++k) {
            const std::uint64_t seq = r.u64();
            s.kept[seq] = r.str();
        }
        if (id == 0 || sessions.contains(id)) r.fail("bad session id");
        if (!r.ok()) break;
        lru.push_back(id);
        sessions.emplace(id, Entry{std::move(s), std::prev(lru.end())});
    }
    if (!r.ok()) return false;
    sessions_ = std::move(sessions);
    lru_ = std::move(lru);  // list iterators stay valid across the move
    return true;
}

bool operator==(const Sessions& a, const Sessions& b) {
    if (a.lru_ != b.lru_) return false;
    for (std::uint64_t id : a.lru_) {
        const Sessions::Session& x = a.sessions_.at(id).session;
        const Sessions::Session& y = b.sessions_.at(id).session;
        if (x.acked_below != y.acked_below || x.evicted_through != y.evicted_through || x.kept != y.kept) {
            return false;
        }
    }
    return true;
}

}  // namespace ballot::kv
