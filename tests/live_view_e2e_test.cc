// The live view's HTTP side (SPEC "Live view (HTTP)"; issue 14), run against real ballot-server
// processes for every engine:
// - GET /status says what INFO says, as JSON with the SPEC's fields, members with the live-view
//   address each has by the --http offset rule, and one leader where the engine has leaders;
// - GET /events starts with the node's state, then carries each protocol message (both ways,
//   from/to/type and the engine's describe() text) and the state changes a write causes;
// - anything else is answered with a clear 404/405/400, and --http fails like the other ports
//   (a bad address exits 2, a port in use exits 1 naming it, with no data dir created).
// The page itself is tested in a browser by tests/live_view_browser_test.py.
// The time bounds are behaviour bounds, not speed targets.
#define BOOST_TEST_MODULE live_view_e2e
#include <sys/wait.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/src.hpp>  // header-only Boost.JSON, for this test alone
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "bench/local_cluster.h"
#include "common/cluster_config.h"
#include "engines/registry.h"

using namespace ballot;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace bdata = boost::unit_test::data;
namespace json = boost::json;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kLiveness = 15s;  // a bound on progress, not a speed target
const std::string kServer = std::string(BALLOT_BIN_DIR) + "/ballot-server";

std::uint64_t number(const json::object& o, const char* key) {
    return o.at(key).to_number<std::uint64_t>();
}

std::string text(const json::object& o, const char* key) {
    const json::string* s = o.at(key).if_string();
    return s ? std::string(*s) : json::serialize(o.at(key));
}

struct HttpReply {
    unsigned status = 0;
    std::string body;
};

using Headers = std::vector<std::pair<http::field, std::string>>;

// One request on a fresh connection; nullopt if the node does not answer.
std::optional<HttpReply> http_request(std::uint16_t port, http::verb method, const std::string& target,
                                      const std::string& raw = {}, const Headers& headers = {}) {
    try {
        asio::io_context io;
        beast::tcp_stream stream(io);
        stream.expires_after(3s);
        stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
        if (!raw.empty()) {
            asio::write(stream, asio::buffer(raw));
        } else {
            http::request<http::empty_body> req{method, target, 11};
            req.set(http::field::host, "127.0.0.1");
            for (auto& [field, value] : headers) req.set(field, value);
            http::write(stream, req);
        }
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        http::read(stream, buffer, res);
        return HttpReply{res.result_int(), res.body()};
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// An Authorization header for HTTP basic auth.
Headers basic_auth(const std::string& user, const std::string& password) {
    const std::string plain = user + ":" + password;
    std::string encoded(beast::detail::base64::encoded_size(plain.size()), '\0');
    encoded.resize(beast::detail::base64::encode(encoded.data(), plain.data(), plain.size()));
    return {{http::field::authorization, "Basic " + encoded}};
}

std::optional<json::object> get_status(std::uint16_t port, const Headers& headers = {}) {
    auto reply = http_request(port, http::verb::get, "/status", {}, headers);
    if (!reply || reply->status != 200) return std::nullopt;
    return json::parse(reply->body).as_object();
}

bool can_bind(int port) {
    asio::io_context io;
    tcp::acceptor probe(io);
    boost::system::error_code ec;
    probe.open(tcp::v4(), ec);
    if (!ec)
        probe.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port)), ec);
    return !ec;
}

// Three consecutive ports from `low` up to `high` that can be bound now, picked at random.
int free_consecutive(int low, int high, const std::function<bool(int)>& free) {
    std::mt19937 rng(std::random_device{}());
    for (int attempt = 0; attempt < 1000; ++attempt) {
        const int base = std::uniform_int_distribution<int>(low, high - 3)(rng);
        if (free(base) && free(base + 1) && free(base + 2)) return base;
    }
    throw std::runtime_error("no free loopback ports");
}

