// Snapshot files (common/snapshot_file.h): round trip, keep-last-two, every corruption and torn
// write refused with the file named, and a crash at every step of making one leaving either the
// old snapshots or the new one, never less. Crash tests run on an in-memory directory that, like
// a real disk, loses what was not fsync'ed (file data) or dir-fsync'ed (names); the rest also
// run on the real file system.
#define BOOST_TEST_MODULE snapshot_file
#include "common/snapshot_file.h"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/random.h"
#include "kv/kv_commands.h"
#include "kv/kv_store.h"
#include "tests/support/temp_dir.h"

using namespace ballot;

namespace {

// A directory as a disk keeps it: file contents are durable up to their last sync(), names (the
// entries created, renamed, removed) up to the last directory sync(). crash() drops the rest,
// keeping with `torn` a random prefix of each file's unsynced bytes. After `ops_left` operations
// every operation fails (the power is out), so a test can stop a write at any step.
class MemDir final : public SnapshotDir {
public:
    struct Inode {
        std::string data;
        std::string synced;
    };

    const std::string& path() const override { return path_; }

    std::error_code list(std::vector<std::string>& names) override {
        if (auto ec = step()) return ec;
        names.clear();
        for (const auto& [name, inode] : live_) names.push_back(name);
        return {};
    }
    std::error_code create(const std::string& name, std::unique_ptr<WritableFile>& out) override {
        if (auto ec = step()) return ec;
        auto inode = std::make_shared<Inode>();
        live_[name] = inode;
        out = std::make_unique<Writable>(*this, inode);
        return {};
    }
    std::error_code open(const std::string& name, std::unique_ptr<ReadableFile>& out) override {
        if (auto ec = step()) return ec;
        auto it = live_.find(name);
        if (it == live_.end()) return std::make_error_code(std::errc::no_such_file_or_directory);
        out = std::make_unique<Readable>(it->second);
        return {};
    }
    std::error_code rename(const std::string& from, const std::string& to) override {
        if (auto ec = step()) return ec;
        auto it = live_.find(from);
        if (it == live_.end()) return std::make_error_code(std::errc::no_such_file_or_directory);
        live_[to] = it->second;
        live_.erase(from);
        return {};
    }
    std::error_code remove(const std::string& name) override {
        if (auto ec = step()) return ec;
        if (live_.erase(name) == 0) return std::make_error_code(std::errc::no_such_file_or_directory);
        return {};
    }
    std::error_code sync() override {
        if (auto ec = step()) return ec;
        if (fail_dir_sync) return std::make_error_code(std::errc::io_error);
        durable_ = live_;
        return {};
    }

    // Power loss and reboot: the power is back on afterwards.
    void crash(Rng* torn) {
        live_ = durable_;
        for (auto& [name, inode] : live_) {
            std::string kept = inode->synced;
            if (torn && inode->data.size() > kept.size() && inode->data.compare(0, kept.size(), kept) == 0) {
                kept =
                    inode->data.substr(0, kept.size() + torn->between(0, inode->data.size() - kept.size()));
            }
            inode->data = inode->synced = kept;
        }
        ops_left = -1;
    }

    std::string& bytes(const std::string& name) { return live_.at(name)->data; }
    bool has(const std::string& name) const { return live_.count(name) != 0; }
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& [name, inode] : live_) out.push_back(name);
        return out;
    }

    long ops_left = -1;  // < 0: no power loss planned
    long ops_done = 0;
    bool fail_dir_sync = false;

