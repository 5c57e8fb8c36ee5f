// RESP2, the Redis serialization protocol (https://redis.io/docs/reference/protocol-spec/): the
// request parser the server front end feeds socket bytes into, the reply encoders it answers
// with, and the reply parser clients (ballot-client, the bench, the end-to-end tests) read with.
//
// Both parsers are incremental: bytes are appended as they arrive (prepare()/commit() lets a
// socket read land directly in the parser's buffer), and next() hands out complete messages in
// order, or says it needs more. A partial message is never rescanned from its start: header lines
// are searched for CRLF from where the last search stopped, and a bulk string whose length is
// known is only waited for. Every length on the wire is checked against a limit before anything
// is allocated from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ballot::kv {

// Bounds on what one peer can make us buffer. A request stream that breaks one is a protocol
// error: the front end replies `-ERR Protocol error: <reason>` and closes the connection.
struct RespLimits {
    // SPEC: "an argument over the limit — 1 MiB per bulk string by default".
    std::size_t max_bulk_bytes = 1024 * 1024;
    // Redis's own bound on a request's multibulk count (SPEC: "an array of more than 1,048,576
    // elements" is absurd).
    std::size_t max_array_elements = 1024 * 1024;
    // Redis's PROTO_INLINE_MAX_SIZE: a telnet-style line (and a header line) must end by then.
    std::size_t max_inline_bytes = 64 * 1024;
    // Bytes of arguments one command may carry in total, so many maximal bulk strings in one
    // array cannot exhaust memory (Redis bounds the same thing with client-query-buffer-limit).
    std::size_t max_command_bytes = 64 * 1024 * 1024;
    // Reply parser only: nesting depth of arrays.
    std::size_t max_depth = 64;

    // Generous bounds for reading a server's replies (a KEYS answer may be large; values may
    // have grown past 1 MiB by APPEND). Redis's proto-max-bulk-len is 512 MiB.
    static RespLimits for_replies() {
        RespLimits l;
        l.max_bulk_bytes = 512u * 1024 * 1024;
        l.max_array_elements = std::size_t{1} << 32;
        l.max_command_bytes = std::size_t{1} << 40;  // unused by the reply parser
        return l;
    }
};

// A growable byte buffer with a consumed prefix, compacted lazily (moving only what is unread,
// and only once the consumed part is at least as large, so compaction is amortized O(1) a byte).
class RespBuffer {
public:
    // A writable area of at least `n` bytes at the end of the unread data; then commit() what was
    // actually written into it.
    std::span<char> prepare(std::size_t n);
    void commit(std::size_t n) { end_ += n; }
    void append(std::string_view bytes);

    const char* data() const { return storage_.get() + begin_; }
    std::size_t size() const { return end_ - begin_; }
    void consume(std::size_t n) { begin_ += n; }

private:
    std::unique_ptr<char[]> storage_;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

enum class RespStatus {
    ok,         // a complete message was produced
    need_more,  // the buffered bytes hold no complete message yet
    error,      // the stream is malformed; error() says why; the parser stays failed
};

// Parses client requests: arrays of bulk strings (what redis-cli and redis-benchmark send) and
// inline commands (`PING\r\n`, space separated with Redis's quoting rules, as from telnet).
// Empty requests (`*0`, `*-1`, a blank inline line) are skipped, as Redis does.
class RespRequestParser {
public:
    explicit RespRequestParser(RespLimits limits = {});

    std::span<char> prepare(std::size_t n) { return buffer_.prepare(n); }
    void commit(std::size_t n) { buffer_.commit(n); }
    void feed(std::string_view bytes) { buffer_.append(bytes); }

    // On ok, `args` holds the next command (name first), replacing what it held.
    RespStatus next(std::vector<std::string>& args);

    // The reason for the first protocol error, in Redis's words where Redis has them
    // (e.g. "invalid bulk length"); the front end replies "-ERR Protocol error: " + error().
    const std::string& error() const { return error_; }
    // Bytes received but not yet turned into commands.
    std::size_t buffered_bytes() const { return buffer_.size(); }

private:
    enum class State { start, bulk_header, bulk_data };

    RespStatus fail(std::string reason);
    // Finds the next CRLF-terminated header line; nullopt if it is not complete yet.
    std::optional<std::string_view> header_line(std::size_t max_len, const char* too_long);
    RespStatus parse_inline();

