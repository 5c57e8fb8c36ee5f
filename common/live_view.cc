#include "common/live_view.h"

#include <spdlog/spdlog.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>

#include "common/node_report.h"
#include "common/spawn.h"

namespace ballot {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::ip::tcp;

namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

Response make_response(const Request& req, http::status status, std::string content_type, std::string body) {
    Response res{status, req.version()};
    res.set(http::field::server, "ballot-server");
    res.set(http::field::content_type, content_type);
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

Response error_response(const Request& req, http::status status, const std::string& why) {
    return make_response(req, status, "text/plain; charset=utf-8", why + "\n");
}

// The path of a request target, without its query ("/status?x=1" -> "/status").
std::string_view target_path(const Request& req) {
    std::string_view target = req.target();
    return target.substr(0, target.find('?'));
}

// `?max_message_rate=N` of an /events request: at most N protocol messages a second (0: all).
std::size_t max_message_rate(const Request& req) {
    std::string_view target = req.target();
    const std::string_view key = "max_message_rate=";
    const auto at = target.find(key);
    if (at == std::string_view::npos) return 0;
    std::size_t rate = 0;
    const char* begin = target.data() + at + key.size();
    std::from_chars(begin, target.data() + target.size(), rate);
    return rate;  // not a number: 0, every message
}

// An /events stream's response header: no length (the stream ends when either side closes).
const std::string& event_stream_header() {
    static const std::string header =
        "HTTP/1.1 200 OK\r\n"
        "Server: ballot-server\r\n"
        "Content-Type: text/event-stream\r\n"
        "Cache-Control: no-store\r\n"
        "Access-Control-Allow-Origin: *\r\n"
        "Connection: close\r\n"
        "\r\n"
        "retry: 1000\n\n";  // EventSource reconnects after 1 s if the node goes away
    return header;
}

std::string sse_data(const std::string& json) {
    return "data: " + json + "\n\n";
}

}  // namespace

std::optional<HttpAddress> parse_http_address(const std::string& text, std::string& error) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) {
        error = "--http " + text + ": expected HOST:PORT, e.g. 127.0.0.1:8001";
        return std::nullopt;
    }
    const std::string port_text = text.substr(colon + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() || port < 1 ||
        port > 65535) {
        error = "--http " + text + ": port " + port_text + " is not a port (1-65535)";
        return std::nullopt;
    }
    return HttpAddress{text.substr(0, colon), static_cast<std::uint16_t>(port)};
}

// One HTTP connection.
struct LiveConnection {
    explicit LiveConnection(tcp::socket socket) : stream(std::move(socket)), wake(stream.get_executor()) {}

    void close() {
        closed = true;
        wake.cancel();
        boost::system::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream.socket().close(ignored);
    }

    beast::tcp_stream stream;
    asio::steady_timer wake;  // an /events stream waits on it for events (cancelled: some came)
    bool closed = false;
};

struct LiveViewServer::Impl : std::enable_shared_from_this<Impl> {
    Impl(asio::io_context& io_, Node& node_) : io(io_), node(node_) {}

    asio::io_context& io;
    Node& node;
    std::unique_ptr<tcp::acceptor> acceptor;
    std::vector<std::weak_ptr<LiveConnection>> connections;
    bool stopped = false;

    std::size_t open_connections() {
        std::erase_if(connections, [](auto& w) { return w.expired(); });
        return connections.size();
    }

    static awaitable<void> accept_loop(std::shared_ptr<Impl> me) {
        while (!me->stopped) {
            auto [ec, socket] = co_await me->acceptor->async_accept(tuple_awaitable);
            if (ec) {
                if (me->stopped) co_return;
                spdlog::warn("live view: accept failed: {}", ec.message());
                continue;
            }
            if (me->open_connections() >= kMaxConnections) {
                spdlog::warn("live view: refusing a connection: {} open already", kMaxConnections);
                boost::system::error_code ignored;
                socket.close(ignored);
                continue;
            }
            auto connection = std::make_shared<LiveConnection>(std::move(socket));
            me->connections.push_back(connection);
            asio::co_spawn(me->io, serve(me, connection), log_escaped("a live view connection"));
        }
    }

    // Requests on one connection, one after the other (keep-alive), until it closes or turns
    // into an /events stream.
    static awaitable<void> serve(std::shared_ptr<Impl> me, std::shared_ptr<LiveConnection> c) {
        beast::flat_buffer buffer(kMaxRequestBytes);
        while (!c->closed && !me->stopped) {
            http::request_parser<http::string_body> parser;
            parser.header_limit(kMaxRequestBytes);
            parser.body_limit(kMaxRequestBytes);
            c->stream.expires_after(kRequestTimeout);
            auto [ec, n] = co_await http::async_read(c->stream, buffer, parser, tuple_awaitable);
            if (ec) {
                if (is_bad_request(ec)) co_await reply_bad_request(c, ec);
                break;
            }
            Request req = parser.release();
            if (req.method() == http::verb::get && target_path(req) == "/events") {
                co_await stream_events(me, c, max_message_rate(req));
                break;
            }
            Response res = me->respond(req);
            c->stream.expires_after(kRequestTimeout);
            auto [write_ec, written] = co_await http::async_write(c->stream, res, tuple_awaitable);
            if (write_ec || !res.keep_alive()) break;
        }
        c->close();
    }

