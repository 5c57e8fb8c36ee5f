// The live view (SPEC "Live view (HTTP)"; README "Live view"): `ballot-server --http HOST:PORT`
// serves, with Boost.Beast on the node's own io_context,
//   GET /         a page that finds every member and draws the cluster live (web/live_view.html,
//                 built into the binary: the page makes no fetch beyond the cluster's own nodes)
//   GET /status   this node's state as JSON: INFO's fields (common/node_report.h), members with
//                 their live-view addresses, the engine's title
//   GET /events   Server-Sent Events: protocol messages and state changes (common/live_events.h)
//   POST /admin/crash, /admin/restart, /admin/partition?peers=2,3, /admin/heal
//                 the lab bench's admin actions (Node::crash, restart, partition, heal), only with
//                 --http-admin (403 otherwise)
// /status and /events allow any origin, so that a page served by one member can read them all;
// an admin action is refused to a page from any origin but a member's live view (no other web
// page may crash a node through a browser).
//
// WHO MAY LOOK (SPEC "Security"): without a password everything is open (loopback demos). With
// --requirepass-file every path needs either HTTP basic auth with the data password (any user
// name but "admin", e.g. "default") or `?token=T`, T = live_view_token(password)
// (common/secret.h): the page served to an authenticated reader carries T, and uses it to follow
// the other members, whose origins the browser sends no credentials to. Admin actions need the
// admin secret (user "admin") when --admin-pass-file is set, else what viewing needs, as RESP's
// admin commands do (kv/auth.h). A wrong password is answered 401, logged with the address, and
// slowed down like RESP's (failed_auth_delay). Secrets are compared in constant time.
// Bounded everywhere: connections (kMaxConnections), request size, the time to send a request,
// and every /events reader's queue.
#pragma once

#include <boost/asio.hpp>
#include <memory>
#include <optional>
#include <string>

#include "common/node.h"

namespace ballot {

// Parses --http's "HOST:PORT" (port 1-65535). On failure returns nullopt and sets `error` to one
// line naming the problem.
struct HttpAddress {
    std::string host;
    std::uint16_t port = 0;
    std::string str() const { return host + ":" + std::to_string(port); }
};
std::optional<HttpAddress> parse_http_address(const std::string& text, std::string& error);

// The page served at GET / (web/live_view.html, embedded at build time).
const std::string& live_view_page();

// The secrets the live view asks for; nullopt: that check is off.
struct LiveViewAuth {
    std::optional<std::string> password;        // --requirepass-file
    std::optional<std::string> admin_password;  // --admin-pass-file
};

class LiveViewServer {
public:
    static constexpr std::size_t kMaxConnections = 64;
    static constexpr std::size_t kMaxRequestBytes = 16 * 1024;
    // A request must arrive whole within this (slow-loris), and a reply must be taken within it.
    static constexpr std::chrono::seconds kRequestTimeout{10};
    // An /events stream with nothing to say sends an SSE comment this often, so that a reader
    // that has gone away is noticed.
    static constexpr std::chrono::seconds kKeepAlive{5};

    LiveViewServer(boost::asio::io_context& io, Node& node, LiveViewAuth auth = {});
    ~LiveViewServer();

    // Serves on a bound port (listen_on, before the data dir was opened).
    void start(boost::asio::ip::tcp::acceptor listening);
    // Stops accepting and closes every connection.
    void stop();

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace ballot