// A 3-node cluster whose every node serves its live view (--http). Client ports are consecutive,
// so one offset (the --http rule) maps each to its live-view port; those lie in 61000-65535,
// away from the client and peer ports every LocalCluster picks (client_port_range(), below the
// ephemeral ports) and from Linux's ephemeral ports, so that tests running side by side do not
// take each other's ports.
class LiveCluster : public LocalCluster {
public:
    explicit LiveCluster(const std::string& protocol, const std::vector<std::string>& extra_args = {})
        : LocalCluster(kServer, protocol, 3, {},
                       free_consecutive(client_port_range().low, client_port_range().high,
                                        [](int p) { return can_bind(p) && can_bind(p + kPeerPortOffset); })),
          http_base_(free_consecutive(61000, 65535, can_bind)) {
        for (NodeId id = 1; id <= 3; ++id) {
            std::vector<std::string> args{"--http", "127.0.0.1:" + std::to_string(http_port(id))};
            args.insert(args.end(), extra_args.begin(), extra_args.end());
            set_node_extra_args(id, args);
        }
    }
    std::uint16_t http_port(NodeId id) const { return static_cast<std::uint16_t>(http_base_ + id - 1); }

private:
    int http_base_;
};

// Every node's /status once each answers, none is still joining (common/membership_guard.h) and,
// where the engine has leaders, one says leader.
std::vector<json::object> wait_for_settled(LiveCluster& c, bool has_leader, const Headers& headers = {}) {
    const auto deadline = Clock::now() + kLiveness;
    std::vector<json::object> all;
    while (Clock::now() < deadline) {
        all.clear();
        for (NodeId id = 1; id <= static_cast<NodeId>(c.size()); ++id)
            if (auto s = get_status(c.http_port(id), headers)) all.push_back(*s);
        auto some = [&](const char* role) {
            return std::any_of(all.begin(), all.end(), [&](auto& s) { return text(s, "role") == role; });
        };
        const bool settled = !some("joining") && (some("leader") || !has_leader);
        if (all.size() == static_cast<std::size_t>(c.size()) && settled) return all;
        std::this_thread::sleep_for(50ms);
    }
    return all;
}

// An open GET /events, read event by event.
class EventStream {
public:
    explicit EventStream(std::uint16_t port) : stream_(io_) {
        stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
        std::string req = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        asio::write(stream_, asio::buffer(req));
    }

    const std::string& header() const { return header_; }

    // The next event's JSON (SSE `data:`), or nullopt if none comes within `timeout`.
    std::optional<json::object> next(std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            if (auto event = take_event()) return event;
            const auto left = deadline - Clock::now();
            if (left <= 0s) return std::nullopt;
            stream_.expires_after(left);
            char chunk[16384];
            boost::system::error_code ec;
            std::size_t n = stream_.read_some(asio::buffer(chunk), ec);
            if (ec) return std::nullopt;
            pending_.append(chunk, n);
        }
    }

    // Events until one satisfies `wanted` (returned) or `timeout` passes.
    std::optional<json::object> until(const std::function<bool(const json::object&)>& wanted,
                                      std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (Clock::now() < deadline) {
            auto event = next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
            if (!event) return std::nullopt;
            if (wanted(*event)) return event;
        }
        return std::nullopt;
    }

private:
    std::optional<json::object> take_event() {
        if (header_.empty()) {
            const auto end = pending_.find("\r\n\r\n");
            if (end == std::string::npos) return std::nullopt;
            header_ = pending_.substr(0, end);
            pending_.erase(0, end + 4);
        }
        for (;;) {
            const auto end = pending_.find("\n\n");
            if (end == std::string::npos) return std::nullopt;
            std::string block = pending_.substr(0, end);
            pending_.erase(0, end + 2);
            if (block.rfind("data: ", 0) == 0) return json::parse(block.substr(6)).as_object();
            // "retry:" and ": keep-alive" comments carry no event
        }
    }

    asio::io_context io_;
    beast::tcp_stream stream_;
    std::string header_;
    std::string pending_;
};

}  // namespace

