#include "tests/sim/sim_network.h"

#include <algorithm>
#include <stdexcept>

namespace ballot::sim {

class SimNetwork::Endpoint final : public Network {
public:
    Endpoint(SimNetwork& net, NodeId self) : net_(net), self_(self) {}
    void send(NodeId to, Bytes payload) override { net_.send(self_, to, std::move(payload)); }
    void send_bulk(NodeId to, Bytes payload) override { net_.send_bulk(self_, to, std::move(payload)); }
    bool reachable(NodeId peer) const override { return net_.reachable(self_, peer); }
    NodeId self() const { return self_; }

private:
    SimNetwork& net_;
    NodeId self_;
};

SimNetwork::SimNetwork(EventQueue& queue, Rng& rng, std::vector<NodeId> members, NetworkFaults faults,
                       Deliver deliver, IsUp is_up, Incarnation incarnation)
    : queue_(queue),
      rng_(rng),
      members_(std::move(members)),
      faults_(faults),
      deliver_(std::move(deliver)),
      is_up_(std::move(is_up)),
      incarnation_(std::move(incarnation)),
      // A copy of the main stream seeds the lane without drawing from it.
      bulk_rng_(Rng(rng).next() ^ 0xB01C5EEDull) {
    for (NodeId id : members_) endpoints_.push_back(std::make_unique<Endpoint>(*this, id));
}

SimNetwork::~SimNetwork() = default;

Network& SimNetwork::endpoint(NodeId id) {
    for (auto& e : endpoints_)
        if (e->self() == id) return *e;
    throw std::out_of_range("no endpoint for node " + std::to_string(id));
}

bool SimNetwork::reachable(NodeId from, NodeId peer) const {
    return peer != from && linked(from, peer) && is_up_(peer);
}

void SimNetwork::send(NodeId from, NodeId to, Bytes payload) {
    ++sent_;
    const std::uint64_t id = next_id_++;
    if (recorder) recorder->sent(id, from, to);
    if (auto tape = tapes_.find({from, to}); tape != tapes_.end() && tape->second.size() < kTapLimit)
        tape->second.push_back(
            Sent{id, std::make_shared<const Bytes>(payload), incarnation_(to), queue_.now_us()});
    if (!linked(from, to) || !is_up_(to)) {
        // A down receiver has no connection: what the sender writes goes to a dead socket.
        ++dropped_;
        const char* why = linked(from, to) ? "receiver down" : "link cut";
        if (trace) trace("  msg #" + std::to_string(id) + " dropped (" + why + ")");
        if (recorder) recorder->lost(id, false, std::string("dropped when sent: ") + why);
        return;
    }
    Sent sent{id, std::make_shared<const Bytes>(std::move(payload)), incarnation_(to), queue_.now_us()};
    // Replay picks among messages sent before this one, so an old copy is what comes back.
    if (faults_.replay_window > 0 && rng_.chance(faults_.replay_per_10k, 10000)) replay_old(from, to);
    if (faults_.replay_window > 0) remember(from, to, sent);
    if (auto held = stalled_.find({from, to}); held != stalled_.end()) {
        held->second.push_back(sent);
        if (trace) trace("  msg #" + std::to_string(id) + " held (connection stalled)");
        return;
    }
    auto link_loss = link_loss_.find({from, to});
    if (rng_.chance(faults_.loss_per_10k, 10000) ||
        (link_loss != link_loss_.end() && rng_.chance(link_loss->second, 10000))) {
        ++dropped_;
        if (trace) trace("  msg #" + std::to_string(id) + " dropped");
        if (recorder) recorder->lost(id, false, "lost by the network");
        return;
    }
    schedule(from, to, sent, normal_delay(from, to), "arrives");
    if (rng_.chance(faults_.dup_per_10k, 10000)) {
        ++duplicated_;
        schedule(from, to, sent, normal_delay(from, to), "duplicate arrives");
    }
}

void SimNetwork::send_bulk(NodeId from, NodeId to, Bytes payload) {
    const std::uint64_t id = ++bulk_sent_;
    if (recorder) recorder->sent(id, from, to, /*bulk=*/true);
    if (!linked(from, to) || !is_up_(to)) {
        if (recorder) recorder->lost(id, true, "dropped when sent: no connection");
        return;
    }
    if (bulk_rng_.chance(faults_.loss_per_10k, 10000)) {
        if (recorder) recorder->lost(id, true, "lost (connection reset)");
        return;
    }
    // In order on its link: never before the frame sent ahead of it.
    std::uint64_t& last = bulk_last_arrival_us_[{from, to}];
    std::uint64_t arrival =
        std::max(queue_.now_us() + bulk_rng_.between(faults_.delay_min_us, faults_.delay_max_us), last + 1);
    last = arrival;
    queue_.at(arrival, [this, id, from, to, addressee = incarnation_(to), sent_us = queue_.now_us(),
                        payload = std::make_shared<const Bytes>(std::move(payload))] {
        if (lost_in_cut(from, to, sent_us) || !is_up_(to) || incarnation_(to) != addressee) {
            if (recorder) recorder->lost(id, true, "connection gone");
            return;
        }
        if (recorder) recorder->arrived(id, true, "arrives");
        if (deliver_bulk_) deliver_bulk_(from, to, *payload);
    });
}

std::uint64_t SimNetwork::normal_delay(NodeId from, NodeId to) {
    std::uint64_t delay = rng_.between(faults_.delay_min_us, faults_.delay_max_us);
    if (faults_.tail_max_us > 0 && rng_.chance(faults_.tail_per_10k, 10000)) delay += tail_delay();
    return delay + congestion_delay(from, to);
}

std::uint64_t SimNetwork::congestion_delay(NodeId from, NodeId to) {
    if (faults_.slow_link_per_10k == 0) return 0;  // off, or healed for the liveness phase
    const std::uint64_t now = queue_.now_us();
    Congestion& c = congestion_[{from, to}];
    if (now >= c.until_us && rng_.chance(faults_.slow_link_per_10k, 10000)) {
        ++slow_links_;
        c.until_us = now + rng_.between(faults_.slow_link_min_us, faults_.slow_link_max_us);
        c.extra_us = rng_.between(100'000, std::max<std::uint64_t>(faults_.tail_max_us, 500'000));
        if (trace)
            trace("  link n" + std::to_string(from) + " -> n" + std::to_string(to) + " slow (+" +
                  std::to_string(c.extra_us / 1000) + " ms) until " + std::to_string(c.until_us / 1000) +
                  " ms");
    }
    return now < c.until_us ? c.extra_us : 0;
}

