// Peer-to-peer transport over TCP, written with Boost.Asio C++20 coroutines.
//
// One connection per peer pair, used in both directions: the node with the lower id dials, the
// higher id accepts (so two nodes rarely race to open two connections). The dialer reconnects
// with exponential backoff. The higher id dials too, but only once it has had no connection with
// the lower for reverse_dial_after_ms: the lower may not know it (a node started with --join
// knows one member; a member that was away does not know those added since), and a lower id that
// does not know a member never dials it. When both ends dial at once, both keep the connection
// the lower id dialed. Each connection starts with a Hello frame
// each way that names the cluster protocol, both ids and how much of the log the sender has
// applied (a member that was away admits a peer it does not know yet but that is ahead of it:
// TransportOptions::applied_index); anything unexpected closes it. A Hello
// from node 0 is a probe (probe()): the acceptor answers with its own Hello and closes.
//
// Frames: u32 length (of what follows), u8 frame version, payload. The versions:
//   1  a control frame: the engine's own encoding, handed to the Handler (and the Hello frames);
//   2  the transport's own mark frame: the sender's incarnation and data dir high-water mark
//      (common/membership_guard.h), sent by announce_mark();
//   3  a bulk frame (snapshot chunks and their acknowledgements), handed to the BulkHandler.
// A frame longer than max_frame_bytes, any other version, or a payload a handler rejects drops
// the connection, is logged, and changes no state.
//
// Two lanes share each connection, because snapshot traffic must never starve heartbeats and
// votes into leader churn (etcd issue #2370):
// - Control (send, announce_mark): a bounded per-peer queue (max_queue_bytes); the writer sends
//   everything queued with one socket write. Frames arrive in order while the connection lives.
// - Bulk (send_bulk): its own bounded per-peer queue (max_bulk_queue_bytes) of whole frames. The
//   writer takes turns: every queued control frame in one socket write, then one bulk frame, and
//   so on, so a control frame queued behind bulk traffic waits in this process for at most the
//   rest of one bulk frame, and steady control traffic cannot starve the bulk lane (a snapshot
//   acknowledgement once waited 5 s for it). Bulk frames to one peer arrive in order on a connection,
//   but may be dropped: when the bulk queue is full, and whatever is queued when the connection
//   closes. The snapshot layer above retransmits or restarts its transfer.
// Sending never blocks. Frames to a peer that is not connected, or whose queue is full, are
// dropped: every engine retransmits.
//
// What the transport knows of each peer's link is there for operators and for failing requests
// fast (common/node.h): connected; known down (its connection closed, a dial failed, or a
// handshake with it failed); or unknown (not heard from since start: a higher id waits to be
// dialed, at first). And the reason the peer gave when it last refused this node at the handshake
// (common/membership_guard.h), until it admits this node. The reason travels in the Hello's
// refusal field, at most kMaxRefusalBytes, and is kept with control characters replaced, since
// it comes from another process.
//
// What is left of head-of-line blocking is in the kernel: bulk bytes already handed to the
// socket are ahead of a later control frame. While bulk frames are queued, the socket's
// TCP_NOTSENT_LOWAT is set to bulk_notsent_lowat_bytes, so the kernel accepts new bytes only
// while fewer than that are still unsent; the rest of a snapshot waits in the bulk queue, behind
// any control frame. A control frame then waits for at most one bulk frame (its remainder), the
// unsent bytes (bulk_notsent_lowat_bytes plus one segment the kernel may add) and the bytes
// already in flight (about one congestion window or the peer's receive window, which the snapshot
// layer's window of unacknowledged chunks also bounds). Without the option the kernel's send
// buffer (autotuned up to net.ipv4.tcp_wmem's maximum, 4 MiB by default) would be ahead too:
// against a peer reading 32 MiB/s, 3.3-4 MiB of bulk arrived before a control frame without it
// and 0.5-1 MiB with it (tests/transport_test.cc, measure_head_of_line_blocking). As soon as the
// bulk queue is empty the option is cleared, so control traffic alone (normal replication) keeps
// the kernel's full send buffer and is never slowed down by it.
// A second TCP connection per peer for bulk would remove the in-flight part only where the two
// connections do not share a bottleneck queue, at the price of a second handshake, admission
// (common/membership_guard.h) and reconnect state per peer; we keep one connection.
//
// TLS (options.tls) is a layer under the same coroutines: a connection's Stream (common/tls.h)
// is TLS or plain TCP, and only the handshake differs.
//
// WAN emulation (--link-delay, common/link_delay.h): with options.link_delay set, every frame
// either lane sends waits on its connection's delay line (one steady timer per connection, no
// thread or timer per frame) until its delivery time, and only then enters the lanes above.
// Frames held there count against the lane's queue bound and are dropped with the connection.
// The handshake is not delayed. Off by default: without the flag frames go straight to the lanes.
#pragma once

