// A member that comes back with a new data dir is refused; identities survive restarts; a
// damaged IDENTITY or PEERS file is named, never silently replaced.
#define BOOST_TEST_MODULE membership_guard
#include "common/membership_guard.h"

#include "common/crc32c.h"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "tests/support/temp_dir.h"

using namespace ballot;
namespace fs = std::filesystem;

namespace {

void flip_last_byte(const std::string& file) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-1, std::ios::end);
    char c = 0;
    f.read(&c, 1);
    f.seekp(-1, std::ios::end);
    c = static_cast<char>(c ^ 1);
    f.write(&c, 1);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_new_data_dir_keeps_the_identity_it_was_given) {
    test::TempDir d("ballot-guard");
    BOOST_TEST(MembershipGuard(d.path.string(), 42).identity() == 42u);
    BOOST_TEST(MembershipGuard(d.path.string(), 99).identity() == 42u);  // reloaded, not replaced
}

BOOST_AUTO_TEST_CASE(a_peer_is_remembered_and_a_changed_identity_refused_across_restarts) {
    test::TempDir d("ballot-guard");
    {
        MembershipGuard g(d.path.string(), 1);
        BOOST_TEST(!g.admit_and_wait(2, 700).has_value());  // first contact: remembered
        BOOST_TEST(!g.admit_and_wait(2, 700).has_value());  // same data dir: fine
        BOOST_TEST(!g.admit_and_wait(3, 800).has_value());
    }
    MembershipGuard again(d.path.string(), 1);
    auto refusal = again.admit_and_wait(2, 701);  // node 2 lost its data dir
    BOOST_REQUIRE(refusal.has_value());
    BOOST_TEST(refusal->find("node 2") != std::string::npos);
    BOOST_TEST(refusal->find("lost or replaced its state") != std::string::npos);
    BOOST_TEST(!again.admit_and_wait(3, 800).has_value());
}

// A dir created by a start with --join stays a joiner's whatever later starts say; a dir whose
// IDENTITY predates the record (8 bytes of identity) loads with the origin unknown.
BOOST_AUTO_TEST_CASE(identity_records_whether_the_dir_was_created_by_a_join) {
    test::TempDir joined("ballot-guard"), bootstrap("ballot-guard"), old("ballot-guard");
    auto origin = [](const std::string& dir, bool join) -> std::string {
        std::optional<bool> by_join = MembershipGuard(dir, 7, Durability::fsync, join).created_by_join();
        return by_join ? (*by_join ? "join" : "bootstrap") : "unknown";
    };
    BOOST_TEST(origin(joined.path.string(), true) == "join");
    BOOST_TEST(origin(joined.path.string(), false) == "join");
    BOOST_TEST(origin(bootstrap.path.string(), false) == "bootstrap");
    BOOST_TEST(origin(bootstrap.path.string(), true) == "bootstrap");
    {
        MembershipGuard g(old.path.string(), 11);
    }
    // Rewrite IDENTITY as the older format did: magic, crc32c, u64 identity.
    const std::uint8_t body[8] = {11, 0, 0, 0, 0, 0, 0, 0};
    std::ofstream out(old.path / "IDENTITY", std::ios::binary | std::ios::trunc);
    const std::uint32_t magic = 0x44494C42, crc = crc32c(std::span<const std::uint8_t>(body, 8));
    out.write(reinterpret_cast<const char*>(&magic), 4);
    out.write(reinterpret_cast<const char*>(&crc), 4);
    out.write(reinterpret_cast<const char*>(body), 8);
    out.close();
    MembershipGuard g(old.path.string(), 12);
    BOOST_TEST(g.identity() == 11u);
    BOOST_TEST(!g.created_by_join().has_value());
}