    // A request that could not be read because of what the client sent (not a closed or slow
    // connection): worth a 400 naming why.
    static bool is_bad_request(const boost::system::error_code& ec) {
        const boost::system::error_code end_of_stream = http::error::end_of_stream;
        return ec.category() == end_of_stream.category() && ec != end_of_stream &&
               ec != http::error::partial_message;
    }

    static awaitable<void> reply_bad_request(std::shared_ptr<LiveConnection> c,
                                             boost::system::error_code why) {
        Request none;
        none.keep_alive(false);
        Response res = error_response(none, http::status::bad_request, "bad request: " + why.message());
        c->stream.expires_after(kRequestTimeout);
        co_await http::async_write(c->stream, res, tuple_awaitable);
    }

    Response respond(const Request& req) {
        if (req.method() != http::verb::get) {
            Response res = error_response(req, http::status::method_not_allowed, "only GET is served here");
            res.set(http::field::allow, "GET");
            return res;
        }
        const std::string_view path = target_path(req);
        if (path == "/" || path == "/index.html")
            return make_response(req, http::status::ok, "text/html; charset=utf-8", live_view_page());
        if (path == "/status") {
            Response res = make_response(req, http::status::ok, "application/json",
                                         status_json(node_report(node)) + "\n");
            res.set(http::field::access_control_allow_origin, "*");
            return res;
        }
        return error_response(req, http::status::not_found,
                              "not found: this node serves / (the live view), /status and /events");
    }

    // GET /events: the current state first, then every event as it comes (common/live_events.h),
    // in batches: whatever queued up while the previous batch was being written goes in one
    // write.
    static awaitable<void> stream_events(std::shared_ptr<Impl> me, std::shared_ptr<LiveConnection> c,
                                         std::size_t max_messages_per_s) {
        LiveEvents& events = me->node.live_events();
        std::weak_ptr<LiveConnection> weak = c;
        auto subscriber = events.subscribe(
            [weak] {
                if (auto conn = weak.lock()) conn->wake.cancel();
            },
            max_messages_per_s);
        if (!subscriber) {
            Request none;
            none.keep_alive(false);
            Response res = error_response(none, http::status::service_unavailable,
                                          "too many /events readers on this node (at most " +
                                              std::to_string(LiveEvents::kMaxSubscribers) + ")");
            res.set(http::field::access_control_allow_origin, "*");
            c->stream.expires_after(kRequestTimeout);
            co_await http::async_write(c->stream, res, tuple_awaitable);
            co_return;
        }
        const NodeId self = me->node.options().cluster.self;
        std::string out =
            event_stream_header() +
            sse_data(state_event_json(self, status_json(node_report(me->node)), unix_time_ms()));
        while (!c->closed && !me->stopped) {
            c->stream.expires_after(kRequestTimeout);
            auto [ec, n] = co_await asio::async_write(c->stream, asio::buffer(out), tuple_awaitable);
            if (ec) break;
            out.clear();
            if (subscriber->queue.empty() && subscriber->dropped == 0 && subscriber->sampled_out.empty()) {
                c->wake.expires_after(kKeepAlive);
                auto [wait_ec] = co_await c->wake.async_wait(tuple_awaitable);
                if (!wait_ec) out = ": keep-alive\n\n";  // timed out: nothing happened
            }
            if (subscriber->dropped > 0) {
                out += sse_data(dropped_event_json(self, subscriber->dropped));
                subscriber->dropped = 0;
            }
            if (!subscriber->sampled_out.empty()) {
                out += sse_data(sampled_event_json(self, subscriber->sampled_out));
                subscriber->sampled_out.clear();
            }
            for (auto& event : subscriber->queue) out += sse_data(*event);
            subscriber->queue.clear();
            if (out.empty()) out = ": keep-alive\n\n";
        }
        events.unsubscribe(subscriber);
    }
};

LiveViewServer::LiveViewServer(asio::io_context& io, Node& node) : impl_(std::make_shared<Impl>(io, node)) {}

LiveViewServer::~LiveViewServer() {
    stop();
}

void LiveViewServer::start(tcp::acceptor listening) {
    impl_->acceptor = std::make_unique<tcp::acceptor>(std::move(listening));
    asio::co_spawn(impl_->io, Impl::accept_loop(impl_), rethrow_escaped);
}

void LiveViewServer::stop() {
    if (impl_->stopped) return;
    impl_->stopped = true;
    boost::system::error_code ignored;
    if (impl_->acceptor) impl_->acceptor->close(ignored);
    for (auto& w : impl_->connections)
        if (auto c = w.lock()) c->close();
}

}  // namespace ballot
