// The password checks of the client port (kv/auth.h): the constant-time comparison, the auth
// state machine (which user gets what, which command is refused with which Redis error), the
// delay after wrong passwords, and reading the secret files. End to end: security_e2e_test.cc.
#define BOOST_TEST_MODULE auth
#include "kv/auth.h"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>

#include "kv/connection_commands.h"
#include "kv/resp.h"

using namespace ballot::kv;
using Args = std::vector<std::string>;

namespace {

const std::string kNoAuth = "-NOAUTH Authentication required.\r\n";
const std::string kWrongPass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

AuthConfig both() {
    return AuthConfig{"data-secret", "admin-secret"};
}

const CommandSpec& spec(const char* name) {
    return *find_command(name);
}

// The reply to `args` (a connection command) on a connection in `client`, as the server gives it.
std::string run(const AuthConfig& config, ClientState& client, const Args& args) {
    Validation v = validate(args);
    BOOST_REQUIRE_MESSAGE(v.ok(), v.error);
    if (auto refused = permission_error(config, client.auth, spec_of(v.command.op)); !refused.empty())
        return refused;
    return connection_reply(
        v.command, client, [&client] { return std::vector<const ClientState*>{&client}; }, config);
}

std::filesystem::path write_file(const std::string& name, const std::string& content) {
    auto path = std::filesystem::temp_directory_path() / ("ballot-auth-test-" + name);
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

}  // namespace

BOOST_AUTO_TEST_CASE(secrets_compare_equal_only_when_identical) {
    BOOST_TEST(secrets_equal("s3cret", "s3cret"));
    BOOST_TEST(!secrets_equal("s3cret", "s3creT"));
    BOOST_TEST(!secrets_equal("s3cret", "s3cret "));  // a prefix is not enough, either way
    BOOST_TEST(!secrets_equal("s3cret", "s3cre"));
    BOOST_TEST(!secrets_equal("", "x"));
    BOOST_TEST(secrets_equal("", ""));
    BOOST_TEST(secrets_equal(std::string("a\0b", 3), std::string("a\0b", 3)));  // binary-safe
    BOOST_TEST(!secrets_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

BOOST_AUTO_TEST_CASE(the_command_table_declares_who_may_run_what) {
    BOOST_TEST((spec("ping").access == Access::anyone));
    BOOST_TEST((spec("auth").access == Access::anyone));
    BOOST_TEST((spec("hello").access == Access::anyone));
    BOOST_TEST((spec("get").access == Access::data));
    BOOST_TEST((spec("set").access == Access::data));
    BOOST_TEST((spec("bgsave").access == Access::admin));
    BOOST_TEST((spec("member").access == Access::admin));  // every MEMBER subcommand, LIST too
}

BOOST_AUTO_TEST_CASE(without_passwords_everything_is_allowed) {
    const AuthConfig none;
    const AuthState s = initial_auth(none);
    for (const char* name : {"get", "set", "bgsave", "ping"})
        BOOST_TEST(permission_error(none, s, spec(name)) == "");
}

BOOST_AUTO_TEST_CASE(with_a_data_password_only_ping_auth_and_hello_run_before_auth) {
    const AuthConfig config = both();
    AuthState s = initial_auth(config);
    BOOST_TEST(permission_error(config, s, spec("ping")) == "");
    BOOST_TEST(permission_error(config, s, spec("auth")) == "");
    BOOST_TEST(permission_error(config, s, spec("hello")) == "");
    BOOST_TEST(permission_error(config, s, spec("get")) == kNoAuth);
    BOOST_TEST(permission_error(config, s, spec("bgsave")) == kNoAuth);  // Redis: NOAUTH before NOPERM
}

BOOST_AUTO_TEST_CASE(the_data_password_opens_data_commands_and_not_admin_ones) {
    const AuthConfig config = both();
    AuthState s = initial_auth(config);
    BOOST_TEST(authenticate(config, s, {"data-secret"}) == "");
    BOOST_TEST(permission_error(config, s, spec("get")) == "");
    BOOST_TEST(permission_error(config, s, spec("bgsave")) ==
               "-NOPERM this user has no permissions to run the 'bgsave' command\r\n");
    BOOST_TEST(permission_error(config, s, spec("member")) ==
               "-NOPERM this user has no permissions to run the 'member' command\r\n");
    BOOST_TEST(s.user == "default");

    AuthState named = initial_auth(config);
    BOOST_TEST(authenticate(config, named, {"default", "data-secret"}) == "");
    BOOST_TEST((named.granted == Access::data));
    // The data password is not the admin secret.
    BOOST_TEST(authenticate(config, named, {"admin", "data-secret"}) == kWrongPass);
    BOOST_TEST((named.granted == Access::data));  // a failed AUTH keeps what the connection had
}

BOOST_AUTO_TEST_CASE(the_admin_secret_opens_everything) {
    const AuthConfig config = both();
    AuthState s = initial_auth(config);
    BOOST_TEST(authenticate(config, s, {"admin", "admin-secret"}) == "");
    BOOST_TEST(s.user == "admin");
    for (const char* name : {"get", "set", "bgsave"})
        BOOST_TEST(permission_error(config, s, spec(name)) == "");
    // AUTH with one argument is user "default": the admin secret is not its password.
    AuthState one = initial_auth(config);
    BOOST_TEST(authenticate(config, one, {"admin-secret"}) == kWrongPass);
}

BOOST_AUTO_TEST_CASE(wrong_passwords_and_unknown_users_are_counted_failures) {
    const AuthConfig config = both();
    AuthState s = initial_auth(config);
    BOOST_TEST(authenticate(config, s, {"nope"}) == kWrongPass);
    BOOST_TEST(authenticate(config, s, {"default", "nope"}) == kWrongPass);
    BOOST_TEST(authenticate(config, s, {"someone", "data-secret"}) == kWrongPass);
    BOOST_TEST(s.failures == 3u);
    BOOST_TEST((s.granted == Access::anyone));
}

BOOST_AUTO_TEST_CASE(with_only_an_admin_secret_data_needs_no_auth_and_admin_needs_admin) {
    const AuthConfig config{std::nullopt, "admin-secret"};
    AuthState s = initial_auth(config);
    BOOST_TEST(permission_error(config, s, spec("get")) == "");
    BOOST_TEST(permission_error(config, s, spec("bgsave")) ==
               "-NOPERM this user has no permissions to run the 'bgsave' command\r\n");
    // Redis's nopass default user: any password for "default"; AUTH pass alone is an error.
    BOOST_TEST(authenticate(config, s, {"default", "anything"}) == "");
    BOOST_TEST(authenticate(config, s, {"anything"}).starts_with("-ERR AUTH <password> called without"));
    BOOST_TEST(authenticate(config, s, {"admin", "admin-secret"}) == "");
    BOOST_TEST(permission_error(config, s, spec("bgsave")) == "");
}

BOOST_AUTO_TEST_CASE(with_only_a_data_password_it_opens_admin_commands_too) {
    const AuthConfig config{"data-secret", std::nullopt};
    AuthState s = initial_auth(config);
    BOOST_TEST(authenticate(config, s, {"data-secret"}) == "");
    BOOST_TEST(permission_error(config, s, spec("bgsave")) == "");
    BOOST_TEST(authenticate(config, s, {"admin", "data-secret"}) == kWrongPass);  // no admin user
}

BOOST_AUTO_TEST_CASE(hello_authenticates_or_needs_a_prior_auth) {
    const AuthConfig config = both();
    ClientState client;
    client.auth = initial_auth(config);
    BOOST_TEST(run(config, client, {"HELLO", "2"})
                   .starts_with("-NOAUTH HELLO must be called with the client already"));
    BOOST_TEST(run(config, client, {"HELLO", "2", "AUTH", "default", "wrong"}) == kWrongPass);
    BOOST_TEST(run(config, client, {"HELLO", "2", "AUTH", "default", "data-secret"}).starts_with("*14\r\n"));
    BOOST_TEST((client.auth.granted == Access::data));
    BOOST_TEST(run(config, client, {"HELLO", "2"}).starts_with("*14\r\n"));  // now authenticated
    BOOST_TEST(run(config, client, {"AUTH", "admin", "admin-secret"}) == "+OK\r\n");
    BOOST_TEST(client_info_line(client).find(" user=admin ") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_delay_after_wrong_passwords_grows_and_is_bounded) {
    using std::chrono::milliseconds;
    BOOST_TEST(failed_auth_delay(1).count() == 100);
    BOOST_TEST(failed_auth_delay(2).count() == 200);
    BOOST_TEST(failed_auth_delay(3).count() == 400);
    for (unsigned n = 1; n < 1000; ++n) BOOST_TEST((failed_auth_delay(n) <= milliseconds(5000)));
    BOOST_TEST(failed_auth_delay(1000).count() == 5000);
}

BOOST_AUTO_TEST_CASE(secret_files_lose_one_trailing_newline_and_must_not_be_empty) {
    BOOST_TEST(read_secret_file("--requirepass-file", write_file("lf", "pw\n")) == "pw");
    BOOST_TEST(read_secret_file("--requirepass-file", write_file("crlf", "pw\r\n")) == "pw");
    BOOST_TEST(read_secret_file("--requirepass-file", write_file("two", "pw\n\n")) == "pw\n");
    BOOST_TEST(read_secret_file("--requirepass-file", write_file("none", "p w")) == "p w");
    auto message = [](const std::string& path) {
        try {
            read_secret_file("--admin-pass-file", path);
        } catch (const std::runtime_error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    const std::string empty = write_file("empty", "\n");
    BOOST_TEST(message(empty) == "--admin-pass-file " + empty + ": the file is empty");
    BOOST_TEST(message("/nonexistent/pw") == "--admin-pass-file /nonexistent/pw: cannot read the file");
    BOOST_TEST(message("/tmp") == "--admin-pass-file /tmp: is a directory");
}
