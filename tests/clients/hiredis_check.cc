// hiredis (Debian libhiredis-dev) against a running Ballot node, as a C or C++ application uses
// it: synchronous commands, a pipeline of appended commands, and the usual string commands.
// Usage: hiredis_check PORT. Prints one line per check; exit 0 when all passed, 1 otherwise.
#include <hiredis/hiredis.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

using Reply = std::unique_ptr<redisReply, decltype(&freeReplyObject)>;

Reply command(redisContext* c, const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    void* r = redisvCommand(c, format, ap);
    va_end(ap);
    return Reply(static_cast<redisReply*>(r), freeReplyObject);
}

bool failed = false;

void check(const char* what, bool ok, const redisReply* r) {
    std::printf("%s %s", ok ? "ok  " : "FAIL", what);
    if (!ok && r != nullptr)
        std::printf(" (reply type %d, str '%s', integer %lld)", r->type, r->str ? r->str : "", r->integer);
    std::printf("\n");
    failed |= !ok;
}

bool is_status(const Reply& r, const char* s) {
    return r && r->type == REDIS_REPLY_STATUS && std::string(r->str) == s;
}
bool is_string(const redisReply* r, const char* s) {
    return r != nullptr && r->type == REDIS_REPLY_STRING && std::string(r->str, r->len) == s;
}
bool is_integer(const Reply& r, long long v) {
    return r && r->type == REDIS_REPLY_INTEGER && r->integer == v;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: hiredis_check PORT\n");
        return 2;
    }
    timeval timeout{30, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", std::atoi(argv[1]), timeout);
    if (c == nullptr || c->err) {
        std::printf("FAIL connect: %s\n", c ? c->errstr : "out of memory");
        return 1;
    }
    redisSetTimeout(c, timeout);

    auto r = command(c, "PING");
    check("PING", is_status(r, "PONG"), r.get());
    r = command(c, "CLIENT SETNAME %s", "ballot-hiredis");
    check("CLIENT SETNAME", is_status(r, "OK"), r.get());
    r = command(c, "SET %s %b", "hi:bin", "a\0b", static_cast<size_t>(3));
    check("SET binary value", is_status(r, "OK"), r.get());
    r = command(c, "GET %s", "hi:bin");
    check(
        "GET binary value",
        r && r->type == REDIS_REPLY_STRING && r->len == 3 && std::string(r->str, 3) == std::string("a\0b", 3),
        r.get());

    // Pipeline: append 100 SETs, then read the 100 replies in order.
    for (int i = 0; i < 100; ++i) redisAppendCommand(c, "SET hi:%d v%d", i, i);
    bool all_ok = true;
    for (int i = 0; i < 100; ++i) {
        void* raw = nullptr;
        if (redisGetReply(c, &raw) != REDIS_OK) {
            all_ok = false;
            break;
        }
        Reply one(static_cast<redisReply*>(raw), freeReplyObject);
        all_ok &= is_status(one, "OK");
    }
    check("pipeline of 100 SETs", all_ok, nullptr);
    r = command(c, "GET hi:99");
    check("GET after the pipeline", is_string(r.get(), "v99"), r.get());

    r = command(c, "MSET hi:a 1 hi:b 2");
    check("MSET", is_status(r, "OK"), r.get());
    r = command(c, "MGET hi:a hi:missing hi:b");
    check("MGET",
          r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 && is_string(r->element[0], "1") &&
              r->element[1]->type == REDIS_REPLY_NIL && is_string(r->element[2], "2"),
          r.get());
    r = command(c, "INCRBY hi:n 10");
    check("INCRBY", is_integer(r, 10), r.get());
    r = command(c, "DECR hi:n");
    check("DECR", is_integer(r, 9), r.get());
    r = command(c, "STRLEN hi:99");
    check("STRLEN", is_integer(r, 3), r.get());
    r = command(c, "EXISTS hi:a hi:b hi:missing");
    check("EXISTS", is_integer(r, 2), r.get());
    r = command(c, "SET hi:ttl v PX 60000");
    check("SET PX", r && r->type == REDIS_REPLY_STATUS && std::string(r->str) == "OK", r.get());
    r = command(c, "PTTL hi:ttl");
    check("PTTL", r && r->type == REDIS_REPLY_INTEGER && r->integer > 0 && r->integer <= 60000, r.get());
    redisFree(c);
    std::printf(failed ? "some hiredis checks failed\n" : "all hiredis checks passed\n");
    return failed ? 1 : 0;
}
