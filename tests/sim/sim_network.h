// The simulator's network: every message gets its own random delay (so messages reorder), and may
// be lost or duplicated; links can be cut one way or both (partitions), and healed.
//
// Two faults aim at the bugs that need an old message to arrive after the world has moved on (a
// new term, a new ballot, a value chosen): a long-tailed delay, so a few messages arrive hundreds
// of milliseconds to seconds after their neighbours, past election timeouts; and late replay, so a
// copy of a message sent long ago on a link is delivered again seconds later. Both are what a
// network may do to datagrams, and what a reconnecting transport that retransmits may do.
//
// SimNetwork is the fabric; each node talks to it through its SimEndpoint, a ballot::Network.
// A message is dropped if its link is cut when it is sent or when it would arrive, if the
// receiver is down when it is sent or when it would arrive, or if the receiver restarted since
// it was sent: on TCP, bytes addressed to a process die with its connection (common/transport.cc
// queues per connection and drops what has no connection), so a new process never reads what was
// sent to its predecessor; a replay or duplicate keeps the original's addressee. Bytes FROM a
// process that died may still arrive: the kernel sends what it had buffered.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/driver.h"
#include "common/random.h"
#include "tests/sim/event_queue.h"
#include "tests/sim/recorder.h"

namespace ballot::sim {

struct NetworkFaults {
    // Every message: uniform in [delay_min_us, delay_max_us].
    std::uint64_t delay_min_us = 200;
    std::uint64_t delay_max_us = 5000;
    // 1 in tail_per_10k messages is slowed by a further delay that is log-uniform in
    // [kTailFloorUs, tail_max_us]: as many messages late by 1-2 ms as by 1-2 s.
    std::uint32_t tail_per_10k = 0;
    std::uint64_t tail_max_us = 0;
    std::uint32_t loss_per_10k = 0;
    std::uint32_t dup_per_10k = 0;
    // Late replay: every link remembers its last replay_window messages; on 1 in replay_per_10k
    // sends, one of them picked at random is delivered again after a delay uniform in
    // [replay_min_us, replay_max_us].
    std::uint32_t replay_per_10k = 0;
    std::uint32_t replay_window = 0;
    std::uint64_t replay_min_us = 0;
    std::uint64_t replay_max_us = 0;
    // Slow links: on 1 in slow_link_per_10k sends, the link (one direction) turns congested for
    // slow_link_min_us to slow_link_max_us; every message sent on it meanwhile is late by one
    // extra delay (100 ms up to tail_max_us, at least 500 ms) drawn when it turned slow, so a
    // whole stream (an old leader's Accepts, a follower's replies) arrives late, in order, while
    // other links stay fast.
    std::uint32_t slow_link_per_10k = 0;
    std::uint64_t slow_link_min_us = 0;
    std::uint64_t slow_link_max_us = 0;
    // A message already in flight when its link is cut (sent before the cut) still arrives with
    // this probability (percent): it was past the break, or TCP retransmits it once the path is
    // back. With slow links this is how a deposed leader's Accept, or a follower's reply from an
    // older term, reaches a node cut off from everyone else, after the world moved on.
    std::uint32_t cut_spares_percent = 0;

    static constexpr std::uint64_t kTailFloorUs = 1000;
};

class SimNetwork {
public:
    // Called when a message arrives at an up node.
    using Deliver = std::function<void(NodeId from, NodeId to, const Bytes& payload)>;
    using IsUp = std::function<bool(NodeId)>;
    // How many times the node's process has been replaced (crashed) so far.
    using Incarnation = std::function<std::uint64_t(NodeId)>;

    SimNetwork(EventQueue& queue, Rng& rng, std::vector<NodeId> members, NetworkFaults faults,
               Deliver deliver, IsUp is_up, Incarnation incarnation);
    ~SimNetwork();

    Network& endpoint(NodeId id);

    void send(NodeId from, NodeId to, Bytes payload);

    bool linked(NodeId from, NodeId to) const { return !cut_.contains({from, to}); }
    void cut(NodeId from, NodeId to);
    void cut_both(NodeId a, NodeId b) {
        cut(a, b);
        cut(b, a);
    }
    void uncut(NodeId from, NodeId to) {
        if (cut_.erase({from, to}) > 0 && recorder) recorder->link_healed(from, to);
    }
    // Removes the cuts between a and b (both ways), leaving every other cut as it is.
    void heal_between(NodeId a, NodeId b) {
        uncut(a, b);
        uncut(b, a);
    }
    // Heals every cut and lets every stalled connection deliver what it held (tapes stay).
    void heal();
    bool partitioned() const { return !cut_.empty(); }

    // A recording of what `from` sends `to` from now on, whether or not it arrives (up to
    // kTapLimit messages, the first ones kept), for replay_tape(): the copies a retransmitting
    // transport or a middlebox may deliver again, late and in order, after the sender's world
    // moved on (a deposed leader's Accepts and heartbeats from an older term or ballot).
    void tap(NodeId from, NodeId to);
    // Delivers the recording again, in order, starting after `delay_us`, and stops recording.
    // Returns how many messages it replays.
    std::size_t replay_tape(NodeId from, NodeId to, std::uint64_t delay_us);
    void clear_tapes() { tapes_.clear(); }
    // A stalled connection: what `from` sends `to` from now on is held in order (in the sender's
    // socket buffer, the path dark but the connection alive) until release() delivers it as one
    // late, in-order burst starting after `delay_us` (TCP's retransmission once the path is back).
    void stall(NodeId from, NodeId to);
    std::size_t release(NodeId from, NodeId to, std::uint64_t delay_us);
    bool stalled(NodeId from, NodeId to) const { return stalled_.contains({from, to}); }
    // A lossy link (a flaky NIC, a congested path that drops): 1 in 10k * per_10k of what is
    // sent on it is lost, on top of the network's loss, until heal().
    void lossy(NodeId from, NodeId to, std::uint32_t per_10k) { link_loss_[{from, to}] = per_10k; }
    static constexpr std::size_t kTapLimit = 512;
    std::string describe_cuts() const;

