// Secrets compared without leaking them through timing, shared by every door into a node: the
// client port's AUTH (kv/auth.h) and the live view's HTTP basic auth and token (common/live_view.h).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace ballot {

// True if `a` and `b` are equal; takes the same time whatever they hold (OpenSSL's CRYPTO_memcmp
// over SHA-256 digests, so neither the content nor the length leaks through timing).
bool secrets_equal(std::string_view a, std::string_view b);

// How long to hold the reply to the n-th wrong password of a connection (n >= 1): 100 ms,
// doubling, at most 5 s. Slows guessing down without blocking anything else.
std::chrono::milliseconds failed_auth_delay(unsigned failures);

// The live view's token for `password` (README "Live view"): 64 hex digits of SHA-256 over a
// fixed label and the password. It opens the live view's pages and nothing else, so a URL that
// carries it (?token=...) never shows the password itself, and it cannot be used for AUTH.
std::string live_view_token(std::string_view password);

}  // namespace ballot
