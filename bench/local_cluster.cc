#include "bench/local_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/cluster_config.h"
#include "engines/registry.h"
#include "kv/resp_client.h"

namespace ballot {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

bool can_bind(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

std::string describe_exit_status(int status) {
    if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("killed by signal ") + std::to_string(WTERMSIG(status));
    return "status " + std::to_string(status);
}

PortRange client_port_range() {
    int ephemeral_low = 32768, ephemeral_high = 60999;  // Linux's default, if /proc does not say
    std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low >> ephemeral_high;
    const int high = ephemeral_low - 1 - static_cast<int>(kPeerPortOffset);
    // A machine whose ephemeral range starts too low for that keeps the range ephemeral ports can
    // take, as before.
    if (high < 19000) return PortRange{20000, 45000};
    return PortRange{16000, high};
}

std::vector<std::uint16_t> pick_free_ports(int count) {
    std::random_device rd;
    std::mt19937 rng(rd());
    const PortRange range = client_port_range();
    std::uniform_int_distribution<int> dist(range.low, range.high);
    std::vector<std::uint16_t> ports;
    for (int attempt = 0; attempt < 10000 && static_cast<int>(ports.size()) < count; ++attempt) {
        auto p = static_cast<std::uint16_t>(dist(rng));
        if (std::find(ports.begin(), ports.end(), p) != ports.end()) continue;
        if (can_bind(p) && can_bind(static_cast<std::uint16_t>(p + 10000))) ports.push_back(p);
    }
    if (static_cast<int>(ports.size()) < count) throw std::runtime_error("no free loopback ports");
    return ports;
}

std::vector<std::uint16_t> consecutive_free_ports(std::uint16_t base, int count) {
    std::vector<std::uint16_t> ports;
    for (int i = 0; i < count; ++i) {
        const int p = base + i;
        const int peer = p + static_cast<int>(kPeerPortOffset);
        if (p > static_cast<int>(kMaxClientPort))
            throw std::runtime_error("--port-base " + std::to_string(base) + ": peer port " +
                                     std::to_string(peer) + " is not a port");
        if (!can_bind(static_cast<std::uint16_t>(p)) || !can_bind(static_cast<std::uint16_t>(peer)))
            throw std::runtime_error("--port-base " + std::to_string(base) + ": loopback port " +
                                     std::to_string(p) + " or its peer port " + std::to_string(peer) +
                                     " is in use");
        ports.push_back(static_cast<std::uint16_t>(p));
    }
    return ports;
}

LocalCluster::LocalCluster(std::string server, std::string protocol, int nodes,
                           std::vector<std::string> extra_args, std::optional<std::uint16_t> port_base)
    : server_(std::move(server)), protocol_(std::move(protocol)), extra_args_(std::move(extra_args)) {
    // Ports first: a constructor that throws leaves no temp dir behind.
    ports_ = port_base ? consecutive_free_ports(*port_base, nodes) : pick_free_ports(nodes);
    char tmpl[] = "/tmp/ballot-e2e-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    root_ = tmpl;
}

LocalCluster::~LocalCluster() {
    for (auto& [id, pid] : pids_) {
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
    }
    std::error_code ignored;
    if (!std::getenv("BALLOT_KEEP_TEST_DIRS")) fs::remove_all(root_, ignored);
}

std::string LocalCluster::data_dir(NodeId id) const {
    return root_ + "/node-" + std::to_string(id);
}
std::string LocalCluster::log_path(NodeId id) const {
    return root_ + "/node-" + std::to_string(id) + ".log";
}

std::string LocalCluster::address(NodeId id) const {
    return "127.0.0.1:" + std::to_string(port(id));
}

std::vector<std::string> LocalCluster::node_args() const {
    std::vector<NodeId> all;
    for (int i = 1; i <= size(); ++i) all.push_back(static_cast<NodeId>(i));
    return node_args(all);
}

std::vector<std::string> LocalCluster::node_args(const std::vector<NodeId>& members) const {
    std::vector<std::string> args;
    for (NodeId id : members) {
        args.push_back("--node");
        args.push_back(address(id) + ":" + std::to_string(id));
    }
    return args;
}

void LocalCluster::start(NodeId id) {
    start_with(id, node_args(), {});
}

void LocalCluster::start_with(NodeId id, const std::vector<std::string>& node_flags,
                              const std::vector<std::string>& more_args) {
    if (running(id)) throw std::logic_error("node already running");
    std::vector<std::string> args = {server_,      "--protocol", protocol_, "--id", std::to_string(id),
                                     "--data-dir", data_dir(id)};
    for (auto& a : node_flags) args.push_back(a);
    for (auto& a : extra_args_) args.push_back(a);
    if (auto own = node_extra_args_.find(id); own != node_extra_args_.end())
        args.insert(args.end(), own->second.begin(), own->second.end());
    for (auto& a : more_args) args.push_back(a);
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        int fd = ::open(log_path(id).c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
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
    pids_[id] = pid;
}

void LocalCluster::start_all() {
    for (int i = 1; i <= size(); ++i) start(static_cast<NodeId>(i));
}

int LocalCluster::signal(NodeId id, int sig) {
    auto it = pids_.find(id);
    if (it == pids_.end()) return 0;
    ::kill(it->second, sig);
    if (sig != SIGKILL && sig != SIGTERM) return 0;
    int status = 0;
    ::waitpid(it->second, &status, 0);
    pids_.erase(it);
    return status;
}

std::optional<int> LocalCluster::wait_exit(NodeId id, std::chrono::milliseconds timeout) {
    auto it = pids_.find(id);
    if (it == pids_.end()) return std::nullopt;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(it->second, &status, WNOHANG) == it->second) {
            pids_.erase(it);
            return status;
        }
        std::this_thread::sleep_for(10ms);
    }
    return std::nullopt;
}

std::optional<int> LocalCluster::reap(NodeId id) {
    auto it = pids_.find(id);
    if (it == pids_.end()) return std::nullopt;
    int status = 0;
    if (::waitpid(it->second, &status, WNOHANG) != it->second) return std::nullopt;
    pids_.erase(it);
    return status;
}

kv::RespValue LocalCluster::command(NodeId id, const std::vector<std::string>& args,
                                    std::chrono::milliseconds timeout) {
    try {
        kv::RespClient client;
        client.set_password(password_);
        client.set_tls(tls_);
        client.connect("127.0.0.1", port(id), timeout);
        client.set_timeout(timeout);
        return client.command(args);
    } catch (const std::exception& e) {
        return kv::RespValue::error_string(std::string("IOERR ") + e.what());
    }
}

std::map<std::string, std::string> LocalCluster::info(NodeId id) {
    std::map<std::string, std::string> out;
    kv::RespValue v = command(id, {"INFO"}, 1000ms);
    if (v.type != kv::RespValue::Type::bulk) return out;
    std::istringstream in(v.str);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto colon = line.find(':');
        if (line.empty() || line[0] == '#' || colon == std::string::npos) continue;
        out[line.substr(0, colon)] = line.substr(colon + 1);
    }
    return out;
}

