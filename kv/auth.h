// Who may run what on the client port (SPEC "Security: who may talk to the cluster"), in Redis's
// own words so that redis-cli and client libraries work unchanged:
//
//   --requirepass-file  the data password: user "default" (AUTH pass, AUTH default pass,
//                       HELLO 2 AUTH default pass); without it a connection needs no AUTH
//   --admin-pass-file   the admin secret: user "admin" (AUTH admin pass), for the commands the
//                       command table marks Access::admin (MEMBER, BGSAVE)
//
// Unauthenticated clients get -NOAUTH for everything but PING AUTH HELLO (and QUIT); a client
// short of the admin secret gets -NOPERM for admin commands; a wrong password gets -WRONGPASS.
// Secrets are compared in constant time (common/secret.h).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/secret.h"
#include "kv/kv_commands.h"

namespace ballot::kv {

// Constant-time comparison and the delay after a wrong password, shared with the live view.
using ballot::failed_auth_delay;
using ballot::secrets_equal;

// The secrets a node was started with; nullopt: that check is off.
struct AuthConfig {
    std::optional<std::string> data_password;
    std::optional<std::string> admin_password;
};

// What a connection is allowed, as the command table's Access: a connection at level L may run
// the commands that need at most L.
struct AuthState {
    Access granted = Access::anyone;
    std::string user = "default";  // the user last authenticated as (CLIENT LIST's user=)
    unsigned failures = 0;         // wrong passwords on this connection (each slows the next reply)
};

// A new connection's access: `data` when no data password is set, `admin` when no secret is.
AuthState initial_auth(const AuthConfig& config);

// The error reply (with '-' and CRLF) refusing `spec` to `state`, or empty if it may run.
std::string permission_error(const AuthConfig& config, const AuthState& state, const CommandSpec& spec);

// AUTH / HELLO AUTH: `user_and_pass` is [pass] or [user, pass]. Empty on success (and `state`
// is raised), else Redis's error reply; a wrong password also counts a failure in `state`.
std::string authenticate(const AuthConfig& config, AuthState& state,
                         const std::vector<std::string>& user_and_pass);

// A secret file's content, one trailing newline (LF or CRLF) removed. Throws
// std::runtime_error naming `option` and `path` if it is missing, unreadable or empty.
std::string read_secret_file(const std::string& option, const std::string& path);

}  // namespace ballot::kv
