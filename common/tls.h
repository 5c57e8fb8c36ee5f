// TLS for the client port and between peers (SPEC "Security: who may talk to the cluster"), over
// Boost.Asio's SSL support and OpenSSL: no crypto of our own.
//
// Stream is the one connection type the RESP server (kv/resp_server.cc) and the transport
// (common/transport.cc) read and write: a plain TCP socket, or TLS over one. The coroutines that
// serve a connection are the same either way; only the handshake differs.
//
// Peers: each side presents its node certificate and verifies the other's against the cluster CA
// (the OpenSSL handshake), and the certificate must name the node id the peer claims in its Hello,
// as CN or DNS SAN "node-ID" (certificate_mismatch). scripts/make-certs.sh makes such certificates.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <tuple>

#include "common/types.h"

namespace ballot {

// --tls-cert-file, --tls-key-file, --tls-ca-cert-file (Redis's names); all empty: no TLS.
struct TlsFiles {
    std::string cert_file;
    std::string key_file;
    std::string ca_file;
    bool given() const { return !cert_file.empty() || !key_file.empty() || !ca_file.empty(); }
    // Empty when all three or none are given, else which flags are missing.
    std::string incomplete() const;
};

using TlsContext = std::shared_ptr<boost::asio::ssl::context>;

// The client port's TLS: this node's certificate, clients not asked for one (Redis's
// tls-auth-clients no). Throws std::runtime_error naming the flag and the file that does not load.
TlsContext client_port_tls(const TlsFiles& files);
// Mutual TLS between peers: this node's certificate both ways, and the peer's verified against
// the CA (a peer without one is refused). Throws as client_port_tls.
TlsContext peer_tls(const TlsFiles& files);
// For a client (ballot-client, tests, ballot-bench): verifies the server against `ca_file` (a CA
// certificate in PEM); no client certificate. Throws std::runtime_error if it does not load.
TlsContext client_tls(const std::string& ca_file);

// Empty when the verified peer certificate of `ssl` names node `id` (CN or DNS SAN "node-ID"),
// else why not.
std::string certificate_mismatch(SSL* ssl, NodeId id);

// A handshake error in words, with OpenSSL's reason ("certificate verify failed", "wrong
// version number" for a plaintext client, ...).
std::string tls_error_text(const boost::system::error_code& ec);

// A plain TCP socket, or TLS over one. Sending and receiving may run at once (one of each).
class Stream {
public:
    using Socket = boost::asio::ip::tcp::socket;
    using Result = boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>>;

    explicit Stream(Socket socket) : plain_(std::move(socket)) {}
    // TLS with `context`; nothing is sent before handshake().
    Stream(Socket socket, boost::asio::ssl::context& context);

    bool tls() const { return tls_ != nullptr; }
    Socket& socket() { return tls_ ? tls_->next_layer() : plain_; }
    // The OpenSSL connection (nullptr without TLS), to look at the peer's certificate.
    SSL* native_tls() { return tls_ ? tls_->native_handle() : nullptr; }

    // The TLS handshake in `role`, at most `timeout` long (the socket is closed then); a no-op
    // without TLS.
    boost::asio::awaitable<boost::system::error_code> handshake(
        boost::asio::ssl::stream_base::handshake_type role, std::chrono::milliseconds timeout);
    Result read_some(boost::asio::mutable_buffer buffer);
    Result read_exactly(boost::asio::mutable_buffer buffer);
    Result write_all(boost::asio::const_buffer buffer);
    // Closes the socket at once (no TLS close_notify: the connection is being dropped anyway).
    void close();

private:
    Socket plain_;  // without TLS; with TLS the socket lives in tls_
    std::unique_ptr<boost::asio::ssl::stream<Socket>> tls_;
};

}  // namespace ballot
