// KV clients against real ballot-server processes that write down what they saw, so that the
// history can be checked for linearizability (tests/sim/linearizability.h) after a run with real
// faults and membership changes.
//
// Each client is a thread with one connection. It runs SET (a value never written before), APPEND
// and GET on a few shared keys, stamping each operation with the steady clock just before it is
// sent and just after its reply arrives. A write answered with an error, or not answered (the
// connection broke, the reply timed out), is recorded as indeterminate: it may have taken effect
// at some point after it was sent, or never. A GET answered with an error is left out (it changed
// nothing and told nothing). After an error the client moves to the next node, as ballot-client
// does, and waits a moment before its next operation.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/sim/linearizability.h"

namespace ballot::test {

class RecordedClients {
public:
    struct Options {
        int clients = 4;
        int keys = 4;
        // The longest one reply may take before the operation counts as unanswered.
        std::chrono::milliseconds reply_timeout{5000};
        std::uint64_t seed = 1;
    };

    // `ports`: the client ports of every node a client may try, in the order they move through.
    RecordedClients(std::vector<std::uint16_t> ports, Options options);
    ~RecordedClients();
    RecordedClients(const RecordedClients&) = delete;
    RecordedClients& operator=(const RecordedClients&) = delete;

    void start();
    // Stops every client after its operation in progress and joins them.
    void stop();

    // GETs every key through the node at `port` until each read is answered (or `timeout` passes,
    // then false) and records the reads: the last word on what survived.
    bool read_every_key(std::uint16_t port, std::chrono::milliseconds timeout);

    // Everything recorded so far; call after stop().
    std::vector<sim::HistoryOp> history() const;

    // Tallies, for messages: writes acknowledged, writes with no outcome, reads answered.
    std::uint64_t acknowledged_writes() const { return acknowledged_writes_; }
    std::uint64_t indeterminate_writes() const { return indeterminate_writes_; }
    std::uint64_t answered_reads() const { return answered_reads_; }

    std::string key(int index) const;

    // The note of the reads read_every_key() records.
    static constexpr const char* kFinalRead = "the final read";

private:
    void run_client(int client);
    void record(sim::HistoryOp op);

    std::vector<std::uint16_t> ports_;
    Options options_;
    std::atomic<bool> stopping_{false};
    std::vector<std::thread> threads_;
    mutable std::mutex mutex_;
    std::vector<sim::HistoryOp> history_;
    std::atomic<std::uint64_t> acknowledged_writes_{0};
    std::atomic<std::uint64_t> indeterminate_writes_{0};
    std::atomic<std::uint64_t> answered_reads_{0};
};

}  // namespace ballot::test
