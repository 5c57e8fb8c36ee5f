// The peer transport's two lanes (common/transport.h): control frames go to the Handler, bulk
// frames (version 3) to the BulkHandler, in order; a control frame never waits behind the bulk
// frames still queued; the bulk queue is bounded; an unknown frame version drops the connection.
//
// Two Transports (or one and a hand-written peer) on 127.0.0.1 ephemeral ports share one
// io_context, which each test runs until the condition it waits for holds, or a deadline passes
// (a failure, never a pass).
#define BOOST_TEST_MODULE transport
#include "common/transport.h"

#include <array>
#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/codec.h"

using namespace ballot;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

const std::string kProtocol = "raft";
const asio::ip::address kLoopback = asio::ip::make_address("127.0.0.1");

// Runs `io` until `done()` holds; false if it does not within `limit`.
bool run_until(asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        if (io.stopped()) io.restart();
        io.run_one_for(std::chrono::milliseconds(10));
    }
    return true;
}

// What one side received, in order of arrival.
struct Arrival {
    bool bulk = false;
    Bytes payload;
};

struct Inbox {
    std::vector<Arrival> arrivals;
    bool accept_bulk = true;

    Transport::Handler control() {
        return [this](NodeId, std::span<const std::uint8_t> p) {
            arrivals.push_back({false, Bytes(p.begin(), p.end())});
            return true;
        };
    }
    Transport::BulkHandler bulk() {
        return [this](NodeId, std::span<const std::uint8_t> p) {
            arrivals.push_back({true, Bytes(p.begin(), p.end())});
            return accept_bulk;
        };
    }
    std::size_t count(bool bulk) const {
        std::size_t n = 0;
        for (auto& a : arrivals) n += a.bulk == bulk;
        return n;
    }
};

struct LogLines {
    std::vector<std::string> lines;
    Transport::Log sink() {
        return [this](LogLevel, const std::string& line) { lines.push_back(line); };
    }
    bool contains(const std::string& part) const {
        for (auto& l : lines)
            if (l.find(part) != std::string::npos) return true;
        return false;
    }
};

// A payload of `bytes` bytes that starts with `seq` (u32) and is filled with its low byte.
Bytes numbered(std::uint32_t seq, std::size_t bytes) {
    Bytes p(std::max<std::size_t>(bytes, 4), static_cast<std::uint8_t>(seq));
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(seq >> (8 * i));
    return p;
}

std::uint32_t seq_of(const Bytes& p) {
    Reader r(p);
    return r.u32();
}

// Node 2 accepts, node 1 dials it (the lower id dials).
struct Pair {
    asio::io_context io;
    Inbox inbox1, inbox2;
    LogLines log1, log2;
    std::unique_ptr<Transport> n1, n2;

    explicit Pair(TransportOptions options = {}) {
        n2 = std::make_unique<Transport>(io, 2, kProtocol,
                                         std::map<NodeId, tcp::endpoint>{{1, {kLoopback, 1}}}, options,
                                         inbox2.control(), inbox2.bulk(), log2.sink());
        n2->start({kLoopback, 0});
        n1 = std::make_unique<Transport>(io, 1, kProtocol,
                                         std::map<NodeId, tcp::endpoint>{{2, n2->local_endpoint()}}, options,
                                         inbox1.control(), inbox1.bulk(), log1.sink());
        n1->start({kLoopback, 0});
        BOOST_REQUIRE(run_until(io, [&] { return n1->connected(2) && n2->connected(1); }));
    }
    ~Pair() {
        n1->stop();
        n2->stop();
        io.poll();  // lets the coroutines see the stop and end
    }
};

Bytes text(const std::string& s) {
    return Bytes(s.begin(), s.end());
}

// A frame as the transport writes it: u32 length (version + payload), u8 version, payload.
Bytes frame(std::uint8_t version, const Bytes& payload) {
    Bytes out;
    Writer w(out);
    w.u32(static_cast<std::uint32_t>(payload.size() + 1));
    w.u8(version);
    w.raw(payload);
    return out;
}

// The Hello frame a dialing node `from` sends to `to` (common/transport.cc).
Bytes hello(NodeId from, NodeId to) {
    Bytes payload;
    Writer w(payload);
    w.u32(0x314C5442);  // "BTL1"
    w.str(kProtocol);
    w.u64(from);
    w.u64(to);
    for (int i = 0; i < 4; ++i) w.u64(0);  // identity, incarnation, boot mark, mark
    w.str("");                             // no refusal
    w.u64(0);                              // applied
    return frame(1, payload);
}

}  // namespace

