// Golden scenario tests: every tests/golden/testdata/<engine>/*.txt is one test case, named
// <engine>/<file name>, e.g. `golden_test --run_test=raft/figure_8`. Each file is run command by
// command and its output compared with the output checked in beneath each command. With
// BALLOT_REWRITE=1 in the environment the files are rewritten with the actual output instead
// (review the diff with git). See tests/golden/README.md.
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/golden/scenario.h"
#include "tests/golden/script.h"

namespace fs = std::filesystem;
namespace utf = boost::unit_test;
using ballot::golden::Scenario;

namespace {

const fs::path kTestdata = fs::path(BALLOT_SOURCE_DIR) / "tests" / "golden" / "testdata";

bool rewriting() {
    const char* v = std::getenv("BALLOT_REWRITE");
    return v != nullptr && std::string(v) != "0" && std::string(v) != "";
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string indent(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) s += "    " + l + "\n";
    return s;
}

void run_file(const fs::path& path) {
    const std::string text = read_file(path);
    const auto script = ballot::golden::parse_script(text);
    Scenario scenario;
    std::vector<std::vector<std::string>> outputs;
    for (const auto& d : script.directives) outputs.push_back(scenario.run(d.command));
    // The invariants once more at the end, whatever the last command was.
    try {
        if (!script.directives.empty()) scenario.check_invariants();
    } catch (const std::exception& e) {
        BOOST_ERROR(path.string() << ": at the end: " << e.what());
    }
    BOOST_TEST(!scenario.violated(), path.string()
                                         << ": safety or invariant VIOLATION (rewriting never accepts one): "
                                         << scenario.violation());

    const std::string actual = render_script(script, outputs);
    if (actual == text) return;
    if (rewriting()) {
        std::ofstream(path, std::ios::binary) << actual;
        BOOST_TEST_MESSAGE("rewrote " << path.string());
        return;
    }
    // Name every directive whose output changed, with a line diff.
    std::ostringstream report;
    int changed = 0;
    for (std::size_t i = 0; i < script.directives.size(); ++i) {
        const auto& d = script.directives[i];
        std::vector<std::string> got = outputs[i].empty() ? std::vector<std::string>{"ok"} : outputs[i];
        if (got == d.expected) continue;
        if (++changed > 3) continue;
        report << path.string() << ":" << d.line << ": " << d.command << "\n"
               << "  output differs (- expected, + actual):\n"
               << indent(ballot::golden::diff_lines(d.expected, got));
    }
    if (changed > 3) report << "... and " << (changed - 3) << " more commands whose output differs\n";
    if (changed == 0)
        report << "only the layout differs (blank lines, an empty output not written as \"ok\")\n";
    report << "If the new output is right: BALLOT_REWRITE=1 build/tests/golden_test --run_test="
           << path.parent_path().filename().string() << "/" << path.stem().string()
           << ", then review git diff.";
    BOOST_ERROR("\n" << report.str());
}

// One test suite per engine directory, one test case per file, in name order.
bool register_files() {
    if (!fs::is_directory(kTestdata)) {
        std::cerr << "no golden test data at " << kTestdata << "\n";
        return false;
    }
    std::vector<fs::path> engines;
    for (const auto& e : fs::directory_iterator(kTestdata))
        if (e.is_directory()) engines.push_back(e.path());
    std::sort(engines.begin(), engines.end());
    for (const auto& dir : engines) {
        std::vector<fs::path> files;
        for (const auto& f : fs::directory_iterator(dir))
            if (f.is_regular_file() && f.path().extension() == ".txt") files.push_back(f.path());
        std::sort(files.begin(), files.end());
        auto* suite = BOOST_TEST_SUITE(dir.filename().string());
        for (const auto& file : files)
            suite->add(
                utf::make_test_case([file] { run_file(file); }, file.stem().string(), __FILE__, __LINE__));
        utf::framework::master_test_suite().add(suite);
    }
    return true;
}

}  // namespace

int main(int argc, char* argv[]) {
    return utf::unit_test_main(&register_files, argc, argv);
}
