#include "common/transport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <bit>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <random>

#include "common/codec.h"
#include "common/spawn.h"
#include "common/tls.h"

namespace ballot {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr std::uint8_t kFrameVersion = 1;
constexpr std::uint8_t kMarkFrame = 2;             // u64 incarnation, u64 mark
constexpr std::uint8_t kBulkFrame = 3;             // the bulk lane (snapshot transfer)
constexpr std::uint32_t kHelloMagic = 0x314C5442;  // "BTL1"
constexpr std::size_t kFrameHeaderBytes = 5;       // u32 length + u8 version
constexpr auto tuple_awaitable = asio::as_tuple(use_awaitable);

void put_frame_header(Bytes& out, std::size_t payload_bytes, std::uint8_t version = kFrameVersion) {
    std::uint32_t len = static_cast<std::uint32_t>(payload_bytes + 1);
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(len >> (8 * i)));
    out.push_back(version);
}

struct Hello {
    std::string protocol;
    NodeId from = kNoNode;
    NodeId to = kNoNode;
    std::uint64_t identity = 0;  // the sender's data dir identity
    HelloMarks marks;            // and its high-water marks
    std::string refusal;         // non-empty: the acceptor refuses the dialer, and says why
    Index applied = 0;           // how much of the log the sender has applied
};

Bytes encode_hello(const Hello& h) {
    Bytes payload;
    Writer w(payload);
    w.u32(kHelloMagic);
    w.str(h.protocol);
    w.u64(h.from);
    w.u64(h.to);
    w.u64(h.identity);
    w.u64(h.marks.incarnation);
    w.u64(h.marks.boot_mark);
    w.u64(h.marks.mark);
    w.str(h.refusal);
    w.u64(h.applied);
    Bytes frame;
    put_frame_header(frame, payload.size());
    frame.insert(frame.end(), payload.begin(), payload.end());
    return frame;
}

// nullopt for a missing frame or one that is not exactly a Hello.
std::optional<Hello> decode_hello(const std::optional<Bytes>& frame) {
    if (!frame) return std::nullopt;
    Reader r(*frame);
    bool magic_ok = r.u32() == kHelloMagic;
    Hello h;
    h.protocol = r.str();
    h.from = r.u64();
    h.to = r.u64();
    h.identity = r.u64();
    h.marks.incarnation = r.u64();
    h.marks.boot_mark = r.u64();
    h.marks.mark = r.u64();
    h.refusal = r.str();
    h.applied = r.u64();
    if (!r.finish() || !magic_ok) return std::nullopt;
    return h;
}

// A refusal reason as sent or kept: at most Transport::kMaxRefusalBytes, one line of printable
// text (it comes from another process and ends up in INFO and in error replies).
std::string bounded_reason(std::string_view reason) {
    std::string out(reason.substr(0, Transport::kMaxRefusalBytes));
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return out;
}

}  // namespace

// A frame held by the link delay stage until `due` (common/link_delay.h).
struct DelayedFrame {
    DelayLine::Clock::time_point due;
    Bytes frame;
    bool bulk = false;
};

struct Connection {
    Connection(Stream s, NodeId peer_id, LinkDelay link_delay)
        : stream(std::move(s)),
          wake(stream.socket().get_executor()),
          delay_timer(stream.socket().get_executor()),
          peer(peer_id),
          delay_line(link_delay) {
        wake.expires_at(asio::steady_timer::time_point::max());
    }
    void close() {
        if (closed) return;
        closed = true;
        stream.close();
        wake.cancel();
        delay_timer.cancel();
    }

    Stream stream;            // TCP, or TLS over it (options.tls)
    asio::steady_timer wake;  // cancelled to tell the writer there is something to send
    // Expires when the first delayed frame is due; cancelled when a frame enters an empty line.
    asio::steady_timer delay_timer;
    NodeId peer;
    Bytes queue;  // control frames, framed, waiting for the writer
    // Bulk frames, each framed, written one per socket write; each goes once every control frame
    // queued before it has been handed to the socket (`after`: control_writes then).
    struct BulkFrame {
        Bytes frame;
        std::uint64_t after = 0;
    };
    std::deque<BulkFrame> bulk;
    std::uint64_t control_writes = 0;  // socket writes of control frames so far
    std::size_t bulk_bytes = 0;
    bool unsent_limited = false;  // TCP_NOTSENT_LOWAT is set (bulk frames are queued)
    bool closed = false;
    bool dialed_by_lower = true;  // the lower id of the pair dialed it (the usual way round)
    // The link delay stage (--link-delay): frames not yet due, in send order (so in due order).
    DelayLine delay_line;
    std::deque<DelayedFrame> delayed;
    std::size_t delayed_control_bytes = 0;  // bulk ones are counted in bulk_bytes already

