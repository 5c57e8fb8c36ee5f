#include "tests/sim/sim_network.h"

#include <stdexcept>

namespace ballot::sim {

class SimNetwork::Endpoint final : public Network {
public:
    Endpoint(SimNetwork& net, NodeId self) : net_(net), self_(self) {}
    void send(NodeId to, Bytes payload) override { net_.send(self_, to, std::move(payload)); }
    std::size_t reachable_peers() const override { return net_.reachable_peers(self_); }
    NodeId self() const { return self_; }

private:
    SimNetwork& net_;
    NodeId self_;
};

SimNetwork::SimNetwork(EventQueue& queue, Rng& rng, std::vector<NodeId> members, NetworkFaults faults,
                       Deliver deliver, IsUp is_up)
    : queue_(queue),
      rng_(rng),
      members_(std::move(members)),
      faults_(faults),
      deliver_(std::move(deliver)),
      is_up_(std::move(is_up)) {
    for (NodeId id : members_) endpoints_.push_back(std::make_unique<Endpoint>(*this, id));
}

SimNetwork::~SimNetwork() = default;

Network& SimNetwork::endpoint(NodeId id) {
    for (auto& e : endpoints_)
        if (e->self() == id) return *e;
    throw std::out_of_range("no endpoint for node " + std::to_string(id));
}

std::size_t SimNetwork::reachable_peers(NodeId id) const {
    std::size_t n = 0;
    for (NodeId peer : members_)
        if (peer != id && linked(id, peer) && is_up_(peer)) ++n;
    return n;
}

void SimNetwork::send(NodeId from, NodeId to, Bytes payload) {
    ++sent_;
    const std::uint64_t id = next_id_++;
    if (!linked(from, to) || rng_.chance(faults_.loss_per_10k, 10000)) {
        ++dropped_;
        if (trace) trace("  msg #" + std::to_string(id) + " dropped");
        return;
    }
    auto shared = std::make_shared<const Bytes>(std::move(payload));
    schedule(from, to, shared, id);
    if (rng_.chance(faults_.dup_per_10k, 10000)) {
        ++duplicated_;
        schedule(from, to, shared, id);
    }
}

void SimNetwork::schedule(NodeId from, NodeId to, std::shared_ptr<const Bytes> payload, std::uint64_t id) {
    std::uint64_t delay = rng_.between(faults_.delay_min_us, faults_.delay_max_us);
    if (faults_.tail_max_us > 0 && rng_.chance(faults_.tail_per_10k, 10000))
        delay += rng_.between(0, faults_.tail_max_us);
    if (trace) trace("  msg #" + std::to_string(id) + " arrives in " + std::to_string(delay) + " us");
    queue_.after(delay, [this, from, to, id, payload = std::move(payload)] {
        if (!linked(from, to) || !is_up_(to)) {
            ++dropped_;
            if (trace)
                trace("msg #" + std::to_string(id) + " n" + std::to_string(from) + " -> n" +
                      std::to_string(to) + " lost (" + (is_up_(to) ? "link cut" : "receiver down") + ")");
            return;
        }
        ++delivered_;
        if (trace)
            trace("deliver msg #" + std::to_string(id) + " n" + std::to_string(from) + " -> n" +
                  std::to_string(to));
        deliver_(from, to, *payload);
    });
}

std::string SimNetwork::describe_cuts() const {
    if (cut_.empty()) return "none";
    std::string out;
    for (auto [from, to] : cut_) {
        if (!out.empty()) out += ' ';
        out += std::to_string(from) + "-x>" + std::to_string(to);
    }
    return out;
}

}  // namespace ballot::sim
