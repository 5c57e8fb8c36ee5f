// WAN emulation for the peer transport (issue 15, ballot-server --link-delay MS[:JITTER_MS]).
//
// On loopback the engines look alike, because fsync and CPU dominate; the differences the
// protocols are about (one round trip to commit for Raft and Multi-Paxos, two for basic Paxos)
// show only when messages take time to travel. With a link delay every peer frame (control and
// bulk lanes alike, heartbeats included) waits in the sender's transport for the one-way delay
// before it is handed to the socket. Jitter is uniform in [-JITTER, +JITTER] per frame, but a
// frame is never delivered before the one sent ahead of it on the same connection, as TCP would
// not reorder them: a frame's delivery time is max(its own, the previous frame's).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace ballot {

// One-way delays above this are refused: beyond 10 s every election and request timeout fires
// before a message arrives, so such a cluster measures nothing.
inline constexpr std::uint32_t kMaxLinkDelayMs = 10000;

struct LinkDelay {
    std::uint32_t delay_ms = 0;   // one way, every peer frame
    std::uint32_t jitter_ms = 0;  // each frame's delay is delay_ms + uniform[-jitter_ms, +jitter_ms]

    bool enabled() const { return delay_ms > 0 || jitter_ms > 0; }
    // "20 ms" or "20 ms +- 5 ms", for logs and reports.
    std::string str() const;
};

// "MS" or "MS:JITTER_MS", plain decimal digits, each at most kMaxLinkDelayMs, and the jitter at
// most the delay (so that no frame's delay is negative). nullopt with `error` naming the problem.
std::optional<LinkDelay> parse_link_delay(const std::string& text, std::string& error);

// The delay stage's timing rule, without a clock: the transport feeds it each frame's send time
// and a jitter draw, and holds the frame until the time it returns. One per connection.
class DelayLine {
public:
    using Clock = std::chrono::steady_clock;

    explicit DelayLine(LinkDelay delay) : delay_(delay) {}

    // The delivery time of a frame sent at `sent`, with `jitter` drawn from [-jitter_ms,
    // +jitter_ms] (clamped to it): sent + delay_ms + jitter, but never before the previous
    // frame's delivery time, so frames on one connection stay in order.
    Clock::time_point due(Clock::time_point sent, std::chrono::microseconds jitter);

    const LinkDelay& delay() const { return delay_; }

private:
    LinkDelay delay_;
    std::optional<Clock::time_point> last_due_;
};

}  // namespace ballot
