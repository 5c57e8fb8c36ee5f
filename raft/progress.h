// A leader's replication state for one follower: Figure 2's nextIndex[] and matchIndex[] entries,
// plus the flow control the dissertation describes for a practical leader (§10.2: pipelining
// AppendEntries, a bounded window of unacknowledged messages) in the shape of etcd's Progress.
//
//   probe      the leader does not know where the follower's log matches its own: it sends one
//              AppendEntries at a time and waits for the answer (§5.3 "the leader decrements
//              nextIndex and retries"), using the follower's conflict hint to skip back quickly.
//   replicate  the follower's log is known to match through matchIndex: the leader streams
//              entries, advancing nextIndex optimistically as it sends, with at most
//              max_inflight_messages unacknowledged messages and (etcd's MaxInflightBytes) no new
//              message once a window of entry bytes is unacknowledged. The window adapts (below).
//   snapshot   the follower needs entries the leader has compacted away (extended paper §7): a
//              snapshot transfer is in flight (etcd's StateSnapshot). Nothing but heartbeats is
//              sent until the transfer is reported, or the follower is found to match again.
//
// The byte window starts at initial_inflight_bytes and doubles, up to max_inflight_bytes, after
// each heartbeat interval in which it filled and the follower did not gain on the leader (its lag,
// the leader's last index minus matchIndex, was no lower than an interval before); it halves, down
// to where it started, after an interval in which less than half of it was ever in flight (a
// window used more than half would fill again at once once halved). Messages carry at most half
// of it, so two are in flight. What a follower far behind is sent per round trip is what it
// writes between two syncs, and on a disk it shares with the serving nodes their syncs wait for
// those bytes too: a small window keeps the writes' latency while a follower on a healthy disk
// catches up, and a follower whose acknowledgements come too slowly for a small window to outrun
// the writes (a slow disk) gets a large one, so it still gains and keeps its catch-up hold
// (common/catch_up_holds.h; README "Catching up without holding up the writes").
//
// Invariant: matchIndex < nextIndex.
#pragma once

#include <cstdint>
#include <deque>

#include "common/types.h"

namespace ballot::raft {

class Progress {
public:
    enum class State { probe, replicate, snapshot };

    Progress(Index next_index, std::size_t max_inflight_messages, std::size_t initial_inflight_bytes,
             std::size_t max_inflight_bytes);

    // Figure 2 names: highest index known replicated on the follower; next index to send it.
    Index matchIndex = 0;
    Index nextIndex = 1;

    // §6.2 check-quorum: the follower answered during the current election-timeout period.
    bool recent_active = false;
    // The leader's tick count when the follower last answered (a membership change must leave a
    // quorum of voters that answered within an election timeout, raft/membership.cc).
    std::uint64_t last_heard_tick = 0;
    // The highest commit index the follower was sent in a form it can apply (followers apply
    // min(leaderCommit, last index the message proved to match)).
    Index commit_sent = 0;
    // The last entry appended for a command or change this follower forwarded (Propose,
    // ForwardChange): its client waits until the follower applies it, so while it is above
    // commit_sent the follower hears every new commitIndex at once (Raft::flush_leader). Every
    // other follower learns it from the next AppendEntries, heartbeat or ReadIndex round.
    Index forwarded_through = 0;
    // §6.4 ReadIndex: the highest read context the follower has echoed in this term.
    std::uint64_t read_context_acked = 0;

    State state() const { return state_; }
    // Unacknowledged AppendEntries in replicate (bounded by max_inflight_messages).
    std::size_t inflight() const { return inflight_.size(); }
    std::size_t max_inflight() const { return max_inflight_messages_; }
    // The entry bytes those messages carry.
    std::size_t inflight_bytes() const { return inflight_bytes_; }
    // No new message once this many entry bytes are unacknowledged (the adaptive window).
    std::size_t window_bytes() const { return window_bytes_; }
    // The most entry bytes one AppendEntries may carry now: half the window, within `max_message_bytes`.
    std::size_t message_bytes(std::size_t max_message_bytes) const;
    // Nothing more may be sent now: a probe is outstanding, the window is full, or a snapshot is
    // on its way.
    bool paused() const;

    // An AppendEntries ending at `last_index`, carrying `entry_bytes` of entries (0: an empty
    // probe), was sent.
    void sent(Index last_index, std::size_t entry_bytes);

    // A success response said the follower matches through `match_index`. Returns true if that
    // was news (matchIndex advanced). Switches probe -> replicate once a probe has succeeded; in
    // snapshot only matchIndex moves.
    bool on_success(Index match_index);

    // An AppendEntries still unacknowledged after this many heartbeat intervals (more than
    // kLostAfterIntervals - 1 whole intervals) is taken as lost. Long enough that a follower
    // busy with an fsync is not mistaken for a lost message; short next to an election timeout.
    static constexpr std::uint64_t kLostAfterIntervals = 3;

    // One heartbeat interval has passed; the leader's log ends at `last_index`. Adapts the window.
    // Returns true if the oldest unacknowledged AppendEntries was sent kLostAfterIntervals
    // intervals ago: it was most likely lost (the transport drops what it was sending when a
    // connection breaks), so this falls back to probe from matchIndex + 1, and the caller resends.
    bool on_heartbeat_interval(Index last_index);

    // A rejection of the AppendEntries whose prev_log_index was `rejected`, with the leader's
    // reading of the follower's hint as `next_hint`. Returns false for a stale rejection (one that
    // answers a message sent before the follower's state was known better); otherwise moves
    // nextIndex back, enters probe, and returns true.
    bool on_reject(Index rejected, Index next_hint);

    // §7: the follower needs a snapshot; the caller has asked the runtime to send one.
    void become_snapshot();
    // The follower matches through matchIndex again, where the leader's log still reaches (its
    // snapshot was installed): snapshot -> replicate from matchIndex + 1.
    void resume_after_snapshot();
    // The transfer ended. ok: the follower holds everything through `index`, durably; replicate
    // from there. !ok (failed, or never reported): probe from matchIndex + 1, paused until the
    // follower next answers (a heartbeat), so a failing transfer is asked for again at the pace
    // of heartbeats, not in a loop.
    void on_snapshot_sent(Index index, bool ok);

private:
    void become_probe();
    void become_replicate();
    void adapt_window(Index last_index);

    State state_ = State::probe;
    bool probe_sent_ = false;     // probe: waiting for the answer to the outstanding probe
    Index probe_last_index_ = 0;  // probe: the last index the outstanding probe carried
    std::size_t probe_bytes_ = 0;  // probe: the entry bytes it carried
    struct InFlight {
        Index last_index = 0;        // the last entry the message carried
        std::uint64_t interval = 0;  // the heartbeat interval in which it was sent
        std::size_t bytes = 0;       // the entry bytes it carried
    };
    void push_inflight(Index last_index, std::size_t bytes);
    void clear_inflight();
    std::deque<InFlight> inflight_;  // replicate: unacknowledged messages, oldest first
    std::size_t inflight_bytes_ = 0;  // the sum of their bytes
    std::uint64_t interval_ = 0;      // heartbeat intervals elapsed
    std::size_t max_inflight_messages_;
    std::size_t initial_window_bytes_;     // what the window starts at, and goes back to
    std::size_t max_window_bytes_;         // what it grows to at most (max_inflight_bytes)
    std::size_t window_bytes_;             // the window now
    std::size_t peak_inflight_bytes_ = 0;  // the most bytes in flight during this heartbeat interval
    Index lag_ = kMaxIndex;                // the follower's lag at the last interval's end (none: max)
};

}  // namespace ballot::raft
