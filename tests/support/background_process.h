// A program run in the background for the length of a test (ballot-bench putting load on a
// cluster while the test changes its members). Its stderr goes to a file the test can show; the
// destructor kills it by PID if it is still running.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace ballot::test {

class BackgroundProcess {
public:
    // Starts `program` with `args`; stdout is discarded.
    BackgroundProcess(const std::string& program, const std::vector<std::string>& args);
    ~BackgroundProcess();
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;

    // True until the process has exited (reaps it when it has).
    bool running();
    // Waits up to `timeout` for it to exit; its waitpid status, or nullopt (still running).
    std::optional<int> wait(std::chrono::milliseconds timeout);
    // What it wrote to stderr so far.
    std::string stderr_text() const;

private:
    pid_t pid_ = -1;
    std::optional<int> status_;
    std::string stderr_path_;
};

}  // namespace ballot::test