    RespLimits limits_;
    RespBuffer buffer_;
    State state_ = State::start;
    std::size_t scanned_ = 0;  // bytes of the unread data already searched for a line end
    std::size_t elements_left_ = 0;
    std::size_t bulk_len_ = 0;
    std::size_t command_bytes_ = 0;
    std::vector<std::string> pending_;  // arguments of the array being parsed
    std::string error_;
};

// One reply, as a client sees it.
struct RespValue {
    enum class Type { simple, error, integer, bulk, nil, array };

    Type type = Type::nil;
    std::string str;                  // simple, error (without the '-'), bulk
    std::int64_t integer = 0;         // integer
    std::vector<RespValue> elements;  // array

    static RespValue simple_string(std::string s) { return {Type::simple, std::move(s), 0, {}}; }
    static RespValue error_string(std::string s) { return {Type::error, std::move(s), 0, {}}; }
    static RespValue bulk_string(std::string s) { return {Type::bulk, std::move(s), 0, {}}; }
    static RespValue number(std::int64_t v) { return {Type::integer, {}, v, {}}; }
    static RespValue null() { return {}; }
    static RespValue array(std::vector<RespValue> e) { return {Type::array, {}, 0, std::move(e)}; }

    bool is_error() const { return type == Type::error; }
    // The error's prefix word ("ERR", "TRYAGAIN", ...); empty if not an error.
    std::string_view error_code() const;

    friend bool operator==(const RespValue&, const RespValue&) = default;
};

// Parses a server's replies: + - : $ * with nested arrays; `$-1` and `*-1` are nil.
class RespReplyParser {
public:
    explicit RespReplyParser(RespLimits limits = RespLimits::for_replies());

    std::span<char> prepare(std::size_t n) { return buffer_.prepare(n); }
    void commit(std::size_t n) { buffer_.commit(n); }
    void feed(std::string_view bytes) { buffer_.append(bytes); }

    RespStatus next(RespValue& value);
    const std::string& error() const { return error_; }
    std::size_t buffered_bytes() const { return buffer_.size(); }

private:
    struct Frame {
        RespValue array;
        std::size_t remaining = 0;
    };
    RespStatus fail(std::string reason);

    RespLimits limits_;
    RespBuffer buffer_;
    std::size_t scanned_ = 0;
    bool in_bulk_ = false;  // a bulk header was read; waiting for bulk_len_ bytes and CRLF
    std::size_t bulk_len_ = 0;
    std::vector<Frame> stack_;  // arrays still being filled, outermost first
    std::string error_;
};

// Reply encoders: each appends one RESP2 value to `out`.
// Simple strings and errors cannot hold CR or LF; they are replaced by spaces, as Redis does.
void append_simple(std::string& out, std::string_view s);
// `message` starts with the error code: "ERR wrong number of arguments for 'get' command".
void append_error(std::string& out, std::string_view message);
void append_integer(std::string& out, std::int64_t v);
void append_bulk(std::string& out, std::string_view s);
void append_nil(std::string& out);
void append_array_header(std::string& out, std::size_t n);
// Any value (nested arrays included); nil encodes as `$-1`.
void append_value(std::string& out, const RespValue& v);
// A request as clients send it: an array of bulk strings.
void append_command(std::string& out, const std::vector<std::string>& args);

// Convenience: one encoded reply of each kind.
std::string error_reply(std::string_view message);
std::string simple_reply(std::string_view s);
std::string integer_reply(std::int64_t v);
std::string bulk_reply(std::string_view s);
std::string nil_reply();

// Redis's string2ll: the exact decimal form of a signed 64-bit integer ("0", "-12", "345"; no
// sign '+', no blanks, no leading zeros, no overflow). Used for lengths on the wire and for INCR.
std::optional<std::int64_t> parse_redis_integer(std::string_view s);

// Splits an inline command line into arguments the way Redis does (sdssplitargs): blanks
// separate arguments; "double quotes" understand \n \r \t \b \a \\ \" and \xHH; 'single quotes'
// understand \'. nullopt for unbalanced quotes (or a closing quote not followed by a blank).
std::optional<std::vector<std::string>> split_inline_args(std::string_view line);

}  // namespace ballot::kv