BOOST_DATA_TEST_CASE(status_has_the_spec_fields_and_finds_every_member, bdata::make(engine_names()),
                     protocol) {
    LiveCluster c(protocol);
    c.start_all();
    const bool has_leader = find_engine(protocol)->has_leader;
    auto all = wait_for_settled(c, has_leader);
    BOOST_REQUIRE_MESSAGE(all.size() == 3, "not every node serves /status: " << c.log_tail(1));

    int leaders = 0;
    for (const json::object& s : all) {
        for (const char* key : {"id", "protocol", "role", "leader_id", "commit_index", "applied_index",
                                "log_first_index", "log_last_index", "snapshot_index", "members"})
            BOOST_TEST(s.contains(key), key << " missing in " << json::serialize(s));
        BOOST_TEST((s.contains("term") || s.contains("ballot")), json::serialize(s));
        BOOST_TEST(text(s, "protocol") == protocol);
        leaders += text(s, "role") == "leader";
        const auto id = number(s, "id");
        const json::array& members = s.at("members").as_array();
        BOOST_REQUIRE(members.size() == 3u);
        for (const json::value& v : members) {
            const json::object& m = v.as_object();
            const auto member = static_cast<NodeId>(m.at("id").to_number<std::uint64_t>());
            BOOST_TEST(text(m, "address") == "127.0.0.1:" + std::to_string(c.port(member)));
            BOOST_TEST(text(m, "http_address") == "127.0.0.1:" + std::to_string(c.http_port(member)));
            if (member == id) BOOST_TEST(text(m, "role") == text(s, "role"));
        }
    }
    if (has_leader) {
        BOOST_TEST(leaders == 1);
    } else {
        BOOST_TEST(leaders == 0);
        for (const json::object& s : all) BOOST_TEST(text(s, "role") == "proposer");
    }
}

// SPEC "per-peer replication progress on a leader": once a write is committed, the leader's
// /status lists each other member with a match at the commit point (Raft: matchIndex and
// nextIndex = matchIndex + 1 in replicate; Multi-Paxos: the acknowledged slot and the next to
// send); followers list nobody. Basic Paxos has no leader and no per-peer replication state: every
// node lists its peers with nothing tracked but what they told it (common/engine.h, PeerProgress).
BOOST_DATA_TEST_CASE(status_reports_replication_progress_per_peer, bdata::make(engine_names()), protocol) {
    LiveCluster c(protocol);
    c.start_all();
    const bool has_leader = find_engine(protocol)->has_leader;
    BOOST_REQUIRE(wait_for_settled(c, has_leader).size() == 3);
    BOOST_REQUIRE(c.write_until_ok(1, "progress", "1", kLiveness));

    auto peers_of = [](const json::object& s) {
        std::vector<std::uint64_t> ids;
        for (const json::value& v : s.at("replication").as_array())
            ids.push_back(number(v.as_object(), "id"));
        return ids;
    };
    // Every peer caught up with the commit point (polled: the last acknowledgement may be on its way).
    auto caught_up = [&](const json::object& s) {
        const auto commit = number(s, "commit_index");
        for (const json::value& v : s.at("replication").as_array()) {
            const json::object& p = v.as_object();
            if (number(p, "match_index") < commit || number(p, "next_index") <= number(p, "match_index"))
                return false;
            if (protocol == "raft" &&
                (text(p, "state") != "replicate" || number(p, "next_index") != commit + 1))
                return false;
        }
        return true;
    };
    const auto deadline = Clock::now() + kLiveness;
    std::optional<json::object> leader;
    while (Clock::now() < deadline && has_leader) {
        for (NodeId id = 1; id <= 3; ++id) {
            auto s = get_status(c.http_port(id));
            if (!s) continue;
            const bool leads = text(*s, "role") == "leader";
            if (!leads) BOOST_TEST(s->at("replication").as_array().empty(), json::serialize(*s));
            if (leads && caught_up(*s)) leader = s;
        }
        if (leader) break;
        std::this_thread::sleep_for(50ms);
    }
    if (has_leader) {
        BOOST_REQUIRE_MESSAGE(leader, "no leader reported every peer caught up");
        const auto self = number(*leader, "id");
        std::vector<std::uint64_t> others;
        for (std::uint64_t id = 1; id <= 3; ++id)
            if (id != self) others.push_back(id);
        BOOST_TEST(peers_of(*leader) == others, json::serialize(*leader));
        for (const json::value& v : leader->at("replication").as_array()) {
            const json::object& p = v.as_object();
            for (const char* key :
                 {"inflight", "inflight_bytes", "window_bytes", "paused", "snapshotting", "state", "chosen"})
                BOOST_TEST(p.contains(key), key << " missing in " << json::serialize(p));
            BOOST_TEST(!p.at("snapshotting").as_bool());
            // Raft's adaptive window (raft/progress.h) is never empty; the Paxos engines have none.
            const std::uint64_t window = p.at("window_bytes").to_number<std::uint64_t>();
            BOOST_TEST((protocol == "raft" ? window > 0 : window == 0), json::serialize(p));
        }
        return;
    }
    for (NodeId id = 1; id <= 3; ++id) {
        auto s = get_status(c.http_port(id));
        BOOST_REQUIRE(s);
        BOOST_TEST(peers_of(*s).size() == 2u, json::serialize(*s));
        for (const json::value& v : s->at("replication").as_array()) {
            BOOST_TEST(number(v.as_object(), "match_index") == 0u);  // not tracked by basic Paxos
            BOOST_TEST(number(v.as_object(), "next_index") == 0u);
        }
    }
}