private:
    class Writable final : public WritableFile {
    public:
        Writable(MemDir& dir, std::shared_ptr<Inode> inode) : dir_(dir), inode_(std::move(inode)) {}
        std::error_code append(std::span<const std::uint8_t> b) override {
            if (auto ec = dir_.step()) return ec;
            inode_->data.append(reinterpret_cast<const char*>(b.data()), b.size());
            return {};
        }
        std::error_code sync() override {
            if (auto ec = dir_.step()) return ec;
            inode_->synced = inode_->data;
            return {};
        }

    private:
        MemDir& dir_;
        std::shared_ptr<Inode> inode_;
    };
    class Readable final : public ReadableFile {
    public:
        explicit Readable(std::shared_ptr<Inode> inode) : inode_(std::move(inode)) {}
        std::uint64_t size() const override { return inode_->data.size(); }
        std::error_code read(std::uint64_t offset, std::span<std::uint8_t> into, std::size_t& got) override {
            const std::string& d = inode_->data;
            got = offset >= d.size() ? 0 : std::min<std::size_t>(into.size(), d.size() - offset);
            std::copy_n(d.data() + offset, got, reinterpret_cast<char*>(into.data()));
            return {};
        }

    private:
        std::shared_ptr<Inode> inode_;
    };

    std::error_code step() {
        ++ops_done;
        if (ops_left == 0) return std::make_error_code(std::errc::io_error);
        if (ops_left > 0) --ops_left;
        return {};
    }

    std::string path_ = "mem";
    std::map<std::string, std::shared_ptr<Inode>> live_, durable_;
};

Bytes blob(std::string_view s) {
    return Bytes(s.begin(), s.end());
}

std::string payload_for(Index index) {
    std::string out;
    for (Index i = 0; i < index % 7 + 3; ++i)
        out += "payload of " + std::to_string(index) + " part " + std::to_string(i);
    return out;
}

// Writes a snapshot whose payload is payload_for(index), in chunks of `chunk` bytes.
std::string write_snapshot(SnapshotDir& dir, Index index, std::size_t chunk = 5) {
    std::string error;
    auto writer =
        SnapshotWriter::start(dir, SnapshotMeta{index, blob("term " + std::to_string(index))}, error);
    if (!writer) return error;
    const std::string payload = payload_for(index);
    for (std::size_t at = 0; at < payload.size(); at += chunk) {
        if (auto e = writer->append(std::string_view(payload).substr(at, chunk)); !e.empty()) return e;
    }
    return writer->commit();
}

