// The KV store's point-in-time snapshot (kv/kv_store.h): a snapshot produced in chunks while
// writes go on is byte-identical to a blocking snapshot of a store that applied only the commands
// before it began; restore() takes it back. Also prints the stall figures on 100,000 keys.
#define BOOST_TEST_MODULE kv_snapshot
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/random.h"
#include "kv/kv_commands.h"
#include "kv/kv_store.h"

using namespace ballot;
using namespace ballot::kv;

namespace {

Command command(Op op, std::vector<std::string> args, std::uint64_t client_id = 0, std::uint64_t seq = 0) {
    return Command{client_id, seq, 0, encode_payload(KvCommand{op, std::move(args)})};
}

// Keys that sort in interesting ways: a prefix of another, bytes above 0x7f, the empty key.
std::string random_key(Rng& rng) {
    static const std::vector<std::string> odd = {"", "a", "a\x01", "ab", "\x7f", "\x80", "\xff\xff", "z"};
    if (rng.chance(1, 4)) return odd[rng.between(0, odd.size() - 1)];
    return "k" + std::to_string(rng.between(0, 60));
}

std::string random_value(Rng& rng) {
    if (rng.chance(1, 4)) return std::to_string(rng.between(0, 1000));  // INCR-able
    return std::string(rng.between(0, 40), static_cast<char>('a' + rng.between(0, 25)));
}

// A random write; one in four carries a session stamp, so the session table changes too (and
// sometimes a retry of an earlier seq, a duplicate). Each carries cluster time, a few ms on from
// the last, and some set TTLs, tie keys to leases or revoke them: keys and leases expire while a
// snapshot is open, and the copy-on-write must keep their deadlines and leases as they were.
class Workload {
public:
    explicit Workload(std::uint64_t seed) : rng_(seed) {}
    Command next() {
        Command c = rng_.chance(1, 3) ? timed() : plain();
        clock_ms_ += rng_.between(0, 20);
        c.time_ms = clock_ms_;
        if (rng_.chance(1, 4)) {
            c.client_id = rng_.between(1, 4);
            std::uint64_t& seq = seqs_[c.client_id];
            c.seq = rng_.chance(1, 5) && seq > 0 ? seq : ++seq;
        }
        return c;
    }
    Rng& rng() { return rng_; }

private:
    Command timed() {
        const std::string ttl = std::to_string(rng_.between(1, 400));
        const std::string lease = std::to_string(rng_.between(1, 8));  // granted or not, alive or not
        switch (rng_.between(0, 4)) {
            case 0:
                return command(Op::set_options, {random_key(rng_), random_value(rng_), "", "", ttl, ""});
            case 1:
                return command(Op::set_options, {random_key(rng_), random_value(rng_), "", "", "", lease});
            case 2:
                return command(Op::pexpire, {random_key(rng_), ttl});
            case 3:
                return command(Op::lease_grant, {ttl});
            default:
                return command(rng_.chance(1, 2) ? Op::lease_revoke : Op::lease_keepalive, {lease});
        }
    }
    Command plain() {
        Command c;
        switch (rng_.between(0, 3)) {
            case 0:
                c = command(Op::set, {random_key(rng_), random_value(rng_)});
                break;
            case 1: {
                std::vector<std::string> keys;
                for (std::uint64_t i = rng_.between(1, 3); i > 0; --i) keys.push_back(random_key(rng_));
                c = command(Op::del, std::move(keys));
                break;
            }
            case 2:
                c = command(Op::append, {random_key(rng_), random_value(rng_)});
                break;
            default:
                c = command(Op::incr, {random_key(rng_)});
        }
        return c;
    }

    Rng rng_;
    std::uint64_t seqs_[5] = {};
    std::uint64_t clock_ms_ = 0;
};

std::vector<Command> commands(Workload& w, std::size_t n) {
    std::vector<Command> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(w.next());
    return out;
}

void apply_all(KvStore& store, const std::vector<Command>& cs, std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) store.apply(i + 1, cs[i]);
}

// Thread CPU time, not wall time: on a shared machine a call is often preempted for a whole
// scheduler slice, which would measure the machine's load, not the call.
struct CpuClock {
    using duration = std::chrono::nanoseconds;
    using time_point = std::chrono::time_point<CpuClock>;
    static time_point now() {
        timespec ts{};
        ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return time_point(duration(std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec));
    }
};
using Clock = CpuClock;
double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(point_in_time)