BOOST_AUTO_TEST_CASE(bulk_frames_reach_the_bulk_handler_in_order_and_control_frames_the_other) {
    Pair p;
    for (std::uint32_t i = 0; i < 20; ++i) {
        BOOST_TEST(p.n1->send_bulk(2, numbered(i, 1000 + 997 * i)));
        if (i % 5 == 0) p.n1->send(2, numbered(100 + i, 16));
    }
    BOOST_TEST(p.n2->send_bulk(1, numbered(7, 10)));  // the accepting side uses the same connection
    BOOST_REQUIRE(
        run_until(p.io, [&] { return p.inbox2.arrivals.size() == 24 && p.inbox1.arrivals.size() == 1; }));

    std::vector<std::uint32_t> bulk, control;
    for (auto& a : p.inbox2.arrivals) {
        (a.bulk ? bulk : control).push_back(seq_of(a.payload));
        if (a.bulk) BOOST_TEST(a.payload == numbered(seq_of(a.payload), 1000 + 997 * seq_of(a.payload)));
    }
    std::vector<std::uint32_t> bulk_sent, control_sent = {100, 105, 110, 115};
    for (std::uint32_t i = 0; i < 20; ++i) bulk_sent.push_back(i);
    BOOST_TEST(bulk == bulk_sent, boost::test_tools::per_element());
    BOOST_TEST(control == control_sent, boost::test_tools::per_element());
    BOOST_TEST(p.inbox1.arrivals[0].bulk);
    BOOST_TEST(p.n1->queued_bulk_bytes(2) == 0u);
}

// etcd issue #2370: snapshot chunks must not hold back heartbeats. A control frame sent while the
// bulk queue holds many large frames arrives before every bulk frame that was still queued.
BOOST_AUTO_TEST_CASE(a_control_frame_overtakes_the_queued_bulk_frames) {
    constexpr std::size_t kChunk = 256 << 10;
    TransportOptions options;
    options.max_bulk_queue_bytes = 16 * (kChunk + 5);
    Pair p(options);

    std::uint32_t queued = 0;
    while (p.n1->send_bulk(2, numbered(queued, kChunk))) ++queued;
    BOOST_TEST(queued == 16u);
    // The stream is under way: the writer has handed some chunks to the socket.
    BOOST_REQUIRE(run_until(p.io, [&] { return p.inbox2.count(true) >= 1; }));
    std::size_t still_queued = p.n1->queued_bulk_bytes(2) / (kChunk + 5);
    BOOST_TEST_MESSAGE("bulk frames still queued when the control frame was sent: " << still_queued);
    BOOST_REQUIRE(still_queued >= 1);  // else the test proves nothing (2 at most should be gone)
    p.n1->send(2, text("heartbeat"));
    BOOST_REQUIRE(run_until(p.io, [&] { return p.inbox2.arrivals.size() == queued + 1; }));

    std::size_t control_at = 0;
    for (std::size_t i = 0; i < p.inbox2.arrivals.size(); ++i)
        if (!p.inbox2.arrivals[i].bulk) control_at = i;
    BOOST_TEST(p.inbox2.arrivals[control_at].payload == text("heartbeat"));
    BOOST_TEST(control_at <= queued - still_queued);  // ahead of every frame still queued then
    std::uint32_t expected = 0;
    for (auto& a : p.inbox2.arrivals)
        if (a.bulk) BOOST_TEST(seq_of(a.payload) == expected++);
}

// The other way round: a bulk frame is not starved by control frames that keep coming (a
// follower answering a stream of Accepts while it acknowledges snapshot chunks), and it overtakes
// none queued before it. A control frame is queued on every turn of the io loop, so there is always
// one waiting when a write ends; the bulk frame, queued with the 10th, goes right after the write
// that carries the 10th, not once the stream stops.
BOOST_AUTO_TEST_CASE(steady_control_traffic_does_not_starve_the_bulk_lane) {
    Pair p;
    constexpr std::uint32_t kStream = 2000;
    constexpr std::uint32_t kBulkWith = 10;
    std::uint32_t sent = 0;
    std::function<void()> send_one = [&] {
        if (sent == kStream) return;
        p.n1->send(2, numbered(sent, 100));
        if (sent == kBulkWith) BOOST_TEST(p.n1->send_bulk(2, numbered(7, 1000)));
        ++sent;
        asio::post(p.io, send_one);
    };
    send_one();
    BOOST_REQUIRE(run_until(p.io, [&] { return p.inbox2.arrivals.size() == kStream + 1; }));
    std::optional<std::size_t> bulk_at;
    std::uint32_t expected = 0;
    for (std::size_t i = 0; i < p.inbox2.arrivals.size(); ++i) {
        const Arrival& a = p.inbox2.arrivals[i];
        if (a.bulk)
            bulk_at = i;
        else
            BOOST_TEST(seq_of(a.payload) == expected++);  // control order is kept
    }
    BOOST_REQUIRE(bulk_at.has_value());
    BOOST_TEST_MESSAGE("the bulk frame arrived after " << *bulk_at << " control frames");
    BOOST_TEST(*bulk_at > kBulkWith);    // after every control frame sent before it
    BOOST_TEST(*bulk_at < kStream / 2);  // not starved until the stream stopped
}

