// A cluster of real ballot-server processes on loopback, for ballot-bench and the end-to-end
// tests.
//
// Ports are picked free at construction (client port P and peer port P+10000 both bindable);
// data dirs and logs live in a fresh temp dir that is removed at the end. Every process this
// class starts is stopped by PID in the destructor.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/types.h"
#include "kv/resp.h"

namespace boost::asio::ssl {
class context;
}

namespace ballot {

class LocalCluster {
public:
    // `server` is the path of the ballot-server binary. With `port_base`, node i listens for
    // clients on port_base + i - 1 (throws std::runtime_error naming the port if one of those or
    // its peer port is taken); else on random free ports.
    LocalCluster(std::string server, std::string protocol, int nodes,
                 std::vector<std::string> extra_args = {},
                 std::optional<std::uint16_t> port_base = std::nullopt);
    ~LocalCluster();
    LocalCluster(const LocalCluster&) = delete;
    LocalCluster& operator=(const LocalCluster&) = delete;

    const std::string& protocol() const { return protocol_; }
    int size() const { return static_cast<int>(ports_.size()); }
    std::uint16_t port(NodeId id) const { return ports_.at(id - 1); }
    std::string data_dir(NodeId id) const;
    std::string log_path(NodeId id) const;
    std::vector<std::string> node_args() const;  // --node ... for every member
    std::vector<std::string> node_args(const std::vector<NodeId>& members) const;  // ... for these
    std::string address(NodeId id) const;                                          // "127.0.0.1:PORT"
    // Arguments for node `id` alone, after the shared extra args (its own --http address...).
    void set_node_extra_args(NodeId id, std::vector<std::string> args) {
        node_extra_args_[id] = std::move(args);
    }

    void start(NodeId id);
    // Starts node `id` with `node_flags` (node_args(...)) instead of every member's, and
    // `more_args` after the cluster's extra args: a cluster bootstrapped on some of its ports, a
    // node started with --join (SPEC "Membership change").
    void start_with(NodeId id, const std::vector<std::string>& node_flags,
                    const std::vector<std::string>& more_args);
    void start_all();
    bool running(NodeId id) const { return pids_.count(id) > 0; }
    // The node's process id while it runs (for /proc/<pid>/status), else 0.
    pid_t pid(NodeId id) const {
        const auto it = pids_.find(id);
        return it == pids_.end() ? 0 : it->second;
    }
    // Sends `signal`; for SIGKILL/SIGTERM also waits for the process and returns its exit status
    // (as from waitpid), else returns 0.
    int signal(NodeId id, int signal);
    // Waits up to `timeout` for the process to exit by itself; its waitpid status, or nullopt.
    std::optional<int> wait_exit(NodeId id, std::chrono::milliseconds timeout);
    // Without waiting: if the node's process has exited, reaps it and returns its waitpid
    // status; nullopt while it runs (or if it was never started).
    std::optional<int> reap(NodeId id);

    // The password command() (and so every helper below) AUTHs with; for a cluster started
    // with --requirepass-file among the extra args. Empty: none.
    void set_password(std::string password) { password_ = std::move(password); }
    // TLS for command() (common/tls.h, client_tls); for a cluster started with --tls-cert-file.
    void set_tls(std::shared_ptr<boost::asio::ssl::context> tls) { tls_ = std::move(tls); }

    // One command on a fresh connection to node `id`; a connection failure gives an error value
    // whose text starts with "IOERR".
    kv::RespValue command(NodeId id, const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
    // INFO of node `id` as key -> value (empty if unreachable).
    std::map<std::string, std::string> info(NodeId id);
    // Polls INFO until some running node reports role leader (returns it) or `timeout` passes (0).
    NodeId wait_for_leader(std::chrono::milliseconds timeout);
    // The node to fail in a fault test: the leader where there is one (waiting up to `timeout`
    // for it), else node 1 (basic Paxos has no leader, so it does not wait).
    NodeId leader_or_first(std::chrono::milliseconds timeout);
    // A running node other than `not_this`, or 0.
    NodeId another_running(NodeId not_this) const;
    // GET `key` through node `id`, retrying while it answers with an error (electing, catching
    // up) until `timeout` passes; the last answer.
    kv::RespValue read_eventually(NodeId id, const std::string& key, std::chrono::milliseconds timeout);
    // Repeats SET through node `id` until it answers +OK or `timeout` passes.
    bool write_until_ok(NodeId id, const std::string& key, const std::string& value,
                        std::chrono::milliseconds timeout);
    // The last `lines` lines of the node's log (for failure messages).
    std::string log_tail(NodeId id, int lines = 20) const;

    // Runs ballot-server with `args` (not as a member of this cluster) and returns its exit
    // status and stderr; for argument-checking tests.
    static std::pair<int, std::string> run_server(const std::string& server,
                                                  const std::vector<std::string>& args);

private:
    std::string server_;
    std::string protocol_;
    std::vector<std::string> extra_args_;
    std::map<NodeId, std::vector<std::string>> node_extra_args_;
    std::string password_;
    std::shared_ptr<boost::asio::ssl::context> tls_;
    std::string root_;
    std::vector<std::uint16_t> ports_;
    std::map<NodeId, pid_t> pids_;
};

// A waitpid status in words: "exit code 2", "killed by signal 9".
std::string describe_exit_status(int status);

// The client ports tests and the bench pick from (both ends included): from 16000 (the fixed
// ports of the operator-procedures tests lie below, tests/CMakeLists.txt) up to where the peer
// port (P + 10000) would enter Linux's ephemeral range (ip_local_port_range, 32768 by default).
// Every outgoing connection on the machine takes an ephemeral port, so a port picked there can
// be taken between the pick and the server's bind (seen in CI: "Address already in use").
struct PortRange {
    int low = 0;
    int high = 0;
};
PortRange client_port_range();
// Free loopback ports P in client_port_range() such that P and P + 10000 can both be bound now.
std::vector<std::uint16_t> pick_free_ports(int count);
// base, base + 1, ..., base + count - 1, each checked as pick_free_ports checks them.
std::vector<std::uint16_t> consecutive_free_ports(std::uint16_t base, int count);

}  // namespace ballot
