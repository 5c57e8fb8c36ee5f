// The runtime core's promises, checked with a scripted engine, a manual disk and a recording
// network: persist before send, group commit, apply after durable, exactly-once completion,
// timeouts, and a failed fsync that stops all acknowledgement.
#define BOOST_TEST_MODULE driver
#include "common/driver.h"

#include <boost/test/unit_test.hpp>
#include <deque>
#include <set>

#include "common/codec.h"

using namespace ballot;

namespace {

// An engine whose output the test scripts: propose() appends an entry, sends one after_persist
// message to node 2 and one free message to node 3, and "commits" it at once.
class ScriptedEngine : public Engine {
public:
    void tick() override { ++ticks; }
    bool step(NodeId from, std::span<const std::uint8_t> payload) override {
        if (payload.empty()) return false;
        stepped.push_back({from, Bytes(payload.begin(), payload.end())});
        return true;
    }
    ProposeResult propose(std::string command) override {
        if (refuse) return ProposeResult::no_leader;
        ++proposals;
        if (swallow) return ProposeResult::accepted;  // as if forwarded to a leader that lost it
        ++last;
        // The scripted engine's log record is just the command: the driver never looks inside.
        ready.records.push_back(LogRecord{last, Bytes(command.begin(), command.end())});
        ready.messages.push_back(Envelope{2, Bytes{1}, true});
        ready.messages.push_back(Envelope{3, Bytes{2}, false});
        ready.committed.push_back(Committed{last, std::move(command)});
        return ProposeResult::accepted;
    }
    Configuration config = Configuration::of_voters({1, 2, 3});
    void read(std::uint64_t id) override { ready.reads.push_back(ReadState{id, read_index, read_ok}); }
    Ready take_ready() override { return std::exchange(ready, Ready{}); }
    bool has_ready() const override { return !ready.empty(); }
    const Configuration& configuration() const override { return config; }
    bool configuration_in_effect() const override { return in_effect; }
    // Answers the scripted refusals in turn, then places the change: commits it at once, or, with
    // `swallow`, never (as a leader that lost it).
    std::optional<std::string> propose_config_change(std::uint64_t request_id, std::string request) override {
        config_requests.push_back(request);
        request_ids.push_back(request_id);
        if (!config_answers.empty()) {
            std::optional<std::string> answer = config_answers.front();
            config_answers.pop_front();
            if (answer) return answer;
        }
        if (!swallow) {
            ++last;
            ready.records.push_back(LogRecord{last, Bytes(request.begin(), request.end())});
            ready.committed.push_back(Committed{last, std::move(request)});
        }
        return std::nullopt;
    }
    std::optional<std::string> transfer_leadership(std::uint64_t request_id, NodeId target) override {
        transfer_targets.push_back(target);
        request_ids.push_back(request_id);
        return transfer_refusal;
    }
    EngineStatus status() const override {
        return EngineStatus{Role::leader, leader, Epoch::term(1), last + committed_ahead, 1, last};
    }
    std::string describe(std::span<const std::uint8_t>) const override { return "Scripted"; }
    bool is_heartbeat(NodeId, std::span<const std::uint8_t>) const override { return false; }
    void check_invariants() const override {}
    // These tests run the driver without a snapshot dir: it never snapshots or transfers one.
    Bytes snapshot_metadata(Index) const override { return {}; }
    void snapshot_made(const SnapshotMeta&) override {}
    void snapshot_installed(const SnapshotMeta&) override {}
    void snapshot_sent(NodeId, Index, bool) override {}