BOOST_DATA_TEST_CASE(events_carry_messages_both_ways_and_the_commit_a_write_causes,
                     bdata::make(engine_names()), protocol) {
    LiveCluster c(protocol);
    c.start_all();
    BOOST_REQUIRE(wait_for_settled(c, find_engine(protocol)->has_leader).size() == 3);
    BOOST_REQUIRE(c.write_until_ok(1, "before", "1", kLiveness));

    EventStream events(c.http_port(1));
    auto first = events.next(5000ms);
    BOOST_REQUIRE(first);
    BOOST_TEST(events.header().find("text/event-stream") != std::string::npos);
    BOOST_TEST(text(*first, "event") == "state");  // a reader starts from the node's state
    const std::uint64_t commit_before = number(first->at("status").as_object(), "commit_index");

    BOOST_REQUIRE(c.write_until_ok(1, "watched", "yes", kLiveness));
    bool sent = false, received = false;
    auto protocol_message = [&](const json::object& e) {
        if (text(e, "event") != "message" || e.at("heartbeat").as_bool()) return false;
        BOOST_TEST(number(e, "node") == 1u);
        const bool out = text(e, "dir") == "sent";
        BOOST_TEST(number(e, out ? "from" : "to") == 1u);
        const std::string type = text(e, "type");
        BOOST_TEST(!type.empty());
        BOOST_TEST(text(e, "text").rfind(type, 0) == 0u);  // describe()'s text
        (out ? sent : received) = true;
        return sent && received;
    };
    BOOST_TEST(events.until(protocol_message, kLiveness).has_value(),
               "sent: " << sent << ", received: " << received);
    auto committed = events.until(
        [&](const json::object& e) {
            return text(e, "event") == "state" &&
                   number(e.at("status").as_object(), "commit_index") > commit_before;
        },
        kLiveness);
    BOOST_TEST(committed.has_value(), "no state event with a commit above " << commit_before);
}

