// The messages an engine has decided to send, held until the runtime takes the batch.
//
// Every engine builds its output the same way: handlers call send(to, message, after_persist)
// while they run, and take_ready() encodes the lot into Envelopes (common/engine.h). Messages keep
// the order they were sent in, per peer, as the persist-before-send rule requires. Messages are
// kept typed until then, so an engine (or a test) can still look at what it is about to say.
//
// `after_persist` is the persist-before-send rule for that one message: true when it reveals or
// relies on state made durable only by this batch (a vote, a promise, an accepted value, an
// append acknowledgement). Each engine states its policy in one place, its messages.h.
#pragma once

#include <cstddef>
#include <map>
#include <utility>
#include <vector>

#include "common/engine.h"
#include "common/types.h"

namespace ballot {

template <class Message>
class Outbox {
public:
    struct Outgoing {
        NodeId to = kNoNode;
        Message message;
        bool after_persist = true;
    };

    void send(NodeId to, Message m, bool after_persist) {
        queue_.push_back(Outgoing{to, std::move(m), after_persist});
    }
    bool empty() const { return queue_.empty(); }
    std::size_t size() const { return queue_.size(); }
    const std::vector<Outgoing>& pending() const { return queue_; }

    // One envelope per message, in the order sent. `encode(const Message&) -> Bytes`.
    template <class Encode>
    void take(std::vector<Envelope>& out, Encode encode) {
        out.reserve(out.size() + queue_.size());
        for (Outgoing& o : queue_) out.push_back(Envelope{o.to, encode(o.message), o.after_persist});
        queue_.clear();
    }

    // Messages to the same peer with the same after_persist flag packed into one payload, split
    // before it would exceed `max_bytes` (a message larger than that goes alone). Within a payload
    // messages keep the order they were sent in. `encode_into(const Message&, Bytes&)` appends.
    // For an engine whose wire format is a sequence of messages (basic Paxos): one fsync and one
    // write carry every slot's messages to a peer, however many slots there are.
    template <class EncodeInto>
    void take_packed(std::vector<Envelope>& out, std::size_t max_bytes, EncodeInto encode_into) {
        std::map<std::pair<NodeId, bool>, std::vector<Bytes>> payloads;
        Bytes one;
        for (const Outgoing& o : queue_) {
            one.clear();
            encode_into(o.message, one);
            std::vector<Bytes>& list = payloads[{o.to, o.after_persist}];
            if (list.empty() || list.back().size() + one.size() > max_bytes) list.emplace_back();
            list.back().insert(list.back().end(), one.begin(), one.end());
        }
        queue_.clear();
        for (auto& [key, list] : payloads)
            for (Bytes& payload : list) out.push_back(Envelope{key.first, std::move(payload), key.second});
    }

private:
    std::vector<Outgoing> queue_;
};

}  // namespace ballot
