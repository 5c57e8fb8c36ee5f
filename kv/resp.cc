#include "kv/resp.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>

namespace ballot::kv {

namespace {

// A header line is a type byte, an optional sign and at most 19 digits; anything longer cannot be
// a valid length, so we stop looking for its CRLF early.
constexpr std::size_t kMaxHeaderLineBytes = 32;
// An empty buffer that grew past this gives its memory back (after one large bulk string).
constexpr std::size_t kMaxIdleBufferBytes = 256 * 1024;
constexpr std::size_t kMinBufferBytes = 4096;

enum class Line { found, need_more, too_long, missing_lf };

// Looks for the CR of a CRLF in the unread bytes, resuming at `scanned` (so a line arriving a
// byte at a time costs linear, not quadratic, time). On `found`, `len` is the line's length
// without its CRLF.
Line find_line(const RespBuffer& buffer, std::size_t& scanned, std::size_t max_len, std::size_t& len) {
    const char* data = buffer.data();
    std::size_t size = buffer.size();
    const std::size_t limit = std::min(size, max_len + 1);
    if (scanned < limit) {
        const void* cr = std::memchr(data + scanned, '\r', limit - scanned);
        if (cr == nullptr) {
            scanned = limit;
        } else {
            scanned = static_cast<std::size_t>(static_cast<const char*>(cr) - data);
        }
    }
    if (scanned < limit && data[scanned] == '\r') {
        if (scanned + 1 >= size) return Line::need_more;
        if (data[scanned + 1] != '\n') return Line::missing_lf;
        len = scanned;
        return Line::found;
    }
    return size > max_len ? Line::too_long : Line::need_more;
}

bool is_blank(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Simple strings and errors are one line: CR and LF would break the framing.
void append_line_safe(std::string& out, std::string_view s) {
    const std::size_t at = out.size();
    out.append(s);
    std::replace_if(
        out.begin() + static_cast<std::ptrdiff_t>(at), out.end(),
        [](char c) { return c == '\r' || c == '\n'; }, ' ');
}

void append_decimal(std::string& out, std::int64_t v) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
    out.append(digits, end);
}

}  // namespace

// ---- RespBuffer -------------------------------------------------------------------------------

std::span<char> RespBuffer::prepare(std::size_t n) {
    if (begin_ == end_) {
        begin_ = end_ = 0;
        if (capacity_ > kMaxIdleBufferBytes && n <= kMaxIdleBufferBytes) {
            storage_.reset();
            capacity_ = 0;
        }
    }
    if (capacity_ - end_ < n) {
        const std::size_t unread = size();
        if (begin_ >= unread && capacity_ - unread >= n) {
            // Moving the unread bytes costs no more than the bytes consumed since the last move.
            std::memmove(storage_.get(), storage_.get() + begin_, unread);
        } else {
            const std::size_t capacity = std::max({capacity_ * 2, unread + n, kMinBufferBytes});
            auto storage = std::make_unique_for_overwrite<char[]>(capacity);
            if (unread > 0) std::memcpy(storage.get(), storage_.get() + begin_, unread);
            storage_ = std::move(storage);
            capacity_ = capacity;
        }
        begin_ = 0;
        end_ = unread;
    }
    return {storage_.get() + end_, capacity_ - end_};
}

void RespBuffer::append(std::string_view bytes) {
    if (bytes.empty()) return;
    std::span<char> area = prepare(bytes.size());
    std::memcpy(area.data(), bytes.data(), bytes.size());
    commit(bytes.size());
}

// ---- integers ---------------------------------------------------------------------------------

std::optional<std::int64_t> parse_redis_integer(std::string_view s) {
    if (s.empty() || s.size() > 20) return std::nullopt;
    if (s == "0") return 0;
    bool negative = false;
    std::size_t i = 0;
    if (s[0] == '-') {
        negative = true;
        i = 1;
        if (s.size() == 1) return std::nullopt;
    }
    if (s[i] < '1' || s[i] > '9') return std::nullopt;  // no leading zeros, no "-0", no '+'
    std::uint64_t magnitude = 0;
    for (; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') return std::nullopt;
        const std::uint64_t digit = static_cast<std::uint64_t>(s[i] - '0');
        if (magnitude > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return std::nullopt;
        magnitude = magnitude * 10 + digit;
    }
    const std::uint64_t max_positive = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (negative) {
        if (magnitude > max_positive + 1) return std::nullopt;
        if (magnitude == max_positive + 1) return std::numeric_limits<std::int64_t>::min();
        return -static_cast<std::int64_t>(magnitude);
    }
    if (magnitude > max_positive) return std::nullopt;
    return static_cast<std::int64_t>(magnitude);
}

// ---- request parser ---------------------------------------------------------------------------

RespRequestParser::RespRequestParser(RespLimits limits) : limits_(limits) {}

RespStatus RespRequestParser::fail(std::string reason) {
    error_ = std::move(reason);
    state_ = State::start;
    pending_.clear();
    return RespStatus::error;
}

std::optional<std::string_view> RespRequestParser::header_line(std::size_t max_len, const char* too_long) {
    std::size_t len = 0;
    switch (find_line(buffer_, scanned_, max_len, len)) {
        case Line::found: {
            std::string_view line(buffer_.data(), len);
            buffer_.consume(len + 2);
            scanned_ = 0;
            return line;  // stays valid until the next prepare()/feed()
        }
        case Line::need_more:
            return std::nullopt;
        case Line::too_long:
            fail(too_long);
            return std::nullopt;
        case Line::missing_lf:
            fail("expected CRLF at the end of a line");
            return std::nullopt;
    }
    return std::nullopt;
}

RespStatus RespRequestParser::next(std::vector<std::string>& args) {
    if (!error_.empty()) return RespStatus::error;
    for (;;) {
        switch (state_) {
            case State::start: {
                if (buffer_.size() == 0) return RespStatus::need_more;
                if (buffer_.data()[0] != '*') {
                    const RespStatus status = parse_inline();
                    if (status != RespStatus::ok) return status;
                    if (pending_.empty()) continue;  // a blank line: Redis ignores it
                    args.swap(pending_);
                    pending_.clear();
                    return RespStatus::ok;
                }
                auto line = header_line(kMaxHeaderLineBytes, "invalid multibulk length");
                if (!line) return error_.empty() ? RespStatus::need_more : RespStatus::error;
                auto count = parse_redis_integer(line->substr(1));
                if (!count || *count < -1) return fail("invalid multibulk length");
                if (*count <= 0) continue;  // `*0` and the null array `*-1`: nothing to run
                if (static_cast<std::uint64_t>(*count) > limits_.max_array_elements) {
                    return fail("invalid multibulk length");
                }
                elements_left_ = static_cast<std::size_t>(*count);
                // The count is checked but still hostile: grow with what actually arrives.
                pending_.clear();
                pending_.reserve(std::min<std::size_t>(elements_left_, 16));
                command_bytes_ = 0;
                state_ = State::bulk_header;
                break;
            }
            case State::bulk_header: {
                if (buffer_.size() == 0) return RespStatus::need_more;
                const char type = buffer_.data()[0];
                if (type != '$') return fail(std::string("expected '$', got '") + type + "'");
                auto line = header_line(kMaxHeaderLineBytes, "invalid bulk length");
                if (!line) return error_.empty() ? RespStatus::need_more : RespStatus::error;
                auto len = parse_redis_integer(line->substr(1));
                if (!len || *len < 0 || static_cast<std::uint64_t>(*len) > limits_.max_bulk_bytes) {
                    return fail("invalid bulk length");
                }
                bulk_len_ = static_cast<std::size_t>(*len);
                if (command_bytes_ + bulk_len_ > limits_.max_command_bytes) {
                    return fail("command larger than " + std::to_string(limits_.max_command_bytes) +
                                " bytes");
                }
                state_ = State::bulk_data;
                break;
            }
            case State::bulk_data: {
                if (buffer_.size() < bulk_len_ + 2) return RespStatus::need_more;
                const char* data = buffer_.data();
                if (data[bulk_len_] != '\r' || data[bulk_len_ + 1] != '\n') {
                    return fail("expected CRLF after a bulk string");
                }
                pending_.emplace_back(data, bulk_len_);
                buffer_.consume(bulk_len_ + 2);
                command_bytes_ += bulk_len_;
                if (--elements_left_ == 0) {
                    state_ = State::start;
                    args.swap(pending_);
                    pending_.clear();
                    return RespStatus::ok;
                }
                state_ = State::bulk_header;
                break;
            }
        }
    }
}

RespStatus RespRequestParser::parse_inline() {
    const char* data = buffer_.data();
    const std::size_t size = buffer_.size();
    const std::size_t limit = std::min(size, limits_.max_inline_bytes + 1);
    const void* lf = scanned_ < limit ? std::memchr(data + scanned_, '\n', limit - scanned_) : nullptr;
    if (lf == nullptr) {
        scanned_ = limit;
        if (size > limits_.max_inline_bytes) return fail("too big inline request");
        return RespStatus::need_more;
    }
    const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(lf) - data);
    std::string_view line(data, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto args = split_inline_args(line);
    if (!args) return fail("unbalanced quotes in request");
    buffer_.consume(end + 1);
    scanned_ = 0;
    pending_ = std::move(*args);
    return RespStatus::ok;
}

std::optional<std::vector<std::string>> split_inline_args(std::string_view line) {
    std::vector<std::string> args;
    std::size_t p = 0;
    const std::size_t n = line.size();
    for (;;) {
        while (p < n && is_blank(line[p])) ++p;
        if (p == n) return args;
        std::string current;
        bool in_double = false;
        bool in_single = false;
        bool done = false;
        while (!done) {
            if (in_double) {
                if (p == n) return std::nullopt;  // unterminated quotes
                const char c = line[p];
                if (c == '\\' && p + 3 < n && line[p + 1] == 'x' && hex_value(line[p + 2]) >= 0 &&
                    hex_value(line[p + 3]) >= 0) {
                    current.push_back(
                        static_cast<char>(hex_value(line[p + 2]) * 16 + hex_value(line[p + 3])));
                    p += 3;
                } else if (c == '\\' && p + 1 < n) {
                    ++p;
                    switch (line[p]) {
                        case 'n':
                            current.push_back('\n');
                            break;
                        case 'r':
                            current.push_back('\r');
                            break;
                        case 't':
                            current.push_back('\t');
                            break;
                        case 'b':
                            current.push_back('\b');
                            break;
                        case 'a':
                            current.push_back('\a');
                            break;
                        default:
                            current.push_back(line[p]);
                            break;
                    }
                } else if (c == '"') {
                    // The closing quote must be followed by a blank or the end of the line.
                    if (p + 1 < n && !is_blank(line[p + 1])) return std::nullopt;
                    done = true;
                } else {
                    current.push_back(c);
                }
            } else if (in_single) {
                if (p == n) return std::nullopt;
                const char c = line[p];
                if (c == '\\' && p + 1 < n && line[p + 1] == '\'') {
                    ++p;
                    current.push_back('\'');
                } else if (c == '\'') {
                    if (p + 1 < n && !is_blank(line[p + 1])) return std::nullopt;
                    done = true;
                } else {
                    current.push_back(c);
                }
            } else {
                if (p == n) break;
                const char c = line[p];
                if (is_blank(c)) {
                    done = true;
                } else if (c == '"') {
                    in_double = true;
                } else if (c == '\'') {
                    in_single = true;
                } else {
                    current.push_back(c);
                }
            }
            if (p < n) ++p;
        }
        args.push_back(std::move(current));
    }
}

// ---- replies ----------------------------------------------------------------------------------

std::string_view RespValue::error_code() const {
    if (type != Type::error) return {};
    std::string_view s = str;
    return s.substr(0, s.find(' '));
}

RespReplyParser::RespReplyParser(RespLimits limits) : limits_(limits) {}

RespStatus RespReplyParser::fail(std::string reason) {
    error_ = std::move(reason);
    stack_.clear();
    return RespStatus::error;
}

RespStatus RespReplyParser::next(RespValue& value) {
    if (!error_.empty()) return RespStatus::error;
    for (;;) {
        RespValue v;
        if (in_bulk_) {
            if (buffer_.size() < bulk_len_ + 2) return RespStatus::need_more;
            const char* data = buffer_.data();
            if (data[bulk_len_] != '\r' || data[bulk_len_ + 1] != '\n') {
                return fail("expected CRLF after a bulk string");
            }
            v.type = RespValue::Type::bulk;
            v.str.assign(data, bulk_len_);
            buffer_.consume(bulk_len_ + 2);
            in_bulk_ = false;
        } else {
            if (buffer_.size() == 0) return RespStatus::need_more;
            const char type = buffer_.data()[0];
            const bool text = type == '+' || type == '-';
            if (!text && type != ':' && type != '$' && type != '*') {
                return fail(std::string("unexpected type byte '") + type + "'");
            }
            std::size_t len = 0;
            switch (
                find_line(buffer_, scanned_, text ? limits_.max_inline_bytes : kMaxHeaderLineBytes, len)) {
                case Line::found:
                    break;
                case Line::need_more:
                    return RespStatus::need_more;
                case Line::too_long:
                    return fail("line too long");
                case Line::missing_lf:
                    return fail("expected CRLF at the end of a line");
            }
            std::string_view body(buffer_.data() + 1, len - 1);
            scanned_ = 0;
            if (text) {
                v.type = type == '+' ? RespValue::Type::simple : RespValue::Type::error;
                v.str.assign(body);
                buffer_.consume(len + 2);
            } else {
                auto number = parse_redis_integer(body);
                buffer_.consume(len + 2);  // `body` is not used past this point
                if (!number) return fail("invalid number");
                if (type == ':') {
                    v = RespValue::number(*number);
                } else if (*number == -1) {
                    v = RespValue::null();
                } else if (type == '$') {
                    if (*number < 0 || static_cast<std::uint64_t>(*number) > limits_.max_bulk_bytes) {
                        return fail("invalid bulk length");
                    }
                    bulk_len_ = static_cast<std::size_t>(*number);
                    in_bulk_ = true;
                    continue;
                } else {
                    if (*number < 0 || static_cast<std::uint64_t>(*number) > limits_.max_array_elements) {
                        return fail("invalid multibulk length");
                    }
                    if (*number > 0) {
                        if (stack_.size() >= limits_.max_depth) return fail("arrays nested too deep");
                        Frame frame;
                        frame.array.type = RespValue::Type::array;
                        frame.array.elements.reserve(
                            std::min<std::size_t>(static_cast<std::size_t>(*number), 1024));
                        frame.remaining = static_cast<std::size_t>(*number);
                        stack_.push_back(std::move(frame));
                        continue;
                    }
                    v = RespValue::array({});
                }
            }
        }
        // A complete value: it finishes zero or more enclosing arrays.
        bool complete = true;
        while (!stack_.empty()) {
            Frame& top = stack_.back();
            top.array.elements.push_back(std::move(v));
            if (--top.remaining > 0) {
                complete = false;
                break;
            }
            v = std::move(top.array);
            stack_.pop_back();
        }
        if (complete) {
            value = std::move(v);
            return RespStatus::ok;
        }
    }
}

// ---- encoders ---------------------------------------------------------------------------------

void append_simple(std::string& out, std::string_view s) {
    out.push_back('+');
    append_line_safe(out, s);
    out.append("\r\n");
}

void append_error(std::string& out, std::string_view message) {
    out.push_back('-');
    append_line_safe(out, message);
    out.append("\r\n");
}

void append_integer(std::string& out, std::int64_t v) {
    out.push_back(':');
    append_decimal(out, v);
    out.append("\r\n");
}

void append_bulk(std::string& out, std::string_view s) {
    out.push_back('$');
    append_decimal(out, static_cast<std::int64_t>(s.size()));
    out.append("\r\n");
    out.append(s);
    out.append("\r\n");
}

void append_nil(std::string& out) {
    out.append("$-1\r\n");
}

void append_array_header(std::string& out, std::size_t n) {
    out.push_back('*');
    append_decimal(out, static_cast<std::int64_t>(n));
    out.append("\r\n");
}

void append_value(std::string& out, const RespValue& v) {
    switch (v.type) {
        case RespValue::Type::simple:
            append_simple(out, v.str);
            break;
        case RespValue::Type::error:
            append_error(out, v.str);
            break;
        case RespValue::Type::integer:
            append_integer(out, v.integer);
            break;
        case RespValue::Type::bulk:
            append_bulk(out, v.str);
            break;
        case RespValue::Type::nil:
            append_nil(out);
            break;
        case RespValue::Type::array:
            append_array_header(out, v.elements.size());
            for (const RespValue& e : v.elements) append_value(out, e);
            break;
    }
}

void append_command(std::string& out, const std::vector<std::string>& args) {
    append_array_header(out, args.size());
    for (const std::string& a : args) append_bulk(out, a);
}

std::string error_reply(std::string_view message) {
    std::string out;
    append_error(out, message);
    return out;
}

std::string simple_reply(std::string_view s) {
    std::string out;
    append_simple(out, s);
    return out;
}

std::string integer_reply(std::int64_t v) {
    std::string out;
    append_integer(out, v);
    return out;
}

std::string nil_reply() {
    std::string out;
    append_nil(out);
    return out;
}

std::string bulk_reply(std::string_view s) {
    std::string out;
    append_bulk(out, s);
    return out;
}

}  // namespace ballot::kv