BOOST_AUTO_TEST_CASE(anything_else_gets_a_clear_error) {
    LiveCluster c("raft");
    c.start_all();
    BOOST_REQUIRE(wait_for_settled(c, true).size() == 3);
    const std::uint16_t port = c.http_port(1);
    auto page = http_request(port, http::verb::get, "/");
    BOOST_REQUIRE(page);
    BOOST_TEST(page->status == 200u);
    BOOST_TEST(page->body.find("Ballot live view") != std::string::npos);
    auto missing = http_request(port, http::verb::get, "/nothing-here");
    BOOST_REQUIRE(missing);
    BOOST_TEST(missing->status == 404u);
    auto post = http_request(port, http::verb::post, "/status");
    BOOST_REQUIRE(post);
    BOOST_TEST(post->status == 405u);
    // Admin actions are off without --http-admin, and the answer says how to turn them on.
    auto crash = http_request(port, http::verb::post, "/admin/crash");
    BOOST_REQUIRE(crash);
    BOOST_TEST(crash->status == 403u);
    BOOST_TEST(crash->body.find("--http-admin") != std::string::npos, crash->body);
    BOOST_TEST(text(*get_status(port), "role") != "crashed");
    auto garbage = http_request(port, http::verb::get, "", "NOT HTTP AT ALL\r\n\r\n");
    BOOST_REQUIRE(garbage);
    BOOST_TEST(garbage->status == 400u);
    // ...and the node goes on serving.
    BOOST_TEST(get_status(port).has_value());
}

BOOST_AUTO_TEST_CASE(http_flag_errors_are_reported_like_the_other_ports) {
    auto ports = pick_free_ports(1);
    const std::string node = "127.0.0.1:" + std::to_string(ports[0]) + ":1";
    const std::string dir = "/tmp/ballot-live-view-flag-" + std::to_string(ports[0]);
    auto [bad_status, bad_err] = LocalCluster::run_server(
        kServer,
        {"--protocol", "raft", "--id", "1", "--node", node, "--data-dir", dir, "--http", "127.0.0.1:99999"});
    BOOST_TEST(WEXITSTATUS(bad_status) == 2);
    BOOST_TEST(bad_err.find("--http 127.0.0.1:99999") != std::string::npos, bad_err);

    // Admin actions belong to the live view.
    auto [admin_status, admin_err] = LocalCluster::run_server(
        kServer, {"--protocol", "raft", "--id", "1", "--node", node, "--data-dir", dir, "--http-admin"});
    BOOST_TEST(WEXITSTATUS(admin_status) == 2);
    BOOST_TEST(admin_err.find("--http-admin needs --http") != std::string::npos, admin_err);

    // A port in use: exit 1 naming it, and no data dir left behind.
    asio::io_context io;
    tcp::acceptor taken(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const std::string busy = "127.0.0.1:" + std::to_string(taken.local_endpoint().port());
    auto [busy_status, busy_err] = LocalCluster::run_server(
        kServer, {"--protocol", "raft", "--id", "1", "--node", node, "--data-dir", dir, "--http", busy});
    BOOST_TEST(WEXITSTATUS(busy_status) == 1);
    BOOST_TEST(busy_err.find("cannot serve the live view on " + busy) != std::string::npos, busy_err);
    BOOST_TEST(!std::filesystem::exists(dir));
}

namespace {

std::string write_secret(const std::string& name, const std::string& secret) {
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("ballot-live-view-" + name + "-" + std::to_string(::getpid())))
                                 .string();
    std::ofstream(path) << secret << "\n";
    return path;
}

// The token the node wrote into the page it served (web/live_view.html, meta ballot-token).
std::string page_token(const std::string& page) {
    const std::string marker = "<meta name=\"ballot-token\" content=\"";
    const auto at = page.find(marker);
    if (at == std::string::npos) return {};
    const auto begin = at + marker.size();
    return page.substr(begin, page.find('"', begin) - begin);
}

}  // namespace

