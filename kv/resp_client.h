// A small synchronous RESP client: ballot-client, the end-to-end tests and the bench talk to a
// node with it.
//
// Blocking calls with deadlines. Underneath it runs Boost.Asio asynchronous operations on its own
// private io_context for at most the time left, so a write and a read can be in progress at once:
// a long pipeline never deadlocks against a server that stops reading until it can write.
//
// Any failure — name resolution, connect, send, receive, a timeout, a malformed reply — throws
// RespClientError naming the node and the cause, and leaves the client disconnected (replies of
// a half-finished exchange cannot be matched to requests any more). Error *replies* (`-ERR ...`)
// are not failures: they come back as RespValue of type error.
//
// Not thread-safe: one client per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kv/resp.h"

namespace boost::asio::ssl {
class context;
}

namespace ballot::kv {

class RespClientError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
// The node refused the password of set_password(): trying again will not help.
class RespAuthError : public RespClientError {
public:
    using RespClientError::RespClientError;
};

class RespClient {
public:
    using Clock = std::chrono::steady_clock;

    RespClient();
    ~RespClient();
    RespClient(const RespClient&) = delete;
    RespClient& operator=(const RespClient&) = delete;

    // Resolves `host` (a name or an address) and connects, within `timeout` in total.
    void connect(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout);
    void close();
    bool connected() const;
    // "host:port", for messages.
    const std::string& peer() const { return peer_; }

    // The password connect() authenticates with (AUTH password) from then on; empty: none.
    // A refused AUTH fails the connect() with RespAuthError.
    void set_password(std::string password) { password_ = std::move(password); }

    // TLS from the next connect() on (common/tls.h, client_tls: the server verified against a
    // CA, and its certificate must name the host connected to); null: plaintext.
    void set_tls(std::shared_ptr<boost::asio::ssl::context> tls) { tls_ = std::move(tls); }

    // The longest any one command()/receive()/flush() may take (default 5000 ms).
    void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

    // Sends one command and waits for its reply.
    RespValue command(const std::vector<std::string>& args);

    // Pipelining: send() queues a command (nothing is written yet); receive() writes whatever is
    // queued and returns the next reply, in order. flush() just writes.
    void send(const std::vector<std::string>& args);
    void flush();
    RespValue receive();
    // Sends all `commands` at once and returns their replies in order.
    std::vector<RespValue> pipeline(const std::vector<std::vector<std::string>>& commands);

    // Commands sent whose replies have not been received yet.
    std::size_t outstanding() const { return outstanding_; }

private:
    struct Io;
    // Runs I/O until `done()` or the deadline; throws on failure or timeout.
    void run_until(const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline,
                   const char* waiting_for);
    void start_write();
    void start_read();
    void start_tls(const std::string& host, Clock::time_point deadline);
    [[noreturn]] void fail(std::string why);

    std::unique_ptr<Io> io_;
    std::string peer_;
    std::string password_;
    std::shared_ptr<boost::asio::ssl::context> tls_;
    std::chrono::milliseconds timeout_{5000};
    RespReplyParser parser_;
    std::string queued_;        // requests not yet handed to the socket
    std::string writing_;       // the request bytes being written now
    bool established_ = false;  // connected, and not failed since
    bool write_in_flight_ = false;
    bool read_in_flight_ = false;
    std::string io_error_;  // set by a completion handler; turned into an exception by run_until
    std::size_t outstanding_ = 0;
};

}  // namespace ballot::kv
