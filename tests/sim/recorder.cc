#include "tests/sim/recorder.h"

#include <algorithm>

#include "tests/sim/event_queue.h"

namespace ballot::sim {

const char* to_string(RecordedMark::Kind kind) {
    switch (kind) {
        case RecordedMark::Kind::crash:
            return "crash";
        case RecordedMark::Kind::restart:
            return "restart";
        case RecordedMark::Kind::pause:
            return "pause";
        case RecordedMark::Kind::role:
            return "role";
        case RecordedMark::Kind::commit:
            return "commit";
        case RecordedMark::Kind::persist:
            return "persist";
        case RecordedMark::Kind::cut:
            return "cut";
        case RecordedMark::Kind::note:
            return "note";
    }
    return "?";
}

namespace {

// Marks that last (a pause, a cut) are kept whenever they began, and clipped to the window at
// the end, so that a partition made before the window still shows in it.
bool lasts(RecordedMark::Kind kind) {
    return kind == RecordedMark::Kind::pause || kind == RecordedMark::Kind::cut;
}

// The state a lane is in when the window opens: the last role, and whether the node is down.
bool is_state(RecordedMark::Kind kind) {
    return kind == RecordedMark::Kind::role || kind == RecordedMark::Kind::crash ||
           kind == RecordedMark::Kind::restart;
}

std::string role_text(const EngineStatus& s) {
    return std::string(role_name(s.role)) + ", " + s.epoch.name() + " " + s.epoch.str();
}

}  // namespace

Recorder::Recorder(std::uint64_t from_us, std::uint64_t until_us) : from_us_(from_us), until_us_(until_us) {}

std::uint64_t Recorder::now_us() const {
    return queue_ ? queue_->now_us() : 0;
}

bool Recorder::in_window() const {
    const std::uint64_t now = now_us();
    return now >= from_us_ && now < until_us_;
}

// ---------------------------------------------------------------- messages

void Recorder::described(const TracedMessage& m) {
    if (!m.sent || m.peer == m.self) return;  // a node's message to itself never leaves it
    described_[{m.self, m.peer}] = Pending{m.what, m.heartbeat};
}

void Recorder::sent(std::uint64_t id, NodeId from, NodeId to, bool bulk) {
    Pending what;
    if (auto it = described_.find({from, to}); it != described_.end()) {
        what = std::move(it->second);
        described_.erase(it);
    }
    if (now_us() < from_us_) return void(++messages_before_);
    if (now_us() >= until_us_) return void(++messages_after_);
    if (messages_.size() >= kMessageLimit) return void(++over_limit_);
    by_id_[{bulk, id}] = messages_.size();
    messages_.push_back(RecordedMessage{from, to, now_us(), what.what.empty() ? "(not described)" : what.what,
                                        what.heartbeat, bulk});
}

void Recorder::arrived(std::uint64_t id, bool bulk, const std::string& how) {
    auto it = by_id_.find({bulk, id});
    if (it != by_id_.end()) arrivals_.push_back(RecordedArrival{it->second, now_us(), true, how});
}

void Recorder::lost(std::uint64_t id, bool bulk, const std::string& why) {
    auto it = by_id_.find({bulk, id});
    if (it != by_id_.end()) arrivals_.push_back(RecordedArrival{it->second, now_us(), false, why});
}

// ---------------------------------------------------------------- marks

void Recorder::mark(RecordedMark m) {
    m.at_us = now_us();
    if (m.at_us < until_us_ && (m.at_us >= from_us_ || lasts(m.kind) || is_state(m.kind)))
        marks_.push_back(std::move(m));
    else
        ++marks_outside_;
}

void Recorder::crashed(NodeId node, const std::string& text) {
    unsynced_since_.erase(node);  // what was not synced is gone
    last_status_.erase(node);
    mark(RecordedMark{RecordedMark::Kind::crash, node, 0, 0, kNoNode, text});
}

void Recorder::restarted(NodeId node, const std::string& text) {
    mark(RecordedMark{RecordedMark::Kind::restart, node, 0, 0, kNoNode, text});
}

void Recorder::paused(NodeId node, std::uint64_t until_us) {
    mark(RecordedMark{RecordedMark::Kind::pause, node, 0, until_us, kNoNode, "paused (SIGSTOP, a GC pause)"});
}

void Recorder::disk_written(NodeId node, const std::string& text) {
    if (!unsynced_since_.contains(node)) {
        unsynced_since_[node] = now_us();
        unsynced_what_[node].clear();
    }
    std::string& what = unsynced_what_[node];
    what += (what.empty() ? "" : "; ") + text;
}

// A persist point: from the first write not yet durable to the fsync that covered it.
void Recorder::disk_durable(NodeId node) {
    auto it = unsynced_since_.find(node);
    if (it == unsynced_since_.end()) return;
    const std::uint64_t since = it->second;
    unsynced_since_.erase(it);
    const std::uint64_t now = now_us();
    if (now < from_us_ || now >= until_us_) return void(++marks_outside_);
    marks_.push_back(RecordedMark{RecordedMark::Kind::persist, node, std::max(since, from_us_), now, kNoNode,
                                  "fsync done: " + unsynced_what_[node]});
}

void Recorder::link_cut(NodeId from, NodeId to) {
    if (open_cuts_.contains({from, to})) return;  // cut twice: still the first cut
    open_cuts_[{from, to}] = marks_.size();
    const std::size_t before = marks_.size();
    mark(RecordedMark{RecordedMark::Kind::cut, from, 0, 0, to,
                      "n" + std::to_string(from) + " cannot send to n" + std::to_string(to)});
    if (marks_.size() == before) open_cuts_.erase({from, to});
}

void Recorder::link_healed(NodeId from, NodeId to) {
    auto it = open_cuts_.find({from, to});
    if (it == open_cuts_.end()) return;
    marks_[it->second].until_us = now_us();
    open_cuts_.erase(it);
}

void Recorder::status(NodeId node, const EngineStatus& now) {
    auto it = last_status_.find(node);
    if (it == last_status_.end() || it->second.role != now.role || it->second.epoch != now.epoch)
        mark(RecordedMark{RecordedMark::Kind::role, node, 0, 0, kNoNode, role_text(now)});
    if (it != last_status_.end() && now.commit_index > it->second.commit_index)
        mark(RecordedMark{RecordedMark::Kind::commit, node, 0, 0, kNoNode,
                          "commit index " + std::to_string(it->second.commit_index) + " -> " +
                              std::to_string(now.commit_index)});
    last_status_[node] = now;
}

void Recorder::note(const std::string& text) {
    mark(RecordedMark{RecordedMark::Kind::note, kNoNode, 0, 0, kNoNode, text});
}

void Recorder::failed(std::uint64_t at_us, const std::string& what) {
    if (at_us < from_us_ || at_us >= until_us_) return void(++marks_outside_);
    marks_.push_back(RecordedMark{RecordedMark::Kind::note, kNoNode, at_us, 0, kNoNode,
                                  "FAILED: " + what.substr(0, what.find('\n'))});
}

// ---------------------------------------------------------------- the result

Recording Recorder::finish(Recording r) {
    r.from_us = from_us_;
    r.until_us = until_us_;
    // Marks made before the window were kept only for the state they leave a lane in: keep each
    // lane's last role and last crash or restart (moved to the window's start), and the pauses
    // and cuts still going on when it opens.
    std::map<std::pair<NodeId, bool>, std::size_t> last_state;  // (node, is a role) -> mark
    std::vector<RecordedMark> kept;
    std::size_t before = 0;
    for (std::size_t i = 0; i < marks_.size(); ++i) {
        const RecordedMark& m = marks_[i];
        if (m.at_us >= from_us_) continue;
        ++before;
        if (is_state(m.kind)) last_state[{m.node, m.kind == RecordedMark::Kind::role}] = i;
        if (lasts(m.kind) && (m.until_us == 0 || m.until_us > from_us_)) kept.push_back(m);
    }
    // In the order they happened: a crash after the last role change leaves the lane down.
    std::vector<std::size_t> states;
    for (const auto& [key, i] : last_state) states.push_back(i);
    std::sort(states.begin(), states.end());
    for (std::size_t i : states) kept.push_back(marks_[i]);
    for (RecordedMark& m : kept) m.at_us = from_us_;
    r.marks_outside = marks_outside_ + before - kept.size();
    for (const RecordedMark& m : marks_)
        if (m.at_us >= from_us_) kept.push_back(m);
    // A pause or cut still going on is drawn to the window's end.
    for (RecordedMark& m : kept)
        if (lasts(m.kind) && (m.until_us == 0 || m.until_us > until_us_)) m.until_us = until_us_;
    std::stable_sort(kept.begin(), kept.end(),
                     [](const RecordedMark& a, const RecordedMark& b) { return a.at_us < b.at_us; });
    r.marks = std::move(kept);
    r.messages = std::move(messages_);
    r.arrivals = std::move(arrivals_);
    r.messages_before = messages_before_;
    r.messages_after = messages_after_;
    r.messages_over_limit = over_limit_;
    return r;
}

}  // namespace ballot::sim
