// ballot-sim: one simulated run you can watch. It runs one engine from a seed in the deterministic
// simulator (tests/sim/simulator.h), under a named scenario (tests/sim/scenarios.h), records a
// window of it (tests/sim/recorder.h) and writes a self-contained HTML space-time diagram
// (tests/sim/diagram.h). The same flags give the same bytes.
//
//   ballot-sim --protocol raft --seed 7 --scenario leader-crash --out run.html
//   ballot-sim --protocol paxos --seed 42 --from-ms 12000 --until-ms 14000 --out seed-42.html
#include <boost/program_options.hpp>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "common/version.h"
#include "engines/registry.h"
#include "tests/sim/diagram.h"
#include "tests/sim/scenarios.h"

namespace po = boost::program_options;
using namespace ballot::sim;

namespace {

// The longest window drawn (a run can be a minute of simulated time; a page of it is unusable).
constexpr std::uint64_t kMaxWindowMs = 120'000;

struct Flags {
    WatchedRun run;
    std::string out;
};

struct Parsed {
    std::optional<Flags> flags;
    std::string help;  // --help's text, when asked
    bool version = false;
    std::string error;
};

// A whole decimal number (program_options would take "-1" as 2^64 - 1).
std::optional<std::uint64_t> whole_number(const std::string& text) {
    if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    return std::stoull(text);
}

std::string join_engines() {
    std::string out;
    for (const std::string& e : ballot::engine_names()) out += (out.empty() ? "" : "|") + e;
    return out;
}

po::options_description describe_flags() {
    po::options_description d("ballot-sim: draw one simulated run as an HTML space-time diagram\n\nOptions");
    d.add_options()("help,h", "this text")("version", "print the version and exit")(
        "protocol", po::value<std::string>(), ("the engine to run: " + join_engines()).c_str())(
        "seed", po::value<std::string>(), "the run's seed (a whole number): the same seed, the same run")(
        "scenario", po::value<std::string>()->default_value("seed"),
        ("what happens in the run: " + scenario_names() + " (--help lists them)").c_str())(
        "from-ms", po::value<std::string>()->default_value("0"), "draw from this simulated time (ms)")(
        "until-ms", po::value<std::string>(),
        "draw until this simulated time (ms; default --from-ms + 2000)")(
        "keep-slow-disks", "slow disks stay slow in the liveness phase (as BALLOT_SIM_KEEP_SLOW_DISKS=1)")(
        "out", po::value<std::string>(), "the HTML file to write");
    return d;
}

std::string help_text() {
    std::ostringstream out;
    out << describe_flags() << "\nScenarios:\n";
    for (const Scenario& s : scenarios()) out << "  " << s.name << ": " << s.summary << "\n";
    return out.str();
}

// The flag's value as a whole number; otherwise `error` says what is wrong.
std::optional<std::uint64_t> number_flag(const po::variables_map& vm, const char* name, std::string& error) {
    const std::string& text = vm[name].as<std::string>();
    auto value = whole_number(text);
    if (!value) error = std::string("--") + name + " wants a whole number, got '" + text + "'";
    return value;
}

// Everything a user can get wrong, with what to do instead.
std::string check(const po::variables_map& vm, Flags& f) {
    for (const char* required : {"protocol", "seed", "out"})
        if (!vm.count(required)) return std::string("--") + required + " is required (see --help)";
    f.run.engine = vm["protocol"].as<std::string>();
    const auto& engines = ballot::engine_names();
    if (std::find(engines.begin(), engines.end(), f.run.engine) == engines.end())
        return "--protocol " + f.run.engine + ": no such engine (" + join_engines() + ")";
    f.run.scenario = vm["scenario"].as<std::string>();
    const Scenario* scenario = find_scenario(f.run.scenario);
    if (!scenario) return "--scenario " + f.run.scenario + ": no such scenario (" + scenario_names() + ")";
    if (std::string why = refuse_engine(*scenario, f.run.engine); !why.empty())
        return "--scenario " + f.run.scenario + ": " + why;
    std::string error;
    auto seed = number_flag(vm, "seed", error);
    auto from = number_flag(vm, "from-ms", error);
    if (!seed || !from) return error;
    f.run.seed = *seed;
    f.run.from_ms = *from;
    f.run.until_ms = *from + 2000;
    if (vm.count("until-ms")) {
        auto until = number_flag(vm, "until-ms", error);
        if (!until) return error;
        f.run.until_ms = *until;
    }
    if (f.run.until_ms <= f.run.from_ms) return "--until-ms must be later than --from-ms";
    if (f.run.until_ms - f.run.from_ms > kMaxWindowMs)
        return "a window of at most " + std::to_string(kMaxWindowMs) +
               " ms can be drawn; narrow --from-ms/--until-ms";
    f.run.keep_slow_disks = vm.count("keep-slow-disks") > 0;
    f.out = vm["out"].as<std::string>();
    if (f.out.empty()) return "--out wants a file name";
    return "";
}

Parsed parse(int argc, char** argv) {
    Parsed p;
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(describe_flags()).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        p.error = std::string(e.what()) + " (see --help)";
        return p;
    }
    if (vm.count("help")) {
        p.help = help_text();
        return p;
    }
    if (vm.count("version")) {
        p.version = true;
        return p;
    }
    Flags f;
    p.error = check(vm, f);
    if (p.error.empty()) p.flags = f;
    return p;
}

}  // namespace

int main(int argc, char** argv) {
    Parsed parsed = parse(argc, argv);
    if (!parsed.help.empty()) {
        std::cout << parsed.help;
        return 0;
    }
    if (parsed.version) {
        std::cout << ballot::version_line("ballot-sim") << "\n";
        return 0;
    }
    if (!parsed.flags) {
        std::cerr << "ballot-sim: " << parsed.error << "\n";
        return 2;
    }
    const Flags& f = *parsed.flags;
    const Recording recording = record_run(f.run);
    std::ofstream out(f.out, std::ios::binary | std::ios::trunc);
    out << render_diagram(recording);
    out.close();
    if (!out) {
        std::cerr << "ballot-sim: cannot write " << f.out << "\n";
        return 1;
    }
    std::cout << "wrote " << f.out << ": " << f.run.engine << " seed " << f.run.seed << ", scenario "
              << f.run.scenario << ", " << (recording.passed ? "passed" : "FAILED") << "; "
              << recording.messages.size() << " messages and " << recording.marks.size()
              << " events drawn from " << f.run.from_ms << " to " << f.run.until_ms << " ms of "
              << recording.end_us / 1000 << " simulated ms\n";
    return 0;
}
