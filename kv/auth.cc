#include "kv/auth.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "kv/resp.h"

namespace ballot::kv {

namespace {

const std::string kWrongPass = "WRONGPASS invalid username-password pair or user is disabled.";

// Whether `pass` opens `secret`; an unset secret opens nothing here (callers decide what "no
// password" means for each user).
bool opens(const std::optional<std::string>& secret, std::string_view pass) {
    return secret && secrets_equal(*secret, pass);
}

// What the data password grants: everything, unless an admin secret guards the admin commands.
Access data_user_access(const AuthConfig& config) {
    return config.admin_password ? Access::data : Access::admin;
}

// The access `user` gets with `pass`, or nullopt for Redis's WRONGPASS. "default" is the data
// user (Redis's `nopass` default user when no data password is set); "admin" the admin user.
std::optional<Access> access_of(const AuthConfig& config, std::string_view user, std::string_view pass) {
    if (user == "admin") {
        if (opens(config.admin_password, pass)) return Access::admin;
        return std::nullopt;
    }
    if (user != "default") return std::nullopt;
    // Redis's `nopass` default user when no data password is set: any password will do.
    if (!config.data_password || opens(config.data_password, pass)) return data_user_access(config);
    return std::nullopt;
}

}  // namespace

AuthState initial_auth(const AuthConfig& config) {
    AuthState s;
    s.granted = config.data_password ? Access::anyone : data_user_access(config);
    return s;
}

std::string permission_error(const AuthConfig& config, const AuthState& state, const CommandSpec& spec) {
    if (spec.access <= state.granted) return {};
    if (state.granted == Access::anyone && config.data_password)
        return error_reply("NOAUTH Authentication required.");
    return error_reply("NOPERM this user has no permissions to run the '" + std::string(spec.name) +
                       "' command");
}

std::string authenticate(const AuthConfig& config, AuthState& state,
                         const std::vector<std::string>& user_and_pass) {
    if (user_and_pass.size() == 1 && !config.data_password) {
        return error_reply(
            "ERR AUTH <password> called without any password configured for the default user. Are you "
            "sure your configuration is correct?");
    }
    const std::string_view user = user_and_pass.size() == 1 ? std::string_view("default") : user_and_pass[0];
    const auto granted = access_of(config, user, user_and_pass.back());
    if (!granted) {
        ++state.failures;
        return error_reply(kWrongPass);
    }
    state.granted = *granted;
    state.user = user;
    return {};
}

std::string read_secret_file(const std::string& option, const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw std::runtime_error(option + " " + path + ": is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(option + " " + path + ": cannot read the file");
    std::ostringstream content;
    content << in.rdbuf();
    if (in.bad()) throw std::runtime_error(option + " " + path + ": cannot read the file");
    std::string secret = content.str();
    if (secret.ends_with("\r\n"))
        secret.resize(secret.size() - 2);
    else if (secret.ends_with('\n'))
        secret.pop_back();
    if (secret.empty()) throw std::runtime_error(option + " " + path + ": the file is empty");
    return secret;
}

}  // namespace ballot::kv
