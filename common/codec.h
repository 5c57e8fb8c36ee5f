// The bounds-checked binary codec every peer message, log record and command is written with.
//
// Integers are little-endian and fixed width; strings and byte blocks are a u32 length followed by
// the bytes. A Reader never trusts the wire: every length and count is checked against the bytes
// that are actually left before anything is allocated, and the first failure makes the reader
// "failed" for good (all later reads return zero values). Callers decode a whole message, then
// check ok() once, and act only on a fully valid message.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "common/types.h"

namespace ballot {

class Writer {
public:
    explicit Writer(Bytes& out) : out_(out) {}

    void u8(std::uint8_t v) { out_.push_back(v); }
    void u32(std::uint32_t v) { put_le(v); }
    void u64(std::uint64_t v) { put_le(v); }
    void boolean(bool v) { u8(v ? 1 : 0); }
    void str(std::string_view s) {
        u32(static_cast<std::uint32_t>(s.size()));
        out_.insert(out_.end(), s.begin(), s.end());
    }
    void raw(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }

    std::size_t size() const { return out_.size(); }
    Bytes& bytes() { return out_; }

private:
    template <typename T>
    void put_le(T v) {
        for (std::size_t i = 0; i < sizeof(T); ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    Bytes& out_;
};

class Reader {
public:
    explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}
    Reader(const void* data, std::size_t n) : in_(static_cast<const std::uint8_t*>(data), n) {}

    std::uint8_t u8() { return get_le<std::uint8_t>(); }
    std::uint32_t u32() { return get_le<std::uint32_t>(); }
    std::uint64_t u64() { return get_le<std::uint64_t>(); }
    // A log position or a term (Raft's terms, the Paxos engines' rounds): bounded (types.h).
    Index index() { return at_most(u64(), kMaxIndex, "log position out of range"); }
    std::uint64_t term() { return at_most(u64(), kMaxTerm, "term out of range"); }
    bool boolean() {
        std::uint8_t v = u8();
        if (v > 1) fail("boolean out of range");
        return v == 1;
    }
    std::string str() {
        std::uint32_t n = u32();
        if (!need(n)) return {};
        std::string s(reinterpret_cast<const char*>(in_.data() + pos_), n);
        pos_ += n;
        return s;
    }

    // A count of items that follow, each at least `min_item_bytes` long: rejected if the bytes
    // left could not possibly hold that many, so a hostile count never drives an allocation.
    std::uint32_t count(std::size_t min_item_bytes) {
        std::uint32_t n = u32();
        if (ok() && min_item_bytes > 0 && n > remaining() / min_item_bytes) {
            fail("count larger than the message");
            return 0;
        }
        return ok() ? n : 0;
    }

    // Marks the message malformed with a reason (the first reason wins).
    void fail(const char* why) {
        if (error_ == nullptr) error_ = why;
        pos_ = in_.size();
    }
    bool ok() const { return error_ == nullptr; }
    const char* error() const { return error_ ? error_ : ""; }
    std::size_t remaining() const { return in_.size() - pos_; }
    bool at_end() const { return pos_ == in_.size(); }
    // Call after the last field: trailing bytes are an error too.
    bool finish() {
        if (ok() && !at_end()) fail("trailing bytes");
        return ok();
    }

private:
    std::uint64_t at_most(std::uint64_t v, std::uint64_t max, const char* why) {
        if (v > max) fail(why);
        return v;
    }
    bool need(std::size_t n) {
        if (!ok()) return false;
        if (n > remaining()) {
            fail("truncated");
            return false;
        }
        return true;
    }
    template <typename T>
    T get_le() {
        if (!need(sizeof(T))) return T{};
        T v{};
        for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(T(in_[pos_ + i]) << (8 * i));
        pos_ += sizeof(T);
        return v;
    }

    std::span<const std::uint8_t> in_;
    std::size_t pos_ = 0;
    const char* error_ = nullptr;
};

}  // namespace ballot
