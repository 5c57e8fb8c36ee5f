#include "tests/sim/figure_scenarios.h"

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <vector>

#include "tests/sim/scenarios.h"

namespace ballot::sim {

namespace {

constexpr std::uint64_t kMs = 1000;
// Every message takes at least this long (both configure functions pin it) ...
constexpr std::uint64_t kDelayMinUs = 1000;
// ... and the scripts look this often when they must act between a node's election and the
// arrival of its first AppendEntries or Accept (a cut made then still drops it: the network
// drops what arrives on a cut link, and no copy is spared, cut_spares_percent = 0).
constexpr std::uint64_t kWatchUs = 100;
// Otherwise, every millisecond.
constexpr std::uint64_t kStepUs = kMs;
// A step that has not happened after this long will not: the script gives up (and says so).
constexpr std::uint64_t kStepLimitUs = 3000 * kMs;

// What both scenarios pin beyond calm(): `nodes` nodes whose clocks run true, messages that take
// 1-2 ms (slow enough to be cut in flight), fsyncs of at most 1 ms, no lock clients.
void pin(SimConfig& c, int nodes) {
    calm(c);
    c.nodes = nodes;
    c.clock_rate_percent.assign(static_cast<std::size_t>(nodes), 100);
    c.disk_slowness.assign(static_cast<std::size_t>(nodes), 1);
    c.tick_jitter_us = 0;
    c.delay_min_us = kDelayMinUs;
    c.delay_max_us = 2 * kDelayMinUs;
    c.cut_spares_percent = 0;
    c.flush_min_us = 100;
    c.flush_max_us = kMs;
    c.lock_clients = 0;
}

std::optional<EngineStatus> status(ScenarioContext& ctx, NodeId id) {
    return ctx.cluster.status(id);
}

bool leads(ScenarioContext& ctx, NodeId id) {
    auto s = status(ctx, id);
    return s && s->role == Role::leader;
}

// The node's log reaches `index` and all of it is durable.
bool holds(ScenarioContext& ctx, NodeId id, Index index) {
    auto s = status(ctx, id);
    return s && s->log_last_index >= index && !ctx.cluster.flush_in_flight(id);
}

Index commit_index(ScenarioContext& ctx, NodeId id) {
    auto s = status(ctx, id);
    return s ? s->commit_index : 0;
}

std::string epoch_of(ScenarioContext& ctx, NodeId id) {
    auto s = status(ctx, id);
    return s ? s->epoch.name() + std::string(" ") + s->epoch.str() : "(down)";
}

// Waits for `ready` at kStepUs, or, with `watch`, at kWatchUs.
void then_when(ScenarioContext& ctx, bool watch, std::string what, std::function<bool()> ready,
               std::function<void()> then) {
    when(ctx, watch ? kWatchUs : kStepUs, ctx.queue.now_us() + kStepLimitUs, std::move(what),
         std::move(ready), std::move(then));
}

// Every link between `center` and each of `leaves` open, every other link cut both ways (the
// links of crashed nodes too, for when they restart). A leaf hears only the center, so only the
// center can gather a majority of (pre-)votes, whatever the nodes' election timeouts: this is
// how the script decides who wins each election of the figure.
void star(ScenarioContext& ctx, NodeId center, std::initializer_list<NodeId> leaves) {
    auto is_leaf = [&](NodeId id) { return std::find(leaves.begin(), leaves.end(), id) != leaves.end(); };
    SimNetwork& net = ctx.cluster.network();
    for (NodeId a : ctx.cluster.members())
        for (NodeId b : ctx.cluster.members()) {
            if (a == b) continue;
            const bool open = (a == center && is_leaf(b)) || (b == center && is_leaf(a));
            if (open) net.uncut(a, b);
            if (!open && net.linked(a, b)) net.cut(a, b);
        }
}

// ---------------------------------------------------------------- figure-8 (Raft §5.4.2)
//
// The figure's five servers S1-S5 are n1-n5, its entries the leaders' no-ops. Each election is
// decided by a star of links around the node that is to win (star()); each leader's entry is kept
// from the nodes that must not get it by cutting its links to them as soon as it is elected,
// before its first AppendEntries can arrive.

// Once `leader` is elected, cuts its links to `keep_from` at once (its first AppendEntries must
// not get there), notes what it does (`step` is the figure's letter), and goes on with `then`.
void on_election(ScenarioContext& ctx, std::string step, NodeId leader, std::vector<NodeId> keep_from,
                 std::string what, std::function<void()> then) {
    then_when(
        ctx, true, node_name(leader) + " leads", [&ctx, leader] { return leads(ctx, leader); },
        [&ctx, step, leader, keep_from, what, then] {
            for (NodeId id : keep_from) ctx.cluster.network().cut(leader, id);
            ctx.note("figure-8 " + step + ": " + node_name(leader) + " leads " + epoch_of(ctx, leader) +
                     what);
            then();
        });
}

// Once `ready`, notes `what` and crashes `id` (what it had not made durable is lost), then `then`.
void crash_once(ScenarioContext& ctx, std::string waiting_for, std::function<bool()> ready, NodeId id,
                std::string what, std::function<void()> then) {
    then_when(ctx, false, std::move(waiting_for), std::move(ready), [&ctx, id, what, then] {
        ctx.note(what);
        ctx.cluster.crash(id, /*torn=*/false);
        then();
    });
}

// Restarts `id` at the center of a star with `leaves` (so that only it can be elected), noting why.
void restart_to_win(ScenarioContext& ctx, NodeId id, std::initializer_list<NodeId> leaves,
                    const std::string& why) {
    ctx.cluster.restart(id);
    ctx.note(why);
    star(ctx, id, leaves);
}

void figure_8_d(ScenarioContext& ctx) {
    restart_to_win(ctx, 5, {2, 4},
                   "figure-8 (d): n5 restarts. n3, whose log ends in term 4, is cut off; n5, whose log ends "
                   "in term 3, can win the votes of n2 (its log ends in term 2) and n4 (term 1)");
    then_when(
        ctx, false, "n5 leads and commits index 3",
        [&ctx] { return leads(ctx, 5) && commit_index(ctx, 5) >= 3; },
        [&ctx] {
            ctx.note(
                "figure-8 (d): n5 leads " + epoch_of(ctx, 5) +
                "; its no-op at index 3 commits its own index 2 (term 3) beneath it. n2's index 2 of term 2 "
                "was overwritten (its reject names the conflict); the network heals and n3's is "
                "overwritten too, then n1's when it restarts. It had been on a majority, never committed");
            ctx.cluster.network().heal();
            ctx.queue.after(200 * kMs, [&ctx] { ctx.cluster.restart(1); });
        });
}

void figure_8_c(ScenarioContext& ctx) {
    restart_to_win(ctx, 1, {2, 3},
                   "figure-8 (c): n1 restarts; links only between n1 and n2, n3 (n4 cut off): n1, whose "
                   "log ends in term 2, can win their votes");
    on_election(ctx, "(c)", 1, {2},
                " and appends its no-op at index 3; it is cut from n2 (which holds index 2) so that the "
                "no-op cannot reach a majority; n3 is sent index 2 and 3",
                [&ctx] {
                    then_when(
                        ctx, false, "n3 holds index 3", [&ctx] { return holds(ctx, 3, 3); },
                        [&ctx] {
                            ctx.note(
                                "figure-8 (c): index 2 of term 2 is on n1, n2 and n3, a majority, and n1 "
                                "does not commit it (commit index " +
                                std::to_string(commit_index(ctx, 1)) +
                                "): a leader counts replicas only of entries of its own term (§5.4.2)");
                            // A heartbeat round later (its commit point, still 0, in the diagram).
                            const std::uint64_t crash_us = ctx.queue.now_us() + 60 * kMs;
                            crash_once(
                                ctx, "60 ms have passed",
                                [&ctx, crash_us] { return ctx.queue.now_us() >= crash_us; }, 1,
                                "figure-8 (d): n1 crashes before its no-op of index 3 reaches a majority",
                                [&ctx] { figure_8_d(ctx); });
                        });
                });
}

void figure_8_b(ScenarioContext& ctx) {
    ctx.note(
        "figure-8 (b): n2 is cut off; links only between n5 and n3, n4: n5 can win their votes (all "
        "three logs end at index 1)");
    star(ctx, 5, {3, 4});
    on_election(ctx, "(b)", 5, {3, 4},
                " and appends its no-op at index 2, a different entry at index 2; cut from n3 and n4 at "
                "once, it stays on n5 alone",
                [&ctx] {
                    crash_once(
                        ctx, "n5's index 2 is durable", [&ctx] { return holds(ctx, 5, 2); }, 5,
                        "figure-8 (b): n5 crashes", [&ctx] { figure_8_c(ctx); });
                });
}

void figure_8_a(ScenarioContext& ctx) {
    ctx.note(
        "figure-8 (a): links only between n1 and the others: n2 loses its majority (check-quorum) "
        "and n1 is elected");
    star(ctx, 1, {2, 3, 4, 5});
    on_election(ctx, "(a)", 1, {3, 4, 5},
                " and appends its no-op at index 2; cut from n3, n4, n5 at once, it reaches n2 only", [&ctx] {
                    crash_once(
                        ctx, "n1 and n2 hold index 2",
                        [&ctx] { return holds(ctx, 1, 2) && holds(ctx, 2, 2); }, 1,
                        "figure-8 (a): n1 crashes; index 2 of term 2 is on n1 and n2 only",
                        [&ctx] { figure_8_b(ctx); });
                });
}

bool all_committed(ScenarioContext& ctx, Index index) {
    for (NodeId id : ctx.cluster.members())
        if (commit_index(ctx, id) < index) return false;
    return true;
}

// ---------------------------------------------------------------- hole-filled (Multi-Paxos)

// The leader sends a peer the Accepts it lacks again once they are retry_ticks old (as
// multipaxos/election.cc computes it): a slot above the hole must be chosen, and the leader down,
// a tick before then.
std::uint64_t before_retransmit_us(const SimConfig& c) {
    const std::uint64_t retry_ticks =
        std::max<std::uint64_t>(2 * c.engine.heartbeat_ticks, c.engine.election_timeout_min_ticks / 2);
    return (retry_ticks - 1) * c.tick_us;
}
// How long the leader is given to propose a second slot into the hole (one will do after that).
constexpr std::uint64_t kSecondSlotUs = 20 * kMs;

// The cast of a hole-filled run, and its hole: the slots the leader proposed while it could send
// to no one. `ahead` is the follower that hears it again, and accepts a slot above the hole.
struct Hole {
    NodeId leader = kNoNode;
    NodeId ahead = kNoNode;
    NodeId other = kNoNode;
    std::uint64_t cut_us = 0;
    Index from = 0;
    Index to = 0;
};

Index last_index(ScenarioContext& ctx, NodeId id) {
    auto s = status(ctx, id);
    return s ? s->log_last_index : 0;
}

std::string slots(Index from, Index to) {
    return from == to ? "slot " + std::to_string(from)
                      : "slots " + std::to_string(from) + "-" + std::to_string(to);
}

void hole_new_leader(ScenarioContext& ctx, Hole hole) {
    then_when(
        ctx, false, "another node leads", [&ctx] { return current_leader(ctx.cluster) != kNoNode; },
        [&ctx, hole] {
            const NodeId next = current_leader(ctx.cluster);
            ctx.note("hole-filled: " + node_name(next) + " leads " + epoch_of(ctx, next) +
                     ". The Promises of its phase 1 (its own acceptor's among them) report " +
                     slots(hole.to + 1, hole.to + 1) + " accepted and nothing in " +
                     slots(hole.from, hole.to) +
                     ": it proposes no-ops in the hole and the slot above again (PMS §3; PMMC)");
        });
}

void hole_chosen_above(ScenarioContext& ctx, Hole hole) {
    const Index above = hole.to + 1;
    when(
        ctx, kWatchUs, hole.cut_us + before_retransmit_us(ctx.config),
        node_name(hole.ahead) +
            " and the leader accept a slot above the hole before the leader sends the "
            "hole's Accepts again",
        [&ctx, hole, above] { return holds(ctx, hole.ahead, above) && holds(ctx, hole.leader, above); },
        [&ctx, hole, above] {
            ctx.note("hole-filled: " + node_name(hole.ahead) + " and the leader accepted slot " +
                     std::to_string(above) +
                     ": a majority, so it is chosen, above a hole. The leader crashes "
                     "before it sends the hole's Accepts again");
            ctx.cluster.crash(hole.leader, /*torn=*/false);
            ctx.cluster.network().heal();
            ctx.queue.after(700 * kMs, [&ctx, hole] { ctx.cluster.restart(hole.leader); });
            hole_new_leader(ctx, hole);
        });
}

void hole_open_one_link(ScenarioContext& ctx, Hole hole) {
    when(
        ctx, kWatchUs, hole.cut_us + before_retransmit_us(ctx.config) / 2, "the leader proposes a slot",
        [&ctx, hole] {
            const Index last = last_index(ctx, hole.leader);
            return last > hole.from ||
                   (last == hole.from && ctx.queue.now_us() >= hole.cut_us + kSecondSlotUs);
        },
        [&ctx, hole]() mutable {
            hole.to = last_index(ctx, hole.leader);
            ctx.cluster.network().uncut(hole.leader, hole.ahead);
            ctx.note("hole-filled: " + slots(hole.from, hole.to) + " proposed, their Accepts lost: a hole. " +
                     "The leader's Accepts reach " + node_name(hole.ahead) + " again (not " +
                     node_name(hole.other) + ")");
            hole_chosen_above(ctx, hole);
        });
}

}  // namespace

void figure_8_configure(SimConfig& c) {
    pin(c, 5);
    // The figure's entries are the leaders' own: no client writes any.
    c.clients = 0;
    c.safety_ms = 5000;
}

void figure_8(ScenarioContext& ctx) {
    ctx.note(
        "figure-8 (start): links only between n2 and the others, so only n2 can be elected: it leads "
        "term 1, and its no-op, index 1, is committed everywhere");
    star(ctx, 2, {1, 3, 4, 5});
    then_when(
        ctx, false, "n2 leads and every node committed index 1",
        [&ctx] { return leads(ctx, 2) && all_committed(ctx, 1); }, [&ctx] { figure_8_a(ctx); });
}

void hole_filled_configure(SimConfig& c) {
    pin(c, 3);
    // Enough clients, thinking briefly, that new slots keep coming while two of them wait on
    // slots in the hole.
    c.clients = 6;
    c.think_max_ms = 20;
    // The engines' default election timeouts (300-600 ms), twice calm()'s: the leader resends lost
    // Accepts after 150 ms instead of 100, time enough for a slot above the hole to be chosen.
    c.engine.election_timeout_min_ticks = 30;
    c.engine.election_timeout_max_ticks = 60;
}

void hole_filled(ScenarioContext& ctx) {
    then_when(
        ctx, false, "a leader has chosen a few slots",
        [&ctx] {
            const NodeId l = current_leader(ctx.cluster);
            return ctx.queue.now_us() >= 500 * kMs && l != kNoNode && commit_index(ctx, l) >= 3;
        },
        [&ctx] {
            Hole hole;
            hole.leader = current_leader(ctx.cluster);
            for (NodeId id : ctx.cluster.members())
                if (id != hole.leader) (hole.ahead == kNoNode ? hole.ahead : hole.other) = id;
            hole.cut_us = ctx.queue.now_us();
            hole.from = last_index(ctx, hole.leader) + 1;
            ctx.cluster.network().cut(hole.leader, hole.ahead);
            ctx.cluster.network().cut(hole.leader, hole.other);
            ctx.note("hole-filled: the leader " + node_name(hole.leader) + " (" + epoch_of(ctx, hole.leader) +
                     ") can no longer send to the others: the Accepts of the slots it proposes from " +
                     std::to_string(hole.from) + " on are lost (so are those on their way)");
            hole_open_one_link(ctx, hole);
        });
}

}  // namespace ballot::sim
