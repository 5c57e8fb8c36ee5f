#include "bench/redis_baseline.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "bench/local_cluster.h"
#include "kv/resp_client.h"

namespace ballot::bench {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::optional<std::string> find_redis_server() {
    std::vector<std::string> dirs;
    if (const char* path = std::getenv("PATH")) {
        std::istringstream in(path);
        std::string dir;
        while (std::getline(in, dir, ':'))
            if (!dir.empty()) dirs.push_back(dir);
    }
    dirs.push_back("/usr/bin");
    for (const auto& dir : dirs) {
        const std::string candidate = dir + "/redis-server";
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return std::nullopt;
}

RedisBaseline::RedisBaseline(const std::string& binary, bool fsync) : fsync_(fsync) {
    char tmpl[] = "/tmp/ballot-bench-redis-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    port_ = pick_free_ports(1).front();

    std::vector<std::string> args = {binary,
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--dir",
                                     dir_,
                                     "--daemonize",
                                     "no",
                                     "--save",
                                     "",
                                     "--protected-mode",
                                     "no",
                                     "--appendonly",
                                     fsync_ ? "yes" : "no"};
    if (fsync_) {
        args.push_back("--appendfsync");
        args.push_back("always");
    }
    const std::string log = dir_ + "/redis.log";
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            ::dup2(fd, 1);
            ::dup2(fd, 2);
        }
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
}

RedisBaseline::~RedisBaseline() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
}

std::string RedisBaseline::durability() const {
    return fsync_ ? "AOF with appendfsync always (each write fsync'ed before its reply)"
                  : "no persistence (--save \"\" --appendonly no)";
}

bool RedisBaseline::wait_ready(std::chrono::milliseconds timeout, std::string& error) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            error =
                "redis-server exited (status " + std::to_string(status) + "); its log ends:\n" + log_tail();
            return false;
        }
        try {
            kv::RespClient client;
            client.connect("127.0.0.1", port_, 500ms);
            client.set_timeout(1000ms);
            const auto reply = client.command({"PING"});
            if (reply.type == kv::RespValue::Type::simple && reply.str == "PONG") return true;
        } catch (const std::exception&) {
            // not listening yet
        }
        std::this_thread::sleep_for(50ms);
    }
    error = "redis-server did not answer PING within " + std::to_string(timeout.count()) +
            " ms; its log ends:\n" + log_tail();
    return false;
}

std::string RedisBaseline::log_tail() const {
    std::ifstream in(dir_ + "/redis.log");
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) lines.push_back(line);
    std::string out;
    for (std::size_t i = lines.size() > 10 ? lines.size() - 10 : 0; i < lines.size(); ++i)
        out += lines[i] + "\n";
    return out;
}

}  // namespace ballot::bench
