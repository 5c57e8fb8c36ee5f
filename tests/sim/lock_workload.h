// The lock and lease clients of the simulator (issue 13; README "Locks and leases"): each grants
// itself a lease, keeps it alive every TTL/3 from a second session (as `ballot-client lock` does
// from a second connection), takes one of a few locks or elections with LOCK or ELECT (WAIT 0, or
// queued behind the holder with a WAIT), writes with SET ... FENCE name token while it holds it,
// reads LEADER, and lets go with UNLOCK, RESIGN or LEASE REVOKE. Now and then a holder PAUSES
// (a GC pause, SIGSTOP): it sends nothing, keep-alives included, for 1.5-3 times its TTL, then
// resumes and writes with its old token, which must be refused unless its lease is still alive in
// cluster time (cluster time stands still while no majority applies, so it may be).
//
// Every command goes through the same Driver entry points as the key-value clients, stamped and
// retried with the same stamp on another node until the client gives up; a client that gives up
// on a command does not know what it holds, so it abandons its lease (its locks go when it ends).
// A queued LOCK waits on the node that answered it (ClientGateway::await_waiter), as a client's
// connection does, and gives up when that node crashes or the wait takes too long.
//
// What is checked: the lock invariants on the log (tests/sim/lock_invariants.h), and here, what
// the clients saw: each acknowledged command got the reply of its first application, which lies
// inside the command's real-time interval; a LEADER read answers the holder of some index applied
// during the read. With the checker's log-order model, that is linearizability (the order of the
// log is the linearization).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/random.h"
#include "tests/sim/event_queue.h"
#include "tests/sim/lock_invariants.h"
#include "tests/sim/sim_config.h"
#include "tests/sim/workload.h"

namespace ballot::sim {

struct LockWorkloadStats {
    std::uint64_t commands_ok = 0;
    std::uint64_t commands_given_up = 0;
    std::uint64_t locks_held = 0;  // a client learned it holds a lock (a token)
    std::uint64_t waits = 0;       // ... queued first, then woken with one
    std::uint64_t fenced_ok = 0;   // fenced writes applied
    std::uint64_t pauses = 0;
    std::uint64_t stale_refused = 0;  // fenced writes after a pause, refused
    std::uint64_t stale_applied = 0;  // ... applied: the lease outlived the pause in cluster time
    std::uint64_t leases_lost = 0;    // a client found its lease gone
    std::uint64_t reads_ok = 0;
};

class LockWorkload {
public:
    LockWorkload(const SimConfig& config, EventQueue& queue, ClientGateway& gateway,
                 const LockChecker& checker, Violations& violations);

    void start();
    void stop() { stopped_ = true; }
    // Checks every acknowledged command against its first application. Call at the end of the run.
    void finish();
    // The cluster's report that a command was applied for the first time anywhere.
    void on_first_apply(const Command& command, const std::string& reply);

    const LockWorkloadStats& stats() const { return stats_; }
    std::function<void(const std::string&)> trace;

private:
    // A reply, or nullopt when the client gave up; and the node that answered.
    using Done = std::function<void(const std::optional<std::string>& reply, NodeId node)>;

    // One connection: one request outstanding, stamped, retried with its stamp on another node.
    struct Session {
        std::uint64_t id = 0;
        std::uint64_t next_seq = 1;
        std::uint64_t attempt = 0;  // stale completions and timers are ignored
        bool busy = false;
        Stamp stamp;
        std::string payload;
        std::string what;
        std::uint64_t invoke_us = 0;
        std::uint64_t give_up_at_us = 0;
        NodeId last_node = kNoNode;
        Done done;
    };
    struct Client {
        std::uint64_t number = 0;
        Session main;
        Session keepalive;
        std::uint64_t lease = 0;  // 0: none
        std::uint64_t ttl_ms = 0;
        std::string lock;         // held (token != 0) or being acquired
        std::uint64_t token = 0;  // 0: holds nothing
        bool elected = false;     // holds it by ELECT (let go by RESIGN)
        bool paused = false;
        std::uint64_t lease_generation = 0;  // bumped when the lease is dropped
    };
    struct Acknowledged {
        std::uint64_t invoke_us = 0;
        std::uint64_t complete_us = 0;
        std::string reply;
        std::string what;
    };
    struct FirstApply {
        std::uint64_t at_us = 0;
        std::string reply;
    };

    void next(Client& c);
    void think_then_next(Client& c);
    void grant_lease(Client& c);
    void acquire(Client& c);
    void on_acquire_reply(Client& c, const std::string& reply, NodeId node, std::uint64_t wait_ms);
    void hold(Client& c);
    void fenced_write(Client& c, bool after_pause);
    void read_leader(Client& c);
    void let_go(Client& c);
    void pause(Client& c);
    void keep_alive(Client& c, std::uint64_t generation);
    void drop_lease(Client& c, const char* why);
    void held(Client& c, std::uint64_t token);

    void send(Session& s, const std::vector<std::string>& args, Done done);
    void try_once(Session& s);
    void retry_or_give_up(Session& s, const char* why);
    void settle(Session& s, const std::optional<std::string>& reply, NodeId node);
    NodeId pick_node(NodeId avoid);
    void log(const Client& c, const std::string& what);

    const SimConfig& config_;
    EventQueue& queue_;
    ClientGateway& gateway_;
    const LockChecker& checker_;
    Violations& violations_;
    Rng rng_;  // a stream of its own: seeds without lock clients run as before they existed
    std::vector<Client> clients_;
    std::map<std::pair<std::uint64_t, std::uint64_t>, Acknowledged> acknowledged_;  // (session, seq)
    std::map<std::pair<std::uint64_t, std::uint64_t>, FirstApply> first_apply_;
    bool stopped_ = false;
    LockWorkloadStats stats_;
};

}  // namespace ballot::sim
