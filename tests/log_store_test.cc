// The durable log store (common/log_store.h) and FileStorage (common/file_storage.h): round trips,
// segment rolling, recovery from torn tails and bit flips, refusal on corruption, the data-dir
// lock, sticky failure after a write error, and the background flush thread.
#define BOOST_TEST_MODULE log_store
#include "common/log_store.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/codec.h"
#include "common/crc32c.h"
#include "common/file_storage.h"
#include "common/random.h"
#include "engines/registry.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;

namespace ballot {
namespace {
// The store knows no protocol: these tests persist the bytes of a sample engine whose metadata is
// {term, vote, commit} and whose log records are {term, promise, data}.
struct HardState {
    std::uint64_t term = 0;
    std::uint64_t vote = 0;
    std::uint64_t commit = 0;
    friend bool operator==(const HardState&, const HardState&) = default;
};
[[maybe_unused]] std::ostream& boost_test_print_type(std::ostream& os, const HardState& hs) {
    return os << "{term=" << hs.term << " vote=" << hs.vote << " commit=" << hs.commit << "}";
}
}  // namespace
std::ostream& boost_test_print_type(std::ostream& os, const LogRecord& e) {
    return os << "{index=" << e.index << " bytes=" << e.bytes.size() << "}";
}
std::ostream& boost_test_print_type(std::ostream& os, StoreError::Kind kind) {
    return os << static_cast<int>(kind);
}
}  // namespace ballot

namespace {

using namespace ballot;

std::string seg(const std::string& dir, std::uint64_t number) {
    return (fs::path(dir) / segment_file_name(number)).string();
}

// The sample engine's codec (see the top of the file).
Bytes meta(const HardState& hs) {
    Bytes out;
    Writer w(out);
    w.u64(hs.term);
    w.u64(hs.vote);
    w.u64(hs.commit);
    return out;
}

HardState hard_state_of(const RecoveredState& state) {
    if (state.metadata.empty()) return {};
    Reader r(state.metadata);
    HardState hs{r.u64(), r.u64(), r.u64()};
    BOOST_REQUIRE(r.finish());
    return hs;
}

LogRecord entry(Index index, std::uint64_t term, std::string data, std::uint64_t promise = 0) {
    LogRecord record{index, {}};
    Writer w(record.bytes);
    w.u64(term);
    w.u64(promise);
    w.str(data);
    return record;
}

// A log record's payload up to its data: the store's u64 index, then the sample engine's term,
// promise and data length.
constexpr std::size_t kMinEntryBytes = 8 + 8 + 8 + 4;

std::string check_sample_metadata(std::span<const std::uint8_t> bytes) {
    return bytes.size() == 24 ? std::string() : "expected 24 bytes, got " + std::to_string(bytes.size());
}

std::string check_sample_record(Index, std::span<const std::uint8_t> bytes) {
    Reader r(bytes);
    r.u64();
    r.u64();
    r.str();
    return r.finish() ? std::string() : r.error();
}

// Options with the sample engine's checks, as the runtime passes the real engine's.
LogStore::Options checked_options() {
    LogStore::Options options;
    options.codec = PersistedCodec{&check_sample_metadata, &check_sample_record};
    return options;
}

std::unique_ptr<LogStore> open_ok(const std::string& dir, LogStore::Options options = {},
                                  RecoveredState* recovered = nullptr, std::uint64_t* torn = nullptr) {
    OpenResult r = LogStore::open(dir, options);
    BOOST_REQUIRE_MESSAGE(r.ok(), (r.error ? r.error->message() : ""));
    BOOST_REQUIRE(r.store != nullptr);
    if (recovered) *recovered = std::move(r.recovered);
    if (torn) *torn = r.torn_bytes_dropped;
    return std::move(r.store);
}

RecoveredState recover(const std::string& dir, LogStore::Options options = {},
                       std::uint64_t* torn = nullptr) {
    RecoveredState state;
    open_ok(dir, options, &state, torn);
    return state;
}

StoreError open_fails(const std::string& dir, LogStore::Options options = checked_options()) {
    OpenResult r = LogStore::open(dir, options);
    BOOST_REQUIRE_MESSAGE(!r.ok(), "open unexpectedly succeeded");
    BOOST_REQUIRE(r.store == nullptr);
    return *r.error;
}

void write(LogStore& store, const Ready& batch) {
    Bytes records;
    LogStore::encode(batch, records);
    std::error_code ec = store.write_durably(records);
    BOOST_REQUIRE_MESSAGE(!ec, ec.message());
}

Ready entries_batch(std::vector<LogRecord> entries) {
    Ready r;
    r.records = std::move(entries);
    return r;
}

// What the store must recover: the same rules as the store's replay, written the obvious way.
struct Model {
    Bytes metadata;
    std::map<Index, LogRecord> entries;
    Index floor = 0;  // the highest compaction point: nothing below it is ever recovered

    void apply(const Ready& batch) {
        if (batch.metadata) metadata = *batch.metadata;
        if (batch.truncate_from) entries.erase(entries.lower_bound(*batch.truncate_from), entries.end());
        if (batch.compact_below) {
            floor = std::max(floor, *batch.compact_below);
            entries.erase(entries.begin(), entries.lower_bound(floor));
        }
        for (const LogRecord& e : batch.records)
            if (e.index >= floor) entries[e.index] = e;
    }
    std::vector<LogRecord> list() const {
        std::vector<LogRecord> out;
        for (const auto& [index, e] : entries) out.push_back(e);
        return out;
    }
};

Bytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const Bytes& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    BOOST_REQUIRE(out.good());
}

// A log of three batches in one segment; `last_record_at` is where the final batch's one record
// begins, so tests can damage exactly that record or the ones before it.
struct ThreeBatchLog {
    Model model_before_last;  // what must survive when the last record is lost
    Model model_all;
    std::uint64_t second_record_at = 0;  // the second batch's first record
    std::uint64_t last_record_at = 0;
    std::uint64_t size = 0;
};

ThreeBatchLog make_three_batch_log(const std::string& dir) {
    ThreeBatchLog log;
    auto store = open_ok(dir);
    Ready first;
    first.metadata = meta(HardState{2, 1, 0});
    first.records = {entry(1, 1, "alpha"), entry(2, 2, "beta")};
    Ready second = entries_batch({entry(3, 2, std::string(100, 'c'))});
    Ready third = entries_batch({entry(4, 2, std::string(100, 'd'))});
    write(*store, first);
    log.second_record_at = fs::file_size(seg(dir, 1));
    write(*store, second);
    log.last_record_at = fs::file_size(seg(dir, 1));
    write(*store, third);
    log.size = fs::file_size(seg(dir, 1));
    log.model_before_last.apply(first);
    log.model_before_last.apply(second);
    log.model_all = log.model_before_last;
    log.model_all.apply(third);
    return log;
}

// The salt in a segment file's header (log_store.h).
std::uint64_t segment_salt(const Bytes& segment) {
    Reader r(std::span<const std::uint8_t>(segment).subspan(8 + 4 + 8, 8));
    return r.u64();
}

// A record of the current format, as write_durably() would write it at `offset` of a segment
// whose salt is `salt`.
Bytes format2_record(std::uint64_t salt, std::uint64_t offset, std::uint64_t sequence, std::uint8_t type,
                     const Bytes& payload) {
    Bytes covered;
    Writer c(covered);
    c.u64(sequence);
    c.u8(type);
    c.raw(payload);
    Bytes prefix;
    Writer p(prefix);
    p.u64(salt);
    p.u64(offset);
    Bytes record;
    Writer w(record);
    w.u32(static_cast<std::uint32_t>(payload.size()));
    w.u32(crc32c(covered, crc32c(prefix)));
    w.raw(covered);
    return record;
}

// A record of format 1: u32 length, u32 CRC32C of (type, payload), type, payload.
Bytes format1_record(std::uint8_t type, const Bytes& payload) {
    Bytes body = {type};
    body.insert(body.end(), payload.begin(), payload.end());
    Bytes record;
    Writer w(record);
    w.u32(static_cast<std::uint32_t>(payload.size()));
    w.u32(crc32c(body));
    w.raw(body);
    return record;
}

std::vector<std::string> dir_listing(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& item : fs::directory_iterator(dir))
        names.push_back(item.path().filename().string() + ":" + std::to_string(fs::file_size(item.path())));
    std::sort(names.begin(), names.end());
    return names;
}

void copy_dir(const std::string& from, const std::string& to) {
    fs::remove_all(to);
    fs::create_directories(to);
    for (const auto& item : fs::directory_iterator(from))
        if (item.path().filename() != "LOCK")
            fs::copy_file(item.path(), fs::path(to) / item.path().filename());
}

}  // namespace

// ---------------------------------------------------------------- CRC32C

BOOST_AUTO_TEST_CASE(crc32c_known_answers) {
    const std::string check = "123456789";
    std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(check.data()), check.size());
    BOOST_TEST(crc32c(bytes) == 0xE3069283u);
    BOOST_TEST(detail::crc32c_portable(bytes) == 0xE3069283u);
    BOOST_TEST(crc32c({}) == 0u);
    // RFC 3720 B.4: 32 bytes of zeros.
    Bytes zeros(32, 0);
    BOOST_TEST(crc32c(zeros) == 0x8A9136AAu);
    BOOST_TEST(detail::crc32c_portable(zeros) == 0x8A9136AAu);
}

BOOST_AUTO_TEST_CASE(crc32c_paths_agree_and_extend) {
    Rng rng(7);
    Bytes data(4096 + 16);
    for (auto& b : data) b = static_cast<std::uint8_t>(rng.next());
    for (std::size_t offset = 0; offset < 9; ++offset) {
        for (std::size_t length : {0, 1, 7, 8, 9, 63, 64, 65, 1000, 4096}) {
            std::span<const std::uint8_t> s(data.data() + offset, length);
            std::uint32_t whole = crc32c(s);
            BOOST_TEST(whole == detail::crc32c_portable(s));
            std::size_t cut = length / 3;
            BOOST_TEST(crc32c(s.subspan(cut), crc32c(s.first(cut))) == whole);
            BOOST_TEST(detail::crc32c_portable(s.subspan(cut), detail::crc32c_portable(s.first(cut))) ==
                       whole);
        }
    }
}

