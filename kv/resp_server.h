// The RESP2 front end: accepts client connections (redis-cli, redis-benchmark, ballot-client)
// and turns each command into a replicated write, a linearizable read or a local answer.
//
// One coroutine reads and parses a connection's requests; every request gets a reply slot in
// arrival order, and a writer coroutine sends the finished prefix of those slots, so pipelined
// requests are answered in order while many of them are in the log at once. They also take
// effect in order, as Redis clients assume of a pipeline: consecutive writes (or reads) of a
// connection run together, a read behind writes goes through the log after them, and a write
// behind reads waits for them. The connection commands of client libraries (HELLO, CLIENT, ...) are answered
// by kv/connection_commands.h with this connection's ClientState.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "common/node.h"
#include "common/tls.h"
#include "kv/auth.h"
#include "kv/kv_store.h"
#include "kv/resp.h"

namespace ballot::kv {

struct RespServerOptions {
    RespLimits limits;                          // 1 MiB bulk strings by default (SPEC)
    std::size_t max_pipelined_requests = 4096;  // per connection; reading pauses beyond it
    AuthConfig auth;                            // passwords (kv/auth.h); none by default
    // SPEC "Security": connections beyond max_clients get -ERR max number of clients reached
    // and are closed; an idle connection (nothing received, nothing pending) is closed after
    // idle_timeout (0: never, as Redis); a request left incomplete for partial_request_timeout
    // (slow-loris) closes its connection (0: never).
    std::size_t max_clients = 10000;
    std::chrono::milliseconds idle_timeout{0};
    std::chrono::milliseconds partial_request_timeout{10000};
    // SPEC "Security": with a context (common/tls.h, client_port_tls) the port speaks TLS only;
    // a client that does not finish the TLS handshake within tls_handshake_timeout (a plaintext
    // client among them) is dropped, with a log line naming its address.
    TlsContext tls;
    std::chrono::milliseconds tls_handshake_timeout{5000};
};

class RespServer {
public:
    // Sets `store`'s waiter listener (kv/kv_store.h), to answer clients waiting for a lock.
    RespServer(boost::asio::io_context& io, Node& node, KvStore& store, RespServerOptions options);
    ~RespServer();

    // Serves clients on a bound client port (common/transport.h, listen_on).
    void start(boost::asio::ip::tcp::acceptor listening);
    // Stops accepting and closes every connection.
    void stop();
    // Closes every connection and goes on accepting (the node crashed: common/node.h).
    void close_connections();

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

// The BGSAVE reply: +Background saving started, or Redis's -ERR when a snapshot is already being
// made, or an -ERR saying the latest snapshot is current (nothing applied since).
std::string bgsave_reply(Node& node);

}  // namespace ballot::kv
