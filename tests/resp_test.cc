// RESP2 codec: the request parser (every shape redis-cli, redis-benchmark and telnet send, every
// class of malformed input), the reply encoders and the reply parser.
#define BOOST_TEST_MODULE resp
#include "kv/resp.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kv/resp_client.h"

using namespace ballot::kv;
using Args = std::vector<std::string>;

namespace {

// Parses everything in `input` fed in one piece; returns the commands and the final status.
struct Parsed {
    std::vector<Args> commands;
    RespStatus last = RespStatus::need_more;
    std::string error;
};

Parsed parse_all(std::string_view input, RespLimits limits = {}) {
    RespRequestParser parser(limits);
    parser.feed(input);
    Parsed out;
    Args args;
    while ((out.last = parser.next(args)) == RespStatus::ok) out.commands.push_back(args);
    out.error = parser.error();
    return out;
}

// The same, fed one byte at a time, polling after every byte.
Parsed parse_bytewise(std::string_view input, RespLimits limits = {}) {
    RespRequestParser parser(limits);
    Parsed out;
    Args args;
    for (char c : input) {
        parser.feed(std::string_view(&c, 1));
        while ((out.last = parser.next(args)) == RespStatus::ok) out.commands.push_back(args);
        if (out.last == RespStatus::error) break;
    }
    out.error = parser.error();
    return out;
}

std::string command(const Args& args) {
    std::string out;
    append_command(out, args);
    return out;
}

std::string encoded(const RespValue& v) {
    std::string out;
    append_value(out, v);
    return out;
}

RespValue parse_reply(std::string_view bytes) {
    RespReplyParser parser;
    parser.feed(bytes);
    RespValue v;
    BOOST_REQUIRE(parser.next(v) == RespStatus::ok);
    BOOST_CHECK_EQUAL(parser.buffered_bytes(), 0u);
    return v;
}

void check_protocol_error(std::string_view input, std::string_view reason, RespLimits limits = {}) {
    Parsed whole = parse_all(input, limits);
    BOOST_CHECK(whole.last == RespStatus::error);
    BOOST_CHECK_EQUAL(whole.error, reason);
    Parsed bytewise = parse_bytewise(input, limits);
    BOOST_CHECK(bytewise.last == RespStatus::error);
    BOOST_CHECK_EQUAL(bytewise.error, reason);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(request_parser)

BOOST_AUTO_TEST_CASE(redis_cli_shapes_round_trip) {
    // What redis-cli sends for each command in the SPEC table, and binary-safe arguments.
    const std::vector<Args> shapes = {
        {"PING"},
        {"ping", "hello"},
        {"SET", "key", "value"},
        {"GET", "key"},
        {"DEL", "a", "b", "c"},
        {"APPEND", "key", "more"},
        {"INCR", "counter"},
        {"KEYS", "user:*"},
        {"DBSIZE"},
        {"INFO"},
        {"COMMAND", "DOCS"},  // redis-cli's first request on connect
        {"SET", "", ""},      // empty bulk strings
        {"SET", std::string("bin\0ary\r\n", 9), std::string(1000, 'x')},
    };
    std::string stream;
    for (const Args& a : shapes) stream += command(a);
    Parsed whole = parse_all(stream);
    BOOST_CHECK(whole.last == RespStatus::need_more);
    BOOST_CHECK(whole.commands == shapes);
    Parsed bytewise = parse_bytewise(stream);
    BOOST_CHECK(bytewise.last == RespStatus::need_more);
    BOOST_CHECK(bytewise.commands == shapes);
}

BOOST_AUTO_TEST_CASE(pipelined_benchmark_burst_one_byte_at_a_time) {
    // redis-benchmark -P 16: sixteen SETs in one write; the parser must hand them out in order.
    std::string stream;
    std::vector<Args> expected;
    for (int i = 0; i < 16; ++i) {
        expected.push_back({"SET", "key:" + std::to_string(i), std::string(100, static_cast<char>('a' + i))});
        stream += command(expected.back());
    }
    Parsed out = parse_bytewise(stream);
    BOOST_CHECK(out.last == RespStatus::need_more);
    BOOST_CHECK(out.commands == expected);
}

BOOST_AUTO_TEST_CASE(incomplete_input_needs_more_and_resumes) {
    RespRequestParser parser;
    Args args;
    parser.feed("*2\r\n$3\r\nGET\r\n$3\r\nke");
    BOOST_CHECK(parser.next(args) == RespStatus::need_more);
    BOOST_CHECK(parser.next(args) == RespStatus::need_more);  // asking again changes nothing
    parser.feed("y\r");
    BOOST_CHECK(parser.next(args) == RespStatus::need_more);
    parser.feed("\n");
    BOOST_REQUIRE(parser.next(args) == RespStatus::ok);
    BOOST_CHECK(args == (Args{"GET", "key"}));
    BOOST_CHECK_EQUAL(parser.buffered_bytes(), 0u);
}

BOOST_AUTO_TEST_CASE(prepare_commit_reads_in_place) {
    RespRequestParser parser;
    const std::string wire = command({"SET", "k", std::string(50000, 'v')});
    std::size_t at = 0;
    Args args;
    RespStatus st = RespStatus::need_more;
    while (at < wire.size()) {
        std::span<char> area = parser.prepare(1000);
        BOOST_REQUIRE_GE(area.size(), 1000u);
        const std::size_t n = std::min<std::size_t>(1000, wire.size() - at);
        std::memcpy(area.data(), wire.data() + at, n);
        parser.commit(n);
        at += n;
        st = parser.next(args);
        if (at < wire.size()) BOOST_CHECK(st == RespStatus::need_more);
    }
    BOOST_REQUIRE(st == RespStatus::ok);
    BOOST_CHECK_EQUAL(args.at(2).size(), 50000u);
}

BOOST_AUTO_TEST_CASE(inline_commands) {
    Parsed out = parse_all(
        "PING\r\n"
        "set  key   value\n"  // bare LF and runs of blanks, as telnet and nc send
        "\r\n"                // blank lines are skipped
        "SET k \"hello world\\n\" 'it\\'s'\r\n"
        "SET k \"\\x41\\x42\"\r\n");
    BOOST_CHECK(out.last == RespStatus::need_more);
    const std::vector<Args> expected = {
        {"PING"},
        {"set", "key", "value"},
        {"SET", "k", "hello world\n", "it's"},
        {"SET", "k", "AB"},
    };
    BOOST_CHECK(out.commands == expected);
    BOOST_CHECK(parse_bytewise("PING\r\nGET a\r\n").commands == (std::vector<Args>{{"PING"}, {"GET", "a"}}));
}

BOOST_AUTO_TEST_CASE(inline_and_multibulk_mixed) {
    Parsed out = parse_bytewise("PING\r\n" + command({"GET", "a"}) + "DBSIZE\r\n");
    BOOST_CHECK(out.commands == (std::vector<Args>{{"PING"}, {"GET", "a"}, {"DBSIZE"}}));
}

BOOST_AUTO_TEST_CASE(empty_multibulk_is_skipped) {
    Parsed out = parse_all("*0\r\n*-1\r\n" + command({"PING"}));
    BOOST_CHECK(out.commands == (std::vector<Args>{{"PING"}}));
}

BOOST_AUTO_TEST_CASE(limits_are_inclusive) {
    RespLimits limits;
    limits.max_bulk_bytes = 10;
    limits.max_array_elements = 3;
    Parsed out = parse_all(command({"SET", "k", std::string(10, 'x')}), limits);
    BOOST_CHECK_EQUAL(out.commands.size(), 1u);
    BOOST_CHECK(out.last == RespStatus::need_more);
}

BOOST_AUTO_TEST_CASE(bad_type_byte_inside_array) {
    check_protocol_error("*1\r\n:5\r\n", "expected '$', got ':'");
    check_protocol_error("*2\r\n$3\r\nGET\r\n+key\r\n", "expected '$', got '+'");
}

BOOST_AUTO_TEST_CASE(malformed_multibulk_lengths) {
    check_protocol_error("*-2\r\n", "invalid multibulk length");
    check_protocol_error("*abc\r\n", "invalid multibulk length");
    check_protocol_error("*\r\n", "invalid multibulk length");
    check_protocol_error("*+3\r\n", "invalid multibulk length");
    check_protocol_error("*99999999999999999999999\r\n", "invalid multibulk length");
    // A header line that never ends is cut off long before 64 KiB.
    check_protocol_error("*" + std::string(100, '1'), "invalid multibulk length");
}

BOOST_AUTO_TEST_CASE(array_over_the_element_limit) {
    // SPEC: more than 1,048,576 elements is absurd. Refused from the header alone, before any
    // element arrives or anything is allocated for them.
    check_protocol_error("*1048577\r\n", "invalid multibulk length");
    Parsed at_limit = parse_all("*1048576\r\n$4\r\nPING\r\n");
    BOOST_CHECK(at_limit.last == RespStatus::need_more);
}

BOOST_AUTO_TEST_CASE(malformed_bulk_lengths) {
    check_protocol_error("*1\r\n$-1\r\n", "invalid bulk length");
    check_protocol_error("*1\r\n$-5\r\n", "invalid bulk length");
    check_protocol_error("*1\r\n$x\r\n", "invalid bulk length");
    check_protocol_error("*1\r\n$\r\n", "invalid bulk length");
    check_protocol_error("*1\r\n$18446744073709551616\r\n", "invalid bulk length");
}

BOOST_AUTO_TEST_CASE(bulk_over_the_limit) {
    // 1 MiB is the default limit (SPEC); one byte more is refused from the header.
    check_protocol_error("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n", "invalid bulk length");
    Parsed at_limit = parse_all(command({"SET", "k", std::string(1048576, 'v')}));
    BOOST_CHECK_EQUAL(at_limit.commands.size(), 1u);
}

BOOST_AUTO_TEST_CASE(command_over_the_total_limit) {
    RespLimits limits;
    limits.max_command_bytes = 8;
    check_protocol_error(command({"SET", "key", "value"}), "command larger than 8 bytes", limits);
}

BOOST_AUTO_TEST_CASE(missing_crlf) {
    check_protocol_error("*1\r\n$4\r\nPINGxx", "expected CRLF after a bulk string");
    check_protocol_error("*1\r\n$4\r\nPING\n\n", "expected CRLF after a bulk string");
    check_protocol_error("*1\rx", "expected CRLF at the end of a line");
    check_protocol_error("*1\r\n$4\rx", "expected CRLF at the end of a line");
}

BOOST_AUTO_TEST_CASE(inline_over_the_limit_and_bad_quotes) {
    check_protocol_error(std::string(64 * 1024 + 1, 'a'), "too big inline request");
    Parsed at_limit = parse_all(std::string(64 * 1024, 'a'));
    BOOST_CHECK(at_limit.last == RespStatus::need_more);
    check_protocol_error("SET k \"unterminated\r\n", "unbalanced quotes in request");
    check_protocol_error("SET k \"a\"b\r\n", "unbalanced quotes in request");
    check_protocol_error("SET k 'a\r\n", "unbalanced quotes in request");
}

BOOST_AUTO_TEST_CASE(error_is_sticky_and_keeps_earlier_commands) {
    RespRequestParser parser;
    parser.feed(command({"PING"}) + "*1\r\n!\r\n" + command({"PING"}));
    Args args;
    BOOST_CHECK(parser.next(args) == RespStatus::ok);
    BOOST_CHECK(parser.next(args) == RespStatus::error);
    BOOST_CHECK(parser.next(args) == RespStatus::error);
    BOOST_CHECK_EQUAL(parser.error(), "expected '$', got '!'");
}

BOOST_AUTO_TEST_CASE(many_small_commands_stay_linear) {
    // 200,000 pipelined commands fed in 4 KiB slices: the buffer compacts as it goes.
    std::string stream;
    for (int i = 0; i < 200000; ++i) stream += command({"INCR", "c"});
    RespRequestParser parser;
    Args args;
    std::size_t count = 0;
    for (std::size_t at = 0; at < stream.size(); at += 4096) {
        parser.feed(std::string_view(stream).substr(at, 4096));
        while (parser.next(args) == RespStatus::ok) ++count;
        BOOST_REQUIRE_LT(parser.buffered_bytes(), 4096u + 64);
    }
    BOOST_CHECK_EQUAL(count, 200000u);
}

BOOST_AUTO_TEST_CASE(mutated_streams_parse_the_same_however_they_are_split) {
    // Valid pipelines with random bytes overwritten: whatever the damage, the parser never
    // crashes, and feeding it whole or a byte at a time gives the same commands and outcome.
    std::mt19937 rng(20240601);
    const std::string valid = command({"SET", "key", "value"}) + "PING\r\n" + command({"DEL", "a", "b"}) +
                              "SET k \"q\\x41\"\r\n" + command({"GET", ""});
    const std::string alphabet = "*$+-:\r\n0123456789-\"' x\\";
    for (int round = 0; round < 3000; ++round) {
        std::string input = valid;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips; ++f) input[rng() % input.size()] = alphabet[rng() % alphabet.size()];
        Parsed whole = parse_all(input);
        Parsed bytewise = parse_bytewise(input);
        BOOST_REQUIRE_MESSAGE(whole.commands == bytewise.commands && whole.last == bytewise.last &&
                                  whole.error == bytewise.error,
                              "round " << round);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(split_inline)

BOOST_AUTO_TEST_CASE(redis_sdssplitargs_rules) {
    BOOST_CHECK(*split_inline_args("") == Args{});
    BOOST_CHECK(*split_inline_args("   ") == Args{});
    BOOST_CHECK(*split_inline_args("a b\tc") == (Args{"a", "b", "c"}));
    BOOST_CHECK(*split_inline_args("\"\"") == (Args{""}));
    BOOST_CHECK(*split_inline_args("\"a\\tb\\\\c\\\"d\"") == (Args{"a\tb\\c\"d"}));
    BOOST_CHECK(*split_inline_args("'a\\nb'") == (Args{"a\\nb"}));  // no escapes in single quotes
    BOOST_CHECK(*split_inline_args("ab\"cd\" e") == (Args{"abcd", "e"}));
    BOOST_CHECK(!split_inline_args("\"abc"));
    BOOST_CHECK(!split_inline_args("'abc\"x"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(integers)

BOOST_AUTO_TEST_CASE(string2ll_rules) {
    BOOST_CHECK(parse_redis_integer("0") == 0);
    BOOST_CHECK(parse_redis_integer("-1") == -1);
    BOOST_CHECK(parse_redis_integer("9223372036854775807") == INT64_MAX);
    BOOST_CHECK(parse_redis_integer("-9223372036854775808") == INT64_MIN);
    for (const char* bad : {"", "-", "+1", "01", "-0", " 1", "1 ", "1a", "9223372036854775808",
                            "-9223372036854775809", "99999999999999999999", "1.5"}) {
        BOOST_CHECK_MESSAGE(!parse_redis_integer(bad), bad);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(replies)

BOOST_AUTO_TEST_CASE(encoders_match_redis_bytes) {
    std::string out;
    append_simple(out, "OK");
    append_error(out, "ERR bad\r\nthing");
    append_integer(out, -42);
    append_bulk(out, "hi");
    append_bulk(out, "");
    append_nil(out);
    append_array_header(out, 2);
    BOOST_CHECK_EQUAL(out, "+OK\r\n-ERR bad  thing\r\n:-42\r\n$2\r\nhi\r\n$0\r\n\r\n$-1\r\n*2\r\n");
    BOOST_CHECK_EQUAL(error_reply("TRYAGAIN later"), "-TRYAGAIN later\r\n");
}

BOOST_AUTO_TEST_CASE(reply_parser_round_trips) {
    const std::vector<RespValue> values = {
        RespValue::simple_string("OK"),
        RespValue::simple_string(""),
        RespValue::error_string("ERR wrong number of arguments for 'get' command"),
        RespValue::number(0),
        RespValue::number(INT64_MIN),
        RespValue::number(INT64_MAX),
        RespValue::bulk_string(""),
        RespValue::bulk_string(std::string("a\r\nb\0c", 6)),
        RespValue::null(),
        RespValue::array({}),
        RespValue::array({RespValue::bulk_string("k1"), RespValue::bulk_string("k2")}),
        RespValue::array(
            {RespValue::number(1),
             RespValue::array({RespValue::null(), RespValue::array({RespValue::simple_string("x")})}),
             RespValue::error_string("ERR inner")}),
    };
    std::string stream;
    for (const RespValue& v : values) {
        BOOST_CHECK(parse_reply(encoded(v)) == v);
        stream += encoded(v);
    }
    // All of them pipelined, one byte at a time.
    RespReplyParser parser;
    std::vector<RespValue> got;
    RespValue v;
    for (char c : stream) {
        parser.feed(std::string_view(&c, 1));
        while (parser.next(v) == RespStatus::ok) got.push_back(v);
    }
    BOOST_CHECK(got == values);
}

BOOST_AUTO_TEST_CASE(reply_parser_nulls_and_errors) {
    BOOST_CHECK(parse_reply("*-1\r\n") == RespValue::null());
    RespValue err = parse_reply("-TRYAGAIN request timed out\r\n");
    BOOST_CHECK(err.is_error());
    BOOST_CHECK_EQUAL(err.error_code(), "TRYAGAIN");
    BOOST_CHECK_EQUAL(err.str, "TRYAGAIN request timed out");

    for (const char* bad : {"?x\r\n", ":12a\r\n", "$-2\r\n", "*-2\r\n", "$3\r\nabcd\r\n", "+OK\rx"}) {
        RespReplyParser parser;
        parser.feed(bad);
        RespValue v;
        BOOST_CHECK_MESSAGE(parser.next(v) == RespStatus::error, bad);
        BOOST_CHECK(!parser.error().empty());
    }
}

BOOST_AUTO_TEST_CASE(reply_parser_bounds_depth) {
    RespLimits limits = RespLimits::for_replies();
    limits.max_depth = 3;
    RespReplyParser parser(limits);
    parser.feed("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n");
    RespValue v;
    BOOST_CHECK(parser.next(v) == RespStatus::error);
}

BOOST_AUTO_TEST_CASE(reply_parser_large_array_in_chunks) {
    // A KEYS answer of 100,000 keys arriving in 1 KiB reads is parsed without starting over.
    std::vector<RespValue> keys;
    for (int i = 0; i < 100000; ++i) keys.push_back(RespValue::bulk_string("key:" + std::to_string(i)));
    const RespValue answer = RespValue::array(keys);
    const std::string wire = encoded(answer);
    RespReplyParser parser;
    RespValue v;
    RespStatus st = RespStatus::need_more;
    for (std::size_t at = 0; at < wire.size(); at += 1024) {
        BOOST_REQUIRE(st == RespStatus::need_more);
        parser.feed(std::string_view(wire).substr(at, 1024));
        st = parser.next(v);
    }
    BOOST_REQUIRE(st == RespStatus::ok);
    BOOST_CHECK(v == answer);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(client)

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// A one-connection RESP server on a loopback port, run on its own thread with blocking sockets.
// `answer` gives the reply bytes for each command; returning nullopt closes the connection.
class ScriptedServer {
public:
    using Answer = std::function<std::optional<std::string>(const Args&)>;

    explicit ScriptedServer(Answer answer)
        : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
        port_ = acceptor_.local_endpoint().port();
        thread_ = std::thread([this, answer = std::move(answer)] { serve(answer); });
    }
    ~ScriptedServer() { thread_.join(); }
    std::uint16_t port() const { return port_; }
    std::size_t commands_seen() const { return seen_; }

private:
    void serve(const Answer& answer) {
        tcp::socket socket(io_);
        acceptor_.accept(socket);
        RespRequestParser parser;
        Args args;
        boost::system::error_code ec;
        for (;;) {
            std::span<char> area = parser.prepare(16384);
            const std::size_t n = socket.read_some(asio::buffer(area.data(), area.size()), ec);
            if (ec) return;
            parser.commit(n);
            while (parser.next(args) == RespStatus::ok) {
                ++seen_;
                auto reply = answer(args);
                if (!reply) return;  // closes the socket
                asio::write(socket, asio::buffer(*reply), ec);
                if (ec) return;
            }
        }
    }

    asio::io_context io_;
    tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::size_t seen_ = 0;
    std::thread thread_;
};

std::optional<std::string> echo_last(const Args& args) {
    std::string out;
    append_bulk(out, args.back());
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(command_round_trip) {
    ScriptedServer server([](const Args& args) -> std::optional<std::string> {
        if (args[0] == "QUIT") return std::nullopt;
        std::string out;
        if (args[0] == "PING") append_simple(out, "PONG");
        if (args[0] == "BAD") append_error(out, "ERR bad");
        if (args[0] == "KEYS") {
            append_array_header(out, 2);
            append_bulk(out, "a");
            append_bulk(out, "b");
        }
        return out;
    });
    RespClient client;
    client.connect("localhost", server.port(), std::chrono::milliseconds(5000));
    BOOST_CHECK(client.connected());
    BOOST_CHECK(client.command({"PING"}) == RespValue::simple_string("PONG"));
    RespValue err = client.command({"BAD"});
    BOOST_CHECK(err.is_error());
    BOOST_CHECK_EQUAL(err.str, "ERR bad");
    BOOST_CHECK(client.command({"KEYS", "*"}) ==
                RespValue::array({RespValue::bulk_string("a"), RespValue::bulk_string("b")}));
    client.send({"QUIT"});
    BOOST_CHECK_THROW(client.receive(), RespClientError);
    BOOST_CHECK(!client.connected());
}

BOOST_AUTO_TEST_CASE(long_pipeline_reads_while_writing) {
    // 20,000 commands with 1 KiB replies: far more than the socket buffers hold both ways, so
    // this only finishes if the client reads replies while it is still writing requests.
    ScriptedServer server(echo_last);
    RespClient client;
    client.connect("127.0.0.1", server.port(), std::chrono::milliseconds(5000));
    client.set_timeout(std::chrono::milliseconds(60000));
    std::vector<Args> commands;
    for (int i = 0; i < 20000; ++i) {
        commands.push_back({"ECHO", std::string(1000, 'a' + i % 26) + std::to_string(i)});
    }
    std::vector<RespValue> replies = client.pipeline(commands);
    BOOST_REQUIRE_EQUAL(replies.size(), commands.size());
    for (std::size_t i = 0; i < commands.size(); ++i) {
        BOOST_REQUIRE(replies[i] == RespValue::bulk_string(commands[i][1]));
    }
    BOOST_CHECK_EQUAL(client.outstanding(), 0u);
}

BOOST_AUTO_TEST_CASE(connection_closed_by_server_throws) {
    ScriptedServer server([](const Args&) -> std::optional<std::string> { return std::nullopt; });
    RespClient client;
    client.connect("127.0.0.1", server.port(), std::chrono::milliseconds(5000));
    try {
        client.command({"GET", "k"});
        BOOST_FAIL("expected RespClientError");
    } catch (const RespClientError& e) {
        BOOST_CHECK_NE(std::string(e.what()).find("127.0.0.1:"), std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(reply_before_close_is_delivered) {
    // A node answers "-ERR Protocol error" and closes: the client still sees the reply.
    ScriptedServer server([](const Args&) -> std::optional<std::string> {
        return error_reply("ERR Protocol error: invalid bulk length");
    });
    RespClient client;
    client.connect("127.0.0.1", server.port(), std::chrono::milliseconds(5000));
    RespValue v = client.command({"X"});
    BOOST_CHECK_EQUAL(v.str, "ERR Protocol error: invalid bulk length");
}

BOOST_AUTO_TEST_CASE(silent_server_times_out) {
    // The server reads the command and never answers. (When the client gives up it closes the
    // connection, which ends the server's thread.)
    ScriptedServer server([](const Args&) -> std::optional<std::string> { return std::string(); });
    RespClient client;
    client.connect("127.0.0.1", server.port(), std::chrono::milliseconds(5000));
    client.set_timeout(std::chrono::milliseconds(50));
    try {
        client.command({"GET", "k"});
        BOOST_FAIL("expected a timeout");
    } catch (const RespClientError& e) {
        BOOST_CHECK_NE(std::string(e.what()).find("timed out"), std::string::npos);
    }
    BOOST_CHECK(!client.connected());
}

BOOST_AUTO_TEST_CASE(connect_refused_and_bad_names_throw) {
    // A port that is bound but not listening refuses connections (and, held, cannot be picked as
    // the client's own ephemeral port, which would make a TCP self-connect).
    asio::io_context io;
    tcp::socket bound(io);
    bound.open(tcp::v4());
    bound.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const std::uint16_t port = bound.local_endpoint().port();
    RespClient client;
    BOOST_CHECK_THROW(client.connect("127.0.0.1", port, std::chrono::milliseconds(5000)), RespClientError);
    BOOST_CHECK_THROW(client.connect("no-such-host.invalid", port, std::chrono::milliseconds(5000)),
                      RespClientError);
    BOOST_CHECK_THROW(client.command({"PING"}), RespClientError);  // not connected
}

BOOST_AUTO_TEST_SUITE_END()
