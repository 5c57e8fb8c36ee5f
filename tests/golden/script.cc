#include "tests/golden/script.h"

#include <sstream>

namespace ballot::golden {

namespace {

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(line);
    }
    return lines;
}

bool is_commentary(const std::string& line) {
    const auto first = line.find_first_not_of(" \t");
    return first == std::string::npos || line[first] == '#';
}

}  // namespace

Script parse_script(const std::string& text) {
    const std::vector<std::string> lines = split_lines(text);
    Script script;
    std::vector<std::string> pending;  // commentary not yet attached to a directive
    std::size_t i = 0;
    while (i < lines.size()) {
        if (is_commentary(lines[i])) {
            pending.push_back(lines[i++]);
            continue;
        }
        Directive d;
        d.before = std::move(pending);
        pending.clear();
        d.command = lines[i];
        d.line = static_cast<int>(i + 1);
        ++i;
        if (i >= lines.size() || lines[i] != "----")
            throw std::invalid_argument("line " + std::to_string(d.line) + ": command \"" + d.command +
                                        "\" is not followed by a line \"----\"");
        ++i;
        while (i < lines.size() && !lines[i].empty()) d.expected.push_back(lines[i++]);
        script.directives.push_back(std::move(d));
    }
    script.trailing = std::move(pending);
    return script;
}

std::string render_script(const Script& script, const std::vector<std::vector<std::string>>& outputs) {
    std::string out;
    auto line = [&](const std::string& l) {
        out += l;
        out += '\n';
    };
    for (std::size_t i = 0; i < script.directives.size(); ++i) {
        const Directive& d = script.directives[i];
        for (const auto& l : d.before) line(l);
        line(d.command);
        line("----");
        const std::vector<std::string>& o = i < outputs.size() ? outputs[i] : d.expected;
        if (o.empty()) line("ok");
        for (const auto& l : o) line(l);
    }
    for (const auto& l : script.trailing) line(l);
    return out;
}

std::vector<std::string> diff_lines(const std::vector<std::string>& expected,
                                    const std::vector<std::string>& actual) {
    const std::size_t n = expected.size(), m = actual.size();
    // lcs[i][j]: length of the longest common subsequence of expected[i..] and actual[j..].
    std::vector<std::vector<std::size_t>> lcs(n + 1, std::vector<std::size_t>(m + 1, 0));
    for (std::size_t i = n; i-- > 0;)
        for (std::size_t j = m; j-- > 0;)
            lcs[i][j] =
                expected[i] == actual[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    std::vector<std::string> out;
    std::size_t i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && expected[i] == actual[j]) {
            out.push_back("  " + expected[i++]);
            ++j;
        } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
            out.push_back("- " + expected[i++]);
        } else {
            out.push_back("+ " + actual[j++]);
        }
    }
    return out;
}

std::vector<std::string> tokenize(const std::string& command) {
    std::istringstream in(command.substr(0, command.find('#')));
    std::vector<std::string> tokens;
    std::string t;
    while (in >> t) tokens.push_back(t);
    return tokens;
}

}  // namespace ballot::golden