// The central property, over many seeds: open a snapshot at index i, keep applying random writes
// while pulling chunks of random sizes; the concatenation equals the blocking snapshot of a store
// that applied only the first i commands, and the live state is undisturbed.
BOOST_AUTO_TEST_CASE(chunks_with_writes_between_equal_the_blocking_snapshot_at_begin) {
    for (std::uint64_t seed = 1; seed <= 300; ++seed) {
        BOOST_TEST_CONTEXT("seed " << seed) {
            Workload w(seed);
            const std::size_t total = 400;
            const std::vector<Command> cs = commands(w, total);
            Rng& rng = w.rng();
            const std::size_t begin_at = rng.between(0, 250);

            KvStore store;
            apply_all(store, cs, 0, begin_at);
            BOOST_TEST(store.begin_snapshot() == begin_at);
            std::string streamed;
            std::size_t next = begin_at;
            for (bool last = false; !last;) {
                for (std::uint64_t k = rng.between(0, 4); k > 0 && next < total; --k, ++next) {
                    store.apply(next + 1, cs[next]);
                }
                const std::size_t max_bytes = rng.between(1, 80);
                SnapshotChunk chunk = store.snapshot_chunk(max_bytes);
                if (!chunk.last) BOOST_TEST_REQUIRE(chunk.bytes.size() == max_bytes);
                BOOST_TEST_REQUIRE(chunk.bytes.size() <= max_bytes);
                streamed += chunk.bytes;
                last = chunk.last;
            }
            BOOST_TEST(!store.snapshot_open());
            BOOST_TEST(store.snapshot_saved_keys() == 0u);

            KvStore reference;
            apply_all(reference, cs, 0, begin_at);
            BOOST_TEST_REQUIRE(streamed == reference.snapshot());
            BOOST_TEST((KvStore::snapshot_index(streamed) == std::optional<Index>(begin_at)));

            // The live state went on exactly as without a snapshot.
            apply_all(store, cs, next, total);
            KvStore unsnapshotted;
            apply_all(unsnapshotted, cs, 0, total);
            BOOST_TEST(store.snapshot() == unsnapshotted.snapshot());

            // And the streamed bytes restore into the state at begin, which then goes on alike.
            KvStore restored;
            BOOST_TEST_REQUIRE(restored.restore(streamed));
            BOOST_TEST(restored.snapshot() == streamed);
            apply_all(restored, cs, begin_at, total);
            BOOST_TEST(restored.snapshot() == unsnapshotted.snapshot());
        }
    }
}

// A value far larger than a chunk is split across many chunks, each exactly max_bytes.
BOOST_AUTO_TEST_CASE(a_value_larger_than_a_chunk_spans_chunks) {
    KvStore store;
    store.apply(1, command(Op::set, {"big", std::string(3u << 20, 'b')}));
    store.apply(2, command(Op::set, {"small", "s"}));
    const std::string blocking = store.snapshot();
    store.begin_snapshot();
    store.apply(3, command(Op::del, {"big"}));
    std::string streamed;
    std::size_t chunks = 0;
    for (bool last = false; !last; ++chunks) {
        SnapshotChunk c = store.snapshot_chunk(4096);
        if (!c.last) BOOST_TEST_REQUIRE(c.bytes.size() == 4096u);
        streamed += c.bytes;
        last = c.last;
    }
    BOOST_TEST(chunks == (blocking.size() + 4095) / 4096);
    BOOST_TEST(streamed == blocking);
}

BOOST_AUTO_TEST_CASE(an_empty_store_snapshots_in_one_chunk) {
    KvStore store;
    BOOST_TEST(store.begin_snapshot() == 0u);
    SnapshotChunk chunk = store.snapshot_chunk(1 << 20);
    BOOST_TEST(chunk.last);
    BOOST_TEST(chunk.bytes == store.snapshot());
}

BOOST_AUTO_TEST_CASE(begin_again_abort_and_restore_close_the_open_snapshot) {
    Workload w(7);
    const std::vector<Command> cs = commands(w, 200);
    KvStore store;
    apply_all(store, cs, 0, 100);
    store.begin_snapshot();
    store.snapshot_chunk(10);
    apply_all(store, cs, 100, 150);
    // A second begin starts over at the current index, not at the first one.
    BOOST_TEST(store.begin_snapshot() == 150u);
    std::string streamed;
    for (bool last = false; !last;) {
        SnapshotChunk c = store.snapshot_chunk(7);
        streamed += c.bytes;
        last = c.last;
    }
    KvStore at150;
    apply_all(at150, cs, 0, 150);
    BOOST_TEST(streamed == at150.snapshot());

    store.begin_snapshot();
    store.abort_snapshot();
    BOOST_TEST(!store.snapshot_open());
    apply_all(store, cs, 150, 200);  // no copy-on-write any more
    BOOST_TEST(store.snapshot_saved_keys() == 0u);

    store.begin_snapshot();
    BOOST_TEST_REQUIRE(store.restore(streamed));
    BOOST_TEST(!store.snapshot_open());
    BOOST_TEST(store.applied_index() == 150u);
}