    bool idle() const { return queue.empty() && bulk.empty(); }
};

struct Transport::Impl : std::enable_shared_from_this<Transport::Impl> {
    struct Peer {
        tcp::endpoint endpoint;
        std::shared_ptr<Connection> connection;
        std::unique_ptr<asio::steady_timer> backoff;
        bool failed = false;  // since its last connection: a dial, a handshake or the connection failed
        std::string refusal;  // its last refusal of this node (bounded_reason), until it admits us
        // False once the configuration no longer holds it (set_peers): its connection is closed and
        // handshakes are refused. The entry itself stays, as coroutines hold references to it.
        bool member = true;
        bool dialing = false;  // a dial_loop runs for it
    };

    Impl(asio::io_context& io_, NodeId self_, std::string protocol_, TransportOptions options_,
         Handler handler_, BulkHandler bulk_handler_, Log log_)
        : io(io_),
          self(self_),
          protocol(std::move(protocol_)),
          options(options_),
          handler(std::move(handler_)),
          bulk_handler(std::move(bulk_handler_)),
          log(std::move(log_)) {}

    asio::io_context& io;
    NodeId self;
    std::string protocol;
    TransportOptions options;
    Handler handler;
    BulkHandler bulk_handler;
    Log log;
    std::map<NodeId, Peer> peers;
    std::unique_ptr<tcp::acceptor> acceptor;
    bool stopped = false;
    std::mt19937_64 jitter_rng{std::random_device{}()};  // --link-delay's jitter draws

    HelloMarks my_marks() const { return options.marks ? options.marks() : HelloMarks{}; }
    Index my_applied() const { return options.applied_index ? options.applied_index() : 0; }

    void say(LogLevel level, const std::string& line) {
        if (log) log(level, line);
    }

    // A handshake with member `id` failed; `refusal` is the peer's reason if it refused us.
    void note_failed(NodeId id, std::string_view refusal = {}) {
        Peer& peer = peers.at(id);
        peer.failed = true;
        if (!refusal.empty()) {
            peer.refusal = bounded_reason(refusal);
            say(LogLevel::error, "node " + std::to_string(id) + " refuses this node: " + peer.refusal);
        }
    }

    void start(tcp::acceptor listening) {
        acceptor = std::make_unique<tcp::acceptor>(std::move(listening));
        auto self_ptr = shared_from_this();
        asio::co_spawn(io, accept_loop(self_ptr), rethrow_escaped);
        for (auto& [id, peer] : peers) start_dialing(id);
    }

    // One dial_loop per peer at a time (the higher id's waits for the lower to dial first).
    void start_dialing(NodeId id) {
        Peer& peer = peers.at(id);
        if (!peer.backoff) peer.backoff = std::make_unique<asio::steady_timer>(io);
        if (peer.dialing || stopped || !acceptor) return;
        peer.dialing = true;
        asio::co_spawn(io, dial_loop(shared_from_this(), id), rethrow_escaped);
    }

    // The members now: new ones are dialed (or awaited), departed ones cut off, moved ones dialed
    // at their new address from the next attempt.
    void set_peers(const std::map<NodeId, tcp::endpoint>& now) {
        for (auto& [id, peer] : peers) {
            if (now.count(id) || !peer.member) continue;
            peer.member = false;
            say(LogLevel::info, "node " + std::to_string(id) + " left the configuration: disconnecting");
            if (peer.connection) peer.connection->close();
            if (peer.backoff) peer.backoff->cancel();
        }
        for (auto& [id, endpoint] : now) {
            if (id == self) continue;
            auto [it, added] = peers.try_emplace(id);
            Peer& peer = it->second;
            if (added || !peer.member)
                say(LogLevel::info, "node " + std::to_string(id) + " joined the configuration: peer at " +
                                        endpoint.address().to_string() + ":" +
                                        std::to_string(endpoint.port()));
            peer.endpoint = endpoint;
            peer.member = true;
            if (acceptor) start_dialing(id);
        }
    }

    void stop() {
        stopped = true;
        boost::system::error_code ignored;
        if (acceptor) acceptor->close(ignored);
        for (auto& [id, peer] : peers) {
            if (peer.connection) peer.connection->close();
            if (peer.backoff) peer.backoff->cancel();
        }
    }