BOOST_AUTO_TEST_CASE(a_full_bulk_queue_drops_new_frames_and_leaves_control_frames_alone) {
    TransportOptions options;
    options.max_bulk_queue_bytes = 3 * (1000 + 5);
    Pair p(options);

    for (std::uint32_t i = 0; i < 3; ++i) BOOST_TEST(p.n1->send_bulk(2, numbered(i, 1000)));
    BOOST_TEST(p.n1->queued_bulk_bytes(2) == 3 * 1005u);
    BOOST_TEST(!p.n1->send_bulk(2, numbered(3, 1000)));  // full: dropped
    BOOST_TEST(!p.n1->send_bulk(2, numbered(4, 1)));     // still full
    p.n1->send(2, text("vote"));                         // its own queue
    BOOST_TEST(!p.n1->send_bulk(9, numbered(5, 1)));     // not a peer
    BOOST_REQUIRE(run_until(p.io, [&] { return p.inbox2.arrivals.size() == 4; }));
    BOOST_TEST(p.inbox2.count(true) == 3u);
    BOOST_TEST(p.inbox2.count(false) == 1u);

    BOOST_TEST(p.n1->send_bulk(2, numbered(6, 1000)));  // room again once written
    BOOST_REQUIRE(run_until(p.io, [&] { return p.inbox2.arrivals.size() == 5; }));
    BOOST_TEST(seq_of(p.inbox2.arrivals.back().payload) == 6u);
}

BOOST_AUTO_TEST_CASE(a_rejected_bulk_frame_drops_the_connection) {
    Pair p;
    p.inbox2.accept_bulk = false;
    p.n1->send_bulk(2, numbered(1, 10));
    BOOST_REQUIRE(run_until(p.io, [&] { return p.log2.contains("malformed bulk message"); }));
    BOOST_TEST(p.log2.contains("dropping connection to peer n1"));
}

// The refused side learns who refuses it and why (the reason in the acceptor's Hello), cut to
// kMaxRefusalBytes and on one line, and knows the peer is down; once admitted, both are lifted.
BOOST_AUTO_TEST_CASE(a_refused_node_learns_the_reason_and_the_refusal_is_lifted_once_admitted) {
    asio::io_context io;
    Inbox inbox1, inbox2;
    LogLines log1, log2;
    bool refuse = true;
    TransportOptions options2;
    options2.admit = [&](NodeId, std::uint64_t, const HelloMarks&, TransportOptions::AdmitDone done) {
        done(refuse ? std::optional<std::string>("data dir differs:\r\n" + std::string(2000, 'x'))
                    : std::nullopt);
    };
    Transport n2(io, 2, kProtocol, std::map<NodeId, tcp::endpoint>{{1, {kLoopback, 1}}}, options2,
                 inbox2.control(), inbox2.bulk(), log2.sink());
    n2.start({kLoopback, 0});
    TransportOptions options1;
    options1.connect_backoff_max_ms = 50;
    Transport n1(io, 1, kProtocol, std::map<NodeId, tcp::endpoint>{{2, n2.local_endpoint()}}, options1,
                 inbox1.control(), inbox1.bulk(), log1.sink());
    BOOST_TEST(n1.links().at(0).known_down == false);  // not heard from yet: unknown, not down
    n1.start({kLoopback, 0});
    BOOST_REQUIRE(run_until(io, [&] { return !n1.links().at(0).refused_because.empty(); }));
    PeerLink link = n1.links().at(0);
    BOOST_TEST(link.id == 2u);
    BOOST_TEST(!link.connected);
    BOOST_TEST(link.known_down);
    BOOST_TEST(link.refused_because.size() == Transport::kMaxRefusalBytes);
    BOOST_TEST(link.refused_because.rfind("data dir differs:  xxx", 0) == 0, link.refused_because);
    BOOST_TEST(n2.links().at(0).known_down);  // the refusing side counts it down too
    BOOST_TEST(n2.links().at(0).refused_because.empty());

    refuse = false;
    BOOST_REQUIRE(run_until(io, [&] { return n1.connected(2) && n2.connected(1); }));
    link = n1.links().at(0);
    BOOST_TEST(link.connected);
    BOOST_TEST(!link.known_down);
    BOOST_TEST(link.refused_because.empty());
    n1.stop();
    n2.stop();
    io.poll();
}