// ---------------------------------------------------------------- round trips

BOOST_AUTO_TEST_CASE(new_dir_is_empty_and_created) {
    test::TempDir tmp("ballot-log-store");
    std::string dir = (tmp.path / "a/b/node-1").string();
    std::uint64_t torn = 99;
    RecoveredState state = recover(dir, {}, &torn);
    BOOST_TEST(hard_state_of(state) == HardState{});
    BOOST_TEST(state.records.empty());
    BOOST_TEST(torn == 0u);
    BOOST_TEST(fs::is_regular_file(seg(dir, 1)));
    BOOST_TEST(fs::file_size(seg(dir, 1)) == LogStore::kSegmentHeaderBytes);
    // A header-only last segment reopens as it is.
    BOOST_TEST(recover(dir).records.empty());
}

BOOST_AUTO_TEST_CASE(round_trip_hard_state_truncate_replace_sparse) {
    test::TempDir tmp("ballot-log-store");
    std::string dir = tmp.path.string();
    Model model;
    {
        auto store = open_ok(dir);
        std::vector<Ready> batches(5);
        batches[0].metadata = meta(HardState{1, 3, 0});
        batches[0].records = {entry(1, 1, "one"), entry(2, 1, ""), entry(3, 1, "three")};
        // Raft §5.3: a conflicting suffix is removed, then replaced.
        batches[1].metadata = meta(HardState{2, 0, 1});
        batches[1].truncate_from = 2;
        batches[1].records = {entry(2, 2, "two-b")};
        // Paxos: sparse slots, out of order, accepted again at a higher ballot, promise kept.
        batches[2].records = {entry(10, 5, "ten", 7), entry(6, 5, "six", 7), entry(8, 5, "eight")};
        batches[3].records = {entry(6, 9, "six-b", 9)};
        batches[4].metadata = meta(HardState{9, 2, 3});
        batches[4].records = {entry(7, 9, std::string(300, '\0'))};
        for (const Ready& b : batches) {
            write(*store, b);
            model.apply(b);
        }
    }
    RecoveredState state = recover(dir);
    BOOST_TEST(hard_state_of(state) == (HardState{9, 2, 3}));
    BOOST_TEST(state.records == model.list(), boost::test_tools::per_element());
    std::vector<Index> indices;
    for (const LogRecord& e : state.records) indices.push_back(e.index);
    BOOST_TEST(indices == (std::vector<Index>{1, 2, 6, 7, 8, 10}), boost::test_tools::per_element());
}

// --slow-disk-factor (common/durability.h): the sleep after a sync is (factor - 1) times what the
// sync took, nothing at factor 1 or for a sync that took no time, and the factor is kept within
// 1..kMaxSlowDiskFactor whatever is set.
BOOST_AUTO_TEST_CASE(slow_disk_delay_is_the_factor_less_one_times_the_sync) {
    using std::chrono::microseconds;
    BOOST_TEST(slow_disk_delay(microseconds(200), 40).count() == microseconds(7800).count() * 1000);
    BOOST_TEST(slow_disk_delay(microseconds(200), 2).count() == microseconds(200).count() * 1000);
    BOOST_TEST(slow_disk_delay(microseconds(200), 1).count() == 0);
    BOOST_TEST(slow_disk_delay(microseconds(0), 40).count() == 0);
    BOOST_TEST(slow_disk_factor() == 1u);  // the default
    set_slow_disk_factor(0);
    BOOST_TEST(slow_disk_factor() == 1u);
    set_slow_disk_factor(kMaxSlowDiskFactor + 1);
    BOOST_TEST(slow_disk_factor() == kMaxSlowDiskFactor);
    set_slow_disk_factor(1);
}

// --unsafe-no-fsync (common/durability.h): the store makes no fsync or fdatasync at all, through
// new segments, rolls and compaction, and still reads back everything it wrote after a clean
// close. The count is this process's; nothing else in it syncs meanwhile.
BOOST_AUTO_TEST_CASE(unsafe_no_fsync_never_syncs_and_still_recovers_after_a_clean_close) {
    test::TempDir tmp("ballot-log-store");
    LogStore::Options unsafe = checked_options();
    unsafe.durability = Durability::unsafe_no_fsync;
    unsafe.segment_bytes = 512;  // several segments, so rolls and deletions happen too
    Model model;
    const std::uint64_t syncs_before = sync_calls_made();
    {
        auto store = open_ok((tmp.path / "unsafe").string(), unsafe);
        for (Index i = 1; i <= 40; ++i) {
            Ready batch = entries_batch({entry(i, 1, "value-" + std::to_string(i))});
            batch.metadata = meta(HardState{1, 1, i});
            if (i == 30) batch.compact_below = 20;
            write(*store, batch);
            model.apply(batch);
        }
        BOOST_TEST(store->first_segment() > 1u);  // compaction deleted segments
    }
    RecoveredState state = recover((tmp.path / "unsafe").string(), unsafe);
    BOOST_TEST(sync_calls_made() == syncs_before);
    BOOST_TEST(hard_state_of(state) == (HardState{1, 1, 40}));
    BOOST_TEST(state.records == model.list(), boost::test_tools::per_element());

    // The same work with the default makes its syncs through the same counter.
    LogStore::Options safe = unsafe;
    safe.durability = Durability::fsync;
    {
        auto store = open_ok((tmp.path / "safe").string(), safe);
        write(*store, entries_batch({entry(1, 1, "one")}));
    }
    BOOST_TEST(sync_calls_made() > syncs_before);
}

BOOST_AUTO_TEST_CASE(encode_appends_records_in_order) {
    Ready batch;
    batch.metadata = meta(HardState{4, 2, 1});
    batch.truncate_from = 3;
    batch.compact_below = 2;
    batch.records = {entry(3, 4, "x")};
    Bytes out = {0xAA};
    LogStore::encode(batch, out);
    BOOST_TEST(out[0] == 0xAA);
    Reader r(std::span<const std::uint8_t>(out).subspan(1));
    for (auto [type, payload] : std::vector<std::pair<LogStore::RecordType, std::size_t>>{
             {LogStore::RecordType::metadata, 24},
             {LogStore::RecordType::truncate, 8},
             {LogStore::RecordType::compact, 8},
             {LogStore::RecordType::record, kMinEntryBytes + 1}}) {
        BOOST_TEST(r.u32() == payload);
        BOOST_TEST(r.u32() == 0u);  // checksum and sequence: filled in by write_durably()
        BOOST_TEST(r.u64() == 0u);
        BOOST_TEST(r.u8() == static_cast<std::uint8_t>(type));
        for (std::size_t i = 0; i < payload; ++i) r.u8();
    }
    BOOST_TEST(r.finish());
    // A batch with nothing durable encodes to nothing.
    Bytes none;
    LogStore::encode(Ready{}, none);
    BOOST_TEST(none.empty());
}

BOOST_AUTO_TEST_CASE(many_batches_roll_across_small_segments_and_reopen) {
    test::TempDir tmp("ballot-log-store");
    std::string dir = tmp.path.string();
    LogStore::Options options;
    options.segment_bytes = 2048;
    Model model;
    Rng rng(42);
    Index next = 1;
    auto random_batch = [&] {
        Ready b;
        if (rng.chance(1, 4)) b.metadata = meta(HardState{rng.between(1, 100), rng.between(0, 5), next - 1});
        if (next > 3 && rng.chance(1, 10)) {
            next = rng.between(next - 3, next - 1);
            b.truncate_from = next;
        }
        for (auto n = rng.between(0, 6); n > 0; --n)
            b.records.push_back(entry(next++, rng.between(1, 9), std::string(rng.between(0, 200), 'v')));
        return b;
    };
    // Three sessions, each reopening what the previous one wrote and appending more.
    for (int session = 0; session < 3; ++session) {
        RecoveredState state;
        auto store = open_ok(dir, options, &state);
        BOOST_TEST(state.metadata == model.metadata);
        BOOST_TEST(state.records == model.list(), boost::test_tools::per_element());
        for (int i = 0; i < 150; ++i) {
            Ready b = random_batch();
            write(*store, b);
            model.apply(b);
        }
    }
    RecoveredState state = recover(dir, options);
    BOOST_TEST(state.metadata == model.metadata);
    BOOST_TEST(state.records == model.list(), boost::test_tools::per_element());

    // Segments are numbered 1..n, and none is overfull: batches here are smaller than a segment.
    std::uint64_t segments = 0;
    for (const auto& item : fs::directory_iterator(dir)) {
        if (item.path().extension() != ".seg") continue;
        ++segments;
        BOOST_TEST(item.file_size() <= options.segment_bytes);
    }
    BOOST_TEST(segments > 5u);
    for (std::uint64_t n = 1; n <= segments; ++n) BOOST_TEST(fs::exists(seg(dir, n)));
}

BOOST_AUTO_TEST_CASE(a_batch_larger_than_a_segment_gets_a_segment_of_its_own) {
    test::TempDir tmp("ballot-log-store");
    LogStore::Options options;
    options.segment_bytes = 256;
    Model model;
    {
        auto store = open_ok(tmp.path.string(), options);
        for (Index i = 1; i <= 3; ++i) {
            Ready b = entries_batch({entry(i, 1, std::string(1000, 'x')), entry(100 + i, 1, "small")});
            write(*store, b);
            model.apply(b);
            BOOST_TEST(store->active_segment() == i);
        }
    }
    BOOST_TEST(recover(tmp.path.string(), options).records == model.list(), boost::test_tools::per_element());
}

// ---------------------------------------------------------------- torn tails

