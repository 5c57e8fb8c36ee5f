// The learner (Paxos Made Simple §2.3; PMMC §3 "Replicas", which apply decisions in slot order):
// which slots are chosen, delivery of their values strictly in slot order, and the values a
// lagging peer needs to catch up.
//
// Slots may be chosen out of order (a leader pipelines many slots, and a majority may answer
// for slot 9 before slot 8); Ready::committed carries them in order, contiguous from 1, each
// once. `commit_index` is the end of that contiguous prefix.
//
// A learner learns that a slot is chosen in one of three ways:
//   1. the leader counted a majority of Accepted for it (replication.cc, Leader::on_accepted, calls learn());
//   2. the leader's chosen point (on Accept and Heartbeat) covers it and this node accepted it in
//      that same ballot: the leader proposes one value per slot per ballot, so the value here is
//      the chosen one (PMS §3: the leader tells the learners what is chosen). Accepted in any other
//      ballot, it may be a value that lost, and the learner waits for (3);
//   3. a Chosen message from the leader carries the value (catch-up).
// Each learned value is also stored in the acceptor (Acceptor::store_chosen), so the acceptor's
// record of a slot at or below commit_index is always the chosen value: after a restart the
// learner delivers 1..commit_index from disk (the metadata's commit hint), and the
// leader serves catch-up from the same records.
//
// A snapshot (README "Snapshots and compaction") is a fourth way: everything up to its last slot
// is chosen and already applied by the state machine, so the learner takes it as its base and
// hands out nothing at or below it again (install()).
#pragma once

#include <set>
#include <utility>
#include <vector>

#include "common/ballot.h"
#include "common/types.h"
#include "multipaxos/acceptor.h"
#include "multipaxos/configs.h"

namespace ballot::multipaxos {

class Learner {
public:
    // `commit_hint`: the persisted metadata's commit hint. Used only as far as the recovered entries are
    // contiguous, since a slot at or below it must be on disk to be delivered. `base`: the
    // recovered snapshot's last slot (0: none), chosen and applied already; delivery starts after it.
    // `configs`: the configuration history as of `base`, which the learner extends with every
    // configuration command it delivers (multipaxos/configs.h), and hands a void one out as a
    // no-op unless `void_stale_changes` is false (ConfigHistory::chosen's `guard`).
    Learner(Acceptor& acceptor, ConfigHistory& configs, Index commit_hint, Index base, bool void_stale_changes);

    Index commit_index() const { return commit_index_; }
    // The highest slot known chosen (>= commit_index; higher while a gap remains).
    Index highest_chosen() const { return chosen_above_.empty() ? commit_index_ : *chosen_above_.rbegin(); }
    bool is_chosen(Index slot) const { return slot <= commit_index_ || chosen_above_.count(slot) > 0; }
    // A leader said more is chosen than this learner can deliver: it needs catch-up (rule 3).
    bool behind() const { return commit_index_ < point_; }

    // (1) and (3) above: `data` is chosen for `slot` (in ballot `ballot` or one above it).
    void learn(Index slot, Ballot ballot, const std::string& data);
    // (2) above: the leader of `ballot` says every slot up to `chosen` is chosen.
    void on_chosen_point(Ballot ballot, Index chosen);

    // Chosen values from `first` on, at most `max_bytes` encoded (at least one), for catch-up.
    std::vector<Entry> chosen_from(Index first, std::size_t max_bytes) const;

    // A snapshot through `slot` is installed: everything up to it is chosen and applied. Nothing at
    // or below it is handed out again (not even what was queued and not yet taken).
    void install(Index slot);
    // The latest snapshot the learner took as its base (installed or recovered).
    Index base() const { return base_; }

    // Values that became deliverable since the last call, in slot order.
    std::vector<Entry> take_committed() { return std::exchange(committed_, {}); }
    bool has_committed() const { return !committed_.empty(); }

    // Throws InvariantViolation (common/assert.h) naming the broken invariant.
    void check_invariants() const;

private:
    void advance();
    void deliver(const Entry& e);

    Acceptor& acceptor_;
    ConfigHistory& configs_;
    bool void_stale_changes_;
    Index commit_index_ = 0;
    std::set<Index> chosen_above_;  // chosen slots > commit_index_ (a gap lies before them)
    // The highest chosen point heard from a leader, and its ballot, for rule (2).
    Ballot point_ballot_;
    Index point_ = 0;
    std::vector<Entry> committed_;
    Index delivered_ = 0;  // the last slot handed to committed_ (== commit_index_ between calls)
    Index base_ = 0;       // slots <= base_ came from a snapshot, never from committed_
};

}  // namespace ballot::multipaxos
