// The simulated clients and the history they record for the linearizability checker.
//
// Each client has one operation outstanding at a time: SET, GET, APPEND or INCR on a few keys, so
// operations conflict often.
//
// Cluster time (issue 13): one operation in `kTimedPercent` is a TTL or lease command instead
// (SET PX/NX/LEASE, PEXPIRE, PERSIST, PTTL, LEASE GRANT/KEEPALIVE/TTL/REVOKE) on keys of their
// own. Their replies depend on cluster time, which the checker's model does not know, so they
// stay out of the history; what covers them is that every replica applies the same log to the
// same state (the applied-log invariant compares each index's reply on every node, and replicas'
// snapshots, which carry the clock, TTLs and leases, are compared byte for byte at equal indexes)
// and that each reply has a shape the command can give. It sends to a random live node, through the same
// Driver entry points the RESP front end uses (Driver::submit with a payload from kv::validate +
// kv::encode_payload; Driver::read, then KvStore::query once the read is safe). A write is stamped like
// ballot-client stamps it (client id, seq, acked_below) and, when an attempt fails (timeout, no quorum, the
// node crashed), retried with the SAME stamp on another node until the client gives up. A write whose client
// never got an answer is indeterminate: it may or may not have taken effect. A failed read changed nothing
// and is not recorded.
//
// Resolving indeterminate writes. Left open, every unanswered write stays a candidate for the
// rest of the history, and the linearizability search grows exponentially with their number. But
// the simulator sees every state machine, so at the end of the run (finish()):
//  - a write no state machine ever applied had no effect on anything a client saw: it is dropped;
//  - a write that was applied took effect at its log position, the first time any node applied
//    it, with the reply that application produced: it becomes an operation that happened at
//    that instant (invoked and completed there) with that reply.
// This adds constraints and never relaxes one, and a correct cluster always satisfies them: put
// each write at the instant its index was first applied anywhere (inside its interval, for a
// write a client saw acknowledged) and each read between the first application of the index it
// read at and of the next one (inside its interval, because a read observes every index applied
// anywhere before it began: the freshness invariant of tests/sim/sim_cluster.h). Indices are
// first applied in order, so that is a linearization. (Left with their real invocation times,
// writes applied only when the cluster healed overlapped everything after them, and the first
// soaks hit the search's step budget.)
// The same record checks acknowledged writes: the reply a client got must be the reply of the
// write's first application, which must come before the acknowledgement (exactly once).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/driver.h"
#include "common/random.h"
#include "tests/sim/event_queue.h"
#include "tests/sim/invariants.h"
#include "tests/sim/linearizability.h"
#include "tests/sim/sim_config.h"

namespace ballot::sim {

// How clients reach the cluster; the simulator implements it.
class ClientGateway {
public:
    virtual ~ClientGateway() = default;
    virtual std::vector<NodeId> up_nodes() const = 0;
    // A write through `node`'s runtime. `done` may never be called (the node crashed).
    virtual void submit(NodeId node, const Stamp& stamp, const std::string& payload, Completion done) = 0;
    // A linearizable read through `node`'s runtime: on ok, `done` gets the state machine's reply
    // to `payload`, queried at the moment the runtime said the read was safe.
    virtual void read(NodeId node, const std::string& payload,
                      std::function<void(const Outcome&, const std::string& reply)> done) = 0;
    // A LOCK or ELECT that `node` answered with KvStore::queued_reply(waiter) waits there, as a
    // client's connection does: `done` gets the waiter's final reply (a token, nil or an error)
    // once that node's state machine resolves it. Never called if the node crashes first.
    virtual void await_waiter(NodeId node, Index waiter, const std::string& name,
                              std::function<void(const std::optional<std::string>& reply)> done) = 0;
};

struct WorkloadStats {
    std::uint64_t writes_ok = 0;
    std::uint64_t writes_indeterminate = 0;
    std::uint64_t reads_ok = 0;
    std::uint64_t reads_failed = 0;
    std::uint64_t retries = 0;
    std::uint64_t indeterminate_applied = 0;  // resolved: took effect at its first application
    std::uint64_t indeterminate_dropped = 0;  // resolved: never applied, no effect
    std::uint64_t timed_ok = 0;               // TTL and lease commands answered (not in the history)
};

class Workload {
public:
    Workload(const SimConfig& config, EventQueue& queue, Rng& rng, ClientGateway& gateway,
             Violations& violations);