#include <boost/asio.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/link_delay.h"
#include "common/log_level.h"
#include "common/types.h"

namespace boost::asio::ssl {
class context;
}

namespace ballot {

// The data dir high-water marks a node presents (common/membership_guard.h).
struct HelloMarks {
    std::uint64_t incarnation = 0;
    std::uint64_t boot_mark = 0;
    std::uint64_t mark = 0;
};

struct TransportOptions {
    std::size_t max_queue_bytes = 64 << 20;  // per peer; beyond it new frames are dropped
    // Per peer, the bulk lane's queue (a few snapshot transfer windows); beyond it new bulk
    // frames are dropped.
    std::size_t max_bulk_queue_bytes = 8 << 20;
    // TCP_NOTSENT_LOWAT while bulk frames are queued (see the header comment); 0 leaves
    // the socket as it is.
    std::size_t bulk_notsent_lowat_bytes = 128 << 10;
    std::size_t max_frame_bytes = 64 << 20;  // larger incoming frames drop the connection
    std::uint32_t connect_backoff_min_ms = 50;
    // The lower id dials (see transport.cc), so a restarted higher-id node waits for its peers'
    // next attempt: the cap bounds how long it stays cut off after it is back. A refused
    // connect costs one RST, so a short cap is cheap.
    std::uint32_t connect_backoff_max_ms = 200;
    std::uint32_t handshake_timeout_ms = 3000;
    // How long the higher id of a pair waits for the lower to dial before it dials itself, and
    // then between its attempts (see the header comment).
    std::uint32_t reverse_dial_after_ms = 1000;
    // One-way delay (and jitter) added to every frame sent to a peer: WAN emulation for the
    // bench, off unless ballot-server is given --link-delay (see the header comment).
    LinkDelay link_delay;
    // This node's data dir identity, sent in the Hello, and the check applied to a peer's
    // (common/membership_guard.h). The check answers through `done` (nullopt admits, a string is
    // the reason for refusing), on any thread and possibly later: it may wait for an fsync, which
    // must not run on the I/O thread. The handshake resumes on the transport's io_context.
    std::uint64_t identity = 0;
    using AdmitDone = std::function<void(std::optional<std::string> refusal)>;
    std::function<void(NodeId, std::uint64_t identity, const HelloMarks&, AdmitDone done)> admit;
    // This node's marks, read for each Hello and each mark frame.
    std::function<HelloMarks()> marks;
    // Asked when a node not among the peers dials this one: true admits it (its id added as a peer
    // with no address, never dialed) instead of refusing it as "not a member". For a node started
    // with --join, until it learns a configuration (common/node.h).
    std::function<bool()> admit_unlisted;
    // How much of the log this node has applied, sent in every Hello. A node that was away holds
    // an old configuration and does not know the members added since; one of them that dials it
    // having applied more of the log than it has (so it may be in a configuration this node has
    // not reached yet) is admitted, as with admit_unlisted, instead of being refused as "not a
    // member": else a Raft follower that was down while its leader was added never hears from that
    // leader, and never catches up. Safe: Raft takes AppendEntries and vote requests from servers
    // outside its configuration (Ongaro's dissertation §4.1), and a Paxos acceptor's promise binds
    // only itself; the membership guard still checks the identity it presents. Unset: 0.
    std::function<Index()> applied_index;
    // Mutual TLS (common/tls.h, peer_tls; --tls-cert-file and co): every connection runs a TLS
    // handshake first, each side verifying the other's certificate against the CA, then the Hello
    // exchange inside it; a peer whose certificate does not name the id its Hello claims
    // (certificate_mismatch) is refused with a logged reason. Null: plaintext.
    std::shared_ptr<boost::asio::ssl::context> tls;
    // A connected peer's mark frame.
    std::function<void(NodeId, std::uint64_t incarnation, std::uint64_t mark)> on_mark;
};

// What the node at a peer address says of itself when asked (Transport::probe): MEMBER ADD
// learns the data dir identity of the node it adds this way, so that the configuration names it
// (SPEC "Membership change": node identities are part of the configuration).
struct PeerProbe {
    std::uint64_t identity = 0;  // 0: not learned, and `error` says why
    std::string error;
    bool answered = false;  // a node answered (another id or protocol): asking again changes nothing
};

// One peer's link as the transport knows it (Transport::links()).
struct PeerLink {
    NodeId id = kNoNode;
    bool connected = false;
    bool known_down = false;      // not connected, and it failed since start (not merely unheard of)
    std::string refused_because;  // non-empty: the peer's last refusal of this node, not yet lifted
};

// A socket listening on `at`, with SO_REUSEADDR. Throws boost::system::system_error if it cannot
// (a port in use). ballot-server binds both its ports with it before it creates anything on disk.
boost::asio::ip::tcp::acceptor listen_on(boost::asio::io_context& io,
                                         const boost::asio::ip::tcp::endpoint& at);

class Transport {
public:
    // The longest refusal reason sent or kept (the rest is cut).
    static constexpr std::size_t kMaxRefusalBytes = 512;

