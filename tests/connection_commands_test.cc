// The connection commands client libraries send (kv/connection_commands.h): each reply and error
// text as Redis 7 gives it with no password configured. The end-to-end check with real client
// libraries is client_libraries_e2e_test.cc.
#define BOOST_TEST_MODULE connection_commands
#include "kv/connection_commands.h"

#include <boost/test/unit_test.hpp>

#include "kv/resp.h"

using namespace ballot::kv;
using Args = std::vector<std::string>;

namespace {

struct Connection {
    AuthConfig secrets;  // none: as Redis with no password configured
    ClientState state;
    std::vector<const ClientState*> others;

    Connection() {
        state.id = 7;
        state.addr = "127.0.0.1:5000";
        state.laddr = "127.0.0.1:6379";
        state.auth = initial_auth(secrets);
        others = {&state};
    }
    std::string run(const Args& args) {
        Validation v = validate(args);
        if (!v.ok()) return error_reply(v.error);
        return connection_reply(
            v.command, state, [this] { return others; }, secrets);
    }
    // The reply parsed, for the structured ones.
    RespValue parsed(const Args& args) {
        std::string bytes = run(args);
        RespReplyParser parser;
        parser.feed(bytes);
        RespValue value;
        BOOST_REQUIRE(parser.next(value) == RespStatus::ok);
        return value;
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(hello_answers_resp2_and_refuses_resp3) {
    Connection c;
    RespValue hello = c.parsed({"HELLO"});
    BOOST_REQUIRE(hello.type == RespValue::Type::array);
    BOOST_REQUIRE_EQUAL(hello.elements.size(), 14u);
    BOOST_CHECK_EQUAL(hello.elements[0].str, "server");
    BOOST_CHECK_EQUAL(hello.elements[4].str, "proto");
    BOOST_CHECK_EQUAL(hello.elements[5].integer, 2);
    BOOST_CHECK_EQUAL(hello.elements[6].str, "id");
    BOOST_CHECK_EQUAL(hello.elements[7].integer, 7);
    BOOST_CHECK_EQUAL(hello.elements[12].str, "modules");
    BOOST_CHECK(c.run({"HELLO", "2"}) == c.run({"HELLO"}));
    BOOST_CHECK_EQUAL(c.run({"HELLO", "3"}), "-NOPROTO sorry, this protocol version is not supported\r\n");
    BOOST_CHECK_EQUAL(c.run({"HELLO", "4"}), "-NOPROTO unsupported protocol version\r\n");
    BOOST_CHECK_EQUAL(c.run({"HELLO", "x"}), "-ERR Protocol version is not an integer or out of range\r\n");
    BOOST_CHECK_EQUAL(c.run({"HELLO", "2", "BOGUS"}), "-ERR Syntax error in HELLO option 'BOGUS'\r\n");
    BOOST_CHECK_EQUAL(c.run({"HELLO", "2", "AUTH", "default"}),
                      "-ERR Syntax error in HELLO option 'AUTH'\r\n");
    // No password configured: the default user takes any password, nobody else gets in.
    BOOST_CHECK_EQUAL(c.parsed({"HELLO", "2", "AUTH", "default", "pw", "SETNAME", "app"}).elements.size(),
                      14u);
    BOOST_CHECK_EQUAL(c.state.name, "app");
    BOOST_CHECK_EQUAL(c.run({"HELLO", "2", "AUTH", "alice", "pw"}),
                      "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
}

BOOST_AUTO_TEST_CASE(auth_without_a_configured_password) {
    Connection c;
    BOOST_CHECK_EQUAL(c.run({"AUTH", "pw"}),
                      "-ERR AUTH <password> called without any password configured for the default user. Are "
                      "you sure your configuration is correct?\r\n");
    BOOST_CHECK_EQUAL(c.run({"AUTH", "default", "pw"}), "+OK\r\n");
    BOOST_CHECK_EQUAL(c.run({"AUTH", "alice", "pw"}),
                      "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
}

BOOST_AUTO_TEST_CASE(client_subcommands) {
    Connection c;
    BOOST_CHECK_EQUAL(c.run({"CLIENT", "GETNAME"}), "$-1\r\n");
    BOOST_CHECK_EQUAL(c.run({"client", "setname", "worker-1"}), "+OK\r\n");
    BOOST_CHECK_EQUAL(c.run({"CLIENT", "GETNAME"}), "$8\r\nworker-1\r\n");
    BOOST_CHECK_EQUAL(c.run({"CLIENT", "SETNAME", "a b"}),
                      "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
    BOOST_CHECK_EQUAL(c.run({"CLIENT", "ID"}), ":7\r\n");
    BOOST_CHECK_EQUAL(c.run({"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}), "+OK\r\n");
    BOOST_CHECK_EQUAL(c.run({"CLIENT", "SETINFO", "lib-ver", "4.3.4"}), "+OK\r\n");
    BOOST_CHECK_EQUAL(c.run({"CLIENT", "SETINFO", "color", "red"}), "-ERR Unrecognized option 'color'\r\n");
    BOOST_CHECK_EQUAL(c.run({"CLIENT", "SETINFO", "LIB-NAME"}),
                      "-ERR wrong number of arguments for 'client|setinfo' command\r\n");
    const std::string line =
        "id=7 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 name=worker-1 db=0 user=default resp=2 cmd= "
        "lib-name=redis-py lib-ver=4.3.4\n";
    BOOST_CHECK_EQUAL(c.parsed({"CLIENT", "INFO"}).str, line);
    BOOST_CHECK_EQUAL(c.parsed({"CLIENT", "LIST"}).str, line);
    BOOST_CHECK_EQUAL(c.run({"CLIENT", "MAINT_NOTIFICATIONS", "off"}), "+OK\r\n");
    BOOST_CHECK(
        c.run({"CLIENT", "MAINT_NOTIFICATIONS", "on", "moving-endpoint-type", "auto"}).starts_with("-ERR "));
    BOOST_CHECK_EQUAL(c.run({"CLIENT", "KILL"}), "-ERR unknown subcommand 'KILL'. Try CLIENT HELP.\r\n");
    BOOST_CHECK_EQUAL(c.run({"CLIENT"}), "-ERR wrong number of arguments for 'client' command\r\n");
    BOOST_CHECK(c.parsed({"CLIENT", "HELP"}).elements.size() > 4);
}

BOOST_AUTO_TEST_CASE(select_echo) {
    Connection c;
    BOOST_CHECK_EQUAL(c.run({"SELECT", "0"}), "+OK\r\n");
    BOOST_CHECK_EQUAL(c.run({"SELECT", "1"}), "-ERR DB index is out of range\r\n");
    BOOST_CHECK_EQUAL(c.run({"SELECT", "x"}), "-ERR value is not an integer or out of range\r\n");
    BOOST_CHECK_EQUAL(c.run({"ECHO", "hello"}), "$5\r\nhello\r\n");
}

BOOST_AUTO_TEST_CASE(command_introspection) {
    Connection c;
    const auto count = static_cast<std::int64_t>(command_table().size());
    BOOST_CHECK_EQUAL(c.parsed({"COMMAND", "COUNT"}).integer, count);
    RespValue all = c.parsed({"COMMAND"});
    BOOST_REQUIRE_EQUAL(all.elements.size(), command_table().size());
    for (const RespValue& entry : all.elements) BOOST_CHECK_EQUAL(entry.elements.size(), 10u);

    RespValue info = c.parsed({"COMMAND", "INFO", "mset", "nosuch"});
    BOOST_REQUIRE_EQUAL(info.elements.size(), 2u);
    const RespValue& mset = info.elements[0];
    BOOST_CHECK_EQUAL(mset.elements[0].str, "mset");
    BOOST_CHECK_EQUAL(mset.elements[1].integer, -3);
    BOOST_CHECK_EQUAL(mset.elements[2].elements[0].str, "write");
    BOOST_CHECK_EQUAL(mset.elements[3].integer, 1);   // first key
    BOOST_CHECK_EQUAL(mset.elements[4].integer, -1);  // last key
    BOOST_CHECK_EQUAL(mset.elements[5].integer, 2);   // step
    BOOST_CHECK(info.elements[1].type == RespValue::Type::nil);

    RespValue docs = c.parsed({"COMMAND", "DOCS", "get", "nosuch"});
    BOOST_REQUIRE_EQUAL(docs.elements.size(), 2u);
    BOOST_CHECK_EQUAL(docs.elements[0].str, "get");
    BOOST_CHECK_EQUAL(docs.elements[1].elements[0].str, "summary");
    BOOST_CHECK_EQUAL(c.parsed({"COMMAND", "DOCS"}).elements.size(), command_table().size() * 2);
    BOOST_CHECK_EQUAL(c.parsed({"COMMAND", "LIST"}).elements.size(), command_table().size());
    BOOST_CHECK_EQUAL(c.run({"COMMAND", "COUNT", "x"}),
                      "-ERR wrong number of arguments for 'command|count' command\r\n");
    BOOST_CHECK_EQUAL(c.run({"COMMAND", "FROB"}), "-ERR unknown subcommand 'FROB'. Try COMMAND HELP.\r\n");
}