// Reads and discards whatever `socket` receives until the other side closes it; false if it is
// still open when run_until's deadline passes.
bool closed_by_peer(asio::io_context& io, tcp::socket& socket) {
    bool closed = false;
    std::array<std::uint8_t, 64> sink{};
    std::function<void(boost::system::error_code, std::size_t)> drain = [&](boost::system::error_code ec,
                                                                            std::size_t) {
        if (ec)
            closed = true;
        else
            socket.async_read_some(asio::buffer(sink), drain);
    };
    socket.async_read_some(asio::buffer(sink), drain);
    const bool done = run_until(io, [&] { return closed; });
    if (!done) socket.close();  // the pending read must not outlive `sink` and `drain`
    io.poll();
    return done;
}

// SPEC "Security": a peer that connects and never finishes its handshake cannot hold the
// connection; it is closed after handshake_timeout_ms.
BOOST_AUTO_TEST_CASE(a_peer_silent_in_the_handshake_is_dropped) {
    asio::io_context io;
    Inbox inbox;
    TransportOptions options;
    options.handshake_timeout_ms = 200;
    Transport n2(io, 2, kProtocol, std::map<NodeId, tcp::endpoint>{{1, {kLoopback, 1}}}, options,
                 inbox.control(), inbox.bulk(), [](LogLevel, const std::string&) {});
    n2.start({kLoopback, 0});

    tcp::socket silent(io);
    silent.connect(n2.local_endpoint());
    BOOST_REQUIRE(closed_by_peer(io, silent));
    BOOST_TEST(!n2.connected(1));
    n2.stop();
    io.poll();
}

// A hand-written peer speaks the wire format: a version 3 frame reaches the bulk handler, a
// version 1 frame the control handler, and an unknown version drops the connection.
BOOST_AUTO_TEST_CASE(an_unknown_frame_version_drops_the_connection) {
    asio::io_context io;
    Inbox inbox;
    LogLines log;
    Transport n2(io, 2, kProtocol, std::map<NodeId, tcp::endpoint>{{1, {kLoopback, 1}}}, TransportOptions{},
                 inbox.control(), inbox.bulk(), log.sink());
    n2.start({kLoopback, 0});

    tcp::socket peer(io);
    peer.connect(n2.local_endpoint());  // the kernel completes it from the listen backlog
    asio::write(peer, asio::buffer(hello(1, 2)));
    // The acceptor's Hello, then the dialer's verdict (its own Hello again) admits the connection.
    std::array<std::uint8_t, 5> header{};
    Bytes reply;
    bool replied = false;
    asio::async_read(peer, asio::buffer(header), [&](boost::system::error_code ec, std::size_t) {
        BOOST_REQUIRE(!ec);
        std::uint32_t len = header[0] | header[1] << 8 | header[2] << 16 | header[3] << 24;
        BOOST_TEST(header[4] == 1);
        reply.resize(len - 1);
        asio::async_read(peer, asio::buffer(reply), [&](boost::system::error_code ec2, std::size_t) {
            BOOST_REQUIRE(!ec2);
            replied = true;
        });
    });
    BOOST_REQUIRE(run_until(io, [&] { return replied; }));
    asio::write(peer, asio::buffer(hello(1, 2)));
    BOOST_REQUIRE(run_until(io, [&] { return n2.connected(1); }));

    Bytes frames = frame(3, text("chunk"));
    Bytes control = frame(1, text("append"));
    Bytes unknown = frame(4, text("from the future"));
    frames.insert(frames.end(), control.begin(), control.end());
    frames.insert(frames.end(), unknown.begin(), unknown.end());
    asio::write(peer, asio::buffer(frames));

    BOOST_REQUIRE(closed_by_peer(io, peer));
    BOOST_TEST(log.contains("unknown frame version 4"));
    BOOST_REQUIRE(inbox.arrivals.size() == 2u);
    BOOST_TEST(inbox.arrivals[0].bulk);
    BOOST_TEST(inbox.arrivals[0].payload == text("chunk"));
    BOOST_TEST(!inbox.arrivals[1].bulk);
    BOOST_TEST(inbox.arrivals[1].payload == text("append"));
    BOOST_TEST(!n2.connected(1));
    n2.stop();
    io.poll();
}

