// What ballot-bench measures, each giving one row: an engine on a local cluster it spawns, an
// existing cluster (--node), or the redis-server baseline (--baseline).
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "bench/load.h"
#include "bench/options.h"
#include "bench/result.h"

namespace ballot::bench {

struct BenchContext {
    const Options& options;  // options.server is resolved
    std::function<void(const Progress&)> progress;
    const std::atomic<bool>* interrupted = nullptr;
};

// Starts an options.nodes-node cluster of `protocol` on loopback, waits until it acknowledges a
// write, runs the workload (killing the leader if asked), and stops it. A cluster that does not
// come up gives a row with completed = false and the nodes' last log lines in `failure`.
EngineResult bench_engine(const BenchContext& context, const std::string& protocol);

// Runs the workload against options.existing; the row is labelled from the first node's INFO.
EngineResult bench_existing(const BenchContext& context);

// Starts a local redis-server ("redis": AOF fsync always; "redis-nofsync": no persistence) and
// runs the workload against it.
EngineResult bench_redis(const BenchContext& context, const std::string& baseline);

// The filesystem the spawned clusters keep their data dirs on, e.g. "ext4"; a tmpfs is named
// as such because there fsync costs nothing and the numbers are not those of a durable log.
std::string temp_filesystem();

}  // namespace ballot::bench
