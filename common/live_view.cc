#include "common/live_view.h"

#include <spdlog/spdlog.h>

#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <set>

#include "common/node_report.h"
#include "common/secret.h"
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

// The value of `?name=...` (or `&name=...`) in a request's query, empty if absent.
std::string_view query_param(const Request& req, std::string_view name) {
    std::string_view target = req.target();
    const auto question = target.find('?');
    if (question == std::string_view::npos) return {};
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
        const std::string_view pair = query.substr(0, query.find('&'));
        if (pair.size() > name.size() && pair.substr(0, name.size()) == name && pair[name.size()] == '=')
            return pair.substr(name.size() + 1);
        query.remove_prefix(std::min(query.size(), pair.size() + 1));
    }
    return {};
}

// `?max_message_rate=N` of an /events request: at most N protocol messages a second (0: all).
std::size_t max_message_rate(const Request& req) {
    const std::string_view text = query_param(req, "max_message_rate");
    std::size_t rate = 0;
    std::from_chars(text.data(), text.data() + text.size(), rate);
    return rate;  // not a number: 0, every message
}

// `?peers=2,3` of /admin/partition: the ids, or nullopt if the list is empty or not ids.
std::optional<std::set<NodeId>> peer_ids(const Request& req) {
    std::string_view text = query_param(req, "peers");
    std::set<NodeId> ids;
    while (!text.empty()) {
        const std::string_view item = text.substr(0, text.find(','));
        NodeId id = 0;
        auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
        if (ec != std::errc{} || end != item.data() + item.size() || id == kNoNode) return std::nullopt;
        ids.insert(id);
        text.remove_prefix(std::min(text.size(), item.size() + 1));
    }
    if (ids.empty()) return std::nullopt;
    return ids;
}

// HTTP basic auth's user and password, if the request carries them.
std::optional<std::pair<std::string, std::string>> basic_credentials(const Request& req) {
    const std::string_view value = req[http::field::authorization];
    const std::string_view scheme = "Basic ";
    if (value.size() <= scheme.size() || !beast::iequals(value.substr(0, scheme.size()), scheme))
        return std::nullopt;
    const std::string_view encoded = value.substr(scheme.size());
    std::string decoded(beast::detail::base64::decoded_size(encoded.size()), '\0');
    const auto [written, read] =
        beast::detail::base64::decode(decoded.data(), encoded.data(), encoded.size());
    decoded.resize(written);
    const auto colon = decoded.find(':');
    // decode() stops at the padding: what it did not read must be padding only.
    const bool whole = encoded.find_first_not_of('=', read) == std::string_view::npos;
    if (!whole || colon == std::string::npos) return std::nullopt;
    return std::pair{decoded.substr(0, colon), decoded.substr(colon + 1)};
}

// What a request may do: nothing, look (/, /status, /events), or also the admin actions.
enum class Grant { none, view, admin };

// The grant of a request (see the file comment of common/live_view.h), and whether it presented a
// wrong secret (to be logged and slowed down).
struct Verdict {
    Grant grant = Grant::none;
    bool wrong_secret = false;
};

Verdict verdict_of(const LiveViewAuth& auth, const Request& req) {
    // What the data password (or no password at all) grants: everything without an admin secret.
    const Grant data_grant = auth.admin_password ? Grant::view : Grant::admin;
    if (auto credentials = basic_credentials(req)) {
        const auto& [user, pass] = *credentials;
        if (user == "admin")
            return auth.admin_password && secrets_equal(*auth.admin_password, pass)
                       ? Verdict{Grant::admin}
                       : Verdict{Grant::none, true};
        if (!auth.password || secrets_equal(*auth.password, pass)) return Verdict{data_grant};
        return Verdict{Grant::none, true};
    }
    if (!auth.password) return Verdict{data_grant};
    const std::string_view token = query_param(req, "token");
    if (token.empty()) return Verdict{Grant::none};
    if (secrets_equal(live_view_token(*auth.password), token)) return Verdict{data_grant};
    return Verdict{Grant::none, true};
}

Response unauthorized(const Request& req, const std::string& why) {
    Response res = error_response(req, http::status::unauthorized, why);
    res.set(http::field::www_authenticate, "Basic realm=\"ballot live view\", charset=\"UTF-8\"");
    res.set(http::field::access_control_allow_origin, "*");
    return res;
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

    // The peer's address, for the log ("?" once it is gone).
    std::string address() {
        boost::system::error_code ec;
        const auto endpoint = stream.socket().remote_endpoint(ec);
        return ec ? "?" : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
    }

    beast::tcp_stream stream;
    asio::steady_timer wake;  // an /events stream waits on it for events (cancelled: some came)
    bool closed = false;
    unsigned auth_failures = 0;  // wrong secrets on this connection (each slows the next reply)
};

struct LiveViewServer::Impl : std::enable_shared_from_this<Impl> {
    Impl(asio::io_context& io_, Node& node_, LiveViewAuth auth_)
        : io(io_), node(node_), auth(std::move(auth_)) {}

    asio::io_context& io;
    Node& node;
    const LiveViewAuth auth;
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
            const Verdict verdict = verdict_of(me->auth, req);
            if (verdict.wrong_secret) co_await slow_down_wrong_secret(c, target_path(req));
            if (req.method() == http::verb::get && target_path(req) == "/events" &&
                verdict.grant != Grant::none) {
                co_await stream_events(me, c, max_message_rate(req));
                break;
            }
            Response res = me->respond(req, verdict.grant);
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