namespace {

// A peer behind a slow link: accepts node 1, completes the handshake, then reads at most
// `read_bytes` every `period`, and notes how many bulk bytes it had received when the first
// control frame arrived.
struct SlowPeer {
    std::size_t bulk_bytes = 0;
    std::optional<std::size_t> bulk_bytes_at_control;
    bool connected = false;

    static asio::awaitable<Bytes> read_frame(tcp::socket& s) {
        std::array<std::uint8_t, 5> header{};
        co_await asio::async_read(s, asio::buffer(header), asio::use_awaitable);
        Bytes payload(header[0] | header[1] << 8 | header[2] << 16 | header[3] << 24);
        payload.resize(payload.size() - 1);
        co_await asio::async_read(s, asio::buffer(payload), asio::use_awaitable);
        co_return payload;
    }

    asio::awaitable<void> run(tcp::acceptor& acceptor, std::size_t read_bytes,
                              std::chrono::microseconds period) {
        tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
        co_await read_frame(s);
        co_await asio::async_write(s, asio::buffer(hello(2, 1)), asio::use_awaitable);
        co_await read_frame(s);
        connected = true;
        asio::steady_timer pace(s.get_executor());
        Bytes pending, chunk(read_bytes);
        for (;;) {
            pace.expires_after(period);
            co_await pace.async_wait(asio::use_awaitable);
            std::size_t n = co_await s.async_read_some(asio::buffer(chunk), asio::use_awaitable);
            pending.insert(pending.end(), chunk.begin(), chunk.begin() + n);
            std::size_t at = 0;
            while (pending.size() - at >= 5) {
                std::uint32_t len =
                    pending[at] | pending[at + 1] << 8 | pending[at + 2] << 16 | pending[at + 3] << 24;
                if (pending.size() - at < 4 + std::size_t{len}) break;
                if (pending[at + 4] == 3)
                    bulk_bytes += len - 1;
                else if (!bulk_bytes_at_control)
                    bulk_bytes_at_control = bulk_bytes;
                at += 4 + len;
            }
            pending.erase(pending.begin(), pending.begin() + at);
        }
    }
};

struct HeadOfLine {
    std::size_t bulk_bytes_ahead = 0;
    double delay_ms = 0;
};

// Streams 32 chunks of 256 KiB to a peer that reads 32 MiB/s through a 256 KiB receive buffer,
// sends a control frame after 200 ms, and measures what the control frame waited for.
HeadOfLine measure_head_of_line(std::size_t notsent_lowat_bytes) {
    asio::io_context io;
    tcp::acceptor acceptor(io);
    acceptor.open(tcp::v4());
    acceptor.set_option(asio::socket_base::receive_buffer_size(256 << 10));  // inherited, fixes the window
    acceptor.bind({kLoopback, 0});
    acceptor.listen();
    SlowPeer peer;
    asio::co_spawn(io, peer.run(acceptor, 64 << 10, std::chrono::milliseconds(2)), asio::detached);

    TransportOptions options;
    options.bulk_notsent_lowat_bytes = notsent_lowat_bytes;
    options.max_bulk_queue_bytes = 64 << 20;
    Inbox inbox;
    Transport n1(io, 1, kProtocol, std::map<NodeId, tcp::endpoint>{{2, acceptor.local_endpoint()}}, options,
                 inbox.control(), inbox.bulk(), nullptr);
    n1.start({kLoopback, 0});
    BOOST_REQUIRE(run_until(io, [&] { return peer.connected && n1.connected(2); }));
    for (std::uint32_t i = 0; i < 32; ++i) BOOST_REQUIRE(n1.send_bulk(2, numbered(i, 256 << 10)));
    io.run_for(std::chrono::milliseconds(200));
    std::size_t before = peer.bulk_bytes;
    auto sent = std::chrono::steady_clock::now();
    n1.send(2, text("heartbeat"));
    BOOST_REQUIRE(run_until(io, [&] { return peer.bulk_bytes_at_control.has_value(); }));
    HeadOfLine result;
    result.delay_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count();
    result.bulk_bytes_ahead = *peer.bulk_bytes_at_control - before;
    n1.stop();
    acceptor.close();
    return result;
}

// Bulk throughput between two Transports on loopback: 256 MiB in 256 KiB chunks, the bulk queue
// kept topped up, in MiB/s.
double measure_bulk_throughput(std::size_t notsent_lowat_bytes) {
    constexpr std::size_t kChunk = 256 << 10, kChunks = 1024;
    TransportOptions options;
    options.bulk_notsent_lowat_bytes = notsent_lowat_bytes;
    Pair p(options);
    std::size_t received = 0, sent = 0;
    p.inbox2.arrivals.reserve(kChunks);
    auto start = std::chrono::steady_clock::now();
    BOOST_REQUIRE(run_until(p.io, [&] {
        while (sent < kChunks && p.n1->queued_bulk_bytes(2) < 4 * kChunk &&
               p.n1->send_bulk(2, numbered(sent, kChunk)))
            ++sent;
        for (; received < p.inbox2.arrivals.size(); ++received) p.inbox2.arrivals[received].payload = {};
        return received == kChunks;
    }));
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return kChunks * kChunk / seconds / (1 << 20);
}

}  // namespace