    // Returns false if the payload is malformed: the connection it came on is dropped.
    using Handler = std::function<bool(NodeId from, std::span<const std::uint8_t> payload)>;
    // The same for bulk frames (frame version 3).
    using BulkHandler = Handler;
    using Log = std::function<void(LogLevel level, const std::string&)>;

    Transport(boost::asio::io_context& io, NodeId self, std::string protocol,
              std::map<NodeId, boost::asio::ip::tcp::endpoint> peers, TransportOptions options,
              Handler handler, BulkHandler bulk_handler, Log log);
    ~Transport();

    // Binds the peer port (throws boost::system::system_error if it cannot) and starts dialing.
    void start(const boost::asio::ip::tcp::endpoint& listen);
    // The same with a peer port bound already (listen_on).
    void start(boost::asio::ip::tcp::acceptor listening);
    void stop();
    // Replaces the set of peers (common/node.h calls it whenever the applied configuration
    // changes; SPEC "Membership change"): a new one is dialed (if this id is the lower) and
    // admitted at the handshake; one no longer listed is disconnected and refused from then on;
    // one at a new endpoint is dialed there from its next attempt. `self` is ignored.
    void set_peers(const std::map<NodeId, boost::asio::ip::tcp::endpoint>& peers);

    void send(NodeId to, std::span<const std::uint8_t> payload);
    // Queues a frame on the bulk lane. False if it was dropped (not connected, or the bulk queue
    // is full).
    bool send_bulk(NodeId to, std::span<const std::uint8_t> payload);
    // Bytes waiting in the bulk queue to `peer` (frames not yet handed to the socket).
    std::size_t queued_bulk_bytes(NodeId peer) const;
    // Sends a mark frame with options.marks() to every connected peer.
    void announce_mark();
    std::size_t connected_peers() const;
    bool connected(NodeId peer) const;
    // links()'s known_down of one peer (false for one the transport does not know), without
    // building the list: asked for every client request (Driver::quorum_known_lost).
    bool known_down(NodeId peer) const;
    // Every peer's link, by id.
    std::vector<PeerLink> links() const;
    // Dials `at` (a peer port), asks the node there for its data dir identity, and calls `done`
    // on the io_context with the answer: the identity if the node is `expected` and runs this
    // protocol, else why not (nothing listening, another node or protocol, a failed TLS
    // handshake, no answer within handshake_timeout_ms). Any node answers: the probe passes no
    // frame to the engine and admits no one (with TLS, the prober's certificate must still be
    // the cluster CA's). Its one connection is closed once answered.
    void probe(const boost::asio::ip::tcp::endpoint& at, NodeId expected, std::function<void(PeerProbe)> done);
    // The address the peer port is bound to (after start(); useful with port 0).
    boost::asio::ip::tcp::endpoint local_endpoint() const;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace ballot
