// The background deletion of compacted log segments (common/segment_reaper.h): in order, a
// missing file is no failure, the first failure is kept and stops further deletion, so what
// stays on disk is still a suffix; a segment is renamed out of the log, shrunk in steps and
// unlinked, and what a crash leaves of one is deleted by remove_doomed_segments.
#define BOOST_TEST_MODULE segment_reaper
#include "common/segment_reaper.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/temp_dir.h"

using namespace ballot;
namespace fs = std::filesystem;

namespace {

// A temporary directory, open (the reaper fsyncs it).
struct Dir {
    test::TempDir temp{"ballot-segment-reaper"};
    const fs::path& path = temp.path;
    int fd = -1;
    Dir() {
        fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        BOOST_REQUIRE(fd >= 0);
    }
    ~Dir() { ::close(fd); }
    std::string file(const std::string& name) {
        std::ofstream(path / name) << "segment";
        return (path / name).string();
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(queued_files_are_deleted_and_a_missing_one_is_no_failure) {
    Dir d;
    const std::string a = d.file("a.seg"), b = d.file("b.seg");
    SegmentReaper reaper(d.fd, Durability::fsync);
    reaper.remove({a, (d.path / "never-there.seg").string(), b});
    reaper.drain();
    BOOST_TEST(!fs::exists(a));
    BOOST_TEST(!fs::exists(b));
    BOOST_TEST(!reaper.error());
}

BOOST_AUTO_TEST_CASE(the_first_failure_is_kept_and_nothing_after_it_is_deleted) {
    Dir d;
    fs::create_directory(d.path / "not-a-file");  // renamed, but cannot be opened for writing
    const std::string blocked = (d.path / "not-a-file").string();
    const std::string later = d.file("later.seg");
    SegmentReaper reaper(d.fd, Durability::fsync);
    reaper.remove({blocked, later});
    reaper.drain();
    BOOST_TEST(reaper.error().value() == EISDIR);
    BOOST_TEST(fs::exists(later));  // the files after a failure stay: still a suffix
}

BOOST_AUTO_TEST_CASE(destroying_the_reaper_deletes_what_it_was_given_first) {
    Dir d;
    std::vector<std::string> files;
    for (int i = 0; i < 50; ++i) files.push_back(d.file("s" + std::to_string(i) + ".seg"));
    {
        SegmentReaper reaper(d.fd, Durability::unsafe_no_fsync);
        reaper.remove(files);
    }
    for (const auto& f : files) BOOST_TEST(!fs::exists(f));
}

BOOST_AUTO_TEST_CASE(a_segment_of_many_shrink_steps_goes_and_leaves_nothing_behind) {
    Dir d;
    const std::string big = (d.path / "big.seg").string();
    {
        // Sparse: the size of several shrink steps without writing them.
        std::ofstream(big) << "x";
        fs::resize_file(big, 3 * SegmentReaper::kShrinkStepBytes + 12345);
    }
    const std::string small = d.file("small.seg");
    SegmentReaper reaper(d.fd, Durability::fsync);
    reaper.remove({big, small});
    reaper.drain();
    BOOST_TEST(!reaper.error());
    std::string left;
    for (const auto& item : fs::directory_iterator(d.path)) left += item.path().filename().string() + " ";
    BOOST_TEST(left.empty(), "left behind: " << left);
}

BOOST_AUTO_TEST_CASE(what_a_crash_left_being_deleted_goes_and_nothing_else) {
    Dir d;
    const std::string doomed = d.file(std::string("log-0000000003.seg") + kDoomedSuffix);
    const std::string live = d.file("log-0000000004.seg");
    const std::string other = d.file("snapshot.deleting.not");  // the suffix must end the name
    BOOST_TEST(!remove_doomed_segments(d.path.string()));
    BOOST_TEST(!fs::exists(doomed));
    BOOST_TEST(fs::exists(live));
    BOOST_TEST(fs::exists(other));
    BOOST_TEST(!remove_doomed_segments((d.path / "no-such-dir").string()));  // nothing to delete
}
