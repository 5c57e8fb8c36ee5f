#include "kv/resp_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <optional>

namespace ballot::kv {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
// Bytes asked of the socket per read: large enough for a big KEYS answer to arrive in few reads.
constexpr std::size_t kReadChunkBytes = 64 * 1024;
}  // namespace

struct RespClient::Io {
    asio::io_context context;
    tcp::socket socket{context};
    std::optional<asio::ssl::stream<tcp::socket&>> tls;  // over `socket`, with set_tls()

    // Runs `op` on the TLS stream if there is one, else on the socket.
    template <typename Op>
    void on_stream(Op&& op) {
        if (tls)
            op(*tls);
        else
            op(socket);
    }
};

RespClient::RespClient() : io_(std::make_unique<Io>()) {}

RespClient::~RespClient() {
    close();
}

bool RespClient::connected() const {
    return established_ && io_->socket.is_open();
}

void RespClient::close() {
    boost::system::error_code ignored;
    io_->socket.close(ignored);
    established_ = false;
    // Let the aborted handlers run, so none is left referring to this object.
    io_->context.restart();
    io_->context.run();
    io_->context.restart();
    io_->tls.reset();
    parser_ = RespReplyParser();
    queued_.clear();
    writing_.clear();
    write_in_flight_ = read_in_flight_ = false;
    io_error_.clear();
    outstanding_ = 0;
}

void RespClient::fail(std::string why) {
    close();
    throw RespClientError(why);
}

void RespClient::connect(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
    close();
    peer_ = host + ":" + std::to_string(port);
    const auto deadline = Clock::now() + timeout;

    // Resolution runs on Asio's resolver thread; on timeout it is cancelled and its handler
    // (which refers to these locals) drained before we leave. getaddrinfo itself cannot be
    // interrupted, so a hung DNS server can stretch that drain: numeric addresses never wait.
    tcp::resolver resolver(io_->context);
    tcp::resolver::results_type endpoints;
    bool resolved = false;
    boost::system::error_code resolve_error;
    resolver.async_resolve(host, std::to_string(port),
                           [&](const boost::system::error_code& ec, tcp::resolver::results_type results) {
                               resolved = true;
                               resolve_error = ec;
                               endpoints = std::move(results);
                           });
    io_->context.restart();
    while (!resolved && io_->context.run_one_until(deadline) > 0) {
    }
    if (!resolved) {
        resolver.cancel();
        io_->context.restart();
        io_->context.run();
        io_->context.restart();
        throw RespClientError("timed out resolving " + host);
    }
    if (resolve_error) throw RespClientError("cannot resolve " + host + ": " + resolve_error.message());

    bool connected = false;
    asio::async_connect(io_->socket, endpoints,
                        [&](const boost::system::error_code& ec, const tcp::endpoint&) {
                            connected = true;
                            if (ec) io_error_ = "cannot connect to " + peer_ + ": " + ec.message();
                        });
    run_until([&] { return connected; }, deadline, "the connection");
    if (!io_error_.empty()) fail(io_error_);
    boost::system::error_code ignored;
    io_->socket.set_option(tcp::no_delay(true), ignored);
    if (tls_) start_tls(host, deadline);
    established_ = true;
    if (password_.empty()) return;
    // A node started with --requirepass-file (kv/auth.h) answers nothing else before AUTH.
    RespValue auth = command({"AUTH", password_});
    if (auth.type == RespValue::Type::error) {
        close();
        throw RespAuthError(peer_ + " refused AUTH: -" + auth.str);
    }
}