NodeId LocalCluster::wait_for_leader(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        for (auto& [id, pid] : pids_) {
            auto i = info(id);
            if (i["role"] == "leader") return id;
        }
        std::this_thread::sleep_for(20ms);
    }
    return kNoNode;
}

NodeId LocalCluster::leader_or_first(std::chrono::milliseconds timeout) {
    const EngineTraits* engine = find_engine(protocol_);
    NodeId leader = wait_for_leader(engine && !engine->has_leader ? 1ms : timeout);
    return leader != kNoNode ? leader : 1;
}

NodeId LocalCluster::another_running(NodeId not_this) const {
    for (auto& [id, pid] : pids_)
        if (id != not_this) return id;
    return kNoNode;
}

kv::RespValue LocalCluster::read_eventually(NodeId id, const std::string& key,
                                            std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    kv::RespValue v;
    do {
        v = command(id, {"GET", key});
        if (v.type != kv::RespValue::Type::error) return v;
        std::this_thread::sleep_for(20ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return v;
}

bool LocalCluster::write_until_ok(NodeId id, const std::string& key, const std::string& value,
                                  std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        kv::RespValue v = command(id, {"SET", key, value}, 3000ms);
        if (v.type == kv::RespValue::Type::simple && v.str == "OK") return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

std::string LocalCluster::log_tail(NodeId id, int lines) const {
    std::ifstream in(log_path(id));
    std::vector<std::string> all;
    std::string line;
    while (std::getline(in, line)) all.push_back(line);
    std::string out;
    for (std::size_t i = all.size() > static_cast<std::size_t>(lines) ? all.size() - lines : 0;
         i < all.size(); ++i)
        out += all[i] + "\n";
    return out;
}

std::pair<int, std::string> LocalCluster::run_server(const std::string& server,
                                                     const std::vector<std::string>& args) {
    char tmpl[] = "/tmp/ballot-args-XXXXXX";
    int fd = ::mkstemp(tmpl);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(fd, 2);
        int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, 1);
        std::vector<std::string> full = {server};
        full.insert(full.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : full) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(fd);
    int status = 0;
    // Bounded: a server that did not exit on bad arguments within 10 s is killed.
    for (int i = 0; i < 1000; ++i) {
        if (::waitpid(pid, &status, WNOHANG) == pid) break;
        std::this_thread::sleep_for(10ms);
        if (i == 999) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
        }
    }
    std::ifstream in(tmpl);
    std::stringstream text;
    text << in.rdbuf();
    ::unlink(tmpl);
    return {status, text.str()};
}

}  // namespace ballot