BOOST_AUTO_TEST_CASE(torn_last_record_is_cut_at_every_byte) {
    test::TempDir tmp("ballot-log-store");
    std::string original = (tmp.path / "original").string();
    ThreeBatchLog log = make_three_batch_log(original);
    std::string dir = (tmp.path / "copy").string();
    for (std::uint64_t keep = log.last_record_at; keep < log.size; ++keep) {
        BOOST_TEST_CONTEXT("last record cut to " << keep - log.last_record_at << " bytes") {
            copy_dir(original, dir);
            fs::resize_file(seg(dir, 1), keep);
            std::uint64_t torn = 0;
            RecoveredState state;
            {
                OpenResult r = LogStore::open(dir);
                BOOST_REQUIRE_MESSAGE(r.ok(), (r.error ? r.error->message() : ""));
                torn = r.torn_bytes_dropped;
                state = std::move(r.recovered);
                BOOST_TEST((torn == 0) == r.torn_message.empty());
                // The repaired log takes new writes after the cut.
                write(*r.store, entries_batch({entry(4, 3, "after")}));
            }
            BOOST_TEST(torn == keep - log.last_record_at);
            BOOST_TEST(state.metadata == log.model_before_last.metadata);
            BOOST_TEST(state.records == log.model_before_last.list(), boost::test_tools::per_element());
            RecoveredState again = recover(dir);
            BOOST_REQUIRE(again.records.size() == 4u);
            BOOST_TEST(again.records.back() == entry(4, 3, "after"));
        }
    }
}

BOOST_AUTO_TEST_CASE(torn_message_names_file_and_offset) {
    test::TempDir tmp("ballot-log-store");
    ThreeBatchLog log = make_three_batch_log(tmp.path.string());
    fs::resize_file(seg(tmp.path.string(), 1), log.size - 5);
    OpenResult r = LogStore::open(tmp.path.string());
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r.torn_bytes_dropped == log.size - 5 - log.last_record_at);
    BOOST_TEST_MESSAGE(r.torn_message);
    BOOST_TEST(r.torn_message.find(seg(tmp.path.string(), 1)) == 0u);
    BOOST_TEST(r.torn_message.find("byte offset " + std::to_string(log.last_record_at)) != std::string::npos);
    BOOST_TEST(fs::file_size(seg(tmp.path.string(), 1)) == log.last_record_at);
}

BOOST_AUTO_TEST_CASE(zero_filled_tail_is_room_for_the_next_writes) {
    // Some file systems show a file extended by a crash, but never written, as zeros; and the
    // store preallocates zeros itself (LogStoreOptions::preallocate_bytes). Neither holds a
    // record: nothing is dropped, the zeros stay, and the next record goes where they begin.
    test::TempDir tmp("ballot-log-store");
    ThreeBatchLog log = make_three_batch_log(tmp.path.string());
    Bytes bytes = read_file(seg(tmp.path.string(), 1));
    std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(log.last_record_at), bytes.end(), 0);
    bytes.resize(bytes.size() + 4096, 0);
    write_file(seg(tmp.path.string(), 1), bytes);
    {
        RecoveredState state;
        std::uint64_t torn = 1;
        auto store = open_ok(tmp.path.string(), {}, &state, &torn);
        BOOST_TEST(torn == 0u);
        BOOST_TEST(state.records == log.model_before_last.list(), boost::test_tools::per_element());
        BOOST_TEST(store->log_bytes() == log.last_record_at);
        write(*store, entries_batch({entry(4, 3, "after")}));
    }
    BOOST_TEST(fs::file_size(seg(tmp.path.string(), 1)) == bytes.size());  // written in place
    Model expected = log.model_before_last;
    expected.apply(entries_batch({entry(4, 3, "after")}));
    BOOST_TEST(recover(tmp.path.string()).records == expected.list(), boost::test_tools::per_element());
}

// ---- preallocated room (LogStoreOptions::preallocate_bytes) ----

namespace {
LogStore::Options preallocating(std::uint64_t segment_bytes = 64ull << 20) {
    LogStore::Options options = checked_options();
    options.preallocate_bytes = 4096;
    options.segment_bytes = segment_bytes;
    return options;
}
}  // namespace

