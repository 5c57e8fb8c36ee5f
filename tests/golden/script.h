// Golden scenario files: parsing, rewriting and diffing (the cockroachdb/datadriven layout that
// etcd-io/raft's interaction tests use). See tests/golden/README.md for the format.
//
// A file is a sequence of directives. Each is one command line, a line "----", the expected
// output (no blank lines in it), then a blank line. Lines starting with '#' and blank lines
// between directives are kept verbatim: they are the commentary a reader follows.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ballot::golden {

struct Directive {
    std::vector<std::string> before;  // comment and blank lines above the command, verbatim
    std::string command;              // the command line as written (may end in "# comment")
    int line = 0;                     // 1-based line of the command in the file
    std::vector<std::string> expected;
};

struct Script {
    std::vector<Directive> directives;
    std::vector<std::string> trailing;  // comment and blank lines after the last directive
};

// Throws std::invalid_argument naming the line when a command is not followed by "----".
Script parse_script(const std::string& text);

// The file text with every directive's output replaced by `outputs[i]` (an empty output is
// written as "ok", so every directive has at least one output line).
std::string render_script(const Script& script, const std::vector<std::vector<std::string>>& outputs);

// A line diff of `expected` against `actual`: unchanged lines start with "  ", removed with "- ",
// added with "+ " (longest common subsequence).
std::vector<std::string> diff_lines(const std::vector<std::string>& expected,
                                    const std::vector<std::string>& actual);

// The command with its trailing "# comment" removed, split on whitespace.
std::vector<std::string> tokenize(const std::string& command);

}  // namespace ballot::golden
