// Restore from a backup (kv/restore.h): a snapshot file made by SnapshotWriter becomes the only
// snapshot of a new data dir, byte for byte and durable; a data dir that exists and is not empty
// is refused untouched; a file that is missing, corrupt, torn or not a KV snapshot is refused,
// named, with nothing created.
#define BOOST_TEST_MODULE restore
#include "kv/restore.h"

#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "kv/kv_commands.h"
#include "kv/kv_store.h"
#include "tests/support/temp_dir.h"

using namespace ballot;
using namespace ballot::kv;
namespace fs = std::filesystem;

namespace {

// A fresh directory under /tmp, removed at the end of the test.
struct TempDir : test::TempDir {
    TempDir() : test::TempDir("ballot-restore") {}
};

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

// The snapshot of the KV state after `writes` SETs: the payload a node's snapshot at index
// `writes` carries.
std::string kv_snapshot_after(int writes) {
    KvStore store;
    for (int i = 1; i <= writes; ++i) {
        const std::string payload = encode_payload(KvCommand{Op::set, {"key" + std::to_string(i), "v"}});
        store.apply(static_cast<Index>(i), Command{0, 0, 0, payload});
    }
    return store.snapshot();
}

// Writes a snapshot file as a node does (SnapshotWriter, in chunks) into `folder`, then renames
// it to `name` (a backup may be called anything). Returns its path.
fs::path make_snapshot(const fs::path& folder, const std::string& name, Index index,
                       const std::string& payload, Bytes engine_metadata = {7, 0, 0, 0, 0, 0, 0, 0}) {
    fs::create_directories(folder);
    PosixSnapshotDir dir(folder.string());
    std::string error;
    auto writer = SnapshotWriter::start(dir, SnapshotMeta{index, std::move(engine_metadata)}, error);
    BOOST_REQUIRE_MESSAGE(writer, error);
    for (std::size_t at = 0; at < payload.size(); at += 1000) {
        BOOST_REQUIRE(writer->append(std::string_view(payload).substr(at, 1000)).empty());
    }
    BOOST_REQUIRE(writer->commit().empty());
    fs::rename(folder / snapshot_file_name(index), folder / name);
    return folder / name;
}

fs::path good_backup(const fs::path& root, int writes = 50) {
    return make_snapshot(root / "backups", "cluster-a.snap", static_cast<Index>(writes),
                         kv_snapshot_after(writes));
}

bool empty_or_absent(const fs::path& dir) {
    return !fs::exists(dir) || (fs::is_directory(dir) && fs::is_empty(dir));
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_backup_becomes_the_only_snapshot_of_a_new_data_dir) {
    TempDir t;
    const fs::path backup = good_backup(t.path);
    const fs::path data = t.path / "new" / "node-1";

    RestoreResult r = restore_data_dir(backup.string(), data.string());
    BOOST_REQUIRE_MESSAGE(r.ok(), r.error);
    BOOST_TEST(r.written.name == "snapshot-50");
    BOOST_TEST(r.written.meta.last_included_index == 50u);

    // Exactly one file, the same bytes, and it reads back as a valid snapshot whose payload
    // restores the same KV state.
    const fs::path snapshots = data / kSnapshotsSubdir;
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(snapshots)) names.push_back(e.path().filename().string());
    BOOST_TEST(names == std::vector<std::string>{"snapshot-50"});
    BOOST_TEST(read_file(snapshots / "snapshot-50") == read_file(backup));
    BOOST_TEST(std::vector<std::string>{"snapshots"} ==
               std::vector<std::string>{fs::directory_iterator(data)->path().filename().string()});

    PosixSnapshotDir dir(snapshots.string());
    SnapshotScan scan = scan_snapshots(dir);
    BOOST_REQUIRE(scan.latest() != nullptr);
    BOOST_TEST(scan.rejected.empty());
    BOOST_TEST((scan.latest()->meta == SnapshotMeta{50, {7, 0, 0, 0, 0, 0, 0, 0}}));
    std::string error, payload, chunk;
    auto reader = SnapshotReader::open(dir, "snapshot-50", error);
    BOOST_REQUIRE_MESSAGE(reader, error);
    while (!reader->done()) {
        BOOST_REQUIRE(reader->next(4096, chunk).empty());
        payload += chunk;
    }
    KvStore restored;
    BOOST_REQUIRE(restored.restore(payload));
    BOOST_TEST(restored.applied_index() == 50u);
    BOOST_TEST(restored.snapshot() == kv_snapshot_after(50));
}

