// Runs the commands of a golden scenario file against an EngineCluster of bare engines and says
// what happened, one line per event, so that the output can be compared with the checked-in
// expected text. The command set is in tests/golden/README.md.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/engine_cluster.h"

namespace ballot::golden {

class Scenario {
public:
    // Runs one command line; returns its output lines. Bad input (an unknown command, a node that
    // does not exist) is reported as an "error: ..." line. A broken safety property or engine
    // invariant is also reported as an "error: ..." line, and additionally sets violated().
    std::vector<std::string> run(const std::string& command_line);

    // Set once a safety property or an invariant was broken: the scenario fails whatever its
    // expected output says, so that rewriting can never bless a violation.
    bool violated() const { return violated_; }
    const std::string& violation() const { return violation_; }

    // The invariants of every up engine; throws std::logic_error naming what is broken.
    void check_invariants();

private:
    using Args = std::vector<std::string>;

    void dispatch(const std::string& verb, const Args& args);
    void init(const Args& args);
    void campaign(NodeId id);
    void deliver(const Args& args);
    void move_link(const Args& args, const std::string& verb);
    void release(const Args& args);
    // Delivers until nothing is queued; returns how many were delivered. `quiet`: no message lines.
    std::size_t stabilize(bool quiet = false);
    void crash(NodeId id);
    void status(const Args& args);
    void committed(NodeId id);
    void log(NodeId id);
    void queue();

    test::EngineCluster& cluster();
    NodeId node_arg(const std::string& s) const;
    bool up(NodeId id) const { return cluster_ && cluster_->is_up(id); }

    // Delivers (or drops, if its link is cut or its receiver is down) one message, then reports
    // what it changed.
    void deliver_one(const test::InFlight& m, bool quiet = false);
    std::string describe(const test::InFlight& m);
    // One persisted log record, decoded with the engine's own codec.
    std::string describe_record(Index index, const Bytes& bytes) const;
    std::string status_line(NodeId id);
    // Reports (indented) every node's role/term/leader changes, commits and read results since
    // the last call.
    void report_changes();
    std::string role_summary(NodeId id);

    void check_raft();
    void check_paxos();

    std::unique_ptr<test::EngineCluster> cluster_;
    std::string protocol_;
    std::deque<test::InFlight> held_;
    std::vector<std::string> out_;

    // What report_changes() last saw, per node (index 0 unused).
    std::vector<std::string> roles_;
    std::vector<std::size_t> commits_seen_;
    std::vector<std::size_t> reads_seen_;

    // Raft election safety (§5.2): the one leader seen in each term.
    std::map<std::uint64_t, NodeId> leader_of_term_;
    // Raft leader completeness (§5.4.3): each committed entry and the highest term any node had
    // when it was first seen committed; every leader of a later term must hold it.
    std::map<Index, std::pair<Committed, std::uint64_t>> committed_bound_;

    bool violated_ = false;
    std::string violation_;
};

}  // namespace ballot::golden
