// A structured record of one simulated run, for ballot-sim's space-time diagram
// (tests/sim/diagram.h). It is fed by the same hooks as the text trace (BALLOT_SIM_TRACE): the
// network reports every message it sends, delivers or loses, the drivers describe each message
// (Engine::describe, the text --trace prints), and the cluster reports crashes, restarts,
// pauses, disk writes and fsyncs, and each node's status after every step.
//
// Recording only observes: it draws no random number and schedules no event, so a run with a
// recorder is the same run as without one.
//
// To bound the size of what is kept, only a window of simulated time is recorded: messages sent
// in it (with every arrival, even after it ends) and marks in it. What falls outside is counted.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/driver.h"
#include "common/engine.h"

namespace ballot::sim {

class EventQueue;

// One protocol message, as sent.
struct RecordedMessage {
    NodeId from = kNoNode;
    NodeId to = kNoNode;
    std::uint64_t sent_us = 0;
    std::string what;  // Engine::describe(), as --trace prints it
    bool heartbeat = false;
    bool bulk = false;  // the snapshot lane (Network::send_bulk)
};

// Where one copy of a message ended: delivered, or lost (a duplicate or a late replay is another
// copy of the same message, so one message may have several).
struct RecordedArrival {
    std::size_t message = 0;  // index in Recording::messages
    std::uint64_t at_us = 0;
    bool delivered = false;
    std::string how;  // "arrives", "replayed, arrives", ...; or why it was lost: "link cut", ...
};

// Something that happened on one node's lane (or, with node 0, to the whole cluster).
struct RecordedMark {
    enum class Kind { crash, restart, pause, role, commit, persist, cut, note };
    Kind kind = Kind::note;
    NodeId node = kNoNode;  // kNoNode: the whole cluster (a fault injector's or scenario's note)
    std::uint64_t at_us = 0;
    std::uint64_t until_us = 0;  // pause, persist, cut: when it ended (0: still going at the end)
    NodeId peer = kNoNode;       // cut: the node this one cannot send to
    std::string text;
};

const char* to_string(RecordedMark::Kind kind);

struct Recording {
    std::string engine;
    std::uint64_t seed = 0;
    std::string scenario;
    std::string scenario_summary;  // what the scenario does (Scenario::summary)
    int nodes = 0;
    std::uint64_t from_us = 0;  // the window
    std::uint64_t until_us = 0;
    std::uint64_t end_us = 0;  // when the run ended (it may go on long after the window)
    std::string config;        // SimConfig::describe()
    std::string result;        // SimReport::summary()
    bool passed = false;
    std::vector<RecordedMessage> messages;
    std::vector<RecordedArrival> arrivals;
    std::vector<RecordedMark> marks;
    std::uint64_t messages_before = 0;  // sent before the window, not drawn
    std::uint64_t messages_after = 0;   // sent after it
    std::uint64_t marks_outside = 0;
    std::uint64_t messages_over_limit = 0;  // in the window, past kMessageLimit
};

class Recorder {
public:
    // At most this many messages are kept (a safety net for a long window on a busy seed).
    static constexpr std::size_t kMessageLimit = 60'000;

    Recorder(std::uint64_t from_us, std::uint64_t until_us);

    // The simulator's clock; set before the run starts.
    void set_clock(const EventQueue* queue) { queue_ = queue; }
    std::uint64_t now_us() const;
    bool in_window() const;

    // The driver traced a message (TracedMessage): a sent one is described here just before the
    // network is handed it, so the next send on that link takes this text.
    void described(const TracedMessage& m);
    // The network took a message (its own number `id`, unique per lane) ...
    void sent(std::uint64_t id, NodeId from, NodeId to, bool bulk = false);
    // ... and one copy of it arrived, or was lost (on the way, or at once when sent).
    void arrived(std::uint64_t id, bool bulk, const std::string& how);
    void lost(std::uint64_t id, bool bulk, const std::string& why);

    void crashed(NodeId node, const std::string& text);
    void restarted(NodeId node, const std::string& text);
    void paused(NodeId node, std::uint64_t until_us);
    // A batch handed to the disk, and the fsync that made everything written so far durable.
    void disk_written(NodeId node, const std::string& text);
    void disk_durable(NodeId node);
    void link_cut(NodeId from, NodeId to);
    void link_healed(NodeId from, NodeId to);
    // A node's status after a step: a role, term or ballot change, or a commit, becomes a mark.
    void status(NodeId node, const EngineStatus& status);
    void note(const std::string& text);
    // The run failed at `at_us` (a broken invariant, no progress, ...): a note across the lanes.
    void failed(std::uint64_t at_us, const std::string& what);

    // The record, with the run's description filled in by the caller.
    Recording finish(Recording header);

private:
    struct Pending {
        std::string what;
        bool heartbeat = false;
    };
    void mark(RecordedMark m);
    void close_cut(std::pair<NodeId, NodeId> link);

    const EventQueue* queue_ = nullptr;
    std::uint64_t from_us_;
    std::uint64_t until_us_;
    std::vector<RecordedMessage> messages_;
    std::vector<RecordedArrival> arrivals_;
    std::vector<RecordedMark> marks_;
    std::uint64_t messages_before_ = 0;
    std::uint64_t messages_after_ = 0;
    std::uint64_t marks_outside_ = 0;
    std::uint64_t over_limit_ = 0;
    std::map<std::pair<NodeId, NodeId>, Pending> described_;       // by (from, to)
    std::map<std::pair<bool, std::uint64_t>, std::size_t> by_id_;  // (bulk, id) -> message
    std::map<NodeId, std::uint64_t> unsynced_since_;               // first write not yet durable
    std::map<NodeId, std::string> unsynced_what_;
    std::map<NodeId, EngineStatus> last_status_;                  // this incarnation
    std::map<std::pair<NodeId, NodeId>, std::size_t> open_cuts_;  // link -> index in marks_
};

}  // namespace ballot::sim
