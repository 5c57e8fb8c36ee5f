// The KV state machine: command validation with Redis's error texts, each command's semantics,
// the log payload codec, exactly-once sessions (Raft dissertation §6.3) and determinism.
#define BOOST_TEST_MODULE kv_store
#include "kv/kv_store.h"

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "kv/glob.h"
#include "kv/kv_commands.h"
#include "kv/resp.h"
#include "kv/sessions.h"
#include "tests/support/kv_log.h"

using namespace ballot;
using namespace ballot::kv;
using test::Args;

namespace {

using Applier = test::KvLog;
using test::payload;
using test::read;

std::string bulk(std::string_view s) {
    return bulk_reply(s);
}
std::string integer(std::int64_t v) {
    return integer_reply(v);
}
std::string array(const Args& items) {
    std::string out;
    append_array_header(out, items.size());
    for (const std::string& s : items) append_bulk(out, s);
    return out;
}
const std::string kOk = "+OK\r\n";
const std::string kNil = "$-1\r\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(commands)

BOOST_AUTO_TEST_CASE(table_classifies_every_spec_command) {
    BOOST_CHECK(find_command("SET")->kind == CommandKind::write);
    BOOST_CHECK(find_command("del")->kind == CommandKind::write);
    BOOST_CHECK(find_command("Append")->kind == CommandKind::write);
    BOOST_CHECK(find_command("incr")->kind == CommandKind::write);
    BOOST_CHECK(find_command("get")->kind == CommandKind::read);
    BOOST_CHECK(find_command("KEYS")->kind == CommandKind::read);
    BOOST_CHECK(find_command("dbsize")->kind == CommandKind::read);
    BOOST_CHECK(find_command("PING")->kind == CommandKind::local);
    BOOST_CHECK(find_command("info")->kind == CommandKind::local);
    BOOST_CHECK(find_command("flushall") == nullptr);
}

BOOST_AUTO_TEST_CASE(validate_normalizes) {
    Validation v = validate({"sEt", "k", "v"});
    BOOST_REQUIRE(v.ok());
    BOOST_CHECK(v.command.op == Op::set);
    BOOST_CHECK(v.command.args == (Args{"k", "v"}));
    BOOST_CHECK(validate({"PING"}).ok());
    BOOST_CHECK(validate({"PING", "msg"}).ok());
    BOOST_CHECK(validate({"INFO", "server", "clients"}).ok());
    BOOST_CHECK(validate({"DEL", "a", "b", "c"}).ok());
}

BOOST_AUTO_TEST_CASE(wrong_arity_uses_redis_text) {
    BOOST_CHECK_EQUAL(validate({"GET"}).error, "ERR wrong number of arguments for 'get' command");
    BOOST_CHECK_EQUAL(validate({"GET", "a", "b"}).error, "ERR wrong number of arguments for 'get' command");
    BOOST_CHECK_EQUAL(validate({"SET", "k"}).error, "ERR wrong number of arguments for 'set' command");
    BOOST_CHECK_EQUAL(validate({"DEL"}).error, "ERR wrong number of arguments for 'del' command");
    BOOST_CHECK_EQUAL(validate({"append", "k"}).error, "ERR wrong number of arguments for 'append' command");
    BOOST_CHECK_EQUAL(validate({"INCR", "a", "b"}).error, "ERR wrong number of arguments for 'incr' command");
    BOOST_CHECK_EQUAL(validate({"KEYS"}).error, "ERR wrong number of arguments for 'keys' command");
    BOOST_CHECK_EQUAL(validate({"DBSIZE", "x"}).error, "ERR wrong number of arguments for 'dbsize' command");
    BOOST_CHECK_EQUAL(validate({"PING", "a", "b"}).error, "ERR wrong number of arguments for 'ping' command");
}

BOOST_AUTO_TEST_CASE(unknown_command_uses_redis7_text) {
    BOOST_CHECK_EQUAL(validate({"FOO", "a", "b"}).error,
                      "ERR unknown command 'FOO', with args beginning with: 'a' 'b' ");
    BOOST_CHECK_EQUAL(validate({"foo"}).error, "ERR unknown command 'foo', with args beginning with: ");
    // Arguments are shown until 128 characters have been printed.
    Validation long_args = validate({"X", std::string(200, 'a'), "b"});
    BOOST_CHECK_EQUAL(long_args.error,
                      "ERR unknown command 'X', with args beginning with: '" + std::string(128, 'a') + "' ");
}

// SET's options are tested with cluster time in tests/kv_expiry_test.cc; here only that the
// Unix-time ones are refused.
BOOST_AUTO_TEST_CASE(set_options) {
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "PXAT", "10"}).error,
                      "ERR SET option 'PXAT' is not supported by Ballot");
    BOOST_CHECK_EQUAL(validate({"SET", "k", "v", "BOGUS"}).error, "ERR syntax error");
}