// Every truncation and every single-byte change of a snapshot that makes it malformed is refused
// and leaves the state as it was.
BOOST_AUTO_TEST_CASE(malformed_snapshots_are_refused_without_change) {
    Workload w(11);
    KvStore source;
    apply_all(source, commands(w, 60), 0, 60);
    const std::string good = source.snapshot();
    KvStore store;
    apply_all(store, commands(w, 30), 0, 30);
    const std::string before = store.snapshot();
    for (std::size_t n = 0; n < good.size(); ++n) {
        BOOST_TEST_REQUIRE(!store.restore(std::string_view(good).substr(0, n)));
    }
    BOOST_TEST(!store.restore(good + '\0'));
    BOOST_TEST(store.snapshot() == before);
}

// The decoder (StateMachine::snapshot_decoder) fed a snapshot in pieces of any size, a record split
// anywhere, builds the same state restore() does; the live store is untouched until adopt(), and
// keeps applying meanwhile.
BOOST_AUTO_TEST_CASE(a_snapshot_decoded_in_pieces_of_any_size_equals_restore) {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        Workload w(seed);
        KvStore source;
        const auto cs = commands(w, 200);
        apply_all(source, cs, 0, 200);
        const std::string good = source.snapshot();
        for (std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{7}, std::size_t{64},
                                  std::size_t{4096}, good.size()}) {
            KvStore store;
            apply_all(store, cs, 0, 50);
            std::unique_ptr<SnapshotDecoder> decoder = store.snapshot_decoder();
            bool applied_between = false;
            for (std::size_t at = 0; at < good.size(); at += piece) {
                BOOST_TEST_REQUIRE(decoder->feed(std::string_view(good).substr(at, piece)));
                if (!applied_between) apply_all(store, cs, 50, 60);  // the live store goes on
                applied_between = true;
            }
            BOOST_TEST(store.applied_index() == 60u);
            BOOST_TEST_REQUIRE(decoder->finish());
            BOOST_TEST_REQUIRE(store.adopt(*decoder));
            BOOST_TEST(store.snapshot() == good, "seed " << seed << ", pieces of " << piece);
            BOOST_TEST(store.applied_index() == 200u);
            BOOST_TEST(!store.adopt(*decoder));  // adopted once
            decoder.reset();                      // it held the state replaced: the store keeps its own
            BOOST_TEST(store.snapshot() == good);
        }
    }
}

// What a decoder refuses: a truncation anywhere (in pieces, the header's count of keys not met), a
// byte too many, a header counting four billion keys (without reserving room for them), a decoder
// not finished. The store adopts nothing then and stays as it was.
BOOST_AUTO_TEST_CASE(a_decoder_refuses_what_restore_refuses) {
    Workload w(5);
    KvStore source;
    apply_all(source, commands(w, 80), 0, 80);
    const std::string good = source.snapshot();
    KvStore store;
    apply_all(store, commands(w, 20), 0, 20);
    const std::string before = store.snapshot();
    for (std::size_t n = 0; n < good.size(); n += 5) {
        std::unique_ptr<SnapshotDecoder> d = store.snapshot_decoder();
        for (std::size_t at = 0; at < n; at += 16) (void)d->feed(std::string_view(good).substr(at, std::min<std::size_t>(16, n - at)));
        BOOST_TEST_REQUIRE(!d->finish());
        BOOST_TEST_REQUIRE(!store.adopt(*d));
    }
    std::unique_ptr<SnapshotDecoder> longer = store.snapshot_decoder();
    BOOST_TEST(longer->feed(good));
    BOOST_TEST(longer->feed(std::string(1, '\0')));
    BOOST_TEST(!longer->finish());

    std::string huge = good.substr(0, 9) + std::string("\xff\xff\xff\xff", 4) + good.substr(13);
    std::unique_ptr<SnapshotDecoder> counted = store.snapshot_decoder();
    (void)counted->feed(huge);
    BOOST_TEST(!counted->finish());

    std::unique_ptr<SnapshotDecoder> unfinished = store.snapshot_decoder();
    BOOST_TEST(unfinished->feed(good));
    BOOST_TEST(!store.adopt(*unfinished));
    BOOST_TEST(store.snapshot() == before);
}

