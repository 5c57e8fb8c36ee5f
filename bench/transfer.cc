#include "bench/transfer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

#include "bench/load.h"

namespace ballot::bench {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// How long the fault thread looks for a leader before a change (an election may be under way
// after the previous one), and how often it asks meanwhile.
constexpr auto kFindLeaderBound = 3s;
constexpr auto kFindLeaderPoll = 20ms;

double ms_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

// Writes sorted by send time, with the first answer to any write sent at or after each one
// (first_done[i] = min of done_ms over i..end): "the first success of a write sent after s".
struct SortedWrites {
    std::vector<WriteSample> samples;
    std::vector<double> first_done;

    explicit SortedWrites(std::vector<WriteSample> all) : samples(std::move(all)) {
        std::sort(samples.begin(), samples.end(),
                  [](const WriteSample& a, const WriteSample& b) { return a.sent_ms < b.sent_ms; });
        first_done.resize(samples.size());
        double earliest = std::numeric_limits<double>::infinity();
        for (std::size_t i = samples.size(); i-- > 0;)
            first_done[i] = earliest = std::min(earliest, samples[i].done_ms);
    }
    // The index of the first write sent at or after `t_ms` (size() if none).
    std::size_t sent_from(double t_ms) const {
        return static_cast<std::size_t>(
            std::lower_bound(samples.begin(), samples.end(), t_ms,
                             [](const WriteSample& w, double t) { return w.sent_ms < t; }) -
            samples.begin());
    }
};

// Fills one change's figures (bench/transfer.h): the longest a write sent at any moment s from
// the change to its reply waits for the first success of a write sent at or after s. A transfer
// pauses proposals at once, so the worst s is the change itself; a removal takes effect when it
// is applied, at about its reply, and the worst s is there. Between two sends s is taken just
// after the earlier one (the right limit): a closed-loop client sends nothing while it waits, so
// an outage has no sends inside it. Adds the window's writes to `during`.
void analyse_one(const SortedWrites& w, LeaderChange& c, LatencyHistogram& during) {
    const double start_ms = c.at_s * 1000;
    const double reply_at_ms = start_ms + c.reply_ms;
    const std::size_t n = w.samples.size();
    const std::size_t first = w.sent_from(start_ms);
    if (first == n) return;  // no write sent after it succeeded in the run
    double worst = w.first_done[first] - start_ms;
    std::size_t i = first + 1;
    for (; i < n && w.samples[i - 1].sent_ms <= reply_at_ms; ++i)
        worst = std::max(worst, w.first_done[i] - w.samples[i - 1].sent_ms);
    c.unavailable_ms = worst;

    // Until the first success of a write sent after the reply.
    const std::size_t after_reply = w.sent_from(std::nextafter(reply_at_ms, reply_at_ms + 1));
    c.window_ms = (after_reply < n ? w.first_done[after_reply] : w.samples.back().done_ms) - start_ms;
    const double end_ms = start_ms + c.window_ms;
    LatencyHistogram window;
    for (const WriteSample& s : w.samples) {
        if (s.sent_ms > end_ms) break;
        if (s.done_ms < start_ms) continue;
        window.record(static_cast<std::uint64_t>(std::llround((s.done_ms - s.sent_ms) * 1e6)));
    }
    c.writes = window.count();
    if (window.count()) c.write_p99_ms = static_cast<double>(window.value_at_percentile(99)) / 1e6;
    during.merge(window);
}

// The node INFO reports as leader, among `ids`; kNoNode if none does (yet). `*leaderless`: some
// node reports role:proposer (basic Paxos: there is no leader to wait for).
NodeId find_leader(const std::vector<NodeId>& ids, const NodeCommand& command, bool* leaderless) {
    for (NodeId id : ids) {
        const kv::RespValue reply = command(id, {"INFO"});
        if (reply.type != kv::RespValue::Type::bulk) continue;
        const std::string role = parse_info(reply.str)["role"];
        if (role == "leader") return id;
        if (role == "proposer") *leaderless = true;
    }
    return kNoNode;
}

// The leader, waiting up to kFindLeaderBound for one; with none (basic Paxos: every node is a
// proposer) node `ids[0]` is asked, to answer in its own words.
NodeId leader_or_first(const std::vector<NodeId>& ids, const NodeCommand& command, std::string& how) {
    const auto deadline = Clock::now() + kFindLeaderBound;
    bool leaderless = false;
    for (;;) {
        if (NodeId leader = find_leader(ids, command, &leaderless); leader != kNoNode) {
            how = "leader n" + std::to_string(leader) + " (INFO role:leader)";
            return leader;
        }
        if (leaderless || Clock::now() >= deadline) break;
        std::this_thread::sleep_for(kFindLeaderPoll);
    }
    how = "n" + std::to_string(ids.front()) + " (no node reported role:leader)";
    return ids.front();
}

// The voter after `leader` in id order, wrapping around (every node of a spawned cluster votes).
NodeId next_voter(const std::vector<NodeId>& ids, NodeId leader) {
    auto it = std::find(ids.begin(), ids.end(), leader);
    return it == ids.end() || std::next(it) == ids.end() ? ids.front() : *std::next(it);
}

std::string reply_text(const kv::RespValue& reply) {
    if (reply.type == kv::RespValue::Type::simple) return reply.str;
    if (reply.is_error()) return reply.str;
    return "an unexpected reply";
}

}  // namespace