BOOST_AUTO_TEST_CASE(an_existing_empty_data_dir_is_restored_into) {
    TempDir t;
    const fs::path backup = good_backup(t.path);
    fs::create_directories(t.path / "empty");
    RestoreResult r =
        restore_data_dir(backup.string(), (t.path / "empty/").string());  // a trailing slash too
    BOOST_REQUIRE_MESSAGE(r.ok(), r.error);
    BOOST_TEST(fs::exists(t.path / "empty" / kSnapshotsSubdir / "snapshot-50"));
}

BOOST_AUTO_TEST_CASE(a_data_dir_that_is_not_empty_is_refused_untouched) {
    TempDir t;
    const fs::path backup = good_backup(t.path);
    const fs::path data = t.path / "node-1";
    fs::create_directories(data);
    write_file(data / "IDENTITY", "an old member's identity");

    RestoreResult r = restore_data_dir(backup.string(), data.string());
    BOOST_TEST(!r.ok());
    BOOST_TEST((r.status == RestoreResult::Status::data_dir_not_empty));
    BOOST_TEST(r.error.find(data.string()) != std::string::npos, r.error);
    BOOST_TEST(r.error.find("membership guard") != std::string::npos, r.error);
    BOOST_TEST(r.error.find('\n') == std::string::npos);
    BOOST_TEST(!fs::exists(data / kSnapshotsSubdir));
    BOOST_TEST(read_file(data / "IDENTITY") == "an old member's identity");
}

BOOST_AUTO_TEST_CASE(a_data_dir_that_is_a_file_is_refused) {
    TempDir t;
    const fs::path backup = good_backup(t.path);
    write_file(t.path / "file", "x");
    RestoreResult r = restore_data_dir(backup.string(), (t.path / "file").string());
    BOOST_TEST((r.status == RestoreResult::Status::cannot_write));
    BOOST_TEST(r.error.find("not a directory") != std::string::npos, r.error);
    BOOST_TEST(read_file(t.path / "file") == "x");
}

// Each way a backup can be bad: refused with the file named, and no data dir created.
BOOST_AUTO_TEST_CASE(a_bad_file_is_refused_named_and_nothing_is_created) {
    TempDir t;
    const fs::path good = good_backup(t.path);
    const std::string bytes = read_file(good);
    const std::string kv_payload = kv_snapshot_after(50);
    struct Bad {
        std::string name;
        std::function<fs::path()> make;
        std::string words;  // in the error
    };
    const std::vector<Bad> cases = {
        {"missing", [&] { return t.path / "no-such.snap"; }, "no such file"},
        {"a directory", [&] { return t.path / "backups"; }, "not a regular file"},
        {"flipped payload byte",
         [&] {
             std::string b = bytes;
             b[b.size() / 2] ^= 0x20;
             write_file(t.path / "flipped.snap", b);
             return t.path / "flipped.snap";
         },
         "payload checksum mismatch"},
        {"torn (truncated)",
         [&] {
             write_file(t.path / "torn.snap", bytes.substr(0, bytes.size() - 10));
             return t.path / "torn.snap";
         },
         "torn.snap"},
        {"not a snapshot file",
         [&] {
             write_file(t.path / "text.snap", std::string(200, 'x'));
             return t.path / "text.snap";
         },
         "not a snapshot file"},
        {"a valid file whose payload is not a KV snapshot",
         [&] { return make_snapshot(t.path / "other", "other.snap", 50, "hello, not a KV snapshot"); },
         "not a snapshot of the KV store"},
        {"KV data at another index than the header's",
         [&] { return make_snapshot(t.path / "other", "mismatch.snap", 51, kv_payload); },
         "its KV data is at index 50 but its header says 51"},
    };
    for (const Bad& c : cases) {
        BOOST_TEST_CONTEXT(c.name) {
            const fs::path file = c.make();
            const fs::path data = t.path / ("data-" + std::to_string(&c - cases.data()));
            RestoreResult r = restore_data_dir(file.string(), data.string());
            BOOST_TEST((r.status == RestoreResult::Status::bad_file));
            BOOST_TEST(r.error.find(file.filename().string()) != std::string::npos, r.error);
            BOOST_TEST(r.error.find(c.words) != std::string::npos, r.error);
            BOOST_TEST(r.error.find('\n') == std::string::npos);
            BOOST_TEST(!fs::exists(data));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_bad_file_leaves_an_existing_empty_data_dir_empty) {
    TempDir t;
    write_file(t.path / "bad.snap", "BALLOTSN but nothing else");
    fs::create_directories(t.path / "empty");
    RestoreResult r = restore_data_dir((t.path / "bad.snap").string(), (t.path / "empty").string());
    BOOST_TEST((r.status == RestoreResult::Status::bad_file));
    BOOST_TEST(empty_or_absent(t.path / "empty"));
    BOOST_TEST(fs::exists(t.path / "empty"));
}