// Not a timed assertion: prints what a blocking snapshot costs on 100,000 keys of 100 bytes, and
// what each call costs (begin, every chunk, every apply) while a snapshot is produced in 256 KiB
// chunks with writes in between, beside the applies without a snapshot open. Times are the
// thread's CPU time (see CpuClock).
BOOST_AUTO_TEST_CASE(stall_figures_on_100k_keys) {
    const std::size_t keys = 100000;
    const std::size_t chunk_bytes = 256 * 1024;
    KvStore store(KvStoreLimits{{}, 512u * 1024 * 1024, keys * 2});
    Index index = 0;
    for (std::size_t k = 0; k < keys; ++k) {
        store.apply(++index, command(Op::set, {"key:" + std::to_string(k), std::string(100, 'v')}));
    }
    Rng rng(42);
    // Overwrites of existing keys, with a few new keys and deletions.
    auto write = [&] {
        const std::uint64_t k = rng.between(0, keys + keys / 10);
        Command c = rng.chance(1, 20) ? command(Op::del, {"key:" + std::to_string(k)})
                                      : command(Op::set, {"key:" + std::to_string(k), std::string(100, 'w')});
        const auto t0 = Clock::now();
        store.apply(++index, c);
        return ms_since(t0);
    };
    auto summary = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        std::ostringstream out;
        out << "p50 " << v[v.size() / 2] << " ms, p99 " << v[v.size() * 99 / 100] << " ms, max " << v.back()
            << " ms (" << v.size() << ")";
        return out.str();
    };

    std::vector<double> apply_without, apply_during, chunk_ms;
    for (int i = 0; i < 20000; ++i) apply_without.push_back(write());

    double blocking_ms = 1e9;
    std::string blocking;
    for (int round = 0; round < 3; ++round) {
        const auto t0 = Clock::now();
        blocking = store.snapshot();
        blocking_ms = std::min(blocking_ms, ms_since(t0));
    }

    auto t0 = Clock::now();
    store.begin_snapshot();
    const double begin_ms = ms_since(t0);
    std::string streamed;
    std::size_t most_saved = 0;
    for (bool last = false; !last;) {
        for (int i = 0; i < 400; ++i) apply_during.push_back(write());
        most_saved = std::max(most_saved, store.snapshot_saved_keys());
        t0 = Clock::now();
        SnapshotChunk c = store.snapshot_chunk(chunk_bytes);
        chunk_ms.push_back(ms_since(t0));
        streamed += c.bytes;
        last = c.last;
    }
    BOOST_TEST(streamed == blocking);
    double chunks_total = 0;
    for (double ms : chunk_ms) chunks_total += ms;
    BOOST_TEST_MESSAGE("snapshot of " << keys << " keys x 100 B (" << blocking.size() << " bytes): blocking "
                                      << blocking_ms << " ms (best of 3)");
    BOOST_TEST_MESSAGE("chunked in " << chunk_bytes << " B chunks, 400 writes between chunks: begin "
                                     << begin_ms << " ms; chunks " << summary(chunk_ms) << ", "
                                     << chunks_total << " ms in all; at most " << most_saved
                                     << " old values saved");
    BOOST_TEST_MESSAGE("apply with the snapshot open: " << summary(apply_during));
    BOOST_TEST_MESSAGE("apply without a snapshot:     " << summary(apply_without));

    // Loading it back: restore() all at once, against the decoder fed 256 KiB pieces (the
    // runtime's worker does that) and adopt(), the only part on the runtime's thread. Best of 3
    // each, every store dropped before the next load (a first load pays for fresh pages).
    double restore_ms = 1e9, decode_ms = 1e9, adopt_ms = 1e9;
    for (int round = 0; round < 3; ++round) {
        {
            KvStore restored(KvStoreLimits{{}, 512u * 1024 * 1024, keys * 2});
            t0 = Clock::now();
            BOOST_TEST_REQUIRE(restored.restore(blocking));
            restore_ms = std::min(restore_ms, ms_since(t0));
        }
        KvStore adopted(KvStoreLimits{{}, 512u * 1024 * 1024, keys * 2});
        t0 = Clock::now();
        std::unique_ptr<SnapshotDecoder> decoder = adopted.snapshot_decoder();
        for (std::size_t at = 0; at < blocking.size(); at += chunk_bytes)
            BOOST_TEST_REQUIRE(decoder->feed(std::string_view(blocking).substr(at, chunk_bytes)));
        BOOST_TEST_REQUIRE(decoder->finish());
        decode_ms = std::min(decode_ms, ms_since(t0));
        t0 = Clock::now();
        BOOST_TEST_REQUIRE(adopted.adopt(*decoder));
        adopt_ms = std::min(adopt_ms, ms_since(t0));
        if (round == 0) BOOST_TEST(adopted.snapshot() == blocking);
    }
    BOOST_TEST_MESSAGE("load (best of 3): restore() " << restore_ms << " ms; decoder in " << chunk_bytes
                                                      << " B pieces " << decode_ms << " ms, then adopt() "
                                                      << adopt_ms << " ms");
}

BOOST_AUTO_TEST_SUITE_END()