// SPEC "Security": with --requirepass-file every path needs the password (basic auth, any user
// but admin; or the page's token), a wrong one is a logged 401; admin actions need the admin
// secret (403 with the data password, 401 without), and never from another web site.
BOOST_AUTO_TEST_CASE(a_password_protects_the_live_view_and_the_admin_secret_its_actions) {
    const std::string data = "data-pw", admin = "admin-pw";
    LiveCluster c("raft", {"--requirepass-file", write_secret("data", data), "--admin-pass-file",
                           write_secret("admin", admin), "--http-admin"});
    c.set_password(data);
    c.start_all();
    BOOST_REQUIRE(wait_for_settled(c, true, basic_auth("default", data)).size() == 3);
    const std::uint16_t port = c.http_port(1);

    for (const char* path : {"/", "/status", "/events"}) {
        auto none = http_request(port, http::verb::get, path);
        BOOST_REQUIRE(none);
        BOOST_TEST(none->status == 401u, path);
        auto wrong = http_request(port, http::verb::get, path, {}, basic_auth("default", "guess"));
        BOOST_REQUIRE(wrong);
        BOOST_TEST(wrong->status == 401u, path);
    }
    BOOST_TEST(get_status(port, basic_auth("default", data)).has_value());
    BOOST_TEST(get_status(port, basic_auth("anyone", data)).has_value());
    BOOST_TEST(get_status(port, basic_auth("admin", admin)).has_value());
    BOOST_TEST(!get_status(port, basic_auth("admin", data)).has_value());
    // Logged like RESP's wrong AUTH, with the address.
    const auto logged = Clock::now() + kLiveness;
    while (Clock::now() < logged && c.log_tail(1, 200).find("wrong password") == std::string::npos)
        std::this_thread::sleep_for(50ms);
    const std::string log = c.log_tail(1, 200);
    BOOST_TEST(log.find("live view client 127.0.0.1:") != std::string::npos, log);

    // The page carries the token; the token opens every member's live view, and nothing else does.
    auto page = http_request(port, http::verb::get, "/", {}, basic_auth("default", data));
    BOOST_REQUIRE(page);
    BOOST_TEST(page->status == 200u);
    const std::string token = page_token(page->body);
    BOOST_REQUIRE(token.size() == 64u);
    BOOST_TEST(page->body.find(data) == std::string::npos);
    for (NodeId id = 1; id <= 3; ++id) {
        auto with = http_request(c.http_port(id), http::verb::get, "/status?token=" + token);
        BOOST_REQUIRE(with);
        BOOST_TEST(with->status == 200u);
    }
    auto bad_token = http_request(port, http::verb::get, "/status?token=" + std::string(64, '0'));
    BOOST_REQUIRE(bad_token);
    BOOST_TEST(bad_token->status == 401u);

    // Admin actions: 401 without credentials, 403 with the data password, 200 with the admin secret,
    // 403 from a foreign web page even with it.
    auto anonymous = http_request(port, http::verb::post, "/admin/heal");
    BOOST_REQUIRE(anonymous);
    BOOST_TEST(anonymous->status == 401u);
    auto data_user = http_request(port, http::verb::post, "/admin/heal", {}, basic_auth("default", data));
    BOOST_REQUIRE(data_user);
    BOOST_TEST(data_user->status == 403u);
    auto by_token = http_request(port, http::verb::post, "/admin/heal?token=" + token);
    BOOST_REQUIRE(by_token);
    BOOST_TEST(by_token->status == 403u);
    auto admin_user = http_request(port, http::verb::post, "/admin/heal", {}, basic_auth("admin", admin));
    BOOST_REQUIRE(admin_user);
    BOOST_TEST(admin_user->status == 200u, admin_user->body);
    Headers foreign = basic_auth("admin", admin);
    foreign.emplace_back(http::field::origin, "http://evil.example");
    auto cross_site = http_request(port, http::verb::post, "/admin/crash", {}, foreign);
    BOOST_REQUIRE(cross_site);
    BOOST_TEST(cross_site->status == 403u);
    BOOST_TEST(text(*get_status(port, basic_auth("default", data)), "role") != "crashed");
}

namespace {

std::string post_admin(LiveCluster& c, NodeId id, const std::string& action) {
    auto reply = http_request(c.http_port(id), http::verb::post, "/admin/" + action);
    if (!reply) return "no answer";
    return std::to_string(reply->status) + " " + reply->body;
}

// Polls `id`'s /status until `wanted` holds; the last status seen (or nullopt).
std::optional<json::object> status_until(LiveCluster& c, NodeId id,
                                         const std::function<bool(const json::object&)>& wanted) {
    const auto deadline = Clock::now() + kLiveness;
    std::optional<json::object> last;
    while (Clock::now() < deadline) {
        last = get_status(c.http_port(id));
        if (last && wanted(*last)) return last;
        std::this_thread::sleep_for(50ms);
    }
    return std::nullopt;
}

}  // namespace