// The configuration's identities rule (SPEC "Node identities are part of the configuration"): a
// data dir it does not name for the member is refused, even one never met; one it names replaces
// a remembered identity this node missed the removal of; a member it names none for (bootstrap)
// is remembered on first contact as before.
BOOST_AUTO_TEST_CASE(the_configurations_identities_rule_over_what_was_remembered) {
    test::TempDir d("ballot-guard");
    MembershipGuard g(d.path.string(), 1);
    BOOST_TEST(!g.admit_and_wait(2, 700).has_value());  // a bootstrap member, remembered
    g.follow_configuration({{1, 0}, {2, 0}, {3, 900}});
    auto never_added = g.admit_and_wait(3, 901);
    BOOST_REQUIRE(never_added.has_value());
    BOOST_TEST(never_added->rfind(MembershipGuard::kNotConfigured, 0) == 0, *never_added);
    BOOST_TEST(never_added->find("names data dir 0000000000000384") != std::string::npos, *never_added);
    BOOST_TEST(!g.admit_and_wait(3, 900).has_value());
    BOOST_TEST(g.admit_and_wait(2, 701).has_value());  // no identity configured: remembered rules

    // Node 2 was replaced by data dir 702 while this node was away (it caught up by a snapshot).
    g.follow_configuration({{1, 0}, {2, 702}, {3, 900}});
    BOOST_TEST(!g.admit_and_wait(2, 702).has_value());
    auto old_dir = g.admit_and_wait(2, 700);
    BOOST_REQUIRE(old_dir.has_value());
    BOOST_TEST(old_dir->rfind(MembershipGuard::kNotConfigured, 0) == 0, *old_dir);
    // and the new identity is what is remembered from now on
    g.follow_configuration({{1, 0}, {2, 0}, {3, 900}});
    BOOST_TEST(!g.admit_and_wait(2, 702).has_value());
    BOOST_TEST(g.admit_and_wait(2, 700).has_value());
}