    void start();
    // From now on, count the writes acknowledged to each client.
    void begin_liveness();
    bool every_client_acknowledged_since_liveness() const;
    // No new operations; those in flight finish (or are recorded as indeterminate by finish()).
    void stop() { stopped_ = true; }
    // Marks every operation still waiting as indeterminate. Call at the end of the run.
    void finish();

    // The cluster's report that a command was applied for the first time anywhere.
    void on_first_apply(const Command& command, const std::string& reply);

    const std::vector<HistoryOp>& history() const { return history_; }
    const WorkloadStats& stats() const { return stats_; }
    std::uint64_t pending_ops() const;

    // Called with a line per client event when set (BALLOT_SIM_TRACE).
    std::function<void(const std::string&)> trace;

private:
    struct Client {
        std::uint64_t id = 0;
        std::uint64_t next_seq = 1;
        bool busy = false;
        HistoryOp op;
        bool is_write = false;
        std::string payload;
        Stamp stamp;
        std::uint64_t give_up_at_us = 0;
        std::uint64_t attempt = 0;  // attempts of the current op: stale completions are ignored
        NodeId last_node = kNoNode;
        std::uint64_t acked_since_liveness = 0;
        // A TTL or lease command (begin_timed_op): not recorded in the history; its reply is only
        // checked for its shape.
        bool timed = false;
        bool grants_lease = false;
    };

    void schedule_next(Client& c);
    void begin_op(Client& c);
    std::vector<std::string> timed_command(Client& c);
    // Starts the operation whose HistoryOp and arguments begin_op() or a timed op made.
    void invoke(Client& c, HistoryOp op, const std::vector<std::string>& args, bool is_write);
    void check_timed_reply(Client& c, const std::string& reply);
    void try_once(Client& c);
    void on_write_outcome(Client& c, std::uint64_t attempt, const Outcome& outcome);
    void on_read_outcome(Client& c, std::uint64_t attempt, const Outcome& outcome, const std::string& reply);
    void retry_or_give_up(Client& c, const char* why);
    void complete(Client& c, KvResult result);
    void abandon(Client& c, const char* why);
    NodeId pick_node(const Client& c);
    KvResult parse_reply(const HistoryOp& op, const std::string& reply);
    void resolve_indeterminate();
    void log(const Client& c, const std::string& what);

    const SimConfig& config_;
    EventQueue& queue_;
    Rng& rng_;
    ClientGateway& gateway_;
    Violations& violations_;
    std::vector<Client> clients_;
    std::vector<HistoryOp> history_;
    std::vector<std::uint64_t> history_seq_;  // per history op: the write's seq (0 for reads)
    struct FirstApply {
        std::uint64_t stamp = 0;  // on the history's logical clock
        std::uint64_t ms = 0;
        std::string reply;
    };
    std::map<std::pair<std::uint64_t, std::uint64_t>, FirstApply> first_apply_;  // (client, seq)
    std::uint64_t clock_ = 0;  // logical time of history events: strictly increasing
    std::uint64_t next_value_ = 1;
    std::vector<std::int64_t> lease_ids_;  // granted so far (maybe expired or revoked by now)
    bool stopped_ = false;
    bool liveness_ = false;
    std::uint64_t liveness_clock_ = 0;  // history clock when the liveness phase began
    WorkloadStats stats_;
};

}  // namespace ballot::sim