// The lab bench (--http-admin): a crashed node drops out, the cluster keeps serving, and restarted
// in-process it recovers from its data dir and catches up; a partitioned leader is replaced, and
// healed the cluster is whole again. Basic Paxos has no leader: a partitioned proposer is left
// behind while the others write, and catches up once healed.
BOOST_DATA_TEST_CASE(admin_actions_crash_restart_and_partition_a_node, bdata::make(engine_names()),
                     protocol) {
    LiveCluster c(protocol, {"--http-admin"});
    c.start_all();
    const bool has_leader = find_engine(protocol)->has_leader;
    auto all = wait_for_settled(c, has_leader);
    BOOST_REQUIRE(all.size() == 3);
    NodeId leader = 0;
    for (auto& s : all)
        if (text(s, "role") == "leader") leader = static_cast<NodeId>(number(s, "id"));
    const NodeId victim = has_leader ? (leader == 3 ? 2 : 3) : 3;
    const NodeId survivor = has_leader ? leader : 1;
    BOOST_REQUIRE(c.write_until_ok(survivor, "before", "1", kLiveness));

    // Crash: the node says so, and the others serve writes without it.
    BOOST_TEST(post_admin(c, victim, "crash").rfind("200", 0) == 0u);
    BOOST_TEST(text(*get_status(c.http_port(victim)), "role") == "crashed");
    BOOST_TEST(post_admin(c, victim, "crash").rfind("200", 0) == 0u);  // again: already crashed
    BOOST_REQUIRE(c.write_until_ok(survivor, "while-down", "2", kLiveness));
    BOOST_TEST(c.running(victim));  // the process lives on: only the node crashed

    // Restart: it recovers from its data dir and catches up with what it missed.
    BOOST_TEST(post_admin(c, victim, "restart").rfind("200", 0) == 0u);
    BOOST_TEST(post_admin(c, victim, "restart").rfind("409", 0) == 0u);  // not crashed any more
    auto back = status_until(c, victim, [](const json::object& s) { return text(s, "role") != "crashed"; });
    BOOST_REQUIRE(back);
    BOOST_TEST(c.read_eventually(victim, "while-down", kLiveness).str == "2");

    // Partition: cut `cut` off from both others; the others go on without it.
    const NodeId cut = has_leader ? leader : 1;
    std::string others;
    for (NodeId id = 1; id <= 3; ++id)
        if (id != cut) others += (others.empty() ? "" : ",") + std::to_string(id);
    BOOST_TEST(post_admin(c, cut, "partition?peers=" + others).rfind("200", 0) == 0u);
    BOOST_TEST(post_admin(c, cut, "partition?peers=x").rfind("400", 0) == 0u);
    BOOST_TEST(post_admin(c, cut, "partition?peers=" + std::to_string(cut)).rfind("400", 0) == 0u);
    BOOST_TEST(post_admin(c, cut, "partition?peers=9").rfind("400", 0) == 0u);
    const NodeId other = cut == 1 ? 2 : 1;
    if (has_leader) {
        auto new_leader = status_until(c, other, [&](const json::object& s) {
            const auto id = number(s, "leader_id");
            return id != 0 && id != cut;
        });
        BOOST_TEST(new_leader.has_value(), "no new leader while " << cut << " is cut off");
    }
    BOOST_REQUIRE(c.write_until_ok(other, "while-cut", "3", kLiveness));
    auto cut_status = get_status(c.http_port(cut));
    BOOST_REQUIRE(cut_status);
    BOOST_TEST(cut_status->at("partitioned_peers").as_array().size() == 2u);

    // Heal: the cut-off node learns what it missed.
    BOOST_TEST(post_admin(c, cut, "heal").rfind("200", 0) == 0u);
    BOOST_TEST(c.read_eventually(cut, "while-cut", kLiveness).str == "3");
    BOOST_TEST(wait_for_settled(c, has_leader).size() == 3u);
}
