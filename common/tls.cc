#include "common/tls.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace ballot {

namespace asio = boost::asio;
namespace ssl = asio::ssl;

namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

// Runs a context setting that loads `file`; its failure becomes one line naming the flag.
template <typename Load>
void load(const std::string& flag, const std::string& file, Load&& load_it) {
    try {
        load_it();
    } catch (const boost::system::system_error& e) {
        throw std::runtime_error(flag + " " + file + ": cannot load it (" + e.code().message() + ")");
    }
}

TlsContext node_context(const TlsFiles& files, ssl::verify_mode mode) {
    if (std::string missing = files.incomplete(); !missing.empty()) throw std::runtime_error(missing);
    auto context = std::make_shared<ssl::context>(ssl::context::tls);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    load("--tls-cert-file", files.cert_file, [&] { context->use_certificate_chain_file(files.cert_file); });
    load("--tls-key-file", files.key_file,
         [&] { context->use_private_key_file(files.key_file, ssl::context::pem); });
    if (SSL_CTX_check_private_key(context->native_handle()) != 1)
        throw std::runtime_error("--tls-key-file " + files.key_file + ": not the key of --tls-cert-file " +
                                 files.cert_file);
    load("--tls-ca-cert-file", files.ca_file, [&] { context->load_verify_file(files.ca_file); });
    context->set_verify_mode(mode);
    return context;
}

}  // namespace

std::string TlsFiles::incomplete() const {
    if (!given()) return {};
    std::string missing;
    for (auto [flag, file] : {std::pair{"--tls-cert-file", &cert_file},
                              {"--tls-key-file", &key_file},
                              {"--tls-ca-cert-file", &ca_file}})
        if (file->empty()) missing += (missing.empty() ? "" : ", ") + std::string(flag);
    if (missing.empty()) return {};
    return "TLS needs --tls-cert-file, --tls-key-file and --tls-ca-cert-file together; missing " + missing;
}

TlsContext client_port_tls(const TlsFiles& files) {
    return node_context(files, ssl::verify_none);
}

TlsContext peer_tls(const TlsFiles& files) {
    return node_context(files, ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
}

TlsContext client_tls(const std::string& ca_file) {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    load("--cacert", ca_file, [&] { context->load_verify_file(ca_file); });
    context->set_verify_mode(ssl::verify_peer);
    return context;
}

std::string certificate_mismatch(SSL* ssl, NodeId id) {
    const std::string name = "node-" + std::to_string(id);
    X509* cert = SSL_get0_peer_certificate(ssl);
    if (!cert) return "it presented no certificate";
    // DNS SANs, and the CN as well (ALWAYS_CHECK_SUBJECT); exact names only, no wildcards.
    const unsigned flags = X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT | X509_CHECK_FLAG_NO_WILDCARDS;
    if (X509_check_host(cert, name.data(), name.size(), flags, nullptr) == 1) return {};
    char subject[256] = "?";
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
    return "its certificate (" + std::string(subject) + ") does not name " + name;
}

std::string tls_error_text(const boost::system::error_code& ec) {
    if (ec.category() == asio::error::get_ssl_category()) {
        const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
        if (reason) return std::string("TLS: ") + reason;
    }
    return ec.message();
}

Stream::Stream(Socket socket, ssl::context& context)
    : plain_(socket.get_executor()),
      tls_(std::make_unique<ssl::stream<Socket>>(std::move(socket), context)) {}

asio::awaitable<boost::system::error_code> Stream::handshake(ssl::stream_base::handshake_type role,
                                                             std::chrono::milliseconds timeout) {
    if (!tls_) co_return boost::system::error_code{};
    asio::steady_timer deadline(plain_.get_executor());
    deadline.expires_after(timeout);
    deadline.async_wait([this](boost::system::error_code ec) {
        if (!ec) close();
    });
    auto [ec] = co_await tls_->async_handshake(role, tuple_awaitable);
    deadline.cancel();
    if (!ec && !socket().is_open()) ec = asio::error::timed_out;
    co_return ec;
}

Stream::Result Stream::read_some(asio::mutable_buffer buffer) {
    if (tls_) return tls_->async_read_some(buffer, tuple_awaitable);
    return plain_.async_read_some(buffer, tuple_awaitable);
}

Stream::Result Stream::read_exactly(asio::mutable_buffer buffer) {
    if (tls_) return asio::async_read(*tls_, buffer, tuple_awaitable);
    return asio::async_read(plain_, buffer, tuple_awaitable);
}

Stream::Result Stream::write_all(asio::const_buffer buffer) {
    if (tls_) return asio::async_write(*tls_, buffer, tuple_awaitable);
    return asio::async_write(plain_, buffer, tuple_awaitable);
}

void Stream::close() {
    boost::system::error_code ignored;
    socket().shutdown(Socket::shutdown_both, ignored);
    socket().close(ignored);
}

}  // namespace ballot