// Log-uniform in [kTailFloorUs, tail_max_us], by whole doublings so that it stays integer (and
// therefore the same on every machine): pick one octave [f*2^k, f*2^(k+1)] uniformly, then a
// point in it uniformly. Each octave is as likely as any other, so a message late by seconds is
// as common as one late by a millisecond: the heavy tail that lets a message from an old term or
// ballot arrive after elections have moved on.
std::uint64_t SimNetwork::tail_delay() {
    const std::uint64_t floor = NetworkFaults::kTailFloorUs;
    if (faults_.tail_max_us <= floor) return rng_.between(0, faults_.tail_max_us);
    int octaves = 0;
    while ((floor << (octaves + 1)) < faults_.tail_max_us) ++octaves;
    const int k = static_cast<int>(rng_.between(0, static_cast<std::uint64_t>(octaves)));
    const std::uint64_t lo = floor << k;
    const std::uint64_t hi = std::min(lo * 2, faults_.tail_max_us);
    const std::uint64_t delay = rng_.between(lo, hi);
    if (delay >= 100'000) ++long_delayed_;
    return delay;
}

void SimNetwork::remember(NodeId from, NodeId to, const Sent& sent) {
    History& h = history_[{from, to}];
    if (h.ring.size() < faults_.replay_window) {
        h.ring.push_back(sent);
    } else {
        h.ring[h.next] = sent;
        h.next = (h.next + 1) % h.ring.size();
    }
}

void SimNetwork::replay_old(NodeId from, NodeId to) {
    auto it = history_.find({from, to});
    if (it == history_.end() || it->second.ring.empty()) return;
    const std::vector<Sent>& ring = it->second.ring;
    const Sent& old = ring[rng_.between(0, ring.size() - 1)];
    ++replayed_;
    schedule(from, to, old, rng_.between(faults_.replay_min_us, faults_.replay_max_us), "replayed, arrives");
}

void SimNetwork::schedule(NodeId from, NodeId to, const Sent& sent, std::uint64_t delay, const char* what) {
    const std::uint64_t id = sent.id;
    if (trace) trace("  msg #" + std::to_string(id) + " " + what + " in " + std::to_string(delay) + " us");
    queue_.after(delay, [this, from, to, id, what, payload = sent.payload, addressee = sent.to_incarnation,
                         sent_us = sent.sent_us] {
        const char* lost = lost_in_cut(from, to, sent_us)  ? "link cut"
                           : !is_up_(to)                   ? "receiver down"
                           : incarnation_(to) != addressee ? "receiver restarted since it was sent"
                                                           : nullptr;
        if (lost != nullptr) {
            ++dropped_;
            if (incarnation_(to) != addressee) ++stale_incarnation_;
            if (trace)
                trace("msg #" + std::to_string(id) + " n" + std::to_string(from) + " -> n" +
                      std::to_string(to) + " lost (" + lost + ")");
            if (recorder) recorder->lost(id, false, lost);
            return;
        }
        ++delivered_;
        if (trace)
            trace("deliver msg #" + std::to_string(id) + " n" + std::to_string(from) + " -> n" +
                  std::to_string(to));
        if (recorder) recorder->arrived(id, false, what);
        deliver_(from, to, *payload);
    });
}

void SimNetwork::schedule_burst(NodeId from, NodeId to, const std::vector<Sent>& burst,
                                std::uint64_t delay_us, const char* what) {
    for (const Sent& s : burst) schedule(from, to, s, delay_us++, what);
}

void SimNetwork::tap(NodeId from, NodeId to) {
    tapes_.try_emplace({from, to});
}

std::size_t SimNetwork::replay_tape(NodeId from, NodeId to, std::uint64_t delay_us) {
    auto it = tapes_.find({from, to});
    if (it == tapes_.end()) return 0;
    const std::vector<Sent> tape = std::move(it->second);
    tapes_.erase(it);
    if (trace)
        trace("  replay the tape n" + std::to_string(from) + " -> n" + std::to_string(to) + ": " +
              std::to_string(tape.size()) + " messages");
    tape_replayed_ += tape.size();
    schedule_burst(from, to, tape, delay_us, "replayed from a tape, arrives");
    return tape.size();
}

void SimNetwork::stall(NodeId from, NodeId to) {
    stalled_.try_emplace({from, to});
}

std::size_t SimNetwork::release(NodeId from, NodeId to, std::uint64_t delay_us) {
    auto it = stalled_.find({from, to});
    if (it == stalled_.end()) return 0;
    const std::vector<Sent> held = std::move(it->second);
    stalled_.erase(it);
    if (trace)
        trace("  release the stalled connection n" + std::to_string(from) + " -> n" + std::to_string(to) +
              ": " + std::to_string(held.size()) + " messages");
    stall_released_ += held.size();
    schedule_burst(from, to, held, delay_us, "released by a stalled connection, arrives");
    return held.size();
}

void SimNetwork::heal() {
    if (recorder)
        for (const auto& [link, since] : cut_) recorder->link_healed(link.first, link.second);
    cut_.clear();
    link_loss_.clear();
    std::vector<std::pair<NodeId, NodeId>> links;
    for (const auto& [link, held] : stalled_) links.push_back(link);
    for (auto [from, to] : links) release(from, to, normal_delay(from, to));
}

void SimNetwork::cut(NodeId from, NodeId to) {
    cut_.emplace(std::pair{from, to}, queue_.now_us());  // a link cut twice stays cut since the first
    if (recorder) recorder->link_cut(from, to);
}

bool SimNetwork::lost_in_cut(NodeId from, NodeId to, std::uint64_t sent_us) {
    auto it = cut_.find({from, to});
    if (it == cut_.end()) return false;
    if (sent_us < it->second && faults_.cut_spares_percent > 0 &&
        rng_.chance(faults_.cut_spares_percent, 100)) {
        ++spared_;
        return false;
    }
    return true;
}

std::string SimNetwork::describe_cuts() const {
    if (cut_.empty()) return "none";
    std::string out;
    for (const auto& [link, since] : cut_) {
        auto [from, to] = link;
        if (!out.empty()) out += ' ';
        out += std::to_string(from) + "-x>" + std::to_string(to);
    }
    return out;
}

}  // namespace ballot::sim
