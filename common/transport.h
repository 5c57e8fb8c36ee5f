// Peer-to-peer transport over TCP, written with Boost.Asio C++20 coroutines.
//
// One connection per peer pair, used in both directions: the node with the lower id dials, the
// higher id accepts (so two nodes never race to open two connections). The dialer reconnects
// with exponential backoff; the acceptor waits for it. Each connection starts with a Hello frame
// each way that names the cluster protocol and both ids; anything unexpected closes it.
//
// Frames: u32 length (of what follows), u8 frame version, payload (the engine's own encoding).
// Frame version 2 is the transport's own mark frame: the sender's incarnation and data dir
// high-water mark (common/membership_guard.h), sent by announce_mark().
// A frame longer than kMaxFrameBytes, a bad version, or a payload the engine rejects drops the
// connection, is logged, and changes no state.
//
// Sending never blocks: frames go into a bounded per-peer queue (max_queue_bytes) and one writer
// coroutine per connection sends everything queued with one socket write. Messages to a peer
// that is not connected, or whose queue is full, are dropped: every engine retransmits.
#pragma once

#include <boost/asio.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/log_level.h"
#include "common/types.h"

namespace ballot {

// The data dir high-water marks a node presents (common/membership_guard.h).
struct HelloMarks {
    std::uint64_t incarnation = 0;
    std::uint64_t boot_mark = 0;
    std::uint64_t mark = 0;
};

struct TransportOptions {
    std::size_t max_queue_bytes = 64 << 20;  // per peer; beyond it new frames are dropped
    std::size_t max_frame_bytes = 64 << 20;  // larger incoming frames drop the connection
    std::uint32_t connect_backoff_min_ms = 50;
    std::uint32_t connect_backoff_max_ms = 1000;
    std::uint32_t handshake_timeout_ms = 3000;
    // This node's data dir identity, sent in the Hello, and the check applied to a peer's
    // (common/membership_guard.h). The check answers through `done` (nullopt admits, a string is
    // the reason for refusing), on any thread and possibly later: it may wait for an fsync, which
    // must not run on the I/O thread. The handshake resumes on the transport's io_context.
    std::uint64_t identity = 0;
    using AdmitDone = std::function<void(std::optional<std::string> refusal)>;
    std::function<void(NodeId, std::uint64_t identity, const HelloMarks&, AdmitDone done)> admit;
    // This node's marks, read for each Hello and each mark frame.
    std::function<HelloMarks()> marks;
    // A connected peer's mark frame.
    std::function<void(NodeId, std::uint64_t incarnation, std::uint64_t mark)> on_mark;
};

class Transport {
public:
    // Returns false if the payload is malformed: the connection it came on is dropped.
    using Handler = std::function<bool(NodeId from, std::span<const std::uint8_t> payload)>;
    using Log = std::function<void(LogLevel level, const std::string&)>;

    Transport(boost::asio::io_context& io, NodeId self, std::string protocol,
              std::map<NodeId, boost::asio::ip::tcp::endpoint> peers, TransportOptions options,
              Handler handler, Log log);
    ~Transport();

    // Binds the peer port (throws boost::system::system_error if it cannot) and starts dialing.
    void start(const boost::asio::ip::tcp::endpoint& listen);
    void stop();

    void send(NodeId to, std::span<const std::uint8_t> payload);
    // Sends a mark frame with options.marks() to every connected peer.
    void announce_mark();
    std::size_t connected_peers() const;
    bool connected(NodeId peer) const;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace ballot
