// End-to-end, on real ballot-server processes: the user-facing side of snapshots (SPEC
// "Snapshots and log compaction"): BGSAVE, LASTSAVE, the snapshot fields of INFO, and a backup
// taken with BGSAVE restored into a new cluster with --restore-from (README "Backup and
// restore"). Run for every engine.
#define BOOST_TEST_MODULE snapshot_commands_e2e
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <thread>

#include "bench/local_cluster.h"
#include "common/snapshot_file.h"
#include "engines/registry.h"
#include "kv/kv_commands.h"
#include "kv/kv_store.h"
#include "kv/restore.h"
#include "tests/support/temp_dir.h"

using namespace ballot;
using namespace std::chrono_literals;
namespace bdata = boost::unit_test::data;
namespace fs = std::filesystem;
using Type = kv::RespValue::Type;

namespace {

// Generous liveness bounds: these prove progress, not speed.
constexpr auto kElection = 15s;
constexpr auto kSnapshotBound = 30s;
const std::string kServer = std::string(BALLOT_BIN_DIR) + "/ballot-server";

bool is_decimal(const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

std::int64_t lastsave(LocalCluster& c, NodeId id) {
    kv::RespValue v = c.command(id, {"LASTSAVE"});
    BOOST_REQUIRE_MESSAGE(v.type == Type::integer, "LASTSAVE on n" << id << ": " << v.str);
    return v.integer;
}

// The newest `snapshot-<index>` in a node's snapshot folder, or nullopt.
std::optional<fs::path> newest_snapshot(const std::string& data_dir) {
    const fs::path folder = fs::path(data_dir) / kv::kSnapshotsSubdir;
    std::optional<fs::path> newest;
    Index newest_index = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(folder, ec)) {
        auto index = parse_snapshot_file_name(e.path().filename().string());
        if (index && (!newest || *index > newest_index)) {
            newest = e.path();
            newest_index = *index;
        }
    }
    return newest;
}

}  // namespace

// Holds whatever the snapshot runtime does: the commands exist on every engine, answer in
// Redis's forms, are case-insensitive and arity-checked, and INFO carries every snapshot field.
BOOST_DATA_TEST_CASE(bgsave_lastsave_and_info_answer_on_every_engine, bdata::make(engine_names()), protocol) {
    LocalCluster c(kServer, protocol, 3);
    c.start_all();
    BOOST_REQUIRE_MESSAGE(c.write_until_ok(1, "k", "v", kElection), c.log_tail(1));

    for (NodeId n = 1; n <= 3; ++n) {
        BOOST_TEST_CONTEXT(protocol << " n" << n) {
            auto info = c.info(n);
            for (const char* field :
                 {"snapshot_index", "snapshot_bytes", "snapshot_in_progress", "snapshots_made",
                  "snapshots_installed", "snapshots_sent", "log_first_index"}) {
                BOOST_TEST(is_decimal(info[field]), field << ":" << info[field]);
            }
            BOOST_TEST((info["snapshot_in_progress"] == "0" || info["snapshot_in_progress"] == "1"));

            BOOST_TEST(lastsave(c, n) >= 0);
            BOOST_TEST((c.command(n, {"lastsave"}).type == Type::integer));
            auto arity = c.command(n, {"LASTSAVE", "x"});
            BOOST_TEST((arity.type == Type::error &&
                        arity.str == "ERR wrong number of arguments for 'lastsave' command"),
                       arity.str);
            arity = c.command(n, {"BgSave", "SCHEDULE"});
            BOOST_TEST((arity.type == Type::error &&
                        arity.str == "ERR wrong number of arguments for 'bgsave' command"),
                       arity.str);

            kv::RespValue bgsave = c.command(n, {"bgsave"});
            const bool started = bgsave.type == Type::simple && bgsave.str == "Background saving started";
            const bool refused =
                bgsave.type == Type::error && (bgsave.str == "ERR Background save already in progress" ||
                                               bgsave.str.rfind("ERR nothing to save", 0) == 0 ||
                                               bgsave.str.rfind("ERR Background save not started", 0) == 0);
            BOOST_TEST((started || refused), bgsave.str);
        }
    }
}