    void set_faults(NetworkFaults faults) { faults_ = faults; }

    // The bulk lane (Network::send_bulk: snapshot chunks and acks), modelled as its own TCP
    // connection per link: in order, delayed like any message, lost when the link is cut or the
    // receiver is down or restarted (a dead connection), and, with the network's loss rate, a
    // frame may go missing (a connection reset mid-stream) so later ones arrive out of sequence.
    // Its randomness is its own stream, so a run with no snapshots draws exactly what it drew
    // before the lane existed.
    void send_bulk(NodeId from, NodeId to, Bytes payload);
    void set_bulk_deliver(Deliver deliver) { deliver_bulk_ = std::move(deliver); }
    std::uint64_t bulk_sent() const { return bulk_sent_; }
    // Peers `id` can send to right now (up and not cut off).
    bool reachable(NodeId from, NodeId peer) const;

    // Called with a line per message when set (BALLOT_SIM_TRACE).
    std::function<void(const std::string&)> trace;
    // Told of every message and cut when set (ballot-sim's diagram): the structured trace.
    Recorder* recorder = nullptr;

    std::uint64_t sent() const { return sent_; }
    std::uint64_t delivered() const { return delivered_; }
    std::uint64_t dropped() const { return dropped_; }
    // Arrived after the receiver restarted: addressed to its previous process.
    std::uint64_t stale_incarnation() const { return stale_incarnation_; }
    std::uint64_t duplicated() const { return duplicated_; }
    std::uint64_t long_delayed() const { return long_delayed_; }  // tail delay of 100 ms or more
    std::uint64_t replayed() const { return replayed_; }
    std::uint64_t slow_links() const { return slow_links_; }          // times a link turned slow
    std::uint64_t spared_by_cuts() const { return spared_; }          // in flight through a cut, arrived
    std::uint64_t tape_replayed() const { return tape_replayed_; }    // messages replayed from a tape
    std::uint64_t stall_released() const { return stall_released_; }  // held by a stall, then sent

private:
    class Endpoint;
    struct Sent {
        std::uint64_t id;
        std::shared_ptr<const Bytes> payload;
        std::uint64_t to_incarnation;  // the receiver's process when it was sent
        std::uint64_t sent_us;
    };
    // The last replay_window messages sent on one link, oldest overwritten first.
    struct History {
        std::vector<Sent> ring;
        std::size_t next = 0;
    };
    struct Congestion {
        std::uint64_t until_us = 0;
        std::uint64_t extra_us = 0;
    };

    std::uint64_t normal_delay(NodeId from, NodeId to);
    std::uint64_t congestion_delay(NodeId from, NodeId to);
    std::uint64_t tail_delay();
    void remember(NodeId from, NodeId to, const Sent& sent);
    // At arrival: is the link cut, and was the message not spared by the cut?
    bool lost_in_cut(NodeId from, NodeId to, std::uint64_t sent_us);
    void replay_old(NodeId from, NodeId to);
    void schedule(NodeId from, NodeId to, const Sent& sent, std::uint64_t delay, const char* what);
    // Schedules `burst` in order, the first after `delay_us`, each a microsecond after the last.
    void schedule_burst(NodeId from, NodeId to, const std::vector<Sent>& burst, std::uint64_t delay_us,
                        const char* what);

    EventQueue& queue_;
    Rng& rng_;
    std::vector<NodeId> members_;
    NetworkFaults faults_;
    Deliver deliver_;
    IsUp is_up_;
    Incarnation incarnation_;
    std::vector<std::unique_ptr<Endpoint>> endpoints_;
    Deliver deliver_bulk_;
    Rng bulk_rng_;
    std::map<std::pair<NodeId, NodeId>, std::uint64_t> bulk_last_arrival_us_;
    std::uint64_t bulk_sent_ = 0;
    // (from, to) links that drop everything sent on them, and since when they are cut.
    std::map<std::pair<NodeId, NodeId>, std::uint64_t> cut_;
    std::map<std::pair<NodeId, NodeId>, History> history_;
    std::map<std::pair<NodeId, NodeId>, Congestion> congestion_;
    std::map<std::pair<NodeId, NodeId>, std::vector<Sent>> tapes_;
    std::map<std::pair<NodeId, NodeId>, std::vector<Sent>> stalled_;
    std::map<std::pair<NodeId, NodeId>, std::uint32_t> link_loss_;
    std::uint64_t next_id_ = 1;
    std::uint64_t sent_ = 0;
    std::uint64_t delivered_ = 0;
    std::uint64_t dropped_ = 0;
    std::uint64_t stale_incarnation_ = 0;
    std::uint64_t duplicated_ = 0;
    std::uint64_t long_delayed_ = 0;
    std::uint64_t replayed_ = 0;
    std::uint64_t slow_links_ = 0;
    std::uint64_t spared_ = 0;
    std::uint64_t tape_replayed_ = 0;
    std::uint64_t stall_released_ = 0;
};

}  // namespace ballot::sim