BOOST_AUTO_TEST_CASE(preallocated_room_is_written_ahead_and_reused_after_a_restart) {
    test::TempDir tmp("ballot-log-store");
    Model model;
    std::uint64_t used = 0;
    {
        auto store = open_ok(tmp.path.string(), preallocating());
        for (Index i = 1; i <= 10; ++i) {
            Ready b = entries_batch({entry(i, 1, std::string(100, 'p'))});
            write(*store, b);
            model.apply(b);
            // Never less than a quarter of the room left after a write.
            BOOST_TEST(fs::file_size(seg(tmp.path.string(), 1)) >= store->log_bytes() + 1024);
        }
        used = store->log_bytes();
    }
    const std::uint64_t size = fs::file_size(seg(tmp.path.string(), 1));
    BOOST_TEST(size > used);
    for (int restart = 0; restart < 2; ++restart) {
        RecoveredState state;
        std::uint64_t torn = 1;
        auto store = open_ok(tmp.path.string(), preallocating(), &state, &torn);
        BOOST_TEST(torn == 0u);
        BOOST_TEST(state.records == model.list(), boost::test_tools::per_element());
        BOOST_TEST(store->log_bytes() == used);
        Ready b = entries_batch({entry(11 + restart, 1, "after a restart")});
        write(*store, b);
        model.apply(b);
        used = store->log_bytes();
    }
    BOOST_TEST(fs::file_size(seg(tmp.path.string(), 1)) == size);  // the new records went into the room
    BOOST_TEST(recover(tmp.path.string()).records == model.list(), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(only_the_last_segment_keeps_preallocated_room) {
    test::TempDir tmp("ballot-log-store");
    Model model;
    auto store = open_ok(tmp.path.string(), preallocating(/*segment_bytes=*/2048));
    for (Index i = 1; i <= 40; ++i) {
        Ready b = entries_batch({entry(i, 1, std::string(100, 'q'))});
        write(*store, b);
        model.apply(b);
    }
    BOOST_REQUIRE(store->active_segment() > 3u);
    std::uint64_t records = 0;
    for (std::uint64_t n = store->first_segment(); n < store->active_segment(); ++n) {
        BOOST_TEST_CONTEXT("segment " << n) {
            // Cut to its records: its last one is valid and nothing follows.
            const std::uint64_t size = fs::file_size(seg(tmp.path.string(), n));
            BOOST_TEST(size <= 2048u);
            BOOST_TEST(read_file(seg(tmp.path.string(), n)).back() == 'q');
            records += size;
        }
    }
    const std::uint64_t last = fs::file_size(seg(tmp.path.string(), store->active_segment()));
    BOOST_TEST(last == 2048u);  // the room never runs past the segment size
    BOOST_TEST(store->log_bytes() < records + last);
    store.reset();
    BOOST_TEST(recover(tmp.path.string(), preallocating(2048)).records == model.list(),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_record_torn_inside_the_preallocated_room_is_cut_away) {
    test::TempDir tmp("ballot-log-store");
    std::string original = (tmp.path / "original").string();
    Model model;
    std::uint64_t used = 0;
    {
        auto store = open_ok(original, preallocating());
        for (Index i = 1; i <= 3; ++i) {
            Ready b = entries_batch({entry(i, 1, std::string(100, 't'))});
            write(*store, b);
            model.apply(b);
        }
        used = store->log_bytes();
    }
    // The next batch, as write_durably() would have written it, cut at every length: a crash
    // before its fdatasync, with the rest of the room still zeros.
    std::string written = (tmp.path / "written").string();
    {
        copy_dir(original, written);
        auto store = open_ok(written, preallocating());
        write(*store, entries_batch({entry(4, 1, std::string(100, 'u'))}));
    }
    const Bytes full = read_file(seg(written, 1));
    const Bytes before = read_file(seg(original, 1));
    BOOST_REQUIRE(full.size() == before.size());
    std::uint64_t record_end = used;
    while (full[record_end] != 0 || full[record_end + 1] != 0) ++record_end;  // 'u' x 100 ends it
    std::string dir = (tmp.path / "copy").string();
    for (std::uint64_t keep = used + 1; keep < record_end; keep += 7) {
        BOOST_TEST_CONTEXT("torn record of " << keep - used << " bytes") {
            copy_dir(original, dir);
            Bytes bytes = before;
            std::copy(full.begin() + static_cast<std::ptrdiff_t>(used), full.begin() + static_cast<std::ptrdiff_t>(keep),
                      bytes.begin() + static_cast<std::ptrdiff_t>(used));
            write_file(seg(dir, 1), bytes);
            RecoveredState state;
            std::uint64_t torn = 0;
            {
                auto store = open_ok(dir, preallocating(), &state, &torn);
                BOOST_TEST(store->log_bytes() == used);
                write(*store, entries_batch({entry(4, 2, "after")}));
            }
            BOOST_TEST(torn == before.size() - used);  // the tear and the room after it
            BOOST_TEST(state.records == model.list(), boost::test_tools::per_element());
            Model expected = model;
            expected.apply(entries_batch({entry(4, 2, "after")}));
            BOOST_TEST(recover(dir, preallocating()).records == expected.list(), boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(zeros_at_the_end_of_a_segment_that_is_not_the_last_are_corruption) {
    test::TempDir tmp("ballot-log-store");
    {
        auto store = open_ok(tmp.path.string(), preallocating(512));
        for (Index i = 1; i <= 6; ++i) write(*store, entries_batch({entry(i, 1, std::string(100, 'z'))}));
        BOOST_REQUIRE(store->active_segment() >= 2u);
    }
    Bytes first = read_file(seg(tmp.path.string(), 1));
    first.resize(first.size() + 100, 0);
    write_file(seg(tmp.path.string(), 1), first);
    StoreError e = open_fails(tmp.path.string(), preallocating(512));
    BOOST_TEST(e.kind == StoreError::Kind::corrupt);
    BOOST_TEST(e.reason.find("not the last") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_bit_flip_in_the_last_record_is_truncated) {
    test::TempDir tmp("ballot-log-store");
    std::string original = (tmp.path / "original").string();
    ThreeBatchLog log = make_three_batch_log(original);
    Bytes bytes = read_file(seg(original, 1));
    std::string dir = (tmp.path / "copy").string();
    // Every bit, the length field included: a bad length must not hide the record's torn-ness.
    for (std::uint64_t at = log.last_record_at; at < log.size; ++at) {
        for (int bit = 0; bit < 8; ++bit) {
            BOOST_TEST_CONTEXT("byte " << at << " bit " << bit) {
                copy_dir(original, dir);
                Bytes flipped = bytes;
                flipped[at] ^= static_cast<std::uint8_t>(1u << bit);
                write_file(seg(dir, 1), flipped);
                std::uint64_t torn = 0;
                RecoveredState state = recover(dir, {}, &torn);
                BOOST_TEST(torn == log.size - log.last_record_at);
                BOOST_TEST(state.records == log.model_before_last.list(), boost::test_tools::per_element());
            }
        }
    }
}

// ---------------------------------------------------------------- corruption

BOOST_AUTO_TEST_CASE(every_bit_flip_in_an_earlier_record_refuses_to_start) {
    test::TempDir tmp("ballot-log-store");
    std::string original = (tmp.path / "original").string();
    ThreeBatchLog log = make_three_batch_log(original);
    Bytes bytes = read_file(seg(original, 1));
    std::string dir = (tmp.path / "copy").string();
    // The second batch's record, followed by the intact third one.
    for (std::uint64_t at = log.second_record_at; at < log.last_record_at; ++at) {
        for (int bit = 0; bit < 8; ++bit) {
            BOOST_TEST_CONTEXT("byte " << at << " bit " << bit) {
                copy_dir(original, dir);
                Bytes flipped = bytes;
                flipped[at] ^= static_cast<std::uint8_t>(1u << bit);
                write_file(seg(dir, 1), flipped);
                StoreError e = open_fails(dir);
                BOOST_TEST(e.kind == StoreError::Kind::corrupt);
                BOOST_TEST(e.path == seg(dir, 1));
                BOOST_TEST(e.offset == log.second_record_at);
                // The file is left exactly as found.
                BOOST_TEST((read_file(seg(dir, 1)) == flipped));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(corrupt_record_message_names_file_and_offset) {
    test::TempDir tmp("ballot-log-store");
    ThreeBatchLog log = make_three_batch_log(tmp.path.string());
    Bytes bytes = read_file(seg(tmp.path.string(), 1));
    bytes[log.second_record_at + 20] ^= 0x10;  // inside the payload
    write_file(seg(tmp.path.string(), 1), bytes);
    StoreError e = open_fails(tmp.path.string());
    BOOST_TEST(e.message() == seg(tmp.path.string(), 1) + ": corrupt record at byte offset " +
                                  std::to_string(log.second_record_at) +
                                  " (checksum mismatch); refusing to start");
}

BOOST_AUTO_TEST_CASE(damage_in_a_segment_that_is_not_the_last_refuses_to_start) {
    test::TempDir tmp("ballot-log-store");
    std::string original = (tmp.path / "original").string();
    LogStore::Options options;
    options.segment_bytes = 512;
    {
        auto store = open_ok(original, options);
        for (Index i = 1; i <= 20; ++i) write(*store, entries_batch({entry(i, 1, std::string(100, 'z'))}));
        BOOST_REQUIRE(store->active_segment() >= 3u);
    }
    std::string dir = (tmp.path / "copy").string();
    std::uint64_t size = fs::file_size(seg(original, 2));

    // Torn at its end: only the last segment may have a torn tail.
    copy_dir(original, dir);
    fs::resize_file(seg(dir, 2), size - 3);
    StoreError torn = open_fails(dir);
    BOOST_TEST(torn.path == seg(dir, 2));
    BOOST_TEST(torn.message().find("not the last") != std::string::npos);

    // Its last record flipped.
    copy_dir(original, dir);
    Bytes bytes = read_file(seg(dir, 2));
    bytes[size - 1] ^= 1;
    write_file(seg(dir, 2), bytes);
    BOOST_TEST(open_fails(dir).path == seg(dir, 2));
}

BOOST_AUTO_TEST_CASE(valid_checksum_but_unknown_type_or_bad_payload_refuses_to_start) {
    test::TempDir tmp("ballot-log-store");
    ThreeBatchLog log = make_three_batch_log(tmp.path.string());
    Bytes good = read_file(seg(tmp.path.string(), 1));
    auto append_record = [&](std::uint8_t type, Bytes payload) {
        Bytes bytes = good;
        Bytes record = format2_record(segment_salt(good), good.size(), 6, type, payload);  // 5 records before
        bytes.insert(bytes.end(), record.begin(), record.end());
        write_file(seg(tmp.path.string(), 1), bytes);
    };
    append_record(9, Bytes(8, 1));
    StoreError e = open_fails(tmp.path.string());
    BOOST_TEST(e.offset == log.size);
    BOOST_TEST(e.message().find("unknown record type 9") != std::string::npos);

    append_record(static_cast<std::uint8_t>(LogStore::RecordType::truncate), Bytes(7, 1));
    e = open_fails(tmp.path.string());
    BOOST_TEST(e.offset == log.size);
    BOOST_TEST(e.message().find("does not decode") != std::string::npos);

    append_record(static_cast<std::uint8_t>(LogStore::RecordType::record), Bytes(8, 0));
    e = open_fails(tmp.path.string());
    BOOST_TEST(e.offset == log.size);
    BOOST_TEST(e.message().find("log record at index 0") != std::string::npos);

    // The engine's bytes are the engine's to judge: metadata its codec rejects is corruption
    // at its offset, and the store itself accepts any bytes when no codec is given.
    append_record(static_cast<std::uint8_t>(LogStore::RecordType::metadata), Bytes(23, 1));
    e = open_fails(tmp.path.string());
    BOOST_TEST(e.offset == log.size);
    BOOST_TEST(e.message().find("engine metadata does not decode: expected 24 bytes, got 23") !=
               std::string::npos);
    BOOST_TEST(recover(tmp.path.string()).metadata == Bytes(23, 1));

    Bytes bad_record;
    Writer(bad_record).u64(4);
    Writer(bad_record).u64(1);  // a term, then nothing: the sample codec wants a promise and data
    append_record(static_cast<std::uint8_t>(LogStore::RecordType::record), bad_record);
    e = open_fails(tmp.path.string());
    BOOST_TEST(e.offset == log.size);
    BOOST_TEST(e.message().find("engine log record at index 4 does not decode") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_segment_headers_refuse_to_start) {
    test::TempDir tmp("ballot-log-store");
    std::string original = (tmp.path / "original").string();
    LogStore::Options options;
    options.segment_bytes = 512;
    {
        auto store = open_ok(original, options);
        for (Index i = 1; i <= 10; ++i) write(*store, entries_batch({entry(i, 1, std::string(100, 'h'))}));
        BOOST_REQUIRE(store->active_segment() >= 2u);
    }
    std::string dir = (tmp.path / "copy").string();
    auto damaged = [&](std::uint64_t number, std::size_t at) {
        copy_dir(original, dir);
        Bytes bytes = read_file(seg(dir, number));
        bytes[at] ^= 0x01;
        write_file(seg(dir, number), bytes);
        return open_fails(dir);
    };
    StoreError magic = damaged(1, 0);
    BOOST_TEST(magic.path == seg(dir, 1));
    BOOST_TEST(magic.message().find("corrupt segment header at byte offset 0 (bad magic") !=
               std::string::npos);
    BOOST_TEST(damaged(1, 9).message().find("checksum mismatch") != std::string::npos);  // version
    // In the last segment too: a header is written and fsync'ed before any record follows it.
    std::uint64_t last = 0;
    for (std::uint64_t n = 1; fs::exists(seg(original, n)); ++n) last = n;
    BOOST_TEST(damaged(last, 14).path == seg(dir, last));  // segment number

    // A segment whose header names another segment (a copy under the wrong name).
    copy_dir(original, dir);
    fs::copy_file(seg(dir, 1), seg(dir, last), fs::copy_options::overwrite_existing);
    BOOST_TEST(open_fails(dir).message().find("does not match the file name") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(missing_segments_refuse_to_start) {
    test::TempDir tmp("ballot-log-store");
    std::string original = (tmp.path / "original").string();
    LogStore::Options options;
    options.segment_bytes = 512;
    {
        auto store = open_ok(original, options);
        for (Index i = 1; i <= 10; ++i) write(*store, entries_batch({entry(i, 1, std::string(100, 'm'))}));
        BOOST_REQUIRE(store->active_segment() >= 3u);
    }
    std::string dir = (tmp.path / "copy").string();
    copy_dir(original, dir);
    fs::remove(seg(dir, 2));
    StoreError middle = open_fails(dir);
    BOOST_TEST(middle.kind == StoreError::Kind::corrupt);
    BOOST_TEST(middle.path == seg(dir, 2));
    BOOST_TEST_MESSAGE(middle.message());

    copy_dir(original, dir);
    fs::remove(seg(dir, 1));
    BOOST_TEST(open_fails(dir).path == seg(dir, 1));
}

BOOST_AUTO_TEST_CASE(empty_or_half_created_last_segment_is_rewritten) {
    test::TempDir tmp("ballot-log-store");
    ThreeBatchLog log = make_three_batch_log(tmp.path.string());
    for (std::uint64_t cut : {0u, 10u}) {
        BOOST_TEST_CONTEXT("new segment cut to " << cut << " bytes") {
            // A crash while segment 2 was being created.
            Bytes header = read_file(seg(tmp.path.string(), 1));
            header.resize(cut);
            write_file(seg(tmp.path.string(), 2), header);
            std::uint64_t torn = 0;
            {
                RecoveredState state;
                auto store = open_ok(tmp.path.string(), {}, &state, &torn);
                BOOST_TEST(torn == cut);
                BOOST_TEST(state.records == log.model_all.list(), boost::test_tools::per_element());
                BOOST_TEST(store->active_segment() == 2u);
                write(*store, entries_batch({entry(5, 2, "five")}));
            }
            BOOST_TEST(recover(tmp.path.string()).records.back() == entry(5, 2, "five"));
            fs::remove(seg(tmp.path.string(), 2));
        }
    }
}

// ---------------------------------------------------------------- compaction

namespace {

std::vector<std::uint64_t> segments_in(const std::string& dir) {
    std::vector<std::uint64_t> numbers;
    for (std::uint64_t n = 1; n < 1000; ++n)
        if (fs::exists(seg(dir, n))) numbers.push_back(n);
    return numbers;
}

std::uint64_t segment_bytes_in(const std::string& dir) {
    std::uint64_t total = 0;
    for (std::uint64_t n : segments_in(dir)) total += fs::file_size(seg(dir, n));
    return total;
}

// 512-byte segments hold three one-record batches of a 100-byte value (32 + 3 * 153 bytes).
LogStore::Options small_segments() {
    LogStore::Options options = checked_options();
    options.segment_bytes = 512;
    return options;
}

Ready compaction(Index below) {
    Ready r;
    r.compact_below = below;
    return r;
}

// A log of records 1..40, three to a segment, the metadata written once in segment 1; `before` is
// a copy of it as it stood just before a batch compacted below 30, and `dir` holds it after that
// batch, which deleted segments 1..9 (records 1..27) and kept segment 10 (records 28..30).
struct CompactedLog {
    std::string before, dir;
    Model model;
    std::uint64_t bytes_before = 0;
    static constexpr Index kCompactBelow = 30;
    static constexpr std::uint64_t kFirstKept = 10;
};

CompactedLog make_compacted_log(const test::TempDir& tmp, LogStoreOptions options = small_segments()) {
    CompactedLog log;
    log.before = (tmp.path / "before").string();
    log.dir = (tmp.path / "after").string();
    auto store = open_ok(log.dir, options);
    Ready first = entries_batch({entry(1, 1, std::string(100, 'r'))});
    first.metadata = meta(HardState{7, 2, 0});
    write(*store, first);
    log.model.apply(first);
    for (Index i = 2; i <= 40; ++i) {
        Ready b = entries_batch({entry(i, 1, std::string(100, 'r'))});
        write(*store, b);
        log.model.apply(b);
    }
    BOOST_REQUIRE(store->first_segment() == 1u);
    BOOST_REQUIRE(store->active_segment() == 14u);
    copy_dir(log.dir, log.before);
    log.bytes_before = store->log_bytes();
    BOOST_REQUIRE(log.bytes_before == segment_bytes_in(log.dir));
    write(*store, compaction(CompactedLog::kCompactBelow));
    log.model.apply(compaction(CompactedLog::kCompactBelow));
    // Deleted as soon as the compaction is durable, not at the next open (in the background:
    // dropped from the store at once, the files once the reaper got to them).
    BOOST_TEST(store->first_segment() == CompactedLog::kFirstKept);
    store->wait_for_deletions();
    BOOST_TEST(!fs::exists(seg(log.dir, CompactedLog::kFirstKept - 1)));
    BOOST_TEST(store->log_bytes() == segment_bytes_in(log.dir));
    return log;
}

}  // namespace

BOOST_AUTO_TEST_CASE(compaction_drops_records_below_the_point_at_replay) {
    test::TempDir tmp("ballot-log-store");
    Model model;
    {
        auto store = open_ok(tmp.path.string(), checked_options());
        std::vector<Ready> batches(4);
        batches[0].metadata = meta(HardState{1, 1, 0});
        for (Index i = 1; i <= 10; ++i) batches[0].records.push_back(entry(i, 1, "v" + std::to_string(i)));
        batches[1].compact_below = 6;
        // A record below the point written later is below the floor too; a truncation after it
        // still works above it.
        batches[2].records = {entry(3, 1, "late"), entry(11, 1, "eleven")};
        batches[3].truncate_from = 10;
        batches[3].records = {entry(10, 2, "ten-b")};
        for (const Ready& b : batches) {
            write(*store, b);
            model.apply(b);
        }
        BOOST_TEST(store->compacted_below() == 6u);
        BOOST_TEST(store->active_segment() == 1u);  // nothing to delete: one segment, the active one
    }
    RecoveredState state;
    auto store = open_ok(tmp.path.string(), checked_options(), &state);
    BOOST_TEST(hard_state_of(state) == (HardState{1, 1, 0}));
    BOOST_TEST(state.records == model.list(), boost::test_tools::per_element());
    BOOST_REQUIRE(!state.records.empty());
    BOOST_TEST(state.records.front().index == 6u);
    BOOST_TEST(store->compacted_below() == 6u);
}

BOOST_AUTO_TEST_CASE(compacted_segments_are_deleted_oldest_first_and_the_rest_replays) {
    test::TempDir tmp("ballot-log-store");
    CompactedLog log = make_compacted_log(tmp);
    std::uint64_t sequence = 0;
    {
        RecoveredState state;
        auto store = open_ok(log.dir, small_segments(), &state);
        std::vector<std::uint64_t> expected;
        for (std::uint64_t n = CompactedLog::kFirstKept; n <= store->active_segment(); ++n)
            expected.push_back(n);
        BOOST_TEST(segments_in(log.dir) == expected, boost::test_tools::per_element());
        BOOST_TEST(store->first_segment() == CompactedLog::kFirstKept);
        BOOST_TEST(store->log_bytes() == segment_bytes_in(log.dir));
        BOOST_TEST(store->log_bytes() < log.bytes_before / 2);
        BOOST_TEST(state.records == log.model.list(), boost::test_tools::per_element());
        BOOST_TEST(state.records.front().index == CompactedLog::kCompactBelow);
        BOOST_TEST(store->compacted_below() == CompactedLog::kCompactBelow);
        sequence = store->durable_sequence();
        // The log goes on from where it was: sequences run on, segments keep their numbers.
        Ready more = entries_batch({entry(41, 2, "more")});
        write(*store, more);
        log.model.apply(more);
        BOOST_TEST(store->durable_sequence() == sequence + 1);
    }
    RecoveredState state;
    auto store = open_ok(log.dir, small_segments(), &state);
    BOOST_TEST(state.records == log.model.list(), boost::test_tools::per_element());
    BOOST_TEST(store->durable_sequence() == sequence + 1);
}

BOOST_AUTO_TEST_CASE(deleted_in_the_background_the_same_segments_go_and_the_rest_replays) {
    test::TempDir tmp("ballot-log-store");
    LogStoreOptions background = small_segments();
    background.delete_in_background = true;
    CompactedLog log = make_compacted_log(tmp, background);
    std::vector<std::uint64_t> expected;
    {
        RecoveredState state;
        auto store = open_ok(log.dir, background, &state);
        for (std::uint64_t n = CompactedLog::kFirstKept; n <= store->active_segment(); ++n) expected.push_back(n);
        BOOST_TEST(segments_in(log.dir) == expected, boost::test_tools::per_element());
        BOOST_TEST(hard_state_of(state) == (HardState{7, 2, 0}));  // carried out of segment 1
        BOOST_TEST(state.records == log.model.list(), boost::test_tools::per_element());
    }
    // A store closed right after a compaction deletes what it queued before it closes.
    {
        auto store = open_ok(log.dir, background);
        for (Index i = 41; i <= 52; ++i) {
            Ready b = entries_batch({entry(i, 1, std::string(100, 'r'))});
            write(*store, b);
            log.model.apply(b);
        }
        write(*store, compaction(45));
        log.model.apply(compaction(45));
        BOOST_TEST(store->first_segment() > CompactedLog::kFirstKept);
        expected.clear();
        for (std::uint64_t n = store->first_segment(); n <= store->active_segment(); ++n) expected.push_back(n);
    }
    BOOST_TEST(segments_in(log.dir) == expected, boost::test_tools::per_element());
    RecoveredState state = recover(log.dir, small_segments());
    BOOST_TEST(state.records == log.model.list(), boost::test_tools::per_element());
    BOOST_TEST(hard_state_of(state) == (HardState{7, 2, 0}));
}

// The reaper renames a segment out of the log before it shrinks and unlinks it
// (common/segment_reaper.h): whatever a crash leaves under the doomed name, cut anywhere, is no
// part of the log, and opening the store deletes it.
BOOST_AUTO_TEST_CASE(a_segment_a_crash_left_half_deleted_is_removed_at_open_and_the_rest_replays) {
    test::TempDir tmp("ballot-log-store");
    CompactedLog log = make_compacted_log(tmp);
    const std::string doomed = seg(log.dir, 1) + kDoomedSuffix;
    std::ofstream(doomed, std::ios::binary) << std::string(1000, '\x5a');  // shrunk mid-record
    const std::vector<std::uint64_t> before = segments_in(log.dir);
    RecoveredState state;
    auto store = open_ok(log.dir, small_segments(), &state);
    BOOST_TEST(!fs::exists(doomed));
    BOOST_TEST(segments_in(log.dir) == before, boost::test_tools::per_element());
    BOOST_TEST(state.records == log.model.list(), boost::test_tools::per_element());
    BOOST_TEST(hard_state_of(state) == (HardState{7, 2, 0}));
}

BOOST_AUTO_TEST_CASE(metadata_survives_the_deletion_of_its_segment) {
    test::TempDir tmp("ballot-log-store");
    CompactedLog log = make_compacted_log(tmp);
    BOOST_REQUIRE(!fs::exists(seg(log.dir, 1)));  // where the only metadata record was written
    RecoveredState state = recover(log.dir, small_segments());
    BOOST_TEST(hard_state_of(state) == (HardState{7, 2, 0}));
}

BOOST_AUTO_TEST_CASE(the_compaction_point_survives_the_deletion_of_its_segment) {
    // The compaction record sits in a segment whose records are all below it: once that segment
    // is no longer the active one, it goes too, and the point must go on living in a later one.
    test::TempDir tmp("ballot-log-store");
    Model model;
    std::uint64_t compaction_segment = 0;
    {
        auto store = open_ok(tmp.path.string(), small_segments());
        for (Index i = 1; i <= 9; ++i) {
            Ready b = entries_batch({entry(i, 1, std::string(100, 'p'))});
            write(*store, b);
            model.apply(b);
        }
        write(*store, compaction(10));
        model.apply(compaction(10));
        compaction_segment = store->active_segment();
        BOOST_TEST(store->first_segment() == compaction_segment);  // all before it deleted
        for (Index i = 10; i <= 20; ++i) {
            Ready b = entries_batch({entry(i, 1, std::string(100, 'p'))});
            write(*store, b);
            model.apply(b);
        }
        BOOST_TEST(store->first_segment() > compaction_segment);
    }
    BOOST_TEST(!fs::exists(seg(tmp.path.string(), compaction_segment)));
    RecoveredState state;
    auto store = open_ok(tmp.path.string(), small_segments(), &state);
    BOOST_TEST(store->compacted_below() == 10u);
    BOOST_TEST(state.records == model.list(), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_crash_between_deletions_leaves_a_dir_that_opens_and_finishes_them) {
    test::TempDir tmp("ballot-log-store");
    CompactedLog log = make_compacted_log(tmp);
    std::string dir = (tmp.path / "crashed").string();
    // A crash after the metadata was carried forward and before deletion k: segments k..9 are
    // still there (they are never written once they are not the active one, so the copies taken
    // before the compaction are what the disk held).
    for (std::uint64_t k = 1; k < CompactedLog::kFirstKept; ++k) {
        BOOST_TEST_CONTEXT("crash before deleting segment " << k) {
            copy_dir(log.dir, dir);
            for (std::uint64_t n = k; n < CompactedLog::kFirstKept; ++n)
                fs::copy_file(seg(log.before, n), seg(dir, n));
            RecoveredState state;
            auto store = open_ok(dir, small_segments(), &state);
            BOOST_TEST(hard_state_of(state) == (HardState{7, 2, 0}));
            BOOST_TEST(state.records == log.model.list(), boost::test_tools::per_element());
            BOOST_TEST(store->first_segment() == CompactedLog::kFirstKept);  // open finished the job
            BOOST_TEST(!fs::exists(seg(dir, k)));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_missing_segment_in_a_compacted_log_refuses_to_start) {
    test::TempDir tmp("ballot-log-store");
    CompactedLog log = make_compacted_log(tmp);
    fs::remove(seg(log.dir, CompactedLog::kFirstKept + 2));
    StoreError e = open_fails(log.dir, small_segments());
    BOOST_TEST(e.kind == StoreError::Kind::corrupt);
    BOOST_TEST(e.path == seg(log.dir, CompactedLog::kFirstKept + 2));
    BOOST_TEST(e.message().find("segment missing") != std::string::npos, e.message());
}

BOOST_AUTO_TEST_CASE(a_missing_prefix_without_a_compaction_refuses_to_start) {
    test::TempDir tmp("ballot-log-store");
    CompactedLog log = make_compacted_log(tmp);
    // The log as it was before the compaction, its first segments gone: nothing explains it.
    for (std::uint64_t n = 1; n <= 3; ++n) fs::remove(seg(log.before, n));
    StoreError e = open_fails(log.before, small_segments());
    BOOST_TEST(e.kind == StoreError::Kind::corrupt);
    BOOST_TEST(e.path == seg(log.before, 1));
    BOOST_TEST(e.message().find("log-0000000001.seg missing") != std::string::npos, e.message());
    BOOST_TEST(e.message().find("log-0000000004.seg") != std::string::npos, e.message());
}

BOOST_AUTO_TEST_CASE(a_compaction_point_never_goes_down) {
    test::TempDir tmp("ballot-log-store");
    std::uint64_t size = 0;
    {
        auto store = open_ok(tmp.path.string(), checked_options());
        Ready b = entries_batch({entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 1, "c"), entry(4, 1, "d")});
        write(*store, b);
        write(*store, compaction(3));
        // An engine asking for less than is already compacted asks for nothing: the store writes
        // the durable point again rather than a log it could not open.
        write(*store, compaction(2));
        BOOST_TEST(store->compacted_below() == 3u);
        size = fs::file_size(seg(tmp.path.string(), 1));
    }
    RecoveredState state;
    auto store = open_ok(tmp.path.string(), checked_options(), &state);
    BOOST_TEST(store->compacted_below() == 3u);
    BOOST_TEST(state.records.front().index == 3u);
    store.reset();

    // A lower point after a higher one on disk is corruption: the store never writes it.
    Bytes bytes = read_file(seg(tmp.path.string(), 1));
    BOOST_REQUIRE(bytes.size() == size);
    Bytes payload;
    Writer(payload).u64(2);
    Bytes record = format2_record(segment_salt(bytes), bytes.size(), 7, 4, payload);  // 6 records before
    bytes.insert(bytes.end(), record.begin(), record.end());
    write_file(seg(tmp.path.string(), 1), bytes);
    StoreError e = open_fails(tmp.path.string());
    BOOST_TEST(e.offset == size);
    BOOST_TEST(e.message().find("compaction point 2 after 3") != std::string::npos, e.message());
}

BOOST_AUTO_TEST_CASE(torn_tail_rules_are_unchanged_after_compaction) {
    // Compaction that deletes every segment but the active one: replay then starts at a record
    // whose sequence it cannot check against anything before it.
    test::TempDir tmp("ballot-log-store");
    std::string original = (tmp.path / "original").string();
    Model before_last;
    std::uint64_t last_record_at = 0, first_record_at = 0, size = 0;
    {
        auto store = open_ok(original, small_segments());
        for (Index i = 1; i <= 9; ++i) {
            Ready b = entries_batch({entry(i, 1, std::string(100, 't'))});
            write(*store, b);
            before_last.apply(b);
        }
        BOOST_REQUIRE(store->active_segment() == 3u);
        // Starts segment 4, and lets segments 1..3 go.
        Ready compact_and_more = entries_batch({entry(10, 1, std::string(100, 't'))});
        compact_and_more.compact_below = 10;
        compact_and_more.metadata = meta(HardState{5, 5, 5});
        write(*store, compact_and_more);
        before_last.apply(compact_and_more);
        BOOST_REQUIRE(store->first_segment() == store->active_segment());
        BOOST_REQUIRE(store->first_segment() > 1u);
        last_record_at = fs::file_size(seg(original, store->active_segment()));
        write(*store, entries_batch({entry(11, 1, std::string(50, 'z'))}));
        BOOST_REQUIRE(store->first_segment() == store->active_segment());
        size = fs::file_size(seg(original, store->active_segment()));
        first_record_at = LogStore::kSegmentHeaderBytes;
    }
    std::uint64_t active = segments_in(original).back();
    std::string dir = (tmp.path / "copy").string();
    for (std::uint64_t keep = last_record_at; keep < size; ++keep) {
        BOOST_TEST_CONTEXT("last record cut to " << keep - last_record_at << " bytes") {
            copy_dir(original, dir);
            fs::resize_file(seg(dir, active), keep);
            std::uint64_t torn = 0;
            RecoveredState state = recover(dir, small_segments(), &torn);
            BOOST_TEST(torn == keep - last_record_at);
            BOOST_TEST(hard_state_of(state) == (HardState{5, 5, 5}));
            BOOST_TEST(state.records == before_last.list(), boost::test_tools::per_element());
            BOOST_TEST(fs::file_size(seg(dir, active)) == last_record_at);
        }
    }
    // Damage to the first record, with valid ones after it, is still corruption.
    copy_dir(original, dir);
    Bytes bytes = read_file(seg(dir, active));
    bytes[first_record_at + LogStore::kRecordHeaderBytes] ^= 1;
    write_file(seg(dir, active), bytes);
    StoreError e = open_fails(dir, small_segments());
    BOOST_TEST(e.path == seg(dir, active));
    BOOST_TEST(e.offset == first_record_at);
}

BOOST_AUTO_TEST_CASE(random_batches_with_compaction_match_the_model_and_stay_bounded_on_disk) {
    test::TempDir tmp("ballot-log-store");
    std::string dir = tmp.path.string();
    LogStore::Options options;
    options.segment_bytes = 2048;
    Model model;
    Rng rng(7);
    Index next = 1;
    auto random_batch = [&] {
        Ready b;
        if (rng.chance(1, 4)) b.metadata = meta(HardState{rng.between(1, 100), rng.between(0, 5), next - 1});
        if (next > model.floor + 3 && rng.chance(1, 10)) {
            next = rng.between(std::max(next - 3, model.floor + 1), next - 1);
            b.truncate_from = next;
        }
        // Keep about 20 entries below the head, like snapshot_trailing; now and then a lower point,
        // which must change nothing.
        if (rng.chance(1, 5) && next > 20) b.compact_below = rng.chance(1, 5) ? model.floor / 2 : next - 20;
        for (auto n = rng.between(0, 6); n > 0; --n)
            b.records.push_back(entry(next++, rng.between(1, 9), std::string(rng.between(0, 200), 'v')));
        return b;
    };
    std::uint64_t max_bytes = 0;
    for (int session = 0; session < 4; ++session) {
        BOOST_TEST_CONTEXT("session " << session) {
            RecoveredState state;
            auto store = open_ok(dir, options, &state);
            BOOST_TEST(state.metadata == model.metadata);
            BOOST_TEST(state.records == model.list(), boost::test_tools::per_element());
            for (int i = 0; i < 300; ++i) {
                Ready b = random_batch();
                write(*store, b);
                model.apply(b);
                BOOST_REQUIRE_EQUAL(store->log_bytes(), segment_bytes_in(dir));
                max_bytes = std::max(max_bytes, store->log_bytes());
            }
            BOOST_TEST_MESSAGE("session " << session << ": segments " << store->first_segment() << ".."
                                          << store->active_segment() << ", floor " << model.floor << ", next "
                                          << next << ", max bytes " << max_bytes);
            BOOST_TEST(store->first_segment() > 1u);
        }
    }
    RecoveredState state = recover(dir, options);
    BOOST_TEST(state.metadata == model.metadata);
    BOOST_TEST(state.records == model.list(), boost::test_tools::per_element());
    // ~1200 batches of ~3 records of ~130 bytes went in, over some 300 segments; what stays is
    // the trailing 20 entries or so and what came since the last compaction: a few segments.
    BOOST_TEST(next > 2000u);
    BOOST_TEST(segments_in(dir).front() > 200u);
    BOOST_TEST(max_bytes < 16 * options.segment_bytes);
}

// ---------------------------------------------------------------- lock and failures

BOOST_AUTO_TEST_CASE(a_second_open_of_a_locked_dir_fails_clearly) {
    test::TempDir tmp("ballot-log-store");
    auto first = open_ok(tmp.path.string());
    OpenResult second = LogStore::open(tmp.path.string());
    BOOST_REQUIRE(!second.ok());
    BOOST_TEST(second.error->kind == StoreError::Kind::locked);
    std::string message = second.error->message();
    BOOST_TEST_MESSAGE(message);
    BOOST_TEST(message.find(tmp.path.string()) == 0u);
    BOOST_TEST(message.find("another ballot-server") != std::string::npos);
    first.reset();
    BOOST_TEST(LogStore::open(tmp.path.string()).ok());
}

BOOST_AUTO_TEST_CASE(a_failed_write_fails_every_later_call) {
    test::TempDir tmp("ballot-log-store");
    Model model;
    {
        auto store = open_ok(tmp.path.string());
        Ready first = entries_batch({entry(1, 1, "kept")});
        write(*store, first);
        model.apply(first);

        // A real short write: the file-size limit lets part of the batch in, then EFBIG.
        std::uint64_t size = fs::file_size(seg(tmp.path.string(), 1));
        rlimit saved{};
        BOOST_REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
        auto saved_handler = ::signal(SIGXFSZ, SIG_IGN);
        rlimit limited = saved;
        limited.rlim_cur = size + 100;
        BOOST_REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
        Bytes big;
        LogStore::encode(entries_batch({entry(2, 1, std::string(1000, 'l'))}), big);
        std::error_code failed = store->write_durably(big);
        Bytes small;
        LogStore::encode(entries_batch({entry(2, 1, "s")}), small);
        std::error_code later = store->write_durably(small);  // would fit under the limit
        BOOST_REQUIRE(::setrlimit(RLIMIT_FSIZE, &saved) == 0);
        ::signal(SIGXFSZ, saved_handler);

        BOOST_TEST(failed == std::error_code(EFBIG, std::generic_category()));
        BOOST_TEST(store->failed());
        BOOST_TEST(later == failed);
        BOOST_TEST(store->write_durably(small) == failed);  // with the limit gone, still failed
        BOOST_TEST(fs::file_size(seg(tmp.path.string(), 1)) == size + 100);
    }
    // The partial record is a torn tail: the next start drops it.
    std::uint64_t torn = 0;
    RecoveredState state = recover(tmp.path.string(), {}, &torn);
    BOOST_TEST(torn == 100u);
    BOOST_TEST(state.records == model.list(), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_failed_segment_roll_fails_every_later_call) {
    test::TempDir tmp("ballot-log-store");
    LogStore::Options options;
    options.segment_bytes = 256;
    Model model;
    {
        auto store = open_ok(tmp.path.string(), options);
        Ready first = entries_batch({entry(1, 1, std::string(200, 'r'))});
        write(*store, first);
        model.apply(first);
        // Something already sits where the next segment must go: the roll's O_EXCL create fails.
        fs::create_directory(seg(tmp.path.string(), 2));
        Bytes records;
        LogStore::encode(entries_batch({entry(2, 1, std::string(200, 'r'))}), records);
        std::error_code ec = store->write_durably(records);
        BOOST_TEST(ec == std::error_code(EEXIST, std::generic_category()));
        fs::remove(seg(tmp.path.string(), 2));
        BOOST_TEST(store->write_durably(records) == ec);
    }
    BOOST_TEST(recover(tmp.path.string(), options).records == model.list(), boost::test_tools::per_element());
}

// ---------------------------------------------------------------- FileStorage

BOOST_AUTO_TEST_CASE(file_storage_flushes_via_io_context_and_data_survives) {
    test::TempDir tmp("ballot-log-store");
    Model model;
    {
        boost::asio::io_context io;
        FileStorage storage(io, open_ok(tmp.path.string()));
        std::vector<int> order;
        std::vector<std::error_code> results;

        Ready a;
        a.metadata = meta(HardState{3, 1, 0});
        a.records = {entry(1, 3, "a1"), entry(2, 3, "a2")};
        storage.write(a);
        model.apply(a);
        storage.flush([&](std::error_code ec) {
            order.push_back(1);
            results.push_back(ec);
        });
        // Written while the first flush may be in flight: it rides on the next one.
        Ready b = entries_batch({entry(3, 3, "b")});
        storage.write(b);
        model.apply(b);
        storage.flush([&](std::error_code ec) {
            order.push_back(2);
            results.push_back(ec);
        });
        // A third, defensive: joins the waiting flush if the second has not started yet.
        Ready c;
        c.truncate_from = 3;
        c.records = {entry(3, 4, "c")};
        storage.write(c);
        model.apply(c);
        storage.flush([&](std::error_code ec) {
            order.push_back(3);
            results.push_back(ec);
        });
        // No socket or timer keeps this io_context alive: the flushes themselves must.
        io.run();
        BOOST_TEST(order == (std::vector<int>{1, 2, 3}), boost::test_tools::per_element());
        for (const auto& ec : results) BOOST_TEST(!ec, ec.message());
    }
    RecoveredState state = recover(tmp.path.string());
    BOOST_TEST(hard_state_of(state) == (HardState{3, 1, 0}));
    BOOST_TEST(state.records == model.list(), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(file_storage_close_finishes_the_flush_in_flight) {
    test::TempDir tmp("ballot-log-store");
    boost::asio::io_context io;
    std::optional<std::error_code> result;
    {
        FileStorage storage(io, open_ok(tmp.path.string()));
        storage.write(entries_batch({entry(1, 1, "durable before exit")}));
        storage.flush([&](std::error_code ec) { result = ec; });
        storage.close();  // SIGTERM: finish the fsync in flight, close
        // Closed: the lock is released, and the record is on disk, before io runs at all.
        BOOST_TEST(recover(tmp.path.string()).records ==
                       (std::vector<LogRecord>{entry(1, 1, "durable before exit")}),
                   boost::test_tools::per_element());
        std::optional<std::error_code> late;
        storage.flush([&](std::error_code ec) { late = ec; });
        io.run();
        BOOST_REQUIRE(late.has_value());
        BOOST_TEST(*late == std::make_error_code(std::errc::operation_canceled));
    }
    BOOST_REQUIRE(result.has_value());
    BOOST_TEST(!*result);
}

BOOST_AUTO_TEST_CASE(file_storage_on_the_runtime_thread_flushes_in_turn_with_the_handlers_queued) {
    test::TempDir tmp("ballot-log-store");
    Model model;
    {
        boost::asio::io_context io;
        FileStorage storage(io, open_ok(tmp.path.string()));
        storage.set_flush_on_runtime_thread(true);
        std::vector<std::string> order;
        boost::asio::post(io, [&] { order.push_back("queued before"); });
        Ready a;
        a.metadata = meta(HardState{5, 2, 0});
        a.records = {entry(1, 5, "a")};
        storage.write(a);
        model.apply(a);
        storage.flush([&](std::error_code ec) { order.push_back(ec ? ec.message() : "first"); });
        // Asked for before the first ran: joins it, one write and fdatasync for both.
        Ready b = entries_batch({entry(2, 5, "b")});
        storage.write(b);
        model.apply(b);
        storage.flush([&](std::error_code ec) { order.push_back(ec ? ec.message() : "second"); });
        // Queued after the flush: it finds both durable and answered, on this very thread.
        boost::asio::post(io, [&] {
            order.push_back("queued after, durable through " + std::to_string(storage.durable_sequence()));
        });
        BOOST_TEST(storage.durable_sequence() == 0u);
        io.run();
        BOOST_TEST(order == (std::vector<std::string>{"queued before", "first", "second",
                                                      "queued after, durable through 3"}),
                   boost::test_tools::per_element());
    }
    RecoveredState state = recover(tmp.path.string());
    BOOST_TEST(hard_state_of(state) == (HardState{5, 2, 0}));
    BOOST_TEST(state.records == model.list(), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(file_storage_close_writes_a_flush_waiting_for_the_runtime_thread) {
    test::TempDir tmp("ballot-log-store");
    boost::asio::io_context io;
    std::vector<std::error_code> results;
    {
        FileStorage storage(io, open_ok(tmp.path.string()));
        storage.set_flush_on_runtime_thread(true);
        storage.write(entries_batch({entry(1, 1, "durable before exit")}));
        storage.flush([&](std::error_code ec) { results.push_back(ec); });
        storage.close();  // before io ran the flush's handler
        BOOST_TEST(recover(tmp.path.string()).records ==
                       (std::vector<LogRecord>{entry(1, 1, "durable before exit")}),
                   boost::test_tools::per_element());
    }
    io.run();  // the posted handler outlives the storage: it must find nothing left to do
    BOOST_REQUIRE(results.size() == 1u);
    BOOST_TEST(!results[0]);
}

BOOST_AUTO_TEST_CASE(file_storage_reports_errors_with_errno_and_stays_failed) {
    test::TempDir tmp("ballot-log-store");
    LogStore::Options options;
    options.segment_bytes = 256;
    boost::asio::io_context io;
    FileStorage storage(io, open_ok(tmp.path.string(), options));
    std::vector<std::error_code> results;
    auto done = [&](std::error_code ec) { results.push_back(ec); };

    storage.write(entries_batch({entry(1, 1, std::string(200, 'f'))}));
    storage.flush(done);
    io.run();
    io.restart();
    fs::create_directory(seg(tmp.path.string(), 2));  // the next roll cannot create its segment
    storage.write(entries_batch({entry(2, 1, std::string(200, 'f'))}));
    storage.flush(done);
    io.run();
    io.restart();
    fs::remove(seg(tmp.path.string(), 2));
    storage.write(entries_batch({entry(3, 1, "f")}));
    storage.flush(done);
    io.run();

    BOOST_REQUIRE(results.size() == 3u);
    BOOST_TEST(!results[0]);
    BOOST_TEST(results[1] == std::error_code(EEXIST, std::generic_category()));
    BOOST_TEST(results[2] == results[1]);
}

// ---------------------------------------------------------------- framing: salt and sequence

// A client value may hold anything, including bytes that look exactly like a record. Cut inside
// such a value, the last record is still a torn tail: the scan for "a valid record follows" must
// not take the client's bytes for one. Format 1 fell for it (the record below made the node
// refuse to start); format 2 binds every checksum to the segment's salt and the record's offset.
BOOST_AUTO_TEST_CASE(client_value_holding_well_formed_records_is_still_a_torn_tail) {
    test::TempDir tmp("ballot-log-store");
    std::string dir = tmp.path.string();
    Model before;
    Bytes hard_state_payload;
    Writer(hard_state_payload).u64(7), Writer(hard_state_payload).u64(1), Writer(hard_state_payload).u64(0);
    std::uint64_t last_record_at = 0;
    {
        auto store = open_ok(dir);
        Ready first;
        first.metadata = meta(HardState{2, 1, 0});
        first.records = {entry(1, 1, "alpha")};
        write(*store, first);
        before.apply(first);
        last_record_at = fs::file_size(seg(dir, 1));
        std::uint64_t salt = segment_salt(read_file(seg(dir, 1)));
        // Where the value's bytes will sit in the file: after the record header and the entry's
        // fixed fields. The value is: a format-1 record, then format-2 records forged with every
        // guess a client could make (salt 0, a wrong salt; the right offset and next sequence).
        std::uint64_t value_at = last_record_at + LogStore::kRecordHeaderBytes + kMinEntryBytes;
        Bytes value = format1_record(1, hard_state_payload);
        for (std::uint64_t guess : {std::uint64_t{0}, salt ^ 1}) {
            Bytes forged = format2_record(guess, value_at + value.size(), 3, 1, hard_state_payload);
            value.insert(value.end(), forged.begin(), forged.end());
        }
        value.resize(value.size() + 16, 'z');
        write(*store, entries_batch({entry(2, 1, std::string(value.begin(), value.end()))}));
    }
    std::uint64_t size = fs::file_size(seg(dir, 1));
    // Cut after the embedded records, inside the value's last bytes: a crash mid-write.
    fs::resize_file(seg(dir, 1), size - 8);
    OpenResult r = LogStore::open(dir);
    BOOST_REQUIRE_MESSAGE(r.ok(), (r.error ? r.error->message() : ""));
    BOOST_TEST(r.torn_bytes_dropped == size - 8 - last_record_at);
    BOOST_TEST(r.recovered.metadata == before.metadata);
    BOOST_TEST(r.recovered.records == before.list(), boost::test_tools::per_element());
    BOOST_TEST(fs::file_size(seg(dir, 1)) == last_record_at);
}

BOOST_AUTO_TEST_CASE(records_are_numbered_without_gaps_across_segments_and_reopens) {
    test::TempDir tmp("ballot-log-store");
    LogStore::Options options;
    options.segment_bytes = 512;
    {
        auto store = open_ok(tmp.path.string(), options);
        BOOST_TEST(store->durable_sequence() == 0u);
        for (Index i = 1; i <= 10; ++i) write(*store, entries_batch({entry(i, 1, std::string(100, 's'))}));
        BOOST_TEST(store->durable_sequence() == 10u);
        BOOST_TEST(store->active_segment() >= 3u);
    }
    auto store = open_ok(tmp.path.string(), options);
    BOOST_TEST(store->durable_sequence() == 10u);
    Ready both;
    both.metadata = meta(HardState{3, 1, 2});
    both.records = {entry(11, 3, "x")};
    write(*store, both);
    BOOST_TEST(store->durable_sequence() == 12u);
}

BOOST_AUTO_TEST_CASE(a_record_valid_but_out_of_sequence_refuses_to_start) {
    // E.g. a record replayed from elsewhere in the same segment: its checksum matches, its place
    // in the log does not.
    test::TempDir tmp("ballot-log-store");
    ThreeBatchLog log = make_three_batch_log(tmp.path.string());
    Bytes bytes = read_file(seg(tmp.path.string(), 1));
    Bytes payload;
    Writer(payload).u64(9), Writer(payload).u64(9), Writer(payload).u64(0);
    Bytes record = format2_record(segment_salt(bytes), bytes.size(), 9, 1, payload);  // 6 expected
    bytes.insert(bytes.end(), record.begin(), record.end());
    write_file(seg(tmp.path.string(), 1), bytes);
    StoreError e = open_fails(tmp.path.string());
    BOOST_TEST(e.offset == log.size);
    BOOST_TEST(e.message().find("sequence 9, expected 6") != std::string::npos, e.message());
}

// ---------------------------------------------------------------- FORMAT: which engine owns the dir

BOOST_AUTO_TEST_CASE(a_dir_of_another_engine_is_refused_untouched) {
    test::TempDir tmp("ballot-log-store");
    LogStore::Options raft;
    raft.engine = "raft";
    {
        auto store = open_ok(tmp.path.string(), raft);
        write(*store, entries_batch({entry(1, 2, "raft's")}));
    }
    BOOST_TEST(fs::is_regular_file((tmp.path / "FORMAT").string()));
    fs::remove((tmp.path / "LOCK").string());  // so that "untouched" also means "no LOCK created"
    std::vector<std::string> listing = dir_listing(tmp.path.string());
    Bytes segment = read_file(seg(tmp.path.string(), 1));
    LogStore::Options multipaxos;
    multipaxos.engine = "multipaxos";
    OpenResult r = LogStore::open(tmp.path.string(), multipaxos);
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST(r.error->kind == StoreError::Kind::foreign);
    std::string message = r.error->message();
    BOOST_TEST_MESSAGE(message);
    BOOST_TEST(message.find("engine raft") != std::string::npos);
    BOOST_TEST(message.find("engine multipaxos") != std::string::npos);
    BOOST_TEST(message.find('\n') == std::string::npos);
    BOOST_TEST(dir_listing(tmp.path.string()) == listing, boost::test_tools::per_element());
    BOOST_TEST((read_file(seg(tmp.path.string(), 1)) == segment));
    // Its own engine still opens it.
    BOOST_TEST(recover(tmp.path.string(), raft).records.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_dir_of_format_1_is_refused_by_name) {
    test::TempDir tmp("ballot-log-store");
    Bytes old_header;
    Writer w(old_header);
    for (char c : std::string("BALLOTLG")) w.u8(static_cast<std::uint8_t>(c));
    w.u32(1);
    w.u64(1);
    w.u32(crc32c(old_header));
    write_file(seg(tmp.path.string(), 1), old_header);
    std::vector<std::string> listing = dir_listing(tmp.path.string());
    StoreError e = open_fails(tmp.path.string());
    BOOST_TEST(e.kind == StoreError::Kind::foreign);
    BOOST_TEST_MESSAGE(e.message());
    BOOST_TEST(e.message().find("format 1") != std::string::npos);
    BOOST_TEST(dir_listing(tmp.path.string()) == listing, boost::test_tools::per_element());
}

// Format 2 stored Raft-shaped hard state and entries; this build stores engine-encoded bytes
// (format 3). A format-2 dir of the same engine is refused by its FORMAT file, untouched.
BOOST_AUTO_TEST_CASE(a_dir_of_format_2_is_refused_by_name) {
    test::TempDir tmp("ballot-log-store");
    LogStore::Options raft;
    raft.engine = "raft";
    {
        auto store = open_ok(tmp.path.string(), raft);
        write(*store, entries_batch({entry(1, 1, "x")}));
    }
    // Rewrite FORMAT as format 2 wrote it: magic, version, engine name, CRC32C.
    Bytes format;
    Writer w(format);
    for (char c : std::string("BALLOTFM")) w.u8(static_cast<std::uint8_t>(c));
    w.u32(2);
    w.str("raft");
    w.u32(crc32c(format));
    write_file((tmp.path / "FORMAT").string(), format);
    std::vector<std::string> listing = dir_listing(tmp.path.string());
    Bytes segment = read_file(seg(tmp.path.string(), 1));
    StoreError e = open_fails(tmp.path.string(), raft);
    BOOST_TEST(e.kind == StoreError::Kind::foreign);
    BOOST_TEST_MESSAGE(e.message());
    BOOST_TEST(e.message().find("a data dir of format 2 (engine raft), this build reads format 3") !=
               std::string::npos);
    BOOST_TEST(dir_listing(tmp.path.string()) == listing, boost::test_tools::per_element());
    BOOST_TEST(read_file(seg(tmp.path.string(), 1)) == segment, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_damaged_format_file_is_named) {
    test::TempDir tmp("ballot-log-store");
    open_ok(tmp.path.string());
    Bytes format = read_file((tmp.path / "FORMAT").string());
    format[10] ^= 1;
    write_file((tmp.path / "FORMAT").string(), format);
    StoreError e = open_fails(tmp.path.string());
    BOOST_TEST(e.kind == StoreError::Kind::corrupt);
    BOOST_TEST(e.path == (tmp.path / "FORMAT").string());
}

BOOST_AUTO_TEST_CASE(a_missing_log_is_refused_when_one_is_expected) {
    test::TempDir tmp("ballot-log-store");
    LogStore::Options options;
    options.expect_existing_log = true;
    OpenResult r = LogStore::open(tmp.path.string(), options);
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST(r.error->message().find("the log is missing") != std::string::npos, r.error->message());
    BOOST_TEST(fs::is_empty(tmp.path.string()));  // nothing created: the next start refuses too
    BOOST_TEST(!LogStore::open(tmp.path.string(), options).ok());
}

// ---------------------------------------------------------------- engine-owned bytes

// The runtime passes the engine's codec (EngineTraits::codec): a record its engine cannot decode is
// corruption named by file and offset, and an engine handed such bytes directly refuses them with
// std::invalid_argument rather than crashing.
BOOST_AUTO_TEST_CASE(every_engine_refuses_bytes_it_did_not_write) {
    for (const std::string& engine : engine_names()) {
        BOOST_TEST_CONTEXT(engine) {
            test::TempDir tmp("ballot-log-store");
            LogStore::Options options;
            options.engine = engine;
            options.codec = find_engine(engine)->codec;
            {
                auto store = open_ok(tmp.path.string(), options);
                Ready bad;
                bad.records = {LogRecord{1, Bytes{1, 2, 3}}};  // three bytes: no engine's record
                write(*store, bad);
            }
            StoreError e = open_fails(tmp.path.string(), options);
            BOOST_TEST(e.kind == StoreError::Kind::corrupt);
            BOOST_TEST(e.path == seg(tmp.path.string(), 1));
            BOOST_TEST(e.offset == LogStore::kSegmentHeaderBytes);
            BOOST_TEST(e.message().find("engine log record at index 1 does not decode") != std::string::npos);

            EngineConfig config;
            config.id = 1;
            config.members = {1, 2, 3};
            config.election_timeout_min_ticks = 10;
            config.election_timeout_max_ticks = 20;
            config.heartbeat_ticks = 2;
            BOOST_CHECK_THROW(make_engine(engine, config, RecoveredState{Bytes{1}, {}, {}}),
                              std::invalid_argument);
            BOOST_CHECK_THROW(
                make_engine(engine, config, RecoveredState{{}, {LogRecord{1, Bytes{1, 2, 3}}}, {}}),
                std::invalid_argument);
        }
    }
}