    Ready ready;
    Index last = 0;
    NodeId leader = 1;
    std::deque<std::optional<std::string>> config_answers;
    std::vector<std::string> config_requests;
    std::optional<std::string> transfer_refusal;
    std::vector<NodeId> transfer_targets;
    std::vector<std::uint64_t> request_ids;  // of changes and transfers, in the order asked
    int ticks = 0;
    int proposals = 0;
    bool refuse = false;
    bool swallow = false;
    bool read_ok = true;
    Index read_index = 0;
    Index committed_ahead = 0;  // entries status() reports committed beyond those handed out
    bool in_effect = true;      // configuration_in_effect(): false as a Multi-Paxos change before s + α
    std::vector<std::pair<NodeId, Bytes>> stepped;
};

class ManualDisk : public Storage {
public:
    void write(const Ready& r) override { written.push_back(r.records.size()); }
    void flush(std::function<void(std::error_code)> done) override {
        ++flushes;
        pending.push_back(std::move(done));
    }
    void complete(std::error_code ec = {}) {
        auto done = std::move(pending.front());
        pending.pop_front();
        done(ec);
    }
    void complete_last() {
        auto done = std::move(pending.back());
        pending.pop_back();
        done({});
    }
    std::vector<std::size_t> written;
    std::deque<std::function<void(std::error_code)>> pending;
    int flushes = 0;
};

class RecordingNetwork : public Network {
public:
    void send(NodeId to, Bytes) override { sent.push_back(to); }
    void send_bulk(NodeId to, Bytes) override { bulk.push_back(to); }
    bool reachable(NodeId peer) const override { return connected.count(peer) != 0; }
    bool known_unreachable(NodeId peer) const override { return down.count(peer) != 0; }
    std::vector<NodeId> bulk;
    std::vector<NodeId> sent;
    std::set<NodeId> connected{2, 3};
    std::set<NodeId> down;
};

class EchoMachine : public StateMachine {
public:
    std::string apply(Index index, const Command& c) override {
        applied.push_back({index, c});
        return "+applied " + c.payload + "\r\n";
    }
    std::string query(std::string_view) const override { return "state"; }
    // Snapshots are not exercised here (the driver runs without a snapshot dir); the simulator
    // and tests/snapshot_commands_e2e_test.cc cover them.
    Index applied_index() const override { return applied.empty() ? 0 : applied.back().first; }
    std::string snapshot() const override { return {}; }
    Index begin_snapshot() override { return applied_index(); }
    SnapshotChunk snapshot_chunk(std::size_t) override { return {{}, true}; }
    void abort_snapshot() override {}
    bool snapshot_open() const override { return false; }
    bool restore(std::string_view) override { return false; }
    std::optional<std::uint64_t> next_expiry_ms() const override { return expiry_ms; }
    std::vector<std::pair<Index, Command>> applied;
    std::optional<std::uint64_t> expiry_ms;  // something that can expire, for clock ticks
};

struct Fixture {
    Fixture() {
        auto e = std::make_unique<ScriptedEngine>();
        engine = e.get();
        DriverOptions o;
        o.session_id = 77;
        o.request_timeout_ticks = 10;
        o.retry_ticks = 3;
        o.read_retry_ticks = 1;
        driver = std::make_unique<Driver>(1, std::move(e), disk, network, machine, o);
    }
    ScriptedEngine* engine;
    ManualDisk disk;
    RecordingNetwork network;
    EchoMachine machine;
    std::unique_ptr<Driver> driver;
    std::vector<Outcome> outcomes;
    Completion record() {
        return [this](const Outcome& o) { outcomes.push_back(o); };
    }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(messages_that_depend_on_the_batch_wait_for_its_fsync, Fixture) {
    driver->submit(std::nullopt, "a", record());
    driver->pump();
    BOOST_TEST(disk.written.size() == 1u);
    BOOST_TEST(disk.flushes == 1);
    BOOST_TEST(network.sent == std::vector<NodeId>{3});  // only the free message left
    BOOST_TEST(machine.applied.empty());                 // nothing applied before durable
    BOOST_TEST(outcomes.empty());
    disk.complete();
    BOOST_TEST((network.sent == std::vector<NodeId>{3, 2}));
    BOOST_REQUIRE(machine.applied.size() == 1u);
    BOOST_REQUIRE(outcomes.size() == 1u);
    BOOST_TEST(outcomes[0].reply == "+applied a\r\n");
}

// A flush is asked for as soon as there is something to write, even with one still in flight:
// the storage runs them in order and joins the waiting ones into one fsync (FileStorage; tests
// log_store_test file_storage_flushes_via_io_context_and_data_survives). Each completion releases
// what its flush covered, and a later flush covers every write before it, whatever order the
// completions come in.
BOOST_FIXTURE_TEST_CASE(a_flush_starts_while_another_is_in_flight_and_covers_all_before_it, Fixture) {
    driver->submit(std::nullopt, "a", record());
    driver->pump();
    for (int i = 0; i < 10; ++i) {
        driver->submit(std::nullopt, "b" + std::to_string(i), record());
        driver->pump();
    }
    BOOST_TEST(disk.flushes == 11);
    driver->pump();
    BOOST_TEST(disk.flushes == 11);  // nothing new written: no flush
    disk.complete();                 // the first: "a"
    BOOST_TEST(outcomes.size() == 1u);
    disk.complete_last();  // the last: every write before it, "b0" to "b9"
    BOOST_TEST(outcomes.size() == 11u);
    while (!disk.pending.empty()) disk.complete();  // late completions of earlier flushes
    BOOST_TEST(outcomes.size() == 11u);
    BOOST_TEST(machine.applied.size() == 11u);
}

BOOST_FIXTURE_TEST_CASE(own_commands_are_stamped_with_session_and_rising_seq, Fixture) {
    driver->submit(std::nullopt, "a", record());
    driver->submit(std::nullopt, "b", record());
    driver->pump();
    disk.complete();
    BOOST_REQUIRE(machine.applied.size() == 2u);
    BOOST_TEST(machine.applied[0].second.client_id == 77u);
    BOOST_TEST(machine.applied[0].second.seq == 1u);
    BOOST_TEST(machine.applied[1].second.seq == 2u);
    BOOST_TEST(machine.applied[1].second.acked_below == 1u);  // seq 1 was not yet answered
    driver->submit(std::nullopt, "c", record());
    driver->pump();
    disk.complete();
    BOOST_TEST(machine.applied[2].second.acked_below == 3u);  // 1 and 2 answered
}

BOOST_FIXTURE_TEST_CASE(a_client_stamp_is_kept_and_a_duplicate_waits_for_the_same_apply, Fixture) {
    Stamp s{123, 5, 5};
    driver->submit(s, "x", record());
    driver->submit(s, "x", record());  // the client retried on this same node
    driver->pump();
    BOOST_TEST(engine->proposals == 1);
    disk.complete();
    BOOST_TEST(outcomes.size() == 2u);
    BOOST_TEST(machine.applied.size() == 1u);
    BOOST_TEST(machine.applied[0].second.client_id == 123u);
}

BOOST_FIXTURE_TEST_CASE(an_unanswered_command_is_proposed_again_then_times_out, Fixture) {
    engine->swallow = true;
    driver->submit(std::nullopt, "a", record());
    driver->pump();
    for (int i = 0; i < 9; ++i) driver->tick();
    BOOST_TEST(engine->proposals >= 3);  // retried every retry_ticks
    BOOST_TEST(outcomes.empty());
    driver->tick();
    BOOST_REQUIRE(outcomes.size() == 1u);
    BOOST_TEST((outcomes[0].status == Outcome::Status::timeout));
    network.connected.clear();
    driver->submit(std::nullopt, "b", record());
    for (int i = 0; i < 10; ++i) driver->tick();
    BOOST_REQUIRE(outcomes.size() == 2u);
    BOOST_TEST((outcomes[1].status == Outcome::Status::no_quorum));
}

// A majority known unreachable (2 of 3 members' connections closed): waiting requests fail at the
// next tick, new ones at once, all with no_quorum, long before the request timeout (10 ticks);
// one peer down is no reason to fail anything, and once peers are back requests work again.
BOOST_FIXTURE_TEST_CASE(with_a_majority_known_unreachable_requests_fail_at_once, Fixture) {
    engine->swallow = true;
    engine->read_ok = false;  // no safe point yet: the read waits too
    driver->submit(std::nullopt, "waiting", record());
    driver->read(record());
    driver->pump();
    network.down = {2};  // a minority down: keep waiting
    driver->tick();
    BOOST_TEST(outcomes.empty());
    network.down = {2, 3};
    driver->tick();
    BOOST_REQUIRE(outcomes.size() == 2u);
    BOOST_TEST((outcomes[0].status == Outcome::Status::no_quorum));
    BOOST_TEST((outcomes[1].status == Outcome::Status::no_quorum));
    BOOST_TEST(driver->quorum_known_lost());
    driver->submit(std::nullopt, "new", record());
    driver->read(record());
    BOOST_REQUIRE(outcomes.size() == 4u);  // without a tick
    BOOST_TEST((outcomes[2].status == Outcome::Status::no_quorum));
    BOOST_TEST((outcomes[3].status == Outcome::Status::no_quorum));
    network.down.clear();  // the peers are back
    engine->swallow = false;
    driver->submit(std::nullopt, "after", record());
    driver->pump();
    disk.complete();
    BOOST_REQUIRE(outcomes.size() == 5u);
    BOOST_TEST((outcomes[4].status == Outcome::Status::ok));
}

// The quorum is counted over the voters of the applied configuration, asking the network about each.
// A removed node the transport still knows down (it follows the configuration a moment after the
// driver applied it) no longer counts, and a learner down never does: a 3-node cluster that had
// removed its dead node 2 once failed every request with CLUSTERDOWN "known down: 2" at the next
// tick, its majority already the new configuration's.
BOOST_FIXTURE_TEST_CASE(known_down_counts_only_voters_of_the_applied_configuration, Fixture) {
    network.down = {2};
    BOOST_TEST(!driver->quorum_known_lost());
    engine->config = Configuration::of_voters({1, 3});  // 2 removed; the network still knows it down
    BOOST_TEST(!driver->quorum_known_lost());
    network.down = {3};
    BOOST_TEST(driver->quorum_known_lost());  // one of two voters: no majority
    engine->config =
        Configuration({Member{1, "", MemberRole::voter, false}, Member{2, "", MemberRole::voter, false},
                       Member{3, "", MemberRole::voter, false}, Member{4, "", MemberRole::learner, false}});
    network.down = {2, 4};
    BOOST_TEST(!driver->quorum_known_lost());  // voters 1 and 3: a majority of three
    network.down = {2, 3};
    BOOST_TEST(driver->quorum_known_lost());
}

// With the quorum known lost, waiting requests fail only once everything the engine knows
// committed is applied: a write among those entries is answered by its apply, not by a guess.
BOOST_FIXTURE_TEST_CASE(a_quorum_known_lost_fails_requests_only_after_committed_entries_apply, Fixture) {
    engine->swallow = true;
    driver->submit(std::nullopt, "waiting", record());
    driver->pump();
    network.down = {2, 3};
    engine->committed_ahead = 1;  // committed, its apply not here yet
    driver->tick();
    BOOST_TEST(outcomes.empty());
    engine->committed_ahead = 0;  // applied (here: nothing left beyond what was handed out)
    driver->tick();
    BOOST_REQUIRE(outcomes.size() == 1u);
    BOOST_TEST((outcomes[0].status == Outcome::Status::no_quorum));
}

BOOST_FIXTURE_TEST_CASE(reads_wait_for_the_read_index_to_be_applied, Fixture) {
    engine->read_index = 1;
    driver->read(record());
    driver->pump();
    BOOST_TEST(outcomes.empty());  // index 1 not applied yet
    driver->submit(std::nullopt, "a", record());
    driver->pump();
    disk.complete();
    BOOST_REQUIRE(outcomes.size() == 2u);  // the write, then the read it unblocked
    BOOST_TEST((outcomes[1].status == Outcome::Status::ok));
}

BOOST_FIXTURE_TEST_CASE(a_read_without_a_safe_point_is_retried_never_answered_early, Fixture) {
    engine->read_ok = false;
    driver->read(record());
    driver->pump();
    driver->tick();
    driver->pump();
    BOOST_TEST(outcomes.empty());
    engine->read_ok = true;
    driver->tick();
    driver->pump();
    BOOST_REQUIRE(outcomes.size() == 1u);
    BOOST_TEST((outcomes[0].status == Outcome::Status::ok));
}

BOOST_FIXTURE_TEST_CASE(a_failed_fsync_releases_nothing_and_refuses_everything_after, Fixture) {
    driver->submit(std::nullopt, "a", record());
    driver->pump();
    disk.complete(std::make_error_code(std::errc::io_error));
    BOOST_TEST((network.sent == std::vector<NodeId>{3}));  // the held message never leaves
    BOOST_TEST(machine.applied.empty());
    BOOST_REQUIRE(outcomes.size() == 1u);
    BOOST_TEST((outcomes[0].status == Outcome::Status::storage_failed));
    driver->submit(std::nullopt, "b", record());
    BOOST_TEST((outcomes.back().status == Outcome::Status::storage_failed));
    BOOST_TEST(driver->status().storage_failed);
}

BOOST_FIXTURE_TEST_CASE(messages_to_self_are_delivered_back_after_the_fsync, Fixture) {
    engine->ready.records.push_back(LogRecord{1, {}});
    engine->ready.messages.push_back(Envelope{1, Bytes{9}, false});
    driver->pump();
    BOOST_TEST(engine->stepped.empty());
    disk.complete();
    BOOST_REQUIRE(engine->stepped.size() == 1u);
    BOOST_TEST(engine->stepped[0].first == 1u);
    BOOST_TEST(network.sent.empty());
}

// A ReadIndex reply addressed to a node's previous process can reach the next one; its read id
// must then match nothing (ids restarting at 1 in every process answered a new read with an old
// safe point). Consecutive session ids, as the simulator hands out, must give disjoint ranges.
BOOST_AUTO_TEST_CASE(read_ids_of_two_processes_never_meet) {
    auto read_ids = [](std::uint64_t session_id) {
        auto e = std::make_unique<ScriptedEngine>();
        ScriptedEngine* engine = e.get();
        ManualDisk disk;
        RecordingNetwork network;
        EchoMachine machine;
        DriverOptions o;
        o.session_id = session_id;
        Driver driver(1, std::move(e), disk, network, machine, o);
        std::set<std::uint64_t> ids;
        for (int i = 0; i < 1000; ++i) driver.read([](const Outcome&) {});
        for (const ReadState& rs : engine->ready.reads) ids.insert(rs.id);
        return ids;
    };
    std::set<std::uint64_t> first = read_ids(77);
    std::set<std::uint64_t> second = read_ids(78);
    BOOST_TEST(first.size() == 1000u);
    for (std::uint64_t id : second) BOOST_TEST(!first.contains(id));
}

// Cluster time (common/cluster_clock.h). Without a clock from the caller the driver counts its
// ticks (10 ms each by default): a command is stamped with the time at its proposal.
BOOST_FIXTURE_TEST_CASE(commands_carry_the_cluster_time_of_their_proposal, Fixture) {
    for (int i = 0; i < 5; ++i) driver->tick();
    driver->submit(std::nullopt, "a", record());
    driver->pump();
    disk.complete();
    BOOST_REQUIRE(machine.applied.size() == 1u);
    BOOST_TEST(machine.applied[0].second.time_ms == 50u);
}

// While the state machine holds something that can expire, the leader proposes a clock tick
// after every 100 ms without newer time in the log; with nothing to expire, none at all.
BOOST_FIXTURE_TEST_CASE(the_leader_ticks_the_clock_only_while_something_can_expire, Fixture) {
    auto settle = [&] {
        driver->pump();
        while (!disk.pending.empty()) disk.complete();
    };
    auto run_ms = [&](int ms) {
        for (int i = 0; i < ms / 10; ++i) {
            driver->tick();
            settle();
        }
    };
    run_ms(1000);
    BOOST_TEST(engine->proposals == 0);
    machine.expiry_ms = 5000;
    run_ms(1000);
    BOOST_TEST(engine->proposals >= 9);
    BOOST_TEST(engine->proposals <= 10);
    BOOST_REQUIRE(!machine.applied.empty());
    std::uint64_t previous = 0;
    for (const auto& [index, command] : machine.applied) {
        BOOST_TEST(command.is_clock_tick());
        BOOST_TEST(command.time_ms > previous);  // time moves on, 100 ms a tick
        previous = command.time_ms;
    }
    BOOST_TEST(previous == 1910u);  // ticks at 1010, 1110, ... 1910 ms
    // Client commands carry time too: while they flow, no tick is needed.
    const int ticks = engine->proposals;
    for (int i = 0; i < 20; ++i) {
        driver->submit(std::nullopt, "w" + std::to_string(i), record());
        settle();  // applied at once, before the next tick
        run_ms(50);
    }
    BOOST_TEST(engine->proposals == ticks + 20);
}

// ---- membership changes and leadership transfer (SPEC "Membership change") ----

namespace {

const ConfigChange kAddFour{ConfigChange::Kind::add_learner, 4, "127.0.0.1:7004", true};

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_change_is_a_stamped_request_completed_when_its_entry_is_applied, Fixture) {
    driver->submit_config_change(Stamp{9, 1, 1}, kAddFour, record());
    BOOST_REQUIRE(engine->config_requests.size() == 1u);
    auto command = decode_command(engine->config_requests[0]);
    BOOST_REQUIRE(command.has_value());
    BOOST_TEST(command->client_id == 9u);  // stamped like any write: the state machine dedups it
    BOOST_TEST(command->seq == 1u);
    BOOST_TEST(command->payload == encode_config_request(kAddFour));
    driver->pump();
    BOOST_TEST(outcomes.empty());  // placed, not yet applied
    disk.complete();
    BOOST_REQUIRE(outcomes.size() == 1u);
    BOOST_TEST((outcomes[0].status == Outcome::Status::ok));
    BOOST_TEST(machine.applied.size() == 1u);
}

// A promote or remove names the member as this node knows it (ConfigChange::member_identity): a
// bootstrap member by identity 0, an added one by its data dir; a stranger as not a member
// (refused as such, or, once a node with that id has joined, as made before it joined).
BOOST_FIXTURE_TEST_CASE(a_promote_or_remove_names_the_member_as_this_node_knows_it, Fixture) {
    engine->config = Configuration::of_voters({1, 2, 3}).with(
        ConfigChange{ConfigChange::Kind::add_learner, 4, "127.0.0.1:7004", false, 44});
    auto requested = [&](std::size_t i) {
        auto command = decode_command(engine->config_requests.at(i));
        BOOST_REQUIRE(command.has_value());
        auto change = decode_config_request(command->payload);
        BOOST_REQUIRE(change.has_value());
        return *change;
    };
    const ConfigChange remove3{ConfigChange::Kind::remove, 3, "", false};
    const ConfigChange promote4{ConfigChange::Kind::promote, 4, "", false};
    const ConfigChange remove5{ConfigChange::Kind::remove, 5, "", false};
    driver->submit_config_change(Stamp{9, 1, 1}, remove3, record());
    driver->submit_config_change(Stamp{9, 2, 1}, promote4, record());
    driver->submit_config_change(Stamp{9, 3, 1}, remove5, record());
    driver->submit_config_change(Stamp{9, 4, 1}, kAddFour, record());
    BOOST_REQUIRE(engine->config_requests.size() == 4u);
    BOOST_TEST((requested(0).member_identity == std::optional<std::uint64_t>{0}));
    BOOST_TEST((requested(1).member_identity == std::optional<std::uint64_t>{44}));
    BOOST_TEST((requested(2).member_identity == std::optional<std::uint64_t>{ConfigChange::kNotAMember}));
    BOOST_TEST(!requested(3).member_identity.has_value());  // an add names its own data dir instead
}

BOOST_FIXTURE_TEST_CASE(a_definitive_refusal_is_answered_at_once_with_the_engine_reason, Fixture) {
    engine->config_answers = {std::string("not the leader: node 2 leads")};
    driver->submit_config_change(std::nullopt, kAddFour, record());
    BOOST_REQUIRE(outcomes.size() == 1u);
    BOOST_TEST((outcomes[0].status == Outcome::Status::refused));
    BOOST_TEST(outcomes[0].reply == "not the leader: node 2 leads");
    for (int i = 0; i < 20; ++i) driver->tick();
    BOOST_TEST(engine->config_requests.size() == 1u);  // never asked again
}

BOOST_FIXTURE_TEST_CASE(a_passing_refusal_is_asked_again_until_the_change_is_placed, Fixture) {
    engine->config_answers = {std::string("a membership change is still in progress (entry 3); try again"),
                              std::string("no leader known; try again")};
    driver->submit_config_change(std::nullopt, kAddFour, record());
    BOOST_TEST(outcomes.empty());
    driver->tick();
    driver->tick();
    BOOST_TEST(engine->config_requests.size() == 3u);  // refused twice, then placed
    driver->pump();
    disk.complete();
    BOOST_REQUIRE(outcomes.size() == 1u);
    BOOST_TEST((outcomes[0].status == Outcome::Status::ok));
}

BOOST_FIXTURE_TEST_CASE(a_change_refused_until_the_deadline_returns_the_last_reason, Fixture) {
    for (int i = 0; i < 100; ++i)
        engine->config_answers.push_back(std::string("busy (" + std::to_string(i) + "); try again"));
    driver->submit_config_change(std::nullopt, kAddFour, record());
    for (int i = 0; i < 10 && outcomes.empty(); ++i) driver->tick();
    BOOST_REQUIRE(outcomes.size() == 1u);
    // Known not applied (never placed): the client gets the reason, not "may or may not".
    BOOST_TEST((outcomes[0].status == Outcome::Status::refused));
    BOOST_TEST(outcomes[0].reply.ends_with("; try again"));
}

// A write waiting while the log moves is queued behind the entries being applied: another copy
// would only lengthen the queue (a retry storm kept a backlog from ever draining in the simulator,
// seed raft 100087). It goes out again once the log has stalled for its retry wait.
BOOST_FIXTURE_TEST_CASE(a_write_waiting_while_the_log_moves_is_not_proposed_again, Fixture) {
    driver->tick();          // the driver learns who leads (a new leader sends everything pending at once)
    engine->swallow = true;  // "a" waits, as if queued behind a leader's backlog
    driver->submit(std::nullopt, "a", record());
    driver->pump();
    engine->swallow = false;
    for (int i = 0; i < 5; ++i) {  // other writes are applied at every tick
        driver->submit(std::nullopt, "b" + std::to_string(i), record());
        driver->pump();
        disk.complete();
        driver->tick();
    }
    BOOST_TEST(engine->proposals == 1 + 5);  // "a" was due at tick 3, but the log moved
    BOOST_TEST(outcomes.size() == 5u);
    for (int i = 0; i < 3; ++i) driver->tick();  // the log stalls for retry_ticks
    BOOST_TEST(engine->proposals == 1 + 5 + 1);
    driver->pump();
    BOOST_REQUIRE(!disk.pending.empty());
    disk.complete();
    BOOST_REQUIRE(outcomes.size() == 6u);
    BOOST_TEST((outcomes[5].status == Outcome::Status::ok));
}

// Multi-Paxos: a change chosen in slot s governs from s + α on; until then a removed member still
// takes part, and its id is not free for a new data dir. The change is answered once its
// configuration is in effect, and the runtime follows the configuration before the client hears.
BOOST_FIXTURE_TEST_CASE(a_change_is_answered_once_in_effect_and_the_runtime_follows_it_first, Fixture) {
    std::vector<std::size_t> answered_before_follow;
    driver->set_before_change_answered([&] { answered_before_follow.push_back(outcomes.size()); });
    engine->in_effect = false;
    driver->submit_config_change(Stamp{9, 1, 1}, kAddFour, record());
    driver->submit(Stamp{9, 2, 2}, "a write", record());
    driver->pump();
    disk.complete();
    BOOST_TEST(machine.applied.size() == 2u);
    BOOST_REQUIRE(outcomes.size() == 1u);  // the plain write only
    BOOST_TEST(outcomes[0].reply == "+applied a write\r\n");
    driver->tick();
    driver->tick();
    BOOST_TEST(outcomes.size() == 1u);
    BOOST_TEST(engine->config_requests.size() == 1u);  // applied: never proposed again
    BOOST_TEST(answered_before_follow.empty());

    engine->in_effect = true;
    driver->tick();
    BOOST_REQUIRE(outcomes.size() == 2u);
    BOOST_TEST((outcomes[1].status == Outcome::Status::ok));
    BOOST_TEST(outcomes[1].reply == "+applied " + encode_config_request(kAddFour) + "\r\n");
    BOOST_TEST(answered_before_follow == std::vector<std::size_t>{1});  // followed, then answered
}

// Committed and applied: if it is not in effect by the request timeout (this node cut off before
// it learns the slots up to s + α), the client still hears the apply's answer, not a timeout.
BOOST_FIXTURE_TEST_CASE(an_applied_change_not_in_effect_by_the_deadline_gets_its_answer, Fixture) {
    engine->in_effect = false;
    driver->submit_config_change(std::nullopt, kAddFour, record());
    driver->pump();
    disk.complete();
    BOOST_TEST(outcomes.empty());
    for (int i = 0; i < 10 && outcomes.empty(); ++i) driver->tick();
    BOOST_REQUIRE(outcomes.size() == 1u);
    BOOST_TEST((outcomes[0].status == Outcome::Status::ok));
    BOOST_TEST(outcomes[0].reply == "+applied " + encode_config_request(kAddFour) + "\r\n");
}

// A refusal that comes back for a change already applied here (the leader refused a second copy,
// forwarded after a passing refusal, as "already a member") does not replace its answer.
BOOST_FIXTURE_TEST_CASE(a_late_refusal_of_an_applied_change_leaves_its_answer, Fixture) {
    engine->in_effect = false;
    driver->submit_config_change(std::nullopt, kAddFour, record());
    driver->pump();
    disk.complete();
    BOOST_REQUIRE(engine->request_ids.size() == 1u);
    engine->ready.refusals.push_back({engine->request_ids[0], "node 4 is already a member"});
    driver->pump();
    BOOST_TEST(outcomes.empty());
    engine->in_effect = true;
    driver->tick();
    BOOST_REQUIRE(outcomes.size() == 1u);
    BOOST_TEST((outcomes[0].status == Outcome::Status::ok));
}

BOOST_FIXTURE_TEST_CASE(a_placed_change_is_never_proposed_again, Fixture) {
    engine->swallow = true;  // placed, then lost with its leader
    driver->submit_config_change(std::nullopt, kAddFour, record());
    engine->leader = 2;  // a new leader: plain writes are proposed again at once, a change is not
    for (int i = 0; i < 10 && outcomes.empty(); ++i) driver->tick();
    BOOST_TEST(engine->config_requests.size() == 1u);
    BOOST_REQUIRE(outcomes.size() == 1u);
    BOOST_TEST((outcomes[0].status == Outcome::Status::timeout));  // outcome unknown
}

BOOST_FIXTURE_TEST_CASE(a_transfer_completes_once_the_target_leads, Fixture) {
    driver->transfer_leadership(3, record());
    BOOST_TEST(engine->transfer_targets == std::vector<NodeId>{3});
    driver->tick();
    BOOST_TEST(outcomes.empty());
    engine->leader = 3;
    driver->tick();
    BOOST_REQUIRE(outcomes.size() == 1u);
    BOOST_TEST((outcomes[0].status == Outcome::Status::ok));
}

BOOST_FIXTURE_TEST_CASE(a_refused_transfer_answers_at_once_and_one_that_never_lands_times_out, Fixture) {
    engine->transfer_refusal = "node 5 is not a voter";
    driver->transfer_leadership(5, record());
    BOOST_REQUIRE(outcomes.size() == 1u);
    BOOST_TEST((outcomes[0].status == Outcome::Status::refused));
    BOOST_TEST(outcomes[0].reply == "node 5 is not a voter");
    engine->transfer_refusal.reset();
    driver->transfer_leadership(2, record());
    for (int i = 0; i < 10; ++i) driver->tick();
    BOOST_REQUIRE(outcomes.size() == 2u);
    BOOST_TEST((outcomes[1].status == Outcome::Status::timeout));
}

// On a follower the engine forwards a change or transfer to the leader (it answers nullopt, as for
// a change placed); the leader's refusal comes back in Ready::refusals under the request id.
BOOST_FIXTURE_TEST_CASE(a_forwarded_change_the_leader_refuses_gets_its_reason, Fixture) {
    engine->swallow = true;  // forwarded: nothing is committed here
    driver->submit_config_change(std::nullopt, kAddFour, record());
    BOOST_REQUIRE(engine->request_ids.size() == 1u);
    engine->ready.refusals.push_back({engine->request_ids[0] + 100, "meant for another request"});
    driver->pump();
    BOOST_TEST(outcomes.empty());
    engine->ready.refusals.push_back({engine->request_ids[0], "node 4 is already a member"});
    driver->pump();
    BOOST_REQUIRE(outcomes.size() == 1u);
    BOOST_TEST((outcomes[0].status == Outcome::Status::refused));
    BOOST_TEST(outcomes[0].reply == "node 4 is already a member");
}

BOOST_FIXTURE_TEST_CASE(a_forwarded_change_refused_as_passing_is_forwarded_again, Fixture) {
    engine->swallow = true;
    driver->submit_config_change(std::nullopt, kAddFour, record());
    engine->ready.refusals.push_back({engine->request_ids[0],
                                      "node 2, to which it was forwarded, is not "
                                      "the leader; try again"});
    driver->pump();
    BOOST_TEST(outcomes.empty());
    driver->tick();
    driver->tick();
    BOOST_TEST(engine->config_requests.size() == 2u);  // refused, so known not placed: asked again
    for (int i = 0; i < 10; ++i) driver->tick();
    BOOST_TEST(engine->config_requests.size() == 2u);  // forwarded again: never a third copy
}

BOOST_FIXTURE_TEST_CASE(a_forwarded_transfer_the_leader_refuses_gets_its_reason, Fixture) {
    driver->transfer_leadership(9, record());
    BOOST_REQUIRE(engine->request_ids.size() == 1u);
    BOOST_TEST(outcomes.empty());
    engine->ready.refusals.push_back({engine->request_ids[0], "node 9 is not a voter"});
    driver->pump();
    BOOST_REQUIRE(outcomes.size() == 1u);
    BOOST_TEST((outcomes[0].status == Outcome::Status::refused));
    BOOST_TEST(outcomes[0].reply == "node 9 is not a voter");
}