// The TLS handshake: the server's certificate must be signed by the CA of set_tls() and name
// `host` (a DNS name or an IP address).
void RespClient::start_tls(const std::string& host, Clock::time_point deadline) {
    io_->tls.emplace(io_->socket, *tls_);
    io_->tls->set_verify_callback(asio::ssl::host_name_verification(host));
    SSL_set_tlsext_host_name(io_->tls->native_handle(), host.c_str());  // SNI
    bool done = false;
    io_->tls->async_handshake(asio::ssl::stream_base::client, [&](const boost::system::error_code& ec) {
        done = true;
        if (ec) io_error_ = "TLS handshake with " + peer_ + " failed: " + ec.message();
    });
    run_until([&] { return done; }, deadline, "the TLS handshake");
    if (!io_error_.empty()) fail(io_error_);
}

void RespClient::send(const std::vector<std::string>& args) {
    if (!connected()) throw RespClientError("not connected");
    append_command(queued_, args);
    ++outstanding_;
}

void RespClient::flush() {
    if (!connected()) throw RespClientError("not connected");
    run_until([this] { return queued_.empty() && !write_in_flight_; }, Clock::now() + timeout_, "send");
}

RespValue RespClient::receive() {
    if (!connected()) throw RespClientError("not connected");
    RespValue value;
    bool have = false;
    run_until(
        [&] {
            if (have) return true;
            switch (parser_.next(value)) {
                case RespStatus::ok:
                    have = true;
                    return true;
                case RespStatus::need_more:
                    return false;
                case RespStatus::error:
                    fail("malformed reply from " + peer_ + ": " + parser_.error());
            }
            return false;
        },
        Clock::now() + timeout_, "a reply");
    if (outstanding_ > 0) --outstanding_;
    return value;
}

RespValue RespClient::command(const std::vector<std::string>& args) {
    send(args);
    return receive();
}

std::vector<RespValue> RespClient::pipeline(const std::vector<std::vector<std::string>>& commands) {
    for (const auto& c : commands) send(c);
    std::vector<RespValue> replies;
    replies.reserve(commands.size());
    for (std::size_t i = 0; i < commands.size(); ++i) replies.push_back(receive());
    return replies;
}

void RespClient::start_write() {
    if (write_in_flight_ || queued_.empty()) return;
    writing_.swap(queued_);
    queued_.clear();
    write_in_flight_ = true;
    io_->on_stream([this](auto& stream) {
        asio::async_write(
            stream, asio::buffer(writing_), [this](const boost::system::error_code& ec, std::size_t) {
                write_in_flight_ = false;
                writing_.clear();
                if (ec && io_error_.empty())
                    io_error_ = "lost connection to " + peer_ + " while sending: " + ec.message();
            });
    });
}

void RespClient::start_read() {
    if (read_in_flight_) return;
    read_in_flight_ = true;
    std::span<char> area = parser_.prepare(kReadChunkBytes);
    io_->on_stream([this, area](auto& stream) {
        stream.async_read_some(
            asio::buffer(area.data(), area.size()),
            [this](const boost::system::error_code& ec, std::size_t n) {
                read_in_flight_ = false;
                if (ec) {
                    if (io_error_.empty()) {
                        io_error_ = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
                                        ? "connection closed by " + peer_
                                        : "lost connection to " + peer_ + ": " + ec.message();
                    }
                    return;
                }
                parser_.commit(n);
            });
    });
}

void RespClient::run_until(const std::function<bool()>& done, Clock::time_point deadline,
                           const char* waiting_for) {
    const auto start = Clock::now();
    for (;;) {
        // A reply that arrived in full counts even if the server closed the connection after it
        // (as it does after "-ERR Protocol error").
        if (done()) return;
        if (!io_error_.empty()) fail(io_error_);
        // Once connected, keep writing whatever is queued and reading whatever arrives: reading
        // while writing is what keeps a long pipeline from deadlocking.
        if (established_) {
            start_write();
            start_read();
        }
        if (io_->context.stopped()) io_->context.restart();
        if (io_->context.run_one_until(deadline) == 0 && Clock::now() >= deadline) {
            const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
            fail("timed out after " + std::to_string(waited.count()) + " ms waiting for " + waiting_for +
                 " from " + peer_);
        }
    }
}

}  // namespace ballot::kv