    // Reads one whole frame (header and payload) during the handshake, with a deadline.
    static awaitable<std::optional<Bytes>> read_frame(Stream& stream, std::size_t max_bytes) {
        std::uint8_t header[kFrameHeaderBytes];
        auto [ec, n] = co_await stream.read_exactly(asio::buffer(header));
        if (ec) co_return std::nullopt;
        std::uint32_t len = 0;
        std::memcpy(&len, header, 4);  // little-endian hosts only (checked at build time below)
        if (len < 1 || len > max_bytes || header[4] != kFrameVersion) co_return std::nullopt;
        Bytes payload(len - 1);
        auto [ec2, n2] = co_await stream.read_exactly(asio::buffer(payload));
        if (ec2) co_return std::nullopt;
        co_return payload;
    }

    // Asks options.admit about the peer that sent `h`, and waits for the verdict without blocking
    // the I/O thread (it may come from the membership guard's writer thread, after an fsync).
    awaitable<std::optional<std::string>> admit(const Hello& h) {
        using Signature = void(std::optional<std::string>);
        return asio::async_initiate<decltype(use_awaitable), Signature>(
            [this, &h](auto handler) {
                auto waiting = std::make_shared<decltype(handler)>(std::move(handler));
                asio::io_context& ctx = io;
                options.admit(h.from, h.identity, h.marks,
                              [&ctx, waiting](std::optional<std::string> refusal) {
                                  asio::post(ctx, [waiting, refusal = std::move(refusal)]() mutable {
                                      std::move (*waiting)(std::move(refusal));
                                  });
                              });
            },
            use_awaitable);
    }

    // A connection to or from a peer, TLS with options.tls.
    Stream stream_for(tcp::socket socket) const {
        return options.tls ? Stream(std::move(socket), *options.tls) : Stream(std::move(socket));
    }

    // With TLS, the handshake that verifies the peer's certificate against the CA (SPEC
    // "Security"): the dialer is the TLS client. False (logged) if it failed.
    awaitable<bool> tls_handshake(Stream& stream, NodeId expected_peer) {
        const bool dialer = expected_peer != kNoNode;
        const auto ec = co_await stream.handshake(
            dialer ? asio::ssl::stream_base::client : asio::ssl::stream_base::server,
            std::chrono::milliseconds(options.handshake_timeout_ms));
        if (!ec) co_return true;
        if (!stopped)
            say(LogLevel::warn,
                "peer TLS handshake " +
                    (dialer ? "with node " + std::to_string(expected_peer) + " at " : std::string("from ")) +
                    remote_text(stream) + " failed: " + tls_error_text(ec));
        co_return false;
    }

    static std::string remote_text(Stream& stream) {
        boost::system::error_code ec;
        const auto remote = stream.socket().remote_endpoint(ec);
        return ec ? std::string("?") : remote.address().to_string() + ":" + std::to_string(remote.port());
    }

    // With TLS: whether the verified certificate names the node the peer's Hello claims to be.
    std::string certificate_refusal(Stream& stream, NodeId claimed) {
        if (!stream.tls()) return {};
        std::string mismatch = certificate_mismatch(stream.native_tls(), claimed);
        if (mismatch.empty()) return {};
        return "peer " + remote_text(stream) + " claims to be node " + std::to_string(claimed) + ", but " +
               mismatch;
    }

