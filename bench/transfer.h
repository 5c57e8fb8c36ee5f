// --transfer-leader-at / --transfer-leader-every / --remove-leader-at: during the measured run the
// leader (found by INFO role:leader) is sent MEMBER TRANSFER naming the next voter, or MEMBER
// REMOVE naming itself (SPEC "Membership change, learners, leadership transfer"), and the bench
// reports what each cost the clients (LeaderChanges in bench/result.h):
//
//   unavailable   the longest a write sent at some moment s, from the command to its reply,
//                 waits for the first success of a write sent at or after s. A transfer pauses
//                 the leader's proposals at once (dissertation §3.10), so the worst s is the
//                 command itself; a removal takes effect when applied, at about its reply, and
//                 the hand-over follows (§4.2.2), so the worst s is there. ("The first success
//                 after the command" would say ~0 ms: writes already in the leader's log still
//                 commit and answer.)
//   window        from the command to the first success of a write sent after its reply.
//   write p99     over the writes in progress at some point of the window (sent before its end,
//                 answered after its start).
//
// The changes run one after the other on the load's fault thread (FaultPlan::change_leader in
// bench/load.h); the analysis is a pure function of the write samples the load thread kept,
// tested without servers or clocks.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "bench/options.h"
#include "bench/result.h"
#include "kv/resp.h"

namespace ballot::bench {

// Fills every change's unavailable_ms, window, write p99 and write count from `samples` (any
// order), and the changes' merged write histogram (write_during_ns).
void analyse_leader_changes(std::vector<WriteSample> samples, LeaderChanges& changes);

// The times of --transfer-leader-every S within a run of `duration_s`: S, 2S, ... while before
// the end.
std::vector<double> every(double period_s, double duration_s);

// How the fault thread reaches node `id` with one command (LocalCluster::command).
using NodeCommand = std::function<kv::RespValue(NodeId id, const std::vector<std::string>& args)>;

// The changes, at `at_s` seconds after `measure_start` each (increasing), on a cluster of nodes
// `ids`; stops early when `*interrupted` is set or the cluster refuses with -ERR (an engine
// without leadership transfer or membership change: the reply is the problem, in its words).
LeaderChanges change_leader(LeaderAction action, const std::vector<double>& at_s,
                            std::chrono::steady_clock::time_point measure_start,
                            const std::vector<NodeId>& ids, const NodeCommand& command,
                            const std::atomic<bool>* interrupted);

}  // namespace ballot::bench