// Not a check: a measurement of what TCP_NOTSENT_LOWAT buys (common/transport.h), run by hand:
//   build/tests/transport_test --run_test=measure_head_of_line_blocking --log_level=message
BOOST_AUTO_TEST_CASE(measure_head_of_line_blocking, *boost::unit_test::disabled()) {
    for (std::size_t lowat : {std::size_t{0}, std::size_t{128} << 10, std::size_t{32} << 10}) {
        HeadOfLine h = measure_head_of_line(lowat);
        BOOST_TEST_MESSAGE("bulk_notsent_lowat_bytes=" << lowat << ": " << h.bulk_bytes_ahead / 1024
                                                       << " KiB of bulk ahead of the control frame, delay "
                                                       << h.delay_ms << " ms");
    }
    for (std::size_t lowat :
         {std::size_t{0}, std::size_t{128} << 10, std::size_t{0}, std::size_t{128} << 10}) {
        double mib_per_s = measure_bulk_throughput(lowat);
        BOOST_TEST_MESSAGE("bulk_notsent_lowat_bytes=" << lowat << ": bulk throughput on loopback "
                                                       << mib_per_s << " MiB/s");
    }
}

// ---- peers that follow the configuration (Transport::set_peers; SPEC "Membership change") ----

BOOST_AUTO_TEST_CASE(a_peer_added_later_is_dialed_and_a_removed_one_is_cut_off) {
    asio::io_context io;
    Inbox inbox1, inbox2;
    LogLines log1, log2;
    // Node 2 knows node 1 from the start; node 1 knows nobody until its configuration holds 2.
    Transport n2(io, 2, kProtocol, {{1, {kLoopback, 1}}}, {}, inbox2.control(), inbox2.bulk(), log2.sink());
    n2.start({kLoopback, 0});
    Transport n1(io, 1, kProtocol, {}, {}, inbox1.control(), inbox1.bulk(), log1.sink());
    n1.start({kLoopback, 0});
    BOOST_TEST(n1.links().empty());

    n1.set_peers({{2, n2.local_endpoint()}});
    BOOST_REQUIRE(run_until(io, [&] { return n1.connected(2) && n2.connected(1); }));
    n1.send(2, Bytes{7});
    BOOST_REQUIRE(run_until(io, [&] { return inbox2.count(false) == 1; }));

    // Removed: disconnected, no longer listed, never dialed again, refused if it dials in.
    n1.set_peers({});
    BOOST_REQUIRE(run_until(io, [&] { return !n2.connected(1); }));
    BOOST_TEST(n1.links().empty());
    BOOST_TEST(!n1.connected(2));
    n1.send(2, Bytes{8});  // dropped: not a peer
    BOOST_TEST(n1.connected_peers() == 0u);

    // Added again: connected again.
    n1.set_peers({{2, n2.local_endpoint()}});
    BOOST_REQUIRE(run_until(io, [&] { return n1.connected(2) && n2.connected(1); }));
    n1.stop();
    n2.stop();
    io.poll();
}

BOOST_AUTO_TEST_CASE(a_joining_node_admits_an_unlisted_lower_id_only_while_allowed) {
    asio::io_context io;
    Inbox inbox1, inbox4;
    LogLines log1, log4;
    bool allow = false;
    TransportOptions joining;
    joining.admit_unlisted = [&] { return allow; };
    Transport n4(io, 4, kProtocol, {}, joining, inbox4.control(), inbox4.bulk(), log4.sink());
    n4.start({kLoopback, 0});
    Transport n1(io, 1, kProtocol, {{4, n4.local_endpoint()}}, {}, inbox1.control(), inbox1.bulk(),
                 log1.sink());
    n1.start({kLoopback, 0});
    BOOST_REQUIRE(run_until(io, [&] { return log4.contains("node 1 is not a member"); }));
    BOOST_TEST(!n4.connected(1));
    allow = true;  // node 4 started with --join and has no configuration yet
    BOOST_REQUIRE(run_until(io, [&] { return n4.connected(1) && n1.connected(4); }));
    BOOST_TEST(n4.links().size() == 1u);
    n1.stop();
    n4.stop();
    io.poll();
}