    // Exchanges Hello frames (inside TLS with options.tls). The dialer speaks first. Returns the
    // peer's id or 0 on failure.
    awaitable<NodeId> handshake(Stream& stream, NodeId expected_peer) {
        asio::steady_timer deadline(io);
        deadline.expires_after(std::chrono::milliseconds(options.handshake_timeout_ms));
        deadline.async_wait([&stream](boost::system::error_code ec) {
            if (!ec) stream.close();
        });
        if (!co_await tls_handshake(stream, expected_peer)) co_return kNoNode;
        bool dialer = expected_peer != kNoNode;
        if (dialer) {
            Bytes hello =
                encode_hello(Hello{protocol, self, expected_peer, options.identity, my_marks(), {}, my_applied()});
            auto [ec, n] = co_await stream.write_all(asio::buffer(hello));
            if (ec) co_return kNoNode;
        }
        std::optional<Hello> hello = decode_hello(co_await read_frame(stream, 4096));
        if (!hello) {
            say(LogLevel::warn, "peer handshake rejected: not a Ballot peer hello");
            co_return kNoNode;
        }
        const Hello& h = *hello;
        if (!dialer && h.from == kNoNode) {
            co_await answer_probe(stream);
            co_return kNoNode;
        }
        std::string why;
        if (h.protocol == protocol && h.to == self && !dialer && !is_member(h.from)) admit_unlisted(h);
        if (h.protocol != protocol)
            why = "peer runs --protocol " + h.protocol + ", this node runs " + protocol;
        else if (h.to != self)
            why = "peer thinks it is talking to node " + std::to_string(h.to);
        else if (!is_member(h.from))
            why = "node " + std::to_string(h.from) + " is not a member";
        else if (dialer && h.from != expected_peer)
            why = "expected node " + std::to_string(expected_peer) + ", got " + std::to_string(h.from);
        else if (!dialer && h.from > self && connected_to(h.from))
            why = "node " + std::to_string(h.from) + " dialed, but this node's connection with it is up";
        else
            why = certificate_refusal(stream, h.from);
        if (!why.empty()) {
            say(LogLevel::warn, "peer handshake rejected: " + why);
            co_return kNoNode;
        }
        if (!h.refusal.empty()) {
            note_failed(h.from, h.refusal);
            co_return kNoNode;
        }
        // Three frames: the dialer's Hello, the acceptor's Hello (a refusal, or its identity),
        // and the dialer's verdict on the acceptor. Either side refuses by saying why, so both
        // logs name the cause, and neither side uses the connection before both have admitted
        // (and durably remembered) each other.
        std::optional<std::string> refusal;
        if (options.admit) refusal = co_await admit(h);
        if (refusal) say(LogLevel::error, "refusing node " + std::to_string(h.from) + ": " + *refusal);
        Bytes reply = encode_hello(Hello{protocol, self, h.from, options.identity, my_marks(),
                                         bounded_reason(refusal.value_or("")), my_applied()});
        auto [ec, n] = co_await stream.write_all(asio::buffer(reply));
        if (ec || refusal) {
            note_failed(h.from);
            co_return kNoNode;
        }
        if (!dialer) {
            std::optional<Hello> verdict = decode_hello(co_await read_frame(stream, 4096));
            if (!verdict || verdict->from != h.from) {
                note_failed(h.from);
                co_return kNoNode;
            }
            if (!verdict->refusal.empty()) {
                note_failed(h.from, verdict->refusal);
                co_return kNoNode;
            }
        }
        deadline.cancel();
        co_return h.from;
    }

    // A probe (Hello from node 0): this node's own Hello, whatever the probe asked, so that the
    // prober sees which node and protocol answer at the address. The identity is no secret: every
    // handshake shows it.
    awaitable<void> answer_probe(Stream& stream) {
        say(LogLevel::debug, "answering a data dir identity probe from " + remote_text(stream));
        Bytes reply = encode_hello(Hello{protocol, self, kNoNode, options.identity, my_marks(), {}, my_applied()});
        co_await stream.write_all(asio::buffer(reply));
        stream.close();
    }

    // Transport::probe's dialer side.
    static awaitable<PeerProbe> probe(std::shared_ptr<Impl> me, tcp::endpoint at, NodeId expected) {
        const std::string where = at.address().to_string() + ":" + std::to_string(at.port());
        auto failed = [&](const std::string& why) { return PeerProbe{0, why}; };
        tcp::socket socket(me->io);
        std::optional<Stream> stream;
        asio::steady_timer deadline(me->io);
        bool timed_out = false;
        deadline.expires_after(std::chrono::milliseconds(me->options.handshake_timeout_ms));
        deadline.async_wait([&](boost::system::error_code ec) {
            if (ec) return;
            timed_out = true;
            boost::system::error_code ignored;
            if (stream) stream->close();
            else socket.close(ignored);
        });
        auto [ec] = co_await socket.async_connect(at, tuple_awaitable);
        if (ec) co_return failed(timed_out ? "no answer from " + where : "cannot connect to " + where + ": " + ec.message());
        stream.emplace(me->stream_for(std::move(socket)));
        if (!co_await me->tls_handshake(*stream, expected))
            co_return failed("the TLS handshake with " + where + " failed");
        Bytes hello = encode_hello(Hello{me->protocol, kNoNode, expected, me->options.identity, me->my_marks(), {}, me->my_applied()});
        auto [write_ec, n] = co_await stream->write_all(asio::buffer(hello));
        std::optional<Hello> reply;
        if (!write_ec) reply = decode_hello(co_await read_frame(*stream, 4096));
        deadline.cancel();
        const std::string mismatch = reply ? me->certificate_refusal(*stream, reply->from) : "";
        stream->close();
        if (!reply)
            co_return failed(timed_out ? "no answer from " + where : "no Ballot node answered at " + where);
        auto wrong = [&](const std::string& why) { return PeerProbe{0, why, true}; };
        if (reply->protocol != me->protocol)
            co_return wrong("the node at " + where + " runs --protocol " + reply->protocol + ", this cluster " +
                            me->protocol);
        if (reply->from != expected)
            co_return wrong("the node at " + where + " is node " + std::to_string(reply->from) + ", not node " +
                            std::to_string(expected));
        if (!mismatch.empty()) co_return wrong(mismatch);
        if (reply->identity == 0) co_return wrong("the node at " + where + " has no data dir identity");
        co_return PeerProbe{reply->identity, {}, true};
    }

