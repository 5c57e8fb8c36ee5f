#include "common/secret.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>

namespace ballot {

namespace {

using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

Digest digest(std::string_view s) {
    Digest d{};
    SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
    return d;
}

}  // namespace

bool secrets_equal(std::string_view a, std::string_view b) {
    // Equal-length digests, so the comparison's time depends on neither content nor length.
    const Digest da = digest(a), db = digest(b);
    return CRYPTO_memcmp(da.data(), db.data(), da.size()) == 0;
}

std::chrono::milliseconds failed_auth_delay(unsigned failures) {
    constexpr std::chrono::milliseconds first{100}, most{5000};
    const unsigned doublings = std::min(failures == 0 ? 0u : failures - 1, 6u);
    return std::min(most, first * (1 << doublings));
}

std::string live_view_token(std::string_view password) {
    const Digest d = digest("ballot live view token\n" + std::string(password));
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned char byte : d) {
        out += hex[byte >> 4];
        out += hex[byte & 0xf];
    }
    return out;
}

}  // namespace ballot