BOOST_AUTO_TEST_CASE(string_commands_validate_like_redis) {
    for (const char* name : {"EXISTS", "MGET", "STRLEN"})
        BOOST_CHECK(find_command(name)->kind == CommandKind::read);
    for (const char* name : {"MSET", "GETSET", "GETDEL", "INCRBY", "DECR", "DECRBY", "SETNX"})
        BOOST_CHECK(find_command(name)->kind == CommandKind::write);
    for (const char* name : {"ECHO", "SELECT", "HELLO", "AUTH", "CLIENT", "COMMAND"})
        BOOST_CHECK(find_command(name)->kind == CommandKind::local);
    BOOST_CHECK(validate({"MSET", "a", "1", "b", "2"}).ok());
    BOOST_CHECK_EQUAL(validate({"MSET", "a"}).error, "ERR wrong number of arguments for 'mset' command");
    BOOST_CHECK_EQUAL(validate({"MSET", "a", "1", "b"}).error,
                      "ERR wrong number of arguments for 'mset' command");
    BOOST_CHECK_EQUAL(validate({"EXISTS"}).error, "ERR wrong number of arguments for 'exists' command");
    BOOST_CHECK_EQUAL(validate({"MGET"}).error, "ERR wrong number of arguments for 'mget' command");
    BOOST_CHECK_EQUAL(validate({"STRLEN", "a", "b"}).error,
                      "ERR wrong number of arguments for 'strlen' command");
    BOOST_CHECK_EQUAL(validate({"GETSET", "a"}).error, "ERR wrong number of arguments for 'getset' command");
    BOOST_CHECK_EQUAL(validate({"GETDEL"}).error, "ERR wrong number of arguments for 'getdel' command");
    BOOST_CHECK_EQUAL(validate({"DECR", "a", "1"}).error, "ERR wrong number of arguments for 'decr' command");
    BOOST_CHECK_EQUAL(validate({"SETNX", "a"}).error, "ERR wrong number of arguments for 'setnx' command");
    BOOST_CHECK_EQUAL(validate({"ECHO"}).error, "ERR wrong number of arguments for 'echo' command");
    BOOST_CHECK_EQUAL(validate({"AUTH", "a", "b", "c"}).error,
                      "ERR wrong number of arguments for 'auth' command");
    // The amount is checked before the key is looked at, as Redis does.
    BOOST_CHECK_EQUAL(validate({"INCRBY", "a", "x"}).error, "ERR value is not an integer or out of range");
    BOOST_CHECK_EQUAL(validate({"DECRBY", "a", "1.5"}).error, "ERR value is not an integer or out of range");
    BOOST_CHECK_EQUAL(validate({"DECRBY", "a", "-9223372036854775808"}).error,
                      "ERR decrement would overflow");
    BOOST_CHECK(validate({"INCRBY", "a", "-9223372036854775808"}).ok());
}

BOOST_AUTO_TEST_CASE(payload_versions) {
    // Version 1 entries are byte for byte what they were before version 2 existed.
    BOOST_CHECK_EQUAL(payload({"SET", "k", "v"}),
                      std::string("\x01\x01\x02\0\0\0\x01\0\0\0k\x01\0\0\0v", 16));
    BOOST_CHECK_EQUAL(payload({"MSET", "k", "v"})[0], '\x02');
    BOOST_CHECK_EQUAL(payload({"EXISTS", "k"})[0], '\x02');
    // Each op only under its own version.
    std::string v1_mset = payload({"MSET", "k", "v"});
    v1_mset[0] = '\x01';
    BOOST_CHECK(!decode_payload(v1_mset));
    std::string v2_set = payload({"SET", "k", "v"});
    v2_set[0] = '\x02';
    BOOST_CHECK(!decode_payload(v2_set));
    // Shapes validate() refuses are refused from the log too.
    BOOST_CHECK(!decode_payload(encode_payload(KvCommand{Op::mset, {"a", "1", "b"}})));
    BOOST_CHECK(!decode_payload(encode_payload(KvCommand{Op::incrby, {"a", "x"}})));
    BOOST_CHECK(!decode_payload(encode_payload(KvCommand{Op::decrby, {"a", "-9223372036854775808"}})));
    KvCommand echo{Op::echo, {"x"}};  // local: never in the log
    BOOST_CHECK(!decode_payload(encode_payload(echo)));
}

BOOST_AUTO_TEST_CASE(payload_round_trip) {
    for (const Args& args : std::vector<Args>{{"SET", "k", std::string("v\0v", 3)},
                                              {"DEL", "a", "b"},
                                              {"APPEND", "", ""},
                                              {"INCR", "n"},
                                              {"GET", "k"},
                                              {"KEYS", "*"},
                                              {"DBSIZE"},
                                              {"EXISTS", "a", "a"},
                                              {"MGET", "a", "b"},
                                              {"STRLEN", "a"},
                                              {"MSET", "a", "1", "b", "2"},
                                              {"GETSET", "a", "1"},
                                              {"GETDEL", "a"},
                                              {"INCRBY", "a", "-7"},
                                              {"DECR", "a"},
                                              {"DECRBY", "a", "7"},
                                              {"SETNX", "a", "1"}}) {
        Validation v = validate(args);
        BOOST_REQUIRE(v.ok());
        auto back = decode_payload(encode_payload(v.command));
        BOOST_REQUIRE(back);
        BOOST_CHECK(*back == v.command);
    }
}