    static awaitable<void> accept_loop(std::shared_ptr<Impl> me) {
        while (!me->stopped) {
            auto [ec, socket] = co_await me->acceptor->async_accept(tuple_awaitable);
            if (ec) {
                if (me->stopped) co_return;
                me->say(LogLevel::warn, "peer accept failed: " + ec.message());
                continue;
            }
            asio::co_spawn(me->io, inbound(me, std::move(socket)), log_escaped("an inbound peer connection"));
        }
    }

    static awaitable<void> inbound(std::shared_ptr<Impl> me, tcp::socket socket) {
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        Stream stream = me->stream_for(std::move(socket));
        NodeId peer = co_await me->handshake(stream, kNoNode);
        if (peer == kNoNode || me->stopped) co_return;
        auto connection = std::make_shared<Connection>(std::move(stream), peer, me->options.link_delay);
        connection->dialed_by_lower = peer < me->self;
        co_await me->run(std::move(connection));
    }

    bool connected_to(NodeId id) const {
        auto it = peers.find(id);
        return it != peers.end() && it->second.connection && !it->second.connection->closed;
    }

    // A node this one does not know dialed it: admitted (as a peer with no address, never dialed)
    // while options.admit_unlisted allows it, or if it has applied more of the log than this node
    // (TransportOptions::applied_index); else the handshake refuses it as not a member.
    void admit_unlisted(const Hello& h) {
        std::string why;
        if (options.admit_unlisted && options.admit_unlisted())
            why = "dialed this joining node";
        else if (h.applied > my_applied())
            why = "is not in this node's configuration but has applied more of the log (" +
                  std::to_string(h.applied) + " > " + std::to_string(my_applied()) +
                  "): it may be in a newer one";
        else
            return;
        Peer& peer = peers[h.from];
        peer.member = true;
        if (!peer.backoff) peer.backoff = std::make_unique<asio::steady_timer>(io);
        say(LogLevel::info, "node " + std::to_string(h.from) + " " + why + ": admitting it as a peer");
    }

    bool is_member(NodeId id) const {
        auto it = peers.find(id);
        return it != peers.end() && it->second.member;
    }

    static awaitable<void> dial_loop(std::shared_ptr<Impl> me, NodeId peer_id) {
        std::uint32_t backoff_ms = me->options.connect_backoff_min_ms;
        Peer& peer = me->peers.at(peer_id);  // entries are never erased
        while (!me->stopped && peer.member) {
            if (me->self > peer_id) {
                // The higher id: only after reverse_dial_after_ms with no connection (the lower's).
                peer.backoff->expires_after(std::chrono::milliseconds(me->options.reverse_dial_after_ms));
                co_await peer.backoff->async_wait(tuple_awaitable);
                if (me->stopped || !peer.member) break;
                if (me->connected_to(peer_id)) continue;
            }
            tcp::socket socket(me->io);
            asio::steady_timer deadline(me->io);
            deadline.expires_after(std::chrono::milliseconds(me->options.handshake_timeout_ms));
            deadline.async_wait([&socket](boost::system::error_code ec) {
                if (!ec) {
                    boost::system::error_code ignored;
                    socket.close(ignored);
                }
            });
            const tcp::endpoint endpoint = peer.endpoint;
            auto [ec] = co_await socket.async_connect(endpoint, tuple_awaitable);
            deadline.cancel();
            bool ran = false;
            if (!ec && !me->stopped) {
                boost::system::error_code ignored;
                socket.set_option(tcp::no_delay(true), ignored);
                Stream stream = me->stream_for(std::move(socket));
                if (co_await me->handshake(stream, peer_id) == peer_id && !me->stopped) {
                    backoff_ms = me->options.connect_backoff_min_ms;
                    auto connection = std::make_shared<Connection>(std::move(stream), peer_id, me->options.link_delay);
                    connection->dialed_by_lower = me->self < peer_id;
                    co_await me->run(std::move(connection));
                    ran = true;
                }
            }
            if (!ran) peer.failed = true;  // connection refused, timed out, or a failed handshake
            if (me->stopped || !peer.member) break;
            peer.backoff->expires_after(std::chrono::milliseconds(backoff_ms));
            co_await peer.backoff->async_wait(tuple_awaitable);
            backoff_ms = std::min(backoff_ms * 2, me->options.connect_backoff_max_ms);
        }
        peer.dialing = false;
    }