std::string read_payload(SnapshotDir& dir, const std::string& name, std::string& error,
                         std::size_t chunk = 3) {
    auto reader = SnapshotReader::open(dir, name, error);
    if (!reader) return {};
    std::string all, piece;
    while (!reader->done()) {
        if (error = reader->next(chunk, piece); !error.empty()) return {};
        BOOST_TEST(piece.size() <= chunk);
        all += piece;
    }
    return all;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(names)

BOOST_AUTO_TEST_CASE(only_strict_decimal_names_are_snapshots) {
    BOOST_TEST(snapshot_file_name(42) == "snapshot-42");
    BOOST_TEST(snapshot_temp_name(42) == "snapshot-42.tmp");
    BOOST_TEST(*parse_snapshot_file_name("snapshot-0") == 0u);
    BOOST_TEST(*parse_snapshot_file_name("snapshot-18446744073709551615") == 18446744073709551615ull);
    for (const char* bad :
         {"snapshot-", "snapshot-01", "snapshot-1x", "snapshot--1", "snapshot-+1", "snapshot-1.tmp",
          "snapshot-18446744073709551616", "Snapshot-1", "log-0000000001.seg"}) {
        BOOST_TEST(!parse_snapshot_file_name(bad).has_value(), bad);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(in_memory)

BOOST_AUTO_TEST_CASE(round_trip_of_a_kv_snapshot_streamed_in_chunks) {
    kv::KvStore store;
    for (Index i = 1; i <= 500; ++i) {
        kv::KvCommand c{kv::Op::set, {"key" + std::to_string(i % 97), std::string(i % 50, 'x')}};
        store.apply(i, Command{0, 0, 0, kv::encode_payload(c)});
    }
    MemDir dir;
    std::string error;
    const Index index = store.begin_snapshot();
    auto writer = SnapshotWriter::start(dir, SnapshotMeta{index, blob("raft term 7")}, error);
    BOOST_TEST_REQUIRE(writer, error);
    BOOST_TEST(writer->temp_name() == "snapshot-500.tmp");
    for (bool last = false; !last;) {
        SnapshotChunk chunk = store.snapshot_chunk(1000);
        BOOST_TEST_REQUIRE(writer->append(chunk.bytes) == "");
        last = chunk.last;
    }
    BOOST_TEST_REQUIRE(writer->commit() == "");
    BOOST_TEST(dir.names() == std::vector<std::string>{"snapshot-500"});

    SnapshotScan scan = scan_snapshots(dir);
    BOOST_TEST_REQUIRE(scan.latest());
    BOOST_TEST(scan.latest()->name == "snapshot-500");
    BOOST_TEST((scan.latest()->meta == SnapshotMeta{500, blob("raft term 7")}));
    BOOST_TEST(scan.rejected.empty());
    const std::string payload = read_payload(dir, "snapshot-500", error, 777);
    BOOST_TEST_REQUIRE(error == "");
    BOOST_TEST(payload == store.snapshot());
    BOOST_TEST(scan.latest()->payload_bytes == payload.size());
    kv::KvStore restored;
    BOOST_TEST(restored.restore(payload));
    BOOST_TEST(restored.applied_index() == 500u);

    // The same file fed to the store's decoder a piece at a time, as a restart and an install do.
    kv::KvStore decoded;
    std::unique_ptr<SnapshotDecoder> decoder = decoded.snapshot_decoder();
    bool malformed = true;
    BOOST_TEST_REQUIRE(decode_snapshot_file(dir, "snapshot-500", *decoder, &malformed) == "");
    BOOST_TEST(!malformed);
    BOOST_TEST_REQUIRE(decoded.adopt(*decoder));
    BOOST_TEST(decoded.snapshot() == store.snapshot());
}

// decode_snapshot_file: a payload whose checksum fails is an error about the file (the decoder's
// state is never adopted); a sound file whose payload is not a KV snapshot is `malformed`.
BOOST_AUTO_TEST_CASE(decoding_a_file_tells_a_damaged_file_from_a_foreign_payload) {
    MemDir dir;
    BOOST_TEST_REQUIRE(write_snapshot(dir, 9) == "");  // payload_for(9): not a KV snapshot
    kv::KvStore store;
    bool malformed = false;
    std::unique_ptr<SnapshotDecoder> foreign = store.snapshot_decoder();
    std::string error = decode_snapshot_file(dir, "snapshot-9", *foreign, &malformed);
    BOOST_TEST(malformed);
    BOOST_TEST(error.find("snapshot-9: not a state machine snapshot") != std::string::npos, error);
    BOOST_TEST(!store.adopt(*foreign));

    dir.bytes("snapshot-9")[40] ^= 1;
    std::unique_ptr<SnapshotDecoder> damaged = store.snapshot_decoder();
    error = decode_snapshot_file(dir, "snapshot-9", *damaged, &malformed);
    BOOST_TEST(!malformed);
    BOOST_TEST(error.find("checksum") != std::string::npos, error);
}

BOOST_AUTO_TEST_CASE(an_empty_payload_and_empty_metadata_are_valid) {
    MemDir dir;
    std::string error;
    auto writer = SnapshotWriter::start(dir, SnapshotMeta{}, error);
    BOOST_TEST_REQUIRE(writer->commit() == "");
    SnapshotScan scan = scan_snapshots(dir);
    BOOST_TEST_REQUIRE(scan.latest());
    BOOST_TEST(scan.latest()->name == "snapshot-0");
    BOOST_TEST(read_payload(dir, "snapshot-0", error) == "");
    BOOST_TEST(error == "");
}

BOOST_AUTO_TEST_CASE(metadata_over_the_bound_is_refused) {
    MemDir dir;
    std::string error;
    auto writer = SnapshotWriter::start(dir, SnapshotMeta{3, Bytes(kMaxSnapshotMetadata + 1)}, error);
    BOOST_TEST(!writer);
    BOOST_TEST(error.find("snapshot-3.tmp") != std::string::npos, error);
}

BOOST_AUTO_TEST_CASE(the_two_newest_are_kept) {
    MemDir dir;
    for (Index i : {10, 30, 20, 40, 50}) BOOST_TEST_REQUIRE(write_snapshot(dir, i) == "");
    BOOST_TEST((dir.names() == std::vector<std::string>{"snapshot-40", "snapshot-50"}));
    SnapshotScan scan = scan_snapshots(dir);
    BOOST_TEST_REQUIRE(scan.valid.size() == 2u);
    BOOST_TEST(scan.valid[0].name == "snapshot-50");
    BOOST_TEST(scan.valid[1].name == "snapshot-40");
}

// Every single flipped byte of a snapshot file, in its header, payload or footer, is detected and
// reported with the file's name; the older valid snapshot is then the latest.
BOOST_AUTO_TEST_CASE(every_flipped_byte_is_detected_with_the_file_named) {
    MemDir dir;
    BOOST_TEST_REQUIRE(write_snapshot(dir, 5) == "");
    BOOST_TEST_REQUIRE(write_snapshot(dir, 9) == "");
    const std::string good = dir.bytes("snapshot-9");
    for (std::size_t at = 0; at < good.size(); ++at) {
        BOOST_TEST_CONTEXT("byte " << at << " of " << good.size()) {
            dir.bytes("snapshot-9")[at] ^= 0x10;
            SnapshotScan scan = scan_snapshots(dir);
            BOOST_TEST_REQUIRE(scan.rejected.size() == 1u);
            BOOST_TEST(scan.rejected[0].name == "snapshot-9");
            BOOST_TEST(scan.rejected[0].index == 9u);
            BOOST_TEST(scan.rejected[0].why.find("mem/snapshot-9") != std::string::npos,
                       scan.rejected[0].why);
            BOOST_TEST_REQUIRE(scan.latest());
            BOOST_TEST(scan.latest()->name == "snapshot-5");
            dir.bytes("snapshot-9") = good;
        }
    }
    BOOST_TEST(scan_snapshots(dir).rejected.empty());
}

// Every truncation of a snapshot file (a torn write the disk did not report) is refused.
BOOST_AUTO_TEST_CASE(every_truncation_is_refused) {
    MemDir dir;
    BOOST_TEST_REQUIRE(write_snapshot(dir, 9) == "");
    const std::string good = dir.bytes("snapshot-9");
    for (std::size_t n = 0; n < good.size(); ++n) {
        dir.bytes("snapshot-9") = good.substr(0, n);
        SnapshotScan scan = scan_snapshots(dir);
        BOOST_TEST_REQUIRE(scan.rejected.size() == 1u, "length " << n);
        BOOST_TEST(!scan.latest());
    }
    dir.bytes("snapshot-9") = good + "x";
    BOOST_TEST(scan_snapshots(dir).rejected.size() == 1u);
}

// A reader hands out the payload before the checksum can be checked; the mismatch is reported on
// the call that reads the last bytes, so a consumer installs only after a clean end.
BOOST_AUTO_TEST_CASE(a_reader_reports_a_corrupt_payload_at_the_end) {
    MemDir dir;
    BOOST_TEST_REQUIRE(write_snapshot(dir, 9) == "");
    std::string error;
    auto reader = SnapshotReader::open(dir, "snapshot-9", error);
    BOOST_TEST_REQUIRE(reader);
    dir.bytes("snapshot-9")[40] ^= 1;  // in the payload: header and footer were already checked
    std::string piece;
    std::string last_error;
    while (!reader->done() && last_error.empty()) last_error = reader->next(4, piece);
    BOOST_TEST(last_error.find("checksum") != std::string::npos, last_error);
    BOOST_TEST(reader->next(4, piece) != "");  // failed for good
}

// Power loss after every possible number of file operations while snapshot 20 is being made over
// snapshot 10 (torn writes too): afterwards the latest valid snapshot is 10 or 20, complete, and
// nothing is ever reported corrupt; a leftover temporary is listed as such and can be removed.
BOOST_AUTO_TEST_CASE(a_crash_at_every_step_leaves_the_old_snapshot_or_the_new_one) {
    long steps = 0;
    {
        MemDir dir;
        BOOST_TEST_REQUIRE(write_snapshot(dir, 10) == "");
        const long before = dir.ops_done;
        BOOST_TEST_REQUIRE(write_snapshot(dir, 20) == "");
        steps = dir.ops_done - before;
    }
    BOOST_TEST(steps > 5);
    std::map<Index, int> outcomes;
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
        for (long k = 0; k <= steps; ++k) {
            BOOST_TEST_CONTEXT("crash after " << k << " of " << steps << " operations, seed " << seed) {
                MemDir dir;
                BOOST_TEST_REQUIRE(write_snapshot(dir, 10) == "");
                dir.ops_left = k;
                const bool committed = write_snapshot(dir, 20) == "";
                Rng rng(seed * 1000 + static_cast<std::uint64_t>(k));
                dir.crash(&rng);
                SnapshotScan scan = scan_snapshots(dir);
                BOOST_TEST(scan.rejected.empty());
                BOOST_TEST_REQUIRE(scan.latest());
                const Index latest = scan.latest()->meta.last_included_index;
                BOOST_TEST((latest == 10u || latest == 20u));
                if (committed) BOOST_TEST(latest == 20u);  // a successful commit is durable
                ++outcomes[latest];
                std::string error;
                BOOST_TEST(read_payload(dir, scan.latest()->name, error) == payload_for(latest));
                BOOST_TEST(remove_temporaries(dir, scan) == "");
                for (const std::string& name : dir.names())
                    BOOST_TEST(name.find(".tmp") == std::string::npos);
                // And the next snapshot still works after the crash.
                BOOST_TEST(write_snapshot(dir, 30) == "");
                BOOST_TEST(scan_snapshots(dir).latest()->name == "snapshot-30");
            }
        }
    }
    BOOST_TEST(outcomes[10] > 0);  // both outcomes happen: the test reaches both sides of the rename
    BOOST_TEST(outcomes[20] > 0);
}

// The rename done but the directory fsync failed (or the power lost right then): commit says so,
// and after a crash the older snapshot is intact and latest.
BOOST_AUTO_TEST_CASE(a_crash_between_rename_and_directory_fsync_keeps_the_older_snapshot) {
    MemDir dir;
    BOOST_TEST_REQUIRE(write_snapshot(dir, 10) == "");
    dir.fail_dir_sync = true;
    const std::string error = write_snapshot(dir, 20);
    BOOST_TEST(error.find("cannot fsync the directory after writing snapshot-20") != std::string::npos,
               error);
    BOOST_TEST(dir.has("snapshot-20"));  // renamed, not yet durable
    dir.fail_dir_sync = false;
    dir.crash(nullptr);
    BOOST_TEST(!dir.has("snapshot-20"));
    SnapshotScan scan = scan_snapshots(dir);
    BOOST_TEST_REQUIRE(scan.latest());
    BOOST_TEST(scan.latest()->name == "snapshot-10");
    BOOST_TEST(scan.rejected.empty());
}

// Old snapshots are deleted only after the new one is durable: a crash before the deletions are
// durable leaves three valid snapshots, and the next commit trims to two.
BOOST_AUTO_TEST_CASE(a_crash_before_the_deletions_leaves_more_not_fewer) {
    MemDir counting;
    for (Index i : {10, 20}) BOOST_TEST_REQUIRE(write_snapshot(counting, i) == "");
    const long before = counting.ops_done;
    BOOST_TEST_REQUIRE(write_snapshot(counting, 30) == "");
    const long steps = counting.ops_done - before;  // the last one is the fsync after the deletion

    MemDir dir;
    for (Index i : {10, 20}) BOOST_TEST_REQUIRE(write_snapshot(dir, i) == "");
    dir.ops_left = steps - 1;  // the power goes just before that fsync
    BOOST_TEST(write_snapshot(dir, 30) != "");
    dir.crash(nullptr);
    SnapshotScan scan = scan_snapshots(dir);
    BOOST_TEST(scan.valid.size() == 3u);
    BOOST_TEST(scan.latest()->name == "snapshot-30");
    BOOST_TEST_REQUIRE(write_snapshot(dir, 40) == "");
    BOOST_TEST((dir.names() == std::vector<std::string>{"snapshot-30", "snapshot-40"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(posix)

BOOST_AUTO_TEST_CASE(round_trip_keep_last_two_and_corruption_on_a_real_directory) {
    test::TempDir tmp("ballot-snapfile");
    PosixSnapshotDir dir(tmp.path.string());
    for (Index i : {3, 5, 9}) BOOST_TEST_REQUIRE(write_snapshot(dir, i, 64 * 1024) == "");
    std::vector<std::string> names;
    BOOST_TEST_REQUIRE(!dir.list(names));
    std::sort(names.begin(), names.end());
    BOOST_TEST((names == std::vector<std::string>{"snapshot-5", "snapshot-9"}));
    std::string error;
    BOOST_TEST(read_payload(dir, "snapshot-9", error, 10) == payload_for(9));
    BOOST_TEST(error == "");

    // A torn temporary of a later snapshot is listed, never taken for a snapshot.
    const std::string full9 = read_file((tmp.path / "snapshot-9").string());
    write_file((tmp.path / "snapshot-12.tmp").string(), full9.substr(0, full9.size() / 2));
    // A flipped byte in the newest one: refused, named, the older one is the latest.
    std::string flipped = full9;
    flipped[flipped.size() / 2] ^= 0x40;
    write_file((tmp.path / "snapshot-9").string(), flipped);
    write_file((tmp.path / "unrelated-file").string(), "x");
    SnapshotScan scan = scan_snapshots(dir);
    BOOST_TEST(scan.error == "");
    BOOST_TEST((scan.temporaries == std::vector<std::string>{"snapshot-12.tmp"}));
    BOOST_TEST_REQUIRE(scan.rejected.size() == 1u);
    BOOST_TEST(scan.rejected[0].why.find((tmp.path / "snapshot-9").string()) != std::string::npos,
               scan.rejected[0].why);
    BOOST_TEST_REQUIRE(scan.latest());
    BOOST_TEST(scan.latest()->name == "snapshot-5");
    BOOST_TEST((scan.latest()->meta == SnapshotMeta{5, blob("term 5")}));
    BOOST_TEST(remove_temporaries(dir, scan) == "");
    BOOST_TEST(!std::filesystem::exists(tmp.path / "snapshot-12.tmp"));
}

// A payload of several MiB, appended in uneven pieces, crosses the writer's write-behind points
// (every MiB, common/durability.h write_behind) at every offset within a piece; it reads back
// whole, and so does the same file made without fsync.
BOOST_AUTO_TEST_CASE(a_payload_of_several_mib_written_in_uneven_pieces_reads_back_whole) {
    for (Durability durability : {Durability::fsync, Durability::unsafe_no_fsync}) {
        test::TempDir tmp("ballot-snapfile");
        PosixSnapshotDir dir(tmp.path.string(), durability);
        std::string payload;
        Rng random(7);
        while (payload.size() < (5u << 20) + 12345) payload += static_cast<char>('a' + random.between(0, 25));
        std::string error;
        auto writer = SnapshotWriter::start(dir, SnapshotMeta{42, blob("term 3")}, error);
        BOOST_TEST_REQUIRE(writer, error);
        for (std::size_t at = 0; at < payload.size();) {
            const std::size_t piece = random.between(1, 300u << 10);
            BOOST_TEST_REQUIRE(writer->append(std::string_view(payload).substr(at, piece)) == "");
            at += piece;
        }
        BOOST_TEST_REQUIRE(writer->commit() == "");
        BOOST_TEST(read_payload(dir, "snapshot-42", error, 1u << 20) == payload);
        BOOST_TEST(error == "");
    }
}

BOOST_AUTO_TEST_CASE(an_aborted_or_abandoned_writer_leaves_no_temporary) {
    test::TempDir tmp("ballot-snapfile");
    PosixSnapshotDir dir(tmp.path.string());
    std::string error;
    {
        auto writer = SnapshotWriter::start(dir, SnapshotMeta{7, {}}, error);
        BOOST_TEST_REQUIRE(writer);
        BOOST_TEST(writer->append(std::string_view("abc")) == "");
        BOOST_TEST(std::filesystem::exists(tmp.path / "snapshot-7.tmp"));
    }  // destroyed uncommitted
    BOOST_TEST(!std::filesystem::exists(tmp.path / "snapshot-7.tmp"));
    BOOST_TEST(scan_snapshots(dir).valid.empty());
}

BOOST_AUTO_TEST_CASE(a_missing_directory_is_an_error_naming_it) {
    PosixSnapshotDir dir("/nonexistent-ballot-dir");
    SnapshotScan scan = scan_snapshots(dir);
    BOOST_TEST(scan.error.find("/nonexistent-ballot-dir") != std::string::npos, scan.error);
    std::string error;
    BOOST_TEST(!SnapshotWriter::start(dir, SnapshotMeta{1, {}}, error));
    BOOST_TEST(error.find("/nonexistent-ballot-dir/snapshot-1.tmp") != std::string::npos, error);
}

BOOST_AUTO_TEST_SUITE_END()