BOOST_AUTO_TEST_CASE(payload_decoder_rejects_garbage) {
    const std::string good = payload({"SET", "k", "v"});
    BOOST_CHECK(!decode_payload(""));
    BOOST_CHECK(!decode_payload("garbage"));
    BOOST_CHECK(!decode_payload(good.substr(0, good.size() - 1)));  // truncated
    BOOST_CHECK(!decode_payload(good + "x"));                       // trailing bytes
    std::string bad_version = good;
    bad_version[0] = 9;
    BOOST_CHECK(!decode_payload(bad_version));
    std::string bad_op = good;
    bad_op[1] = 77;
    BOOST_CHECK(!decode_payload(bad_op));
    std::string local_op = good;
    local_op[1] = static_cast<char>(Op::ping);  // local commands never travel in the log
    BOOST_CHECK(!decode_payload(local_op));
    // A count far beyond the bytes present is refused before anything is allocated.
    std::string huge = good;
    huge[2] = huge[3] = huge[4] = huge[5] = '\xff';
    BOOST_CHECK(!decode_payload(huge));
    // Well-formed but the wrong arity for its op (SET with one argument, GET with two).
    KvCommand short_set{Op::set, {"k"}};
    BOOST_CHECK(!decode_payload(encode_payload(short_set)));
    KvCommand long_get{Op::get, {"a", "b"}};
    BOOST_CHECK(!decode_payload(encode_payload(long_get)));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(semantics)

BOOST_AUTO_TEST_CASE(set_get_overwrite) {
    KvStore store;
    Applier a(store);
    BOOST_CHECK_EQUAL(read(store, {"GET", "k"}), kNil);
    BOOST_CHECK_EQUAL(a.run({"SET", "k", "v1"}), kOk);
    BOOST_CHECK_EQUAL(read(store, {"GET", "k"}), bulk("v1"));
    BOOST_CHECK_EQUAL(a.run({"SET", "k", std::string("bin\0\r\n", 6)}), kOk);
    BOOST_CHECK_EQUAL(read(store, {"GET", "k"}), bulk(std::string("bin\0\r\n", 6)));
    BOOST_CHECK_EQUAL(a.run({"SET", "", ""}), kOk);  // empty key and value are keys like any other
    BOOST_CHECK_EQUAL(read(store, {"GET", ""}), bulk(""));
    BOOST_CHECK_EQUAL(store.size(), 2u);
    BOOST_CHECK_EQUAL(read(store, {"DBSIZE"}), integer(2));
    BOOST_CHECK_EQUAL(store.applied_index(), 3u);
}

BOOST_AUTO_TEST_CASE(del_counts_only_existing_keys) {
    KvStore store;
    Applier a(store);
    a.run({"SET", "a", "1"});
    a.run({"SET", "b", "2"});
    BOOST_CHECK_EQUAL(a.run({"DEL", "a", "missing", "b", "a"}), integer(2));
    BOOST_CHECK_EQUAL(a.run({"DEL", "a"}), integer(0));
    BOOST_CHECK_EQUAL(store.size(), 0u);
}

BOOST_AUTO_TEST_CASE(append_creates_and_extends) {
    KvStore store;
    Applier a(store);
    BOOST_CHECK_EQUAL(a.run({"APPEND", "k", "Hello"}), integer(5));
    BOOST_CHECK_EQUAL(a.run({"APPEND", "k", " World"}), integer(11));
    BOOST_CHECK_EQUAL(a.run({"APPEND", "k", ""}), integer(11));
    BOOST_CHECK_EQUAL(read(store, {"GET", "k"}), bulk("Hello World"));
    BOOST_CHECK_EQUAL(a.run({"APPEND", "empty", ""}), integer(0));
    BOOST_CHECK_EQUAL(store.size(), 2u);  // Redis creates the key even for an empty append
}

BOOST_AUTO_TEST_CASE(append_respects_value_limit) {
    KvStoreLimits limits;
    limits.max_value_bytes = 8;
    KvStore store(limits);
    Applier a(store);
    BOOST_CHECK_EQUAL(a.run({"APPEND", "k", "12345678"}), integer(8));
    BOOST_CHECK_EQUAL(a.run({"APPEND", "k", "9"}),
                      "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    BOOST_CHECK_EQUAL(*store.get("k"), "12345678");
}

BOOST_AUTO_TEST_CASE(incr_semantics_and_errors) {
    KvStore store;
    Applier a(store);
    BOOST_CHECK_EQUAL(a.run({"INCR", "n"}), integer(1));
    BOOST_CHECK_EQUAL(a.run({"INCR", "n"}), integer(2));
    BOOST_CHECK_EQUAL(*store.get("n"), "2");
    a.run({"SET", "neg", "-5"});
    BOOST_CHECK_EQUAL(a.run({"INCR", "neg"}), integer(-4));
    a.run({"SET", "min", "-9223372036854775808"});
    BOOST_CHECK_EQUAL(a.run({"INCR", "min"}), integer(INT64_MIN + 1));

    const std::string not_integer = "-ERR value is not an integer or out of range\r\n";
    for (const char* bad : {"abc", "", " 1", "1 ", "01", "+1", "1.0", "9223372036854775808"}) {
        a.run({"SET", "s", bad});
        BOOST_CHECK_EQUAL(a.run({"INCR", "s"}), not_integer);
        BOOST_CHECK_EQUAL(*store.get("s"), bad);  // unchanged
    }

    a.run({"SET", "max", "9223372036854775807"});
    BOOST_CHECK_EQUAL(a.run({"INCR", "max"}), "-ERR increment or decrement would overflow\r\n");
    BOOST_CHECK_EQUAL(*store.get("max"), "9223372036854775807");
    a.run({"SET", "almost", "9223372036854775806"});
    BOOST_CHECK_EQUAL(a.run({"INCR", "almost"}), integer(INT64_MAX));
}

BOOST_AUTO_TEST_CASE(exists_mget_strlen) {
    KvStore store;
    Applier a(store);
    a.run({"SET", "a", "hello"});
    a.run({"SET", "b", ""});
    BOOST_CHECK_EQUAL(read(store, {"EXISTS", "a"}), integer(1));
    BOOST_CHECK_EQUAL(read(store, {"EXISTS", "a", "a", "b", "missing"}), integer(3));  // per naming
    BOOST_CHECK_EQUAL(read(store, {"EXISTS", "missing"}), integer(0));
    BOOST_CHECK_EQUAL(read(store, {"MGET", "a", "missing", "b"}), "*3\r\n$5\r\nhello\r\n$-1\r\n$0\r\n\r\n");
    BOOST_CHECK_EQUAL(read(store, {"STRLEN", "a"}), integer(5));
    BOOST_CHECK_EQUAL(read(store, {"STRLEN", "b"}), integer(0));
    BOOST_CHECK_EQUAL(read(store, {"STRLEN", "missing"}), integer(0));
}

BOOST_AUTO_TEST_CASE(mset_is_one_entry_all_or_nothing) {
    KvStoreLimits limits;
    limits.max_value_bytes = 4;
    KvStore store(limits);
    Applier a(store);
    BOOST_CHECK_EQUAL(a.run({"MSET", "a", "1", "b", "2", "a", "3"}), kOk);  // the last one wins
    BOOST_CHECK_EQUAL(store.applied_index(), 1u);
    BOOST_CHECK_EQUAL(read(store, {"MGET", "a", "b"}), array({"3", "2"}));
    // One value over the limit: nothing at all is written.
    BOOST_CHECK_EQUAL(a.run({"MSET", "a", "x", "c", "12345"}),
                      "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    BOOST_CHECK_EQUAL(*store.get("a"), "3");
    BOOST_CHECK(!store.get("c"));
}

BOOST_AUTO_TEST_CASE(getset_getdel_setnx) {
    KvStore store;
    Applier a(store);
    BOOST_CHECK_EQUAL(a.run({"GETSET", "k", "1"}), kNil);
    BOOST_CHECK_EQUAL(a.run({"GETSET", "k", "2"}), bulk("1"));
    BOOST_CHECK_EQUAL(*store.get("k"), "2");
    BOOST_CHECK_EQUAL(a.run({"GETDEL", "k"}), bulk("2"));
    BOOST_CHECK(!store.get("k"));
    BOOST_CHECK_EQUAL(a.run({"GETDEL", "k"}), kNil);
    BOOST_CHECK_EQUAL(a.run({"SETNX", "k", "first"}), integer(1));
    BOOST_CHECK_EQUAL(a.run({"SETNX", "k", "second"}), integer(0));
    BOOST_CHECK_EQUAL(*store.get("k"), "first");
    BOOST_CHECK_EQUAL(read(store, {"KEYS", "*"}), array({"k"}));  // the sorted index follows
}

BOOST_AUTO_TEST_CASE(incrby_decr_decrby) {
    KvStore store;
    Applier a(store);
    BOOST_CHECK_EQUAL(a.run({"INCRBY", "n", "10"}), integer(10));
    BOOST_CHECK_EQUAL(a.run({"DECR", "n"}), integer(9));
    BOOST_CHECK_EQUAL(a.run({"DECRBY", "n", "20"}), integer(-11));
    BOOST_CHECK_EQUAL(a.run({"INCRBY", "n", "-4"}), integer(-15));
    BOOST_CHECK_EQUAL(a.run({"DECR", "fresh"}), integer(-1));
    BOOST_CHECK_EQUAL(*store.get("n"), "-15");

    const std::string overflow = "-ERR increment or decrement would overflow\r\n";
    a.run({"SET", "max", "9223372036854775800"});
    BOOST_CHECK_EQUAL(a.run({"INCRBY", "max", "8"}), overflow);
    BOOST_CHECK_EQUAL(a.run({"INCRBY", "max", "7"}), integer(INT64_MAX));
    a.run({"SET", "min", "-9223372036854775807"});
    BOOST_CHECK_EQUAL(a.run({"DECRBY", "min", "2"}), overflow);
    BOOST_CHECK_EQUAL(a.run({"DECR", "min"}), integer(INT64_MIN));
    BOOST_CHECK_EQUAL(a.run({"DECR", "min"}), overflow);
    BOOST_CHECK_EQUAL(*store.get("min"), "-9223372036854775808");
    a.run({"SET", "s", "abc"});
    BOOST_CHECK_EQUAL(a.run({"DECRBY", "s", "1"}), "-ERR value is not an integer or out of range\r\n");
    BOOST_CHECK_EQUAL(*store.get("s"), "abc");
}

BOOST_AUTO_TEST_CASE(new_writes_survive_a_snapshot_round_trip) {
    KvStore store;
    Applier a(store);
    a.run({"MSET", "a", "1", "b", "2"});
    a.run({"INCRBY", "a", "41"});
    a.run({"GETDEL", "b"});
    KvStore copy;
    BOOST_REQUIRE(copy.restore(store.snapshot()));
    BOOST_CHECK(copy.snapshot() == store.snapshot());
    BOOST_CHECK_EQUAL(*copy.get("a"), "42");
    BOOST_CHECK(!copy.get("b"));
}

BOOST_AUTO_TEST_CASE(keys_globs_sorted) {
    KvStore store;
    Applier a(store);
    for (const char* k : {"user:2", "user:10", "user:1", "admin", "hello", "hallo", "hxllo", "hllo",
                          "heeeello", "a*b", "a?b"}) {
        a.run({"SET", k, "v"});
    }
    BOOST_CHECK_EQUAL(read(store, {"KEYS", "user:*"}), array({"user:1", "user:10", "user:2"}));
    BOOST_CHECK_EQUAL(read(store, {"KEYS", "h?llo"}), array({"hallo", "hello", "hxllo"}));
    BOOST_CHECK_EQUAL(read(store, {"KEYS", "h*llo"}), array({"hallo", "heeeello", "hello", "hllo", "hxllo"}));
    BOOST_CHECK_EQUAL(read(store, {"KEYS", "h[ae]llo"}), array({"hallo", "hello"}));
    BOOST_CHECK_EQUAL(read(store, {"KEYS", "h[^e]llo"}), array({"hallo", "hxllo"}));
    BOOST_CHECK_EQUAL(read(store, {"KEYS", "h[a-b]llo"}), array({"hallo"}));
    BOOST_CHECK_EQUAL(read(store, {"KEYS", "a\\*b"}), array({"a*b"}));
    BOOST_CHECK_EQUAL(read(store, {"KEYS", "nothing*"}), array({}));
    BOOST_CHECK_EQUAL(read(store, {"KEYS", "*"}), array({"a*b", "a?b", "admin", "hallo", "heeeello", "hello",
                                                         "hllo", "hxllo", "user:1", "user:10", "user:2"}));
}

BOOST_AUTO_TEST_CASE(glob_matches_redis_stringmatchlen) {
    BOOST_CHECK(glob_match("*", ""));
    BOOST_CHECK(glob_match("", ""));
    BOOST_CHECK(!glob_match("", "a"));
    BOOST_CHECK(!glob_match("?", ""));
    BOOST_CHECK(glob_match("a*", "a"));
    BOOST_CHECK(glob_match("**a**", "bab"));
    BOOST_CHECK(glob_match("[z-a]", "m"));  // reversed range, as Redis allows
    BOOST_CHECK(glob_match("[\\]]", "]"));
    BOOST_CHECK(glob_match("[abc", "a"));  // unterminated class: matches its members
    BOOST_CHECK(!glob_match("[abc", "d"));
    BOOST_CHECK(glob_match("a\\", "a\\"));  // trailing backslash is literal
    BOOST_CHECK(glob_match(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
    BOOST_CHECK(!glob_match("a?c", "abbc"));
    // A pathological pattern finishes quickly (Redis's skipLongerMatches).
    BOOST_CHECK(!glob_match("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

BOOST_AUTO_TEST_CASE(garbage_payload_is_an_error_without_state_change) {
    KvStore store;
    Applier a(store);
    a.run({"SET", "k", "v"});
    const std::string before = store.snapshot();
    for (const std::string& garbage : {std::string("\x01\x01\xff\xff\xff\xff"), std::string(64, 'z')}) {
        const std::string reply = a.raw(Command{0, 0, 0, garbage});
        BOOST_CHECK(reply.starts_with("-ERR "));
        BOOST_CHECK(reply.ends_with("\r\n"));
    }
    // An empty payload without a session is a clock tick (common/command.h): no reply, no change.
    BOOST_CHECK_EQUAL(a.raw(Command{0, 0, 0, {}}), "");
    BOOST_CHECK_EQUAL(store.size(), 1u);
    BOOST_CHECK_EQUAL(*store.get("k"), "v");
    KvStore other;
    BOOST_REQUIRE(other.restore(before));
    BOOST_CHECK(other.data() == store.data());
    BOOST_CHECK(store.query("nonsense").starts_with("-ERR "));
    BOOST_CHECK(store.query(payload({"SET", "k", "x"})).starts_with("-ERR "));  // writes are not queries
}

BOOST_AUTO_TEST_CASE(reads_through_the_log) {
    // An engine may serve a linearizable read by putting it in the log: apply answers it.
    KvStore store;
    Applier a(store);
    a.run({"SET", "k", "v"});
    BOOST_CHECK_EQUAL(a.run({"GET", "k"}), bulk("v"));
    BOOST_CHECK_EQUAL(a.run({"DBSIZE"}), integer(1));
    BOOST_CHECK_EQUAL(a.run({"KEYS", "*"}), array({"k"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(exactly_once)

BOOST_AUTO_TEST_CASE(same_seq_applies_once_and_returns_the_same_reply) {
    KvStore store;
    Applier a(store);
    BOOST_CHECK_EQUAL(a.run({"INCR", "n"}, 7, 1, 1), integer(1));
    // The same command again (a retry through another node, or proposed twice): not applied.
    BOOST_CHECK_EQUAL(a.run({"INCR", "n"}, 7, 1, 1), integer(1));
    BOOST_CHECK_EQUAL(a.run({"INCR", "n"}, 7, 1, 1), integer(1));
    BOOST_CHECK_EQUAL(*store.get("n"), "1");
    BOOST_CHECK_EQUAL(a.run({"INCR", "n"}, 7, 2, 1), integer(2));
    // Another client with the same seq is a different command.
    BOOST_CHECK_EQUAL(a.run({"INCR", "n"}, 8, 1, 1), integer(3));
    // client_id 0: no session, every copy applies.
    BOOST_CHECK_EQUAL(a.run({"INCR", "n"}, 0, 1, 1), integer(4));
    BOOST_CHECK_EQUAL(a.run({"INCR", "n"}, 0, 1, 1), integer(5));
}

BOOST_AUTO_TEST_CASE(error_replies_are_kept_too) {
    KvStore store;
    Applier a(store);
    a.run({"SET", "s", "abc"});
    const std::string first = a.run({"INCR", "s"}, 3, 1, 1);
    BOOST_CHECK(first.starts_with("-ERR value is not an integer"));
    a.run({"SET", "s", "10"});
    BOOST_CHECK_EQUAL(a.run({"INCR", "s"}, 3, 1, 1), first);  // the retry sees the first answer
    BOOST_CHECK_EQUAL(*store.get("s"), "10");
}

BOOST_AUTO_TEST_CASE(stale_seq_below_acked_below_is_refused) {
    KvStore store;
    Applier a(store);
    a.run({"INCR", "n"}, 5, 1, 1);
    a.run({"INCR", "n"}, 5, 2, 1);
    a.run({"INCR", "n"}, 5, 3, 3);  // the client has replies for seqs 1 and 2
    const Sessions::Session* s = store.sessions().find(5);
    BOOST_REQUIRE(s != nullptr);
    BOOST_CHECK_EQUAL(s->acked_below, 3u);
    BOOST_CHECK_EQUAL(s->kept.size(), 1u);  // 1 and 2 forgotten
    BOOST_CHECK(s->kept.contains(3));
    BOOST_CHECK_EQUAL(a.run({"INCR", "n"}, 5, 1, 1), "-ERR stale request (already acknowledged)\r\n");
    BOOST_CHECK_EQUAL(a.run({"INCR", "n"}, 5, 2, 1), "-ERR stale request (already acknowledged)\r\n");
    BOOST_CHECK_EQUAL(*store.get("n"), "3");
    BOOST_CHECK_EQUAL(a.run({"INCR", "n"}, 5, 3, 3), integer(3));  // still kept
}

BOOST_AUTO_TEST_CASE(acked_below_never_goes_back) {
    KvStore store;
    Applier a(store);
    a.run({"SET", "k", "1"}, 9, 10, 10);
    a.run({"SET", "k", "2"}, 9, 11, 4);  // a reordered, older acknowledgement
    BOOST_CHECK_EQUAL(store.sessions().find(9)->acked_below, 10u);
}

BOOST_AUTO_TEST_CASE(kept_replies_per_session_are_bounded) {
    KvStoreLimits limits;
    limits.sessions.max_kept_per_session = 4;
    KvStore store(limits);
    Applier a(store);
    // A client with six writes in flight (acked_below stays 1).
    for (std::uint64_t seq = 1; seq <= 6; ++seq) a.run({"INCR", "n"}, 1, seq, 1);
    const Sessions::Session* s = store.sessions().find(1);
    BOOST_CHECK_EQUAL(s->kept.size(), 4u);
    BOOST_CHECK_EQUAL(s->kept.begin()->first, 3u);
    BOOST_CHECK_EQUAL(s->evicted_through, 2u);
    // A retry of an evicted seq is refused, never applied twice.
    BOOST_CHECK_EQUAL(a.run({"INCR", "n"}, 1, 2, 1), "-ERR stale request (result no longer kept)\r\n");
    BOOST_CHECK_EQUAL(a.run({"INCR", "n"}, 1, 6, 1), integer(6));
    BOOST_CHECK_EQUAL(*store.get("n"), "6");
}

BOOST_AUTO_TEST_CASE(sessions_are_bounded_least_recently_applied_first) {
    KvStoreLimits limits;
    limits.sessions.max_sessions = 3;
    KvStore store(limits);
    Applier a(store);
    a.run({"INCR", "n"}, 1, 1, 1);
    a.run({"INCR", "n"}, 2, 1, 1);
    a.run({"INCR", "n"}, 3, 1, 1);
    a.run({"INCR", "n"}, 1, 1, 1);  // a duplicate from client 1 makes it recently used
    BOOST_CHECK_EQUAL(*store.get("n"), "3");
    a.run({"INCR", "n"}, 4, 1, 1);  // evicts client 2, the least recently applied
    BOOST_CHECK_EQUAL(store.sessions().size(), 3u);
    BOOST_CHECK(store.sessions().find(2) == nullptr);
    BOOST_CHECK(store.sessions().lru_order() == (std::list<std::uint64_t>{3, 1, 4}));
    // The documented consequence: client 2's old retry is no longer recognized and applies again.
    BOOST_CHECK_EQUAL(a.run({"INCR", "n"}, 2, 1, 1), integer(5));
    BOOST_CHECK(store.sessions().find(3) == nullptr);
}

BOOST_AUTO_TEST_CASE(garbage_payload_with_a_session_is_answered_consistently) {
    KvStore store;
    Applier a(store);
    const std::string first = a.raw(Command{4, 1, 1, "junk"});
    BOOST_CHECK(first.starts_with("-ERR "));
    BOOST_CHECK_EQUAL(a.raw(Command{4, 1, 1, "junk"}), first);
    BOOST_CHECK_EQUAL(store.size(), 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(determinism)

BOOST_AUTO_TEST_CASE(two_replicas_fed_the_same_log_end_identical) {
    // A pseudo-random but fixed command mix, with retries and reordered duplicates, fed to two
    // stores (one reserving differently, so hash order differs): same replies, same snapshot.
    KvStoreLimits small;
    small.expected_keys = 1;
    small.sessions.max_sessions = 16;
    KvStoreLimits big = small;
    big.expected_keys = 100000;
    KvStore x(small), y(big);
    std::uint64_t state = 12345;
    auto next = [&state] {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        return state >> 33;
    };
    std::vector<std::uint64_t> seqs(40, 0);
    for (Index i = 1; i <= 20000; ++i) {
        const std::string key = "k" + std::to_string(next() % 50);
        Args args;
        switch (next() % 6) {
            case 0:
                args = {"SET", key, std::to_string(next() % 1000)};
                break;
            case 1:
                args = {"DEL", key, "k" + std::to_string(next() % 50)};
                break;
            case 2:
                args = {"APPEND", key, "x"};
                break;
            case 3:
                args = {"INCR", key};
                break;
            case 4:
                args = {"GET", key};
                break;
            default:
                args = {"KEYS", "k1*"};
                break;
        }
        const std::uint64_t client = next() % 40;
        std::uint64_t seq = 0;
        if (client != 0) {
            seq = (next() % 4 == 0 && seqs[client] > 0) ? seqs[client] - next() % 2 : ++seqs[client];
            if (seq == 0) seq = 1;
        }
        Command c{client, seq, seq > 3 ? seq - 3 : 0, payload(args)};
        BOOST_REQUIRE_EQUAL(x.apply(i, c), y.apply(i, c));
    }
    BOOST_CHECK(x.data() == y.data());
    BOOST_CHECK(x.sessions() == y.sessions());
    BOOST_CHECK_EQUAL(x.snapshot(), y.snapshot());
    BOOST_CHECK_EQUAL(x.query(payload({"KEYS", "*"})), y.query(payload({"KEYS", "*"})));
}

BOOST_AUTO_TEST_CASE(snapshot_round_trip) {
    KvStore store;
    Applier a(store);
    a.run({"SET", "a", "1"}, 1, 1, 1);
    a.run({"APPEND", "b", "xyz"}, 2, 5, 3);
    a.run({"INCR", "c"});
    const std::string snap = store.snapshot();
    KvStore copy;
    BOOST_REQUIRE(copy.restore(snap));
    BOOST_CHECK(copy.data() == store.data());
    BOOST_CHECK(copy.sessions() == store.sessions());
    BOOST_CHECK_EQUAL(copy.applied_index(), 3u);
    BOOST_CHECK_EQUAL(copy.snapshot(), snap);
    // The restored copy still deduplicates.
    BOOST_CHECK_EQUAL(copy.apply(4, Command{2, 5, 3, payload({"APPEND", "b", "xyz"})}), integer(3));
    // A corrupt snapshot is refused and leaves the state alone.
    BOOST_CHECK(!copy.restore(snap.substr(0, snap.size() - 1)));
    BOOST_CHECK(!copy.restore(snap + "x"));
    BOOST_CHECK_EQUAL(*copy.get("b"), "xyz");
}

// The canonical format, pinned byte by byte: replicas of different builds must agree, and
// snapshot files written by one version are read by the next.
BOOST_AUTO_TEST_CASE(snapshot_format_is_pinned) {
    KvStore store;
    Applier a(store);
    a.run({"SET", "b", "2"});
    a.run({"SET", "a", "1"}, 7, 1, 0);
    const std::string no_ttl_no_lease(16, '\0');
    const std::string version_2 =
        std::string("\x02", 1)                  // version
        + std::string("\x02\0\0\0\0\0\0\0", 8)  // applied index 2
        + std::string("\x02\0\0\0", 4)          // two keys, sorted:
        + std::string("\x01\0\0\0", 4) + "a" + std::string("\x01\0\0\0", 4) + "1" + no_ttl_no_lease +
        std::string("\x01\0\0\0", 4) + "b" + std::string("\x01\0\0\0", 4) + "2" + no_ttl_no_lease +
        std::string("\x01", 1)                                             // sessions version
        + std::string("\x01\0\0\0", 4)                                     // one session
        + std::string("\x07\0\0\0\0\0\0\0", 8)                             // client 7
        + std::string(8, '\0') + std::string(8, '\0')                      // acked_below, evicted_through
        + std::string("\x01\0\0\0", 4)                                     // one kept reply
        + std::string("\x01\0\0\0\0\0\0\0", 8)                             // seq 1
        + std::string("\x05\0\0\0", 4) + "+OK\r\n" + std::string(8, '\0')  // cluster time 0 (no stamps)
        + std::string("\x01\0\0\0\0\0\0\0", 8)                             // next lease id 1
        + std::string(4, '\0');                                            // no leases
    // Version 3 adds the locks: the next fencing token and the lock count.
    const std::string expected = std::string("\x03", 1) + version_2.substr(1) +
                                 std::string("\x01\0\0\0\0\0\0\0", 8) + std::string(4, '\0');
    BOOST_CHECK(store.snapshot() == expected);
    KvStore old;
    BOOST_REQUIRE(old.restore(version_2));  // the version before still loads
    BOOST_CHECK(old.snapshot() == expected);
    BOOST_CHECK(KvStore::snapshot_index(expected) == std::optional<Index>(2));
    BOOST_CHECK(!KvStore::snapshot_index("\x01\x02"));
}

// restore() builds the key index by appending, trusting the canonical order, so it checks that
// order: a snapshot whose keys are out of order or repeated is refused, and the state stays.
BOOST_AUTO_TEST_CASE(restore_refuses_keys_out_of_order_or_repeated) {
    const std::string header = std::string("\x01", 1) + std::string("\x02\0\0\0\0\0\0\0", 8) +
                               std::string("\x02\0\0\0", 4);  // version, applied 2, two keys
    const auto pair = [](const char* key) {
        return std::string("\x01\0\0\0", 4) + key + std::string("\x01\0\0\0", 4) + "v";
    };
    const std::string no_sessions = std::string("\x01", 1) + std::string(4, '\0');
    KvStore copy;
    BOOST_REQUIRE(copy.restore(header + pair("a") + pair("b") + no_sessions));  // the control
    BOOST_CHECK_EQUAL(read(copy, {"KEYS", "*"}), array({"a", "b"}));
    BOOST_CHECK(!copy.restore(header + pair("b") + pair("a") + no_sessions));
    BOOST_CHECK(!copy.restore(header + pair("a") + pair("a") + no_sessions));
    BOOST_CHECK_EQUAL(read(copy, {"KEYS", "*"}), array({"a", "b"}));
}

// The sorted key index (what KEYS and snapshots walk) follows creations, deletions and restores.
BOOST_AUTO_TEST_CASE(keys_stay_sorted_across_deletes_and_restore) {
    KvStore store;
    Applier a(store);
    for (const char* k : {"m", "c", "x", "a", "q"}) a.run({"SET", k, "v"});
    a.run({"DEL", "x", "c"});
    a.run({"APPEND", "b", "v"});
    a.run({"INCR", "z"});
    BOOST_CHECK_EQUAL(read(store, {"KEYS", "*"}), array({"a", "b", "m", "q", "z"}));
    KvStore copy;
    BOOST_REQUIRE(copy.restore(store.snapshot()));
    BOOST_CHECK_EQUAL(read(copy, {"KEYS", "*"}), array({"a", "b", "m", "q", "z"}));
    Applier b(copy);
    b.run({"DEL", "a", "q"});
    b.run({"SET", "c", "v"});
    BOOST_CHECK_EQUAL(read(copy, {"KEYS", "*"}), array({"b", "c", "m", "z"}));
}

BOOST_AUTO_TEST_SUITE_END()