    // Owns a live connection until it closes: installs it as the peer's, runs its writer, and
    // reads frames into the handler.
    awaitable<void> run(std::shared_ptr<Connection> c) {
        Peer& peer = peers.at(c->peer);
        if (!peer.member) {  // removed from the configuration while its handshake ran
            c->close();
            co_return;
        }
        if (peer.connection && !peer.connection->closed) {
            // Both ends dialed at once: each keeps the connection the lower id dialed.
            if (peer.connection->dialed_by_lower && !c->dialed_by_lower) {
                c->close();
                co_return;
            }
            peer.connection->close();  // a newer connection replaces an old one
        }
        peer.connection = c;
        peer.failed = false;
        peer.refusal.clear();  // it admitted this node
        say(LogLevel::info, "connected to peer n" + std::to_string(c->peer));
        asio::co_spawn(io, writer(shared_from_this(), c),
                       log_escaped("the writer to peer n" + std::to_string(c->peer)));
        if (options.link_delay.enabled())
            asio::co_spawn(io, delay_pump(c),
                           log_escaped("the link delay to peer n" + std::to_string(c->peer)));

        Bytes buffer(64 * 1024);
        std::size_t begin = 0, end = 0;
        std::string why;
        while (!c->closed && why.empty()) {
            if (buffer.size() - end < 4096) {
                if (begin > 0) {  // compact
                    std::memmove(buffer.data(), buffer.data() + begin, end - begin);
                    end -= begin;
                    begin = 0;
                }
                if (buffer.size() - end < 4096) buffer.resize(buffer.size() * 2);
            }
            auto [ec, n] =
                co_await c->stream.read_some(asio::buffer(buffer.data() + end, buffer.size() - end));
            if (ec) break;
            end += n;
            while (end - begin >= kFrameHeaderBytes) {
                std::uint32_t len = 0;
                std::memcpy(&len, buffer.data() + begin, 4);
                if (len < 1 || len > options.max_frame_bytes) {
                    why = "frame length " + std::to_string(len) + " out of range";
                    break;
                }
                std::uint8_t version = buffer[begin + 4];
                if (version != kFrameVersion && version != kMarkFrame && version != kBulkFrame) {
                    why = "unknown frame version " + std::to_string(version);
                    break;
                }
                if (end - begin < 4 + std::size_t{len}) {
                    if (buffer.size() < 4 + std::size_t{len}) {
                        std::memmove(buffer.data(), buffer.data() + begin, end - begin);
                        end -= begin;
                        begin = 0;
                        buffer.resize(4 + std::size_t{len});
                    }
                    break;
                }
                std::span<const std::uint8_t> payload(buffer.data() + begin + kFrameHeaderBytes, len - 1);
                begin += 4 + std::size_t{len};
                if (version == kMarkFrame) {
                    Reader r(payload);
                    std::uint64_t incarnation = r.u64(), mark = r.u64();
                    if (!r.finish()) {
                        why = "malformed mark frame";
                        break;
                    }
                    if (options.on_mark) options.on_mark(c->peer, incarnation, mark);
                    continue;
                }
                if (version == kBulkFrame) {
                    if (!bulk_handler(c->peer, payload)) {
                        why = "malformed bulk message";
                        break;
                    }
                    continue;
                }
                if (!handler(c->peer, payload)) {
                    why = "malformed message";
                    break;
                }
            }
            if (begin == end) begin = end = 0;
        }
        if (!why.empty())
            say(LogLevel::warn, "dropping connection to peer n" + std::to_string(c->peer) + ": " + why);
        else if (!stopped)
            say(LogLevel::info, "connection to peer n" + std::to_string(c->peer) + " closed");
        c->close();
        if (peer.connection == c) {
            peer.connection.reset();
            peer.failed = true;
        }
    }