BOOST_AUTO_TEST_CASE(damaged_files_are_named_not_replaced) {
    test::TempDir d("ballot-guard");
    {
        MembershipGuard g(d.path.string(), 5);
        g.admit_and_wait(2, 9);
    }
    flip_last_byte((d.path / "PEERS").string());
    try {
        MembershipGuard g(d.path.string(), 5);
        BOOST_FAIL("a corrupt PEERS file must refuse");
    } catch (const std::runtime_error& e) {
        BOOST_TEST(std::string(e.what()).find("PEERS") != std::string::npos, e.what());
    }
    fs::remove(d.path / "PEERS");
    flip_last_byte((d.path / "IDENTITY").string());
    try {
        MembershipGuard g(d.path.string(), 5);
        BOOST_FAIL("a corrupt IDENTITY file must refuse");
    } catch (const std::runtime_error& e) {
        BOOST_TEST(std::string(e.what()).find("IDENTITY") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_CASE(a_new_data_dir_is_joining_until_marked_and_stays_joined) {
    test::TempDir d("ballot-guard");
    {
        MembershipGuard g(d.path.string(), 3);
        BOOST_TEST(!g.joined());
    }
    {
        MembershipGuard g(d.path.string(), 3);
        BOOST_TEST(!g.joined());  // a crash before every peer met it: still joining
        g.mark_joined();
        BOOST_TEST(g.joined());
    }
    BOOST_TEST(MembershipGuard(d.path.string(), 3).joined());
}

// A restored backup keeps the identity but rolls back votes and promises. A peer remembers the
// node's high-water mark; a new process of that node must start from at least that mark, while
// the process that was admitted may reconnect with whatever it has now.
BOOST_AUTO_TEST_CASE(a_stale_copy_is_refused_by_its_mark_across_restarts) {
    test::TempDir d("ballot-guard");
    {
        MembershipGuard g(d.path.string(), 1);
        BOOST_TEST(!g.admit_and_wait(2, DataDirClaim{700, 11, 4, 5}).has_value());
        g.note_mark(2, 11, 30);  // the peer's mark grew while connected
        g.note_mark(2, 99, 50);  // not from the admitted process: ignored
        BOOST_TEST(g.remembered_mark(2) == 30u);
        BOOST_TEST(
            !g.admit_and_wait(2, DataDirClaim{700, 11, 4, 30}).has_value());  // same process reconnects
        auto stale = g.admit_and_wait(2, DataDirClaim{700, 12, 10, 10});      // restarted from an old copy
        BOOST_REQUIRE(stale.has_value());
        BOOST_TEST(stale->find("stale copy") != std::string::npos, *stale);
        BOOST_TEST(stale->find("mark 30") != std::string::npos, *stale);
        // Writing on its own does not help: what counts is the mark it started from.
        BOOST_TEST(g.admit_and_wait(2, DataDirClaim{700, 12, 10, 500}).has_value());
    }
    MembershipGuard again(d.path.string(), 1);  // the mark was written to PEERS
    BOOST_TEST(again.remembered_mark(2) == 30u);
    BOOST_TEST(again.admit_and_wait(2, DataDirClaim{700, 13, 29, 29}).has_value());
    BOOST_TEST(!again.admit_and_wait(2, DataDirClaim{700, 14, 30, 31}).has_value());  // a real restart
}

BOOST_AUTO_TEST_CASE(a_dir_that_took_part_is_known_by_its_joined_file) {
    test::TempDir d("ballot-guard");
    BOOST_TEST(!MembershipGuard::has_taken_part(d.path.string()));
    {
        MembershipGuard g(d.path.string(), 3);
        g.mark_joined();
    }
    BOOST_TEST(MembershipGuard::has_taken_part(d.path.string()));
}

// A first-seen identity is written by the guard's own writer thread, never by the caller (the
// I/O thread in a node), and the verdict comes only once PEERS holding it is durable.
BOOST_AUTO_TEST_CASE(a_first_seen_identity_is_made_durable_off_the_calling_thread_before_admission) {
    test::TempDir d("ballot-guard");
    MembershipGuard g(d.path.string(), 1);
    std::promise<std::pair<std::thread::id, MembershipGuard::Verdict>> answered;
    g.admit(2, DataDirClaim{700, 11, 4, 5}, [&](MembershipGuard::Verdict v) {
        answered.set_value({std::this_thread::get_id(), std::move(v)});
    });
    auto [thread, verdict] = answered.get_future().get();
    BOOST_TEST(!verdict.has_value());
    BOOST_TEST((thread != std::this_thread::get_id()));
    // Durable by the time it was admitted: a fresh guard on the same dir knows the identity.
    MembershipGuard reread(d.path.string(), 1);
    BOOST_TEST(reread.admit_and_wait(2, 701).has_value());

    // A peer met before is answered at once, on the calling thread.
    std::optional<std::thread::id> known_thread;
    g.admit(2, DataDirClaim{700, 11, 4, 5}, [&](MembershipGuard::Verdict v) {
        BOOST_TEST(!v.has_value());
        known_thread = std::this_thread::get_id();
    });
    BOOST_TEST((known_thread == std::this_thread::get_id()));
}

// A write that fails refuses the newcomer, naming why, and does not remember it: the next
// handshake tries again rather than admitting an identity that was never made durable.
BOOST_AUTO_TEST_CASE(a_failed_write_refuses_the_newcomer_and_a_later_handshake_retries) {
    test::TempDir d("ballot-guard");
    std::string dir = (d.path / "node").string();
    fs::create_directories(dir);
    MembershipGuard g(dir, 1);
    fs::remove_all(dir);  // PEERS cannot be written now (even as root)
    auto refusal = g.admit_and_wait(2, 700);
    BOOST_REQUIRE(refusal.has_value());
    BOOST_TEST(refusal->find("cannot remember node 2 durably") != std::string::npos, *refusal);
    BOOST_TEST(refusal->find("PEERS") != std::string::npos, *refusal);
    BOOST_TEST(g.remembered_mark(2) == 0u);

    fs::create_directories(dir);
    BOOST_TEST(!g.admit_and_wait(2, 700).has_value());
    BOOST_TEST(fs::exists(dir + "/PEERS"));
}

// JOINED is written by the guard's writer thread too; the node takes part only once joined()
// says it is durable. The writer finishes what was asked of it before the guard goes away.
BOOST_AUTO_TEST_CASE(a_requested_join_is_written_by_the_writer_and_survives) {
    test::TempDir d("ballot-guard");
    {
        MembershipGuard g(d.path.string(), 3);
        g.request_join();
        g.request_join();  // asking twice is harmless
    }
    BOOST_TEST(MembershipGuard::has_taken_part(d.path.string()));
    BOOST_TEST(MembershipGuard(d.path.string(), 3).joined());
}
