// Decoding a KV snapshot as its bytes come (StateMachine::snapshot_decoder). The runtime feeds the
// file a piece at a time on its worker thread; the keys go into a new map record by record, and
// only the tail after them (the session table, the time, the locks, all bounded by the limits)
// waits whole for finish(). So loading an N-byte snapshot costs the state built from it, one piece
// and one record, not N bytes more; and the runtime thread, which keeps applying meanwhile, only
// swaps the finished state in (adopt).
#include <algorithm>
#include <utility>

#include "common/assert.h"
#include "kv/kv_snapshot_format.h"
#include "kv/kv_store.h"

namespace ballot::kv {

namespace {

// A key record: u32 key length, the key, u32 value length, the value (then the meta, fixed size).
constexpr std::size_t kLengthBytes = 4;
// A header's key count reserves at most this many buckets up front: the count is not checked
// against the bytes before they have all come, and a hostile one must not drive an allocation.
constexpr std::size_t kMaxReservedKeys = std::size_t{1} << 20;

std::uint32_t length_at(std::string_view in, std::size_t at) {
    Reader r(in.data() + at, kLengthBytes);
    return r.u32();
}

}  // namespace

class KvStore::Decoder final : public SnapshotDecoder {
public:
    explicit Decoder(const KvStoreLimits& limits) : limits_(limits) {}

    bool feed(std::string_view bytes) override {
        if (failed_ || finished_) return false;
        // Parse straight from `bytes` when nothing is left over from the previous piece: a whole
        // snapshot fed at once (restore()) is never copied.
        if (pending_.empty()) {
            const std::size_t used = consume(bytes);
            pending_.assign(bytes.substr(used));
        } else {
            pending_.append(bytes);
            const std::size_t used = consume(pending_);
            pending_.erase(0, used);
        }
        return !failed_;
    }

    bool finish() override {
        if (failed_ || finished_) return false;
        finished_ = true;
        if (!header_done_ || keys_read_ < keys_) return fail();  // truncated
        Reader r(pending_.data(), pending_.size());
        Sessions sessions(limits_.sessions);
        if (!sessions.decode(r)) return fail();
        if (timed_ && !decode_time(r, time_)) return fail();
        if (locks_ && !decode_locks(r, time_)) return fail();
        if (!r.finish()) return fail();
        sessions_.emplace(std::move(sessions));
        pending_ = std::string();
        return true;
    }

private:
    friend class KvStore;

    bool fail() {
        failed_ = true;
        return false;
    }

    // Takes the header and every whole key record `in` starts with; returns the bytes taken.
    std::size_t consume(std::string_view in) {
        std::size_t used = 0;
        if (!header_done_) {
            if (in.size() < kSnapshotHeaderBytes) return 0;
            read_header(in.substr(0, kSnapshotHeaderBytes));
            if (failed_) return 0;
            used = kSnapshotHeaderBytes;
        }
        while (keys_read_ < keys_) {
            const std::size_t n = read_key(in.substr(used));
            if (n == 0) break;  // not all here yet, or malformed (failed_)
            used += n;
        }
        return used;
    }

    void read_header(std::string_view in) {
        Reader r(in.data(), in.size());
        const std::uint8_t version = r.u8();
        applied_ = r.u64();
        keys_ = r.u32();
        if (!r.finish() || version < kSnapshotV1 || version > kSnapshotVersion) {
            fail();
            return;
        }
        timed_ = version >= kSnapshotV2;  // version 1: no time, every key persistent
        locks_ = version >= kSnapshotVersion;
        data_.reserve(std::max<std::size_t>(std::min<std::size_t>(keys_, kMaxReservedKeys), limits_.expected_keys));
        header_done_ = true;
    }

    // The key record `in` starts with, if all of it is there: the bytes it took (0: not all there
    // yet, or malformed, which sets failed_).
    std::size_t read_key(std::string_view in) {
        if (in.size() < kLengthBytes) return 0;
        const std::size_t key_bytes = length_at(in, 0);
        if (in.size() < kLengthBytes + key_bytes + kLengthBytes) return 0;
        const std::size_t value_bytes = length_at(in, kLengthBytes + key_bytes);
        const std::size_t size = 2 * kLengthBytes + key_bytes + value_bytes + (timed_ ? 16 : 0);
        if (in.size() < size) return 0;
        Reader r(in.data(), size);
        std::string key = r.str();
        std::string value = r.str();
        KeyMeta meta;
        if (timed_) meta = KeyMeta{r.u64(), r.u64()};
        // The canonical snapshot lists keys in strictly ascending order (snapshot_chunk walks
        // order_), so the index is built by appending at its end: O(1) per key instead of a
        // search, and a file out of order (or with a key twice) is refused rather than trusted.
        if (!r.finish() || (!order_.empty() && !(std::string_view((*order_.rbegin())->first) < key))) {
            fail();
            return 0;
        }
        if (!meta.empty()) time_.meta.emplace(key, meta);
        auto it = data_.emplace(std::move(key), std::move(value)).first;  // new: keys ascend
        order_.emplace_hint(order_.end(), &*it);
        ++keys_read_;
        return size;
    }

    KvStoreLimits limits_;
    std::string pending_;  // bytes fed and not taken yet: part of a key record, or the tail
    bool failed_ = false;
    bool finished_ = false;
    bool header_done_ = false;
    bool timed_ = false;
    bool locks_ = false;
    Index applied_ = 0;
    std::uint32_t keys_ = 0;  // the header's count
    std::uint32_t keys_read_ = 0;
    Map data_;
    std::set<const Map::value_type*, ByKey> order_;  // into data_'s nodes, which move with it
    TimeState time_;
    std::optional<Sessions> sessions_;  // set by a finish() that succeeded
    bool adopted_ = false;              // then the members above hold the state it replaced
};

std::unique_ptr<SnapshotDecoder> KvStore::snapshot_decoder() const {
    return std::make_unique<Decoder>(limits_);
}

// Swaps, not moves: the decoder leaves with the state it replaced, so that its owner frees that on
// another thread (the Snapshotter hands it to the worker) and this thread does O(1) work.
bool KvStore::adopt(SnapshotDecoder& decoded) {
    auto* d = dynamic_cast<Decoder*>(&decoded);
    BALLOT_ASSERT(d != nullptr, "KvStore::adopt takes a decoder a KvStore made");
    if (!d->sessions_ || d->adopted_) return false;  // not finished, malformed, or adopted already
    open_.reset();
    std::swap(data_, d->data_);
    std::swap(order_, d->order_);  // points into the nodes swapped with data: they never move
    std::swap(sessions_, *d->sessions_);
    std::swap(time_, d->time_);
    applied_index_ = d->applied_;
    d->adopted_ = true;
    return true;
}

bool KvStore::restore(std::string_view snapshot) {
    Decoder decoder(limits_);
    return decoder.feed(snapshot) && decoder.finish() && adopt(decoder);
}

}  // namespace ballot::kv