    // Sends what is queued: every control frame queued, all in one write, then one bulk frame,
    // and so on: a control frame waits for at most one bulk frame (see the header comment), and
    // a bulk frame for at most one write of control frames, the one that carries every control
    // frame queued before it (so no frame overtakes one sent before it). Control frames first
    // whenever both waited starved the bulk lane under steady control traffic: a Multi-Paxos
    // follower on a slow disk, answering Accepts, sent no snapshot acknowledgement for 5 s, and
    // the leader took the transfer as lost and sent a second snapshot.
    static awaitable<void> writer(std::shared_ptr<Impl> me, std::shared_ptr<Connection> c) {
        Bytes writing;
        bool bulk_turn = false;  // the last write was of control frames
        while (!c->closed) {
            me->limit_unsent(*c, !c->bulk.empty());
            const bool bulk_ready =
                !c->bulk.empty() && (c->bulk.front().after <= c->control_writes || c->queue.empty());
            if (bulk_ready && (bulk_turn || c->queue.empty())) {
                writing = std::move(c->bulk.front().frame);
                c->bulk.pop_front();
                c->bulk_bytes -= writing.size();
                bulk_turn = false;
            } else if (!c->queue.empty()) {
                writing.clear();
                std::swap(writing, c->queue);
                ++c->control_writes;
                bulk_turn = true;
            } else {
                co_await c->wake.async_wait(tuple_awaitable);
                continue;
            }
            auto [ec, n] = co_await c->stream.write_all(asio::buffer(writing));
            if (ec) {
                if (!c->closed && !me->stopped)
                    me->say(LogLevel::info,
                            "write to peer n" + std::to_string(c->peer) + " failed: " + ec.message());
                c->close();
            }
        }
    }

    // While bulk frames are queued, the kernel takes new bytes only while fewer than
    // bulk_notsent_lowat_bytes are unsent, so that bulk bytes do not pile up in the socket ahead
    // of the next control frame; without bulk traffic the kernel's own limit applies again.
    void limit_unsent(Connection& c, bool limit) {
        if (c.unsent_limited == limit || options.bulk_notsent_lowat_bytes == 0) return;
        c.unsent_limited = limit;
#ifdef TCP_NOTSENT_LOWAT
        int bytes =
            limit ? static_cast<int>(std::min<std::size_t>(options.bulk_notsent_lowat_bytes, 1 << 30)) : 0;
        if (::setsockopt(c.stream.socket().native_handle(), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &bytes,
                         sizeof bytes) != 0)
            say(LogLevel::debug, "TCP_NOTSENT_LOWAT not set on the connection to peer n" +
                                     std::to_string(c.peer) + ": " + std::strerror(errno));
#endif
    }

    Connection* live_connection(NodeId to) {
        auto it = peers.find(to);
        if (it == peers.end() || !it->second.member || !it->second.connection ||
            it->second.connection->closed)
            return nullptr;
        return it->second.connection.get();
    }

    static Bytes framed(std::span<const std::uint8_t> payload, std::uint8_t version) {
        Bytes frame;
        frame.reserve(payload.size() + kFrameHeaderBytes);
        put_frame_header(frame, payload.size(), version);
        frame.insert(frame.end(), payload.begin(), payload.end());
        return frame;
    }

    void send(NodeId to, std::span<const std::uint8_t> payload, std::uint8_t version = kFrameVersion) {
        Connection* c = live_connection(to);
        if (!c || c->queue.size() + c->delayed_control_bytes + payload.size() + kFrameHeaderBytes >
                      options.max_queue_bytes)
            return;
        if (options.link_delay.enabled()) {
            c->delayed_control_bytes += payload.size() + kFrameHeaderBytes;
            hold(*c, framed(payload, version), false);
            return;
        }
        bool was_idle = c->idle();
        put_frame_header(c->queue, payload.size(), version);
        c->queue.insert(c->queue.end(), payload.begin(), payload.end());
        if (was_idle) c->wake.cancel();
    }

    bool send_bulk(NodeId to, std::span<const std::uint8_t> payload) {
        Connection* c = live_connection(to);
        if (!c || c->bulk_bytes + payload.size() + kFrameHeaderBytes > options.max_bulk_queue_bytes)
            return false;
        Bytes frame = framed(payload, kBulkFrame);
        c->bulk_bytes += frame.size();
        if (options.link_delay.enabled())
            hold(*c, std::move(frame), true);
        else
            enter_lane(*c, std::move(frame), true);
        return true;
    }

    // Hands a framed message to the writer's control or bulk lane (a control frame only from the
    // delay line: without one, send() appends to the control lane in place).
    static void enter_lane(Connection& c, Bytes frame, bool bulk) {
        bool was_idle = c.idle();
        if (bulk) {
            // Behind the control frames queued now: the next control write carries them.
            c.bulk.push_back({std::move(frame), c.control_writes + (c.queue.empty() ? 0 : 1)});
        } else {
            c.delayed_control_bytes -= frame.size();
            c.queue.insert(c.queue.end(), frame.begin(), frame.end());
        }
        if (was_idle) c.wake.cancel();
    }