void analyse_leader_changes(std::vector<WriteSample> samples, LeaderChanges& changes) {
    const SortedWrites writes(std::move(samples));
    changes.write_during_ns.clear();
    for (LeaderChange& c : changes.changes)
        if (!c.refused()) analyse_one(writes, c, changes.write_during_ns);
}

std::vector<double> every(double period_s, double duration_s) {
    std::vector<double> at;
    for (double k = 1; period_s * k < duration_s - 1e-9; ++k) at.push_back(period_s * k);
    return at;
}

LeaderChanges change_leader(LeaderAction action, const std::vector<double>& at_s,
                            Clock::time_point measure_start, const std::vector<NodeId>& ids,
                            const NodeCommand& command, const std::atomic<bool>* interrupted) {
    LeaderChanges out;
    out.command = action == LeaderAction::transfer ? "MEMBER TRANSFER" : "MEMBER REMOVE";
    out.asked = at_s.size();
    for (double t : at_s) {
        const auto due =
            measure_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(t));
        // Short sleeps, so an interrupted run does not wait here.
        for (auto now = Clock::now(); now < due; now = Clock::now()) {
            if (interrupted && interrupted->load()) break;
            std::this_thread::sleep_for(std::min<Clock::duration>(due - now, 50ms));
        }
        if (interrupted && interrupted->load()) {
            out.problem = "interrupted";
            break;
        }
        LeaderChange c;
        c.from = leader_or_first(ids, command, c.how);
        c.to = action == LeaderAction::transfer ? next_voter(ids, c.from) : kNoNode;
        const std::string named = std::to_string(action == LeaderAction::transfer ? c.to : c.from);
        const auto sent = Clock::now();
        const kv::RespValue reply =
            command(c.from, {"MEMBER", action == LeaderAction::transfer ? "TRANSFER" : "REMOVE", named});
        c.reply_ms = ms_between(sent, Clock::now());
        c.at_s = ms_between(measure_start, sent) / 1000;
        c.reply = reply_text(reply);
        out.changes.push_back(c);
        // -ERR is a refusal that asking again will not change (an engine without membership
        // change, a wrong id, admin auth); -TRYAGAIN and the like pass.
        if (c.refused()) {
            out.problem = out.command + " refused by n" + std::to_string(c.from) + ": " + reply.str;
            break;
        }
    }
    return out;
}

}  // namespace ballot::bench
