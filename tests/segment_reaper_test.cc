// The background deletion of compacted log segments (common/segment_reaper.h): in order, a
// missing file is no failure, and the first failure is kept and stops further deletion, so what
// stays on disk is still a suffix.
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
    fs::create_directory(d.path / "not-a-file");  // unlink() refuses a directory
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