    // A wrong password, as RESP's AUTH treats one (kv/resp_server.cc): logged with the address, and
    // the reply held back longer at each failure on the connection.
    static awaitable<void> slow_down_wrong_secret(std::shared_ptr<LiveConnection> c, std::string_view path) {
        const auto delay = failed_auth_delay(++c->auth_failures);
        spdlog::warn(
            "live view client {}: wrong password for {} (failure {} on this connection; replying in {} ms)",
            c->address(), path, c->auth_failures, delay.count());
        c->wake.expires_after(delay);
        co_await c->wake.async_wait(tuple_awaitable);
    }

    Response respond(const Request& req, Grant grant) {
        const std::string_view path = target_path(req);
        if (path.starts_with("/admin/")) return admin_action(req, path, grant);
        if (req.method() != http::verb::get) {
            Response res = error_response(req, http::status::method_not_allowed, "only GET is served here");
            res.set(http::field::allow, "GET");
            return res;
        }
        if (grant == Grant::none)
            return unauthorized(
                req, "this live view needs the password: HTTP basic auth (user default) or ?token=");
        if (path == "/" || path == "/index.html")
            return make_response(req, http::status::ok, "text/html; charset=utf-8", page_with_token());
        if (path == "/status") {
            Response res = make_response(req, http::status::ok, "application/json",
                                         status_json(node_report(node)) + "\n");
            res.set(http::field::access_control_allow_origin, "*");
            return res;
        }
        return error_response(req, http::status::not_found,
                              "not found: this node serves / (the live view), /status and /events");
    }

    // The page, carrying the token that lets it follow the other members (a reader who got the
    // page has shown the password already).
    std::string page_with_token() const {
        const std::string& page = live_view_page();
        if (!auth.password) return page;
        const std::string slot = "<meta name=\"ballot-token\" content=\"\">";
        const auto at = page.find(slot);
        if (at == std::string::npos) return page;
        std::string out = page;
        out.replace(at, slot.size(),
                    "<meta name=\"ballot-token\" content=\"" + live_view_token(*auth.password) + "\">");
        return out;
    }

    // A page may ask for an admin action only from this node's own origin or another member's live
    // view: a browser sends any site's POST here, and no other site may crash a node.
    bool trusted_origin(const Request& req) const {
        const std::string_view origin = req[http::field::origin];
        if (origin.empty()) return true;  // not a browser's cross-site request (curl, a test)
        if (origin == "http://" + std::string(req[http::field::host])) return true;
        for (const MemberReport& m : node_report(node).members)
            if (!m.http_address.empty() && origin == "http://" + m.http_address) return true;
        return false;
    }

    // POST /admin/... (see the file comment of common/live_view.h), and the browser's CORS
    // preflight for it.
    Response admin_action(const Request& req, std::string_view path, Grant grant) {
        if (!node.options().http_admin)
            return error_response(
                req, http::status::forbidden,
                "admin actions are off: start ballot-server with --http-admin to allow them");
        if (!trusted_origin(req))
            return error_response(req, http::status::forbidden,
                                  "admin actions are taken only from this cluster's own live view");
        Response res = admin_reply(req, path, grant);
        if (std::string_view origin = req[http::field::origin]; !origin.empty()) {
            res.set(http::field::access_control_allow_origin, origin);
            res.set(http::field::vary, "Origin");
        }
        return res;
    }

    // Why `ids` are not all other members of this node's configuration (nullopt: they are).
    std::optional<std::string> not_peers(const std::set<NodeId>& ids) const {
        const Configuration config = node.configuration();
        for (NodeId id : ids) {
            if (id == node.options().cluster.self) return "node " + std::to_string(id) + " is this node";
            if (!config.contains(id)) return "node " + std::to_string(id) + " is not a member";
        }
        return std::nullopt;
    }

    Response admin_reply(const Request& req, std::string_view path, Grant grant) {
        if (req.method() == http::verb::options) {
            Response res = make_response(req, http::status::no_content, "text/plain", "");
            res.set(http::field::access_control_allow_methods, "POST");
            res.set(http::field::access_control_allow_headers, "Authorization");
            return res;
        }
        if (req.method() != http::verb::post) {
            Response res = error_response(req, http::status::method_not_allowed, "admin actions are POST");
            res.set(http::field::allow, "POST");
            return res;
        }
        if (grant == Grant::none)
            return unauthorized(req, "admin actions need the admin secret (user admin)");
        if (grant != Grant::admin)
            return error_response(req, http::status::forbidden,
                                  "admin actions need the admin secret (user admin), not the data password");
        auto ok = [&](const std::string& what) {
            return make_response(req, http::status::ok, "text/plain", what + "\n");
        };
        if (path == "/admin/crash") {
            if (node.crashed()) return ok("already crashed");
            node.crash();
            return ok("crashed");
        }
        if (path == "/admin/restart") {
            if (!node.crashed())
                return error_response(req, http::status::conflict,
                                      "not crashed: crash it first (POST /admin/crash)");
            node.restart();
            return ok("restarted");
        }
        if (path == "/admin/partition") {
            auto peers = peer_ids(req);
            if (!peers) return error_response(req, http::status::bad_request, "expected ?peers=ID[,ID...]");
            if (auto why = not_peers(*peers)) return error_response(req, http::status::bad_request, *why);
            node.partition(*peers);
            return ok("cut off from " + id_list({node.partitioned().begin(), node.partitioned().end()}));
        }
        if (path == "/admin/heal") {
            node.heal();
            return ok("healed");
        }
        return error_response(req, http::status::not_found,
                              "not found: admin actions are /admin/crash, /admin/restart, "
                              "/admin/partition?peers=ID[,ID...] and /admin/heal");
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

LiveViewServer::LiveViewServer(asio::io_context& io, Node& node, LiveViewAuth auth)
    : impl_(std::make_shared<Impl>(io, node, std::move(auth))) {}

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