// A member that was away holds an old configuration: a node added since dials it (here the
// higher id, after its reverse-dial wait) and is admitted only if it has applied more of the log,
// i.e. it may be in a configuration this member has not reached yet.
BOOST_AUTO_TEST_CASE(a_member_admits_an_unknown_node_only_if_it_has_applied_more) {
    asio::io_context io;
    Inbox inbox2, inbox4;
    LogLines log2, log4;
    Index applied2 = 50, applied4 = 50;
    TransportOptions away, added;
    away.applied_index = [&] { return applied2; };
    added.applied_index = [&] { return applied4; };
    added.reverse_dial_after_ms = 20;
    Transport n2(io, 2, kProtocol, {}, away, inbox2.control(), inbox2.bulk(), log2.sink());
    n2.start({kLoopback, 0});
    Transport n4(io, 4, kProtocol, {{2, n2.local_endpoint()}}, added, inbox4.control(), inbox4.bulk(),
                 log4.sink());
    n4.start({kLoopback, 0});
    BOOST_REQUIRE(run_until(io, [&] { return log2.contains("node 4 is not a member"); }));
    BOOST_TEST(!n2.connected(4));
    applied4 = 51;  // node 4 applied its own addition, which node 2 has not
    BOOST_REQUIRE(run_until(io, [&] { return n2.connected(4) && n4.connected(2); }));
    BOOST_TEST(log2.contains(
        "node 4 is not in this node's configuration but has applied more of the log (51 > 50)"));
    n4.send(2, text("entries"));
    BOOST_REQUIRE(run_until(io, [&] { return inbox2.count(false) == 1; }));
    n2.stop();
    n4.stop();
    io.poll();
}

// A node started with --join knows one member, and a lower id never dials a node it does not
// know: the higher id dials it, once it has waited reverse_dial_after_ms for the lower to (a
// Multi-Paxos leader 4 and a replaced node 3 that knew only node 1 never met otherwise).
BOOST_AUTO_TEST_CASE(a_higher_id_dials_a_lower_one_that_does_not_know_it) {
    asio::io_context io;
    Inbox inbox3, inbox4;
    LogLines log3, log4;
    TransportOptions options;
    options.reverse_dial_after_ms = 50;
    TransportOptions joining = options;
    joining.admit_unlisted = [] { return true; };
    Transport n3(io, 3, kProtocol, {}, joining, inbox3.control(), inbox3.bulk(), log3.sink());
    n3.start({kLoopback, 0});
    Transport n4(io, 4, kProtocol, {{3, n3.local_endpoint()}}, options, inbox4.control(), inbox4.bulk(),
                 log4.sink());
    n4.start({kLoopback, 0});
    BOOST_REQUIRE(run_until(io, [&] { return n3.connected(4) && n4.connected(3); }));
    BOOST_TEST(log3.contains("node 4 dialed this joining node: admitting it as a peer"));
    n4.send(3, text("entries"));
    n3.send(4, text("ack"));
    BOOST_REQUIRE(run_until(io, [&] { return inbox3.count(false) == 1 && inbox4.count(false) == 1; }));
    n3.stop();
    n4.stop();
    io.poll();
}