    // The link delay stage (common/link_delay.h): the frame waits on the connection's delay line
    // until its delivery time. Due times never decrease along the line, so only a frame that
    // enters an empty line needs the pump to re-arm its timer.
    void hold(Connection& c, Bytes frame, bool bulk) {
        const auto jitter_us = static_cast<std::int64_t>(options.link_delay.jitter_ms) * 1000;
        std::uniform_int_distribution<std::int64_t> draw(-jitter_us, jitter_us);
        const auto due =
            c.delay_line.due(DelayLine::Clock::now(), std::chrono::microseconds(draw(jitter_rng)));
        c.delayed.push_back(DelayedFrame{due, std::move(frame), bulk});
        if (c.delayed.size() == 1) c.delay_timer.cancel();
    }

    // Moves each delayed frame into its lane when it is due; one timer per connection.
    static awaitable<void> delay_pump(std::shared_ptr<Connection> c) {
        while (!c->closed) {
            const auto now = DelayLine::Clock::now();
            while (!c->delayed.empty() && c->delayed.front().due <= now) {
                DelayedFrame& f = c->delayed.front();
                enter_lane(*c, std::move(f.frame), f.bulk);
                c->delayed.pop_front();
            }
            c->delay_timer.expires_at(c->delayed.empty() ? asio::steady_timer::time_point::max()
                                                         : c->delayed.front().due);
            co_await c->delay_timer.async_wait(tuple_awaitable);
        }
    }
};

static_assert(std::endian::native == std::endian::little, "frame headers are read with memcpy");

Transport::Transport(asio::io_context& io, NodeId self, std::string protocol,
                     std::map<NodeId, tcp::endpoint> peers, TransportOptions options, Handler handler,
                     BulkHandler bulk_handler, Log log)
    : impl_(std::make_shared<Impl>(io, self, std::move(protocol), options, std::move(handler),
                                   std::move(bulk_handler), std::move(log))) {
    for (auto& [id, endpoint] : peers) impl_->peers[id].endpoint = endpoint;
}

Transport::~Transport() {
    impl_->stop();
}

tcp::acceptor listen_on(asio::io_context& io, const tcp::endpoint& at) {
    tcp::acceptor acceptor(io);
    acceptor.open(at.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(at);
    acceptor.listen();
    return acceptor;
}

void Transport::start(const tcp::endpoint& listen) {
    impl_->start(listen_on(impl_->io, listen));
}
void Transport::start(tcp::acceptor listening) {
    impl_->start(std::move(listening));
}
void Transport::stop() {
    impl_->stop();
}
void Transport::set_peers(const std::map<NodeId, tcp::endpoint>& peers) {
    impl_->set_peers(peers);
}

void Transport::send(NodeId to, std::span<const std::uint8_t> payload) {
    impl_->send(to, payload);
}

bool Transport::send_bulk(NodeId to, std::span<const std::uint8_t> payload) {
    return impl_->send_bulk(to, payload);
}

std::size_t Transport::queued_bulk_bytes(NodeId peer) const {
    Connection* c = impl_->live_connection(peer);
    return c ? c->bulk_bytes : 0;
}

tcp::endpoint Transport::local_endpoint() const {
    boost::system::error_code ec;
    tcp::endpoint bound = impl_->acceptor ? impl_->acceptor->local_endpoint(ec) : tcp::endpoint{};
    return ec ? tcp::endpoint{} : bound;
}

void Transport::announce_mark() {
    HelloMarks m = impl_->my_marks();
    Bytes payload;
    Writer w(payload);
    w.u64(m.incarnation);
    w.u64(m.mark);
    for (auto& [id, peer] : impl_->peers) impl_->send(id, payload, kMarkFrame);
}

std::size_t Transport::connected_peers() const {
    std::size_t n = 0;
    for (auto& [id, peer] : impl_->peers) n += connected(id);
    return n;
}

bool Transport::connected(NodeId peer) const {
    return impl_->live_connection(peer) != nullptr;
}

void Transport::probe(const tcp::endpoint& at, NodeId expected, std::function<void(PeerProbe)> done) {
    asio::co_spawn(impl_->io, Impl::probe(impl_, at, expected),
                   [done = std::move(done)](std::exception_ptr escaped, PeerProbe answer) {
                       if (escaped) answer = PeerProbe{0, "the probe failed unexpectedly"};
                       done(std::move(answer));
                   });
}

bool Transport::known_down(NodeId peer) const {
    auto it = impl_->peers.find(peer);
    if (it == impl_->peers.end() || !it->second.member) return false;
    return it->second.failed && !connected(peer);
}

std::vector<PeerLink> Transport::links() const {
    std::vector<PeerLink> out;
    for (auto& [id, peer] : impl_->peers) {
        if (!peer.member) continue;
        out.push_back(PeerLink{id, connected(id), known_down(id), peer.refusal});
    }
    return out;
}

}  // namespace ballot
