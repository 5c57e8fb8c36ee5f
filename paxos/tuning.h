// The knobs of the basic Paxos engine, all in ticks or counts, derived from EngineConfig.
#pragma once

#include <algorithm>
#include <cstdint>

#include "common/engine.h"

namespace ballot::paxos {

struct Tuning {
    // Slots this node works on at once (commands and gap fills together). Each in-flight slot has
    // at most one request outstanding per peer, so this also bounds unanswered messages per peer;
    // a larger window lets one proposer keep many slots' two round trips overlapping.
    std::size_t max_inflight_slots = 256;
    // While a membership change is chosen and not yet governing, gap filling may run this many
    // no-op instances at once, even past max_inflight_slots (README "Membership change"): the
    // change governs only once the α - 1 slots after it are decided, and meanwhile no command
    // above them can be handed out. With a window of one slot that was 1,023 sequential instances
    // (two round trips and two fsyncs each), about 25 s on the simulator (seed 5 with membership
    // changes). No-op instances carry no client data and batch into one payload per peer, so the
    // bound still caps the messages in flight. 256: the default window, α / 4.
    std::size_t max_inflight_fills = 256;
    // Commands waiting for room in the window; propose() answers `overloaded` beyond this.
    std::size_t max_pending_proposals = 65536;

    // A phase that gets no majority answer for this long is abandoned and retried (with backoff)
    // under a higher ballot: a message or an acceptor may be lost.
    std::uint32_t attempt_timeout_ticks = 30;
    // Bulk catch-up: when the known chosen prefix has not grown for this long although a higher
    // slot is known in use, this node asks a peer for the chosen values it lacks (ChosenRequest),
    // page after page while the pages teach it something. Shorter than gap_timeout_ticks: asking
    // comes before filling.
    std::uint32_t chosen_wait_ticks = 15;
    // A ChosenRequest unanswered for this long is taken as lost (or its peer as down): the next
    // peer is asked.
    std::uint32_t chosen_timeout_ticks = 30;
    // Pages (ChosenValues, each within max_message_bytes) one ChosenRequest is answered with, in
    // one payload: one page per round trip relearned a 13,859-slot log at ~600 slots a second over
    // 120-byte messages, too slow for a node replaced after the liveness phase began (simulator
    // seed 220045 with membership changes).
    std::uint32_t chosen_pages_per_request = 16;
    // Bytes of chosen values, as encoded, that one answer to a ChosenRequest reaches (or
    // max_inflight_bytes, if that is less). Each page holds at most this much (or
    // max_message_bytes, if that is less), and the answer ends with the page that reaches it, so
    // an answer holds less than twice this. Pages are not cut to max_inflight_bytes as well: with
    // the simulator's small ones (at most 10,000 bytes) against 1 MiB messages, pages of that size
    // relearned a log too slowly (seeds 224722860 and 224722877, membership changes, paxos).
    // The node asked builds the whole answer in one step on its runtime thread, the thread that
    // also serves its clients: this is how long one step of a peer's catch-up can hold them up.
    // Measured with `ballot-bench --protocol paxos --keys 100000 --fail-follower-for 30
    // --duration 36`, write p99 during the catch-up over write p99 before the kill: 2.35-3.12
    // before this bound (pages of max_message_bytes until max_inflight_bytes: 2 MiB and more per
    // answer), 1.83-1.92 at 512 KiB, 1.05-1.47 at 256 KiB, 0.92-1.00 at 128 KiB; caught up in
    // 0.5-0.9 s at each.
    std::size_t chosen_answer_bytes = 128 << 10;
    // Gap filling: when the known chosen prefix has not grown for this long although a higher slot
    // is known in use, this node runs Paxos with a no-op in every unknown slot that was already in
    // use when the wait began.
    std::uint32_t gap_timeout_ticks = 30;
    // A read whose quorum query has no majority answer for this long reports ok = false.
    std::uint32_t read_timeout_ticks = 30;
    // How often a node asks a majority how far the log extends (a read with no reader), so that a
    // restarted node, or one that missed the last Learn of a quiet cluster, finds what it lacks.
    std::uint32_t probe_interval_ticks = 60;

    // Randomized exponential backoff against dueling proposers (Paxos Made Simple §2.4, see
    // README "Livelock"): after its k-th consecutive failure in a slot a proposer waits
    // 1 + uniform[0, min(backoff_max_ticks, backoff_base_ticks * 2^(k-1))] ticks before it retries.
    // backoff_base_ticks = 0 retries on the very next tick: no backoff at all (tests only).
    std::uint32_t backoff_base_ticks = 2;
    std::uint32_t backoff_max_ticks = 60;

    static Tuning from(const EngineConfig& c) {
        Tuning t;
        t.max_inflight_slots = std::max<std::size_t>(1, c.max_inflight_messages);
        t.max_pending_proposals = c.max_pending_proposals;
        t.attempt_timeout_ticks = std::max<std::uint32_t>(1, c.election_timeout_min_ticks);
        // Two heartbeats: far longer than a healthy slot takes (milliseconds), short enough that
        // the slots a crashed proposer left half-done stop blocking the others quickly.
        t.gap_timeout_ticks = std::max<std::uint32_t>(1, 2 * c.heartbeat_ticks);
        // One heartbeat: a peer's bulk answer (many slots per round trip) should come before the
        // no-op instances are started (one slot each, and phase 1 disturbs live proposers).
        t.chosen_wait_ticks = std::max<std::uint32_t>(1, c.heartbeat_ticks);
        t.chosen_timeout_ticks = std::max<std::uint32_t>(1, c.election_timeout_min_ticks);
        t.read_timeout_ticks = std::max<std::uint32_t>(1, c.election_timeout_min_ticks);
        t.probe_interval_ticks = std::max<std::uint32_t>(1, c.election_timeout_max_ticks);
        t.backoff_max_ticks = std::max<std::uint32_t>(t.backoff_base_ticks, c.election_timeout_max_ticks);
        return t;
    }
};

}  // namespace ballot::paxos