// Both ends dial at once (the higher id's wait is 0 here): each keeps the connection the lower id
// dialed, so frames flow both ways on one connection and none is lost to a duplicate's closing.
BOOST_AUTO_TEST_CASE(when_both_ends_dial_both_keep_the_lower_ids_connection) {
    asio::io_context io;
    Inbox inbox1, inbox2;
    LogLines log1, log2;
    TransportOptions options;
    options.reverse_dial_after_ms = 0;
    tcp::acceptor a1(io, {kLoopback, 0}), a2(io, {kLoopback, 0});
    const tcp::endpoint e1 = a1.local_endpoint(), e2 = a2.local_endpoint();
    Transport n1(io, 1, kProtocol, {{2, e2}}, options, inbox1.control(), inbox1.bulk(), log1.sink());
    Transport n2(io, 2, kProtocol, {{1, e1}}, options, inbox2.control(), inbox2.bulk(), log2.sink());
    n1.start(std::move(a1));
    n2.start(std::move(a2));
    BOOST_REQUIRE(run_until(io, [&] { return n1.connected(2) && n2.connected(1); }));
    // Let any second connection finish its handshake and be settled.
    const auto settle = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    run_until(io, [&] { return std::chrono::steady_clock::now() > settle; });
    BOOST_REQUIRE(n1.connected(2) && n2.connected(1));
    for (std::uint32_t i = 0; i < 100; ++i) {
        n1.send(2, numbered(i, 8));
        n2.send(1, numbered(i, 8));
    }
    BOOST_REQUIRE(run_until(io, [&] { return inbox1.count(false) == 100 && inbox2.count(false) == 100; }));
    for (std::uint32_t i = 0; i < 100; ++i) {
        BOOST_TEST(seq_of(inbox1.arrivals[i].payload) == i);
        BOOST_TEST(seq_of(inbox2.arrivals[i].payload) == i);
    }
    n1.stop();
    n2.stop();
    io.poll();
}

// MEMBER ADD learns the data dir identity of the node it adds by a probe (Transport::probe): the
// node at the address answers with its own Hello and admits no one, and the prober says plainly
// when the address holds another node, another protocol, or nothing that answers.
BOOST_AUTO_TEST_CASE(a_probe_learns_the_identity_of_the_node_at_an_address_and_admits_no_one) {
    asio::io_context io;
    Inbox inbox1, inbox4, inbox9;
    LogLines log1, log4, log9;
    int admitted = 0;
    TransportOptions joining;
    joining.identity = 0xABCDEF;
    joining.admit_unlisted = [] { return true; };
    joining.admit = [&](NodeId, std::uint64_t, const HelloMarks&, TransportOptions::AdmitDone done) {
        ++admitted;
        done(std::nullopt);
    };
    Transport n4(io, 4, kProtocol, {}, joining, inbox4.control(), inbox4.bulk(), log4.sink());
    n4.start({kLoopback, 0});
    TransportOptions prober;
    prober.identity = 0x111;
    prober.handshake_timeout_ms = 300;
    Transport n1(io, 1, kProtocol, {}, prober, inbox1.control(), inbox1.bulk(), log1.sink());
    n1.start({kLoopback, 0});
    Transport n9(io, 9, "paxos", {}, TransportOptions{}, inbox9.control(), inbox9.bulk(), log9.sink());
    n9.start({kLoopback, 0});

    auto ask = [&](const tcp::endpoint& at, NodeId expected) {
        std::optional<PeerProbe> answer;
        n1.probe(at, expected, [&](PeerProbe p) { answer = std::move(p); });
        BOOST_REQUIRE(run_until(io, [&] { return answer.has_value(); }));
        return *answer;
    };
    PeerProbe found = ask(n4.local_endpoint(), 4);
    BOOST_TEST(found.identity == 0xABCDEFu);
    BOOST_TEST(found.error.empty(), found.error);
    BOOST_TEST(admitted == 0);
    BOOST_TEST(n4.links().empty());  // the prober was not admitted as a peer
    BOOST_TEST(inbox4.arrivals.empty());

    PeerProbe other = ask(n4.local_endpoint(), 5);
    BOOST_TEST(other.identity == 0u);
    BOOST_TEST(other.error.find("is node 4, not node 5") != std::string::npos, other.error);

    PeerProbe protocol = ask(n9.local_endpoint(), 9);
    BOOST_TEST(protocol.identity == 0u);
    BOOST_TEST(protocol.error.find("runs --protocol paxos") != std::string::npos, protocol.error);

    tcp::endpoint vacant;
    {
        tcp::acceptor taken(io, {kLoopback, 0});
        vacant = taken.local_endpoint();
    }  // closed: nothing listens there now
    PeerProbe nobody = ask(vacant, 4);
    BOOST_TEST(nobody.identity == 0u);
    BOOST_TEST(nobody.error.find("cannot connect to 127.0.0.1:") != std::string::npos, nobody.error);

    tcp::acceptor silent(io, {kLoopback, 0});
    tcp::socket held(io);
    silent.async_accept(held, [](boost::system::error_code) {});
    PeerProbe mute = ask(silent.local_endpoint(), 4);
    BOOST_TEST(mute.identity == 0u);
    BOOST_TEST(mute.error.find("no answer from") != std::string::npos, mute.error);

    n1.stop();
    n4.stop();
    n9.stop();
    io.poll();
}