// What --restore-from itself does, whatever the runtime then makes of the snapshot: every node of
// a new cluster restored from one file starts normally, with that file (byte for byte) as the
// only snapshot of its fresh data dir, and the cluster serves.
BOOST_DATA_TEST_CASE(every_node_restored_from_one_file_starts_and_serves, bdata::make(engine_names()),
                     protocol) {
    test::TempDir tmp("ballot-backup");
    const fs::path backup = tmp.path / "backup.snap";
    {
        kv::KvStore store;
        for (Index i = 1; i <= 20; ++i)
            store.apply(
                i, Command{0, 0, 0,
                           kv::encode_payload(kv::KvCommand{kv::Op::set, {"k" + std::to_string(i), "v"}})});
        PosixSnapshotDir dir(tmp.path.string());
        std::string error;
        // What the engine keeps with a snapshot (Engine::snapshot_metadata): Raft its last
        // included term as a u64 (raft/persist.h), the Paxos engines nothing.
        Bytes metadata = protocol == "raft" ? Bytes{1, 0, 0, 0, 0, 0, 0, 0} : Bytes{};
        auto writer = SnapshotWriter::start(dir, SnapshotMeta{20, metadata}, error);
        BOOST_REQUIRE_MESSAGE(writer, error);
        BOOST_REQUIRE(writer->append(store.snapshot()).empty());
        BOOST_REQUIRE(writer->commit().empty());
        fs::rename(tmp.path / snapshot_file_name(20), backup);
    }
    {
        LocalCluster c(kServer, protocol, 3, {"--restore-from", backup.string()});
        c.start_all();
        BOOST_REQUIRE_MESSAGE(c.write_until_ok(2, "after-restore", "1", kElection), c.log_tail(2));
        for (NodeId n = 1; n <= 3; ++n) {
            const fs::path restored = fs::path(c.data_dir(n)) / kv::kSnapshotsSubdir / "snapshot-20";
            BOOST_TEST(fs::exists(restored), restored);
            // The same file, except that Raft keeps the new cluster's configuration with it
            // (EngineTraits::metadata_for_new_cluster): never smaller than the backup.
            BOOST_TEST(fs::file_size(restored) >= fs::file_size(backup));
        }
    }
}

// README "Backup and restore", step by step: BGSAVE, wait for LASTSAVE to change, copy the
// newest snapshot file, start a new cluster (fresh data dirs, other ports) with every node
// --restore-from that file: it serves every acknowledged write.
BOOST_DATA_TEST_CASE(a_backup_taken_with_bgsave_builds_a_new_cluster, bdata::make(engine_names()), protocol) {
    test::TempDir tmp("ballot-backup");
    const fs::path backup = tmp.path / "backup.snap";
    const int kKeys = 100;
    Index snapshot_index = 0;
    {
        LocalCluster a(kServer, protocol, 3, {"--snapshot-entries", "0"});  // snapshots only on BGSAVE
        a.start_all();
        BOOST_REQUIRE_MESSAGE(a.write_until_ok(1, "k0", "v0", kElection), a.log_tail(1));
        for (int i = 1; i < kKeys; ++i) {
            auto v = a.command(1, {"SET", "k" + std::to_string(i), "v" + std::to_string(i)});
            BOOST_REQUIRE_MESSAGE(v.type == Type::simple, "SET k" << i << ": " << v.str);
        }
        // A linearizable read through n1: it has applied every acknowledged write before it answers.
        auto last = a.command(1, {"GET", "k" + std::to_string(kKeys - 1)});
        BOOST_REQUIRE((last.type == Type::bulk));

        const std::int64_t before = lastsave(a, 1);
        auto bgsave = a.command(1, {"BGSAVE"});
        BOOST_REQUIRE_MESSAGE((bgsave.type == Type::simple && bgsave.str == "Background saving started"),
                              bgsave.str);
        // LASTSAVE has one-second resolution; the first snapshot moves it from 0 (or an older one).
        const auto deadline = std::chrono::steady_clock::now() + kSnapshotBound;
        while (lastsave(a, 1) == before && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(20ms);  // polling a condition, bounded by the deadline
        BOOST_REQUIRE_MESSAGE(lastsave(a, 1) != before, "LASTSAVE did not change; " << a.log_tail(1));

        auto info = a.info(1);
        BOOST_TEST(info["snapshot_in_progress"] == "0");
        BOOST_TEST(std::stoull(info["snapshots_made"]) >= 1u);
        snapshot_index = std::stoull(info["snapshot_index"]);
        BOOST_TEST(snapshot_index >= static_cast<Index>(kKeys));
        BOOST_TEST(std::stoull(info["snapshot_bytes"]) > 0u);

        auto newest = newest_snapshot(a.data_dir(1));
        BOOST_REQUIRE_MESSAGE(newest, "no snapshot file in " << a.data_dir(1));
        BOOST_TEST(
            (parse_snapshot_file_name(newest->filename().string()) == std::optional<Index>(snapshot_index)));
        fs::copy_file(*newest, backup);
    }  // cluster a is stopped and its dirs removed: only the backup is left

    {
        LocalCluster b(kServer, protocol, 3, {"--restore-from", backup.string()});
        b.start_all();
        for (int i = 0; i < kKeys; ++i) {
            const std::string key = "k" + std::to_string(i);
            kv::RespValue v = b.read_eventually(1 + (i % 3), key, kElection);
            BOOST_TEST((v.type == Type::bulk && v.str == "v" + std::to_string(i)), key << ": " << v.str);
        }
        for (NodeId n = 1; n <= 3; ++n)
            BOOST_TEST(std::stoull(b.info(n)["applied_index"]) >= snapshot_index, "n" << n);
        BOOST_TEST(b.write_until_ok(2, "after-restore", "1", kElection), b.log_tail(2));
    }
}
