// --baseline redis: a local single-node redis-server measured with the same workload, as a
// reference row. It is not replicated, so it bounds from above what one machine's loopback,
// RESP parsing and (with AOF fsync always) one fsync per batch of writes cost.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace ballot::bench {

// redis-server from $PATH (or /usr/bin), if installed.
std::optional<std::string> find_redis_server();

class RedisBaseline {
public:
    // Starts `binary` on a free loopback port with its files in a fresh temp dir. `fsync`: AOF
    // on with appendfsync always (each write on disk before its reply, as Ballot's log does);
    // otherwise no persistence at all (no RDB snapshots, no AOF).
    RedisBaseline(const std::string& binary, bool fsync);
    ~RedisBaseline();
    RedisBaseline(const RedisBaseline&) = delete;
    RedisBaseline& operator=(const RedisBaseline&) = delete;

    std::uint16_t port() const { return port_; }
    // What durability it runs with, for the report.
    std::string durability() const;
    // Waits until it answers PING; false (with `error` naming why, log tail included) if it
    // exits or stays silent past `timeout`.
    bool wait_ready(std::chrono::milliseconds timeout, std::string& error);

private:
    std::string log_tail() const;

    bool fsync_;
    std::string dir_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace ballot::bench
