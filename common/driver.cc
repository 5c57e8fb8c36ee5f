#include "common/driver.h"

#include <algorithm>

#include "common/assert.h"
#include "common/random.h"

namespace ballot {

namespace {

// Each process numbers its reads from its own 64-bit base, a hash of its session id (random for
// every start of a real node; seeded in the simulator, so runs stay deterministic). Counting from
// 1 in every process, a ReadIndex reply addressed to the previous process could answer this
// one's read with the same id and an old safe point: a stale read. Two processes' ranges of ids
// meet only if their bases fall within (reads per process) of each other: odds of ~2^-40.
std::uint64_t first_read_id(std::uint64_t session_id) {
    std::uint64_t id = Rng(session_id).next();
    return id == 0 ? 1 : id;
}

// Which way a traced message went (TracedMessage::sent).
constexpr bool kSent = true;
constexpr bool kReceived = false;
}  // namespace

Driver::Driver(NodeId self, std::unique_ptr<Engine> engine, Storage& storage, Network& network,
               StateMachine& state_machine, DriverOptions options, SnapshotIo snapshots)
    : self_(self),
      engine_(std::move(engine)),
      storage_(storage),
      network_(network),
      state_machine_(state_machine),
      options_(options),
      next_read_id_(first_read_id(options.session_id)),
      applied_index_(snapshots.latest ? snapshots.latest->meta.last_included_index : 0),
      installed_through_(applied_index_),
      snapshots_(self, std::move(snapshots), state_machine, *this, options_) {
    cluster_clock_.restart(state_machine_.cluster_time_ms(), now_ms());
}

std::uint64_t Driver::now_ms() const {
    return options_.monotonic_ms ? options_.monotonic_ms() : now_tick_ * options_.tick_ms;
}

void Driver::log(LogLevel level, const std::string& line) const {
    if (log_) log_(level, line);
}

// ---------------------------------------------------------------- inputs

void Driver::tick() {
    ++now_tick_;
    if (storage_failed_) return;
    engine_->tick();
    EngineStatus s = engine_->status();
    track_leadership(s);
    // Known lost: fail fast, but only once everything the engine knows committed is applied here.
    // A write in those entries has an outcome, which its apply answers: a removed Raft leader's own
    // MEMBER REMOVE, committed while the others had already applied it and dropped the leader, was
    // answered CLUSTERDOWN one time in five before its apply came.
    if (quorum_known_lost() && s.commit_index <= applied_index_)
        fail_all(Outcome::Status::no_quorum);
    else
        expire_and_retry();
    settle_transfers();
    answer_changes_in_effect();
    maybe_propose_clock_tick(s);
    snapshots_.tick(now_tick_);
}

void Driver::track_leadership(const EngineStatus& s) {
    // Cluster time restarts its count at every change of leader or term, including the loss of a
    // leader (an election began). Basic Paxos never has one: it has no failover to lose time in.
    std::optional<std::pair<NodeId, Epoch>> clock_leader;
    if (s.leader != kNoNode) clock_leader = std::pair{s.leader, s.epoch};
    if (clock_leader != clock_leader_) {
        clock_leader_ = clock_leader;
        cluster_clock_.on_leadership_change();
    }
    if (s.leader == kNoNode) return;
    // A new leader (or the same one in a new term): what the old one held may be gone, so
    // everything unanswered goes to the new one now. Leaderless engines (basic Paxos) rely on
    // the retry timer alone.
    std::pair<NodeId, Epoch> leadership{s.leader, s.epoch};
    if (leadership == leadership_) return;
    leadership_ = leadership;
    for (auto& [key, w] : writes_) {
        w.retry_tick = now_tick_;
        w.retry_wait_ticks = 0;  // a fresh start with the new leader, past any stall check
    }
}

// Without client traffic, time must still move in the log while something waits to expire.
void Driver::maybe_propose_clock_tick(const EngineStatus& s) {
    if (storage_failed_ || !state_machine_.next_expiry_ms()) return;
    const std::optional<std::uint64_t> wait = clock_tick_wait_ms(s);
    if (!wait) return;
    const std::uint64_t now = now_ms();
    if (now < cluster_clock_.applied_at_ms() + *wait || now < last_clock_tick_ms_ + *wait) return;
    last_clock_tick_ms_ = now;
    Command tick;
    tick.time_ms = cluster_clock_.estimate(now);
    engine_->propose(encode_command(tick));  // lost or refused: the next one follows soon
}

// Who ticks: the leader (Raft, Multi-Paxos). Basic Paxos has none, so every proposer waits a
// silence that grows with its id; the lowest id that is up ticks first, and its applied ticks keep
// the others quiet. Two may tick at once (ids above the rank cap, a partition): harmless, a tick
// only moves time forward to what its proposer saw.
std::optional<std::uint64_t> Driver::clock_tick_wait_ms(const EngineStatus& s) const {
    if (s.role == Role::leader) return options_.clock_tick_ms;
    if (s.role != Role::proposer) return std::nullopt;
    const std::uint64_t rank = std::clamp<std::uint64_t>(self_, 1, options_.clock_tick_max_rank);
    return rank * options_.clock_tick_ms;
}

bool Driver::receive(NodeId from, std::span<const std::uint8_t> payload) {
    if (storage_failed_) return true;         // a failed node stays silent; the peer is not at fault
    trace_message(kReceived, from, payload);  // before step(): is_heartbeat judges by the state it arrives in
    return engine_->step(from, payload);
}

bool Driver::receive_bulk(NodeId from, std::span<const std::uint8_t> payload) {
    if (storage_failed_) return true;
    if (trace_) {
        if (auto frame = decode_snapshot_frame(payload))
            trace_line(kReceived, from, describe_snapshot_frame(*frame));
    }
    return snapshots_.receive(from, payload);
}

void Driver::submit(std::optional<Stamp> stamp, std::string payload, Completion done) {
    submit_command(stamp, std::move(payload), std::move(done), false);
}

// A promote or remove names the member as this node knows it now (ConfigChange::member_identity),
// or that it knows none, so that the request, however late it is placed, never applies to a
// replacement or newcomer under the same id.
void Driver::submit_config_change(std::optional<Stamp> stamp, const ConfigChange& change, Completion done) {
    ConfigChange request = change;
    if (request.kind != ConfigChange::Kind::add_learner && !request.member_identity) {
        const Member* m = engine_->configuration().find(request.id);
        request.member_identity = m ? m->identity : ConfigChange::kNotAMember;
    }
    submit_command(stamp, encode_config_request(request), std::move(done), true);
}

void Driver::submit_command(std::optional<Stamp> stamp, std::string payload, Completion done,
                            bool config_change) {
    if (storage_failed_) return done(Outcome{Outcome::Status::storage_failed, storage_error_});
    if (quorum_known_lost()) return done(Outcome{Outcome::Status::no_quorum, {}});
    if (writes_.size() >= options_.max_pending_requests)
        return done(Outcome{Outcome::Status::overloaded, {}});

    Command c;
    bool own = !stamp.has_value();
    if (own) {
        c.client_id = options_.session_id;
        c.seq = next_seq_++;
        own_unanswered_.insert(c.seq);
        c.acked_below = *own_unanswered_.begin();
    } else {
        c.client_id = stamp->client_id;
        c.seq = stamp->seq;
        c.acked_below = stamp->acked_below;
    }
    RequestKey key{c.client_id, c.seq};
    auto it = writes_.find(key);
    if (it != writes_.end()) {  // the same stamped request again while the first is in flight
        it->second.waiters.push_back(std::move(done));
        return;
    }
    c.payload = std::move(payload);
    PendingWrite& w = writes_[key];
    w.command = std::move(c);
    w.waiters.push_back(std::move(done));
    w.deadline_tick = now_tick_ + options_.request_timeout_ticks;
    w.own = own;
    w.config_change = config_change;
    if (config_change) w.change_id = next_admin_request_id_++;
    if (auto settled = propose(w)) complete_write(key, *settled);
}

std::optional<Outcome> Driver::propose(PendingWrite& w) {
    // Stamped now, not at submit: a retry after a leadership change carries this node's time as it
    // is after the change (common/cluster_clock.h), not as it was before.
    w.command.time_ms = cluster_clock_.estimate(now_ms());
    if (w.config_change) return propose_config_change(w);
    switch (engine_->propose(encode_command(w.command))) {
        case ProposeResult::accepted:
            w.retry_wait_ticks = w.retry_wait_ticks == 0 ? options_.retry_ticks : 2 * w.retry_wait_ticks;
            w.retry_tick = now_tick_ + w.retry_wait_ticks;
            break;
        case ProposeResult::no_leader:
        case ProposeResult::overloaded:
            w.retry_tick = now_tick_ + options_.read_retry_ticks;
            break;
    }
    return std::nullopt;
}

std::optional<Outcome> Driver::propose_config_change(PendingWrite& w) {
    if (w.placed) return std::nullopt;  // see submit_config_change: never a second copy
    std::optional<std::string> refused =
        engine_->propose_config_change(w.change_id, encode_command(w.command));
    if (!refused) {
        w.placed = true;
        w.retry_tick = w.deadline_tick;  // nothing more to do but wait for the entry to be applied
        return std::nullopt;
    }
    return change_refused(w, std::move(*refused));
}

std::optional<Outcome> Driver::change_refused(PendingWrite& w, std::string why) {
    w.placed = false;
    if (!why.ends_with(kRetryableRefusal)) return Outcome{Outcome::Status::refused, std::move(why)};
    w.last_refusal = std::move(why);
    w.retry_tick = now_tick_ + options_.read_retry_ticks;
    return std::nullopt;
}

// A refusal names its request by id; refusals are rare, so a scan of the pending writes will do.
void Driver::forwarded_request_refused(ForwardedRefusal& refusal) {
    for (auto& [key, w] : writes_) {
        if (!w.config_change || w.change_id != refusal.request_id || !w.placed) continue;
        if (w.applied) return;  // a late refusal of a copy: the change itself is committed
        if (auto outcome = change_refused(w, std::move(refusal.why))) complete_write(key, *outcome);
        return;
    }
    auto t = std::find_if(transfers_.begin(), transfers_.end(),
                          [&](const PendingTransfer& p) { return p.id == refusal.request_id; });
    if (t == transfers_.end()) return;  // answered already (timed out, or the target leads)
    Completion done = std::move(t->done);
    transfers_.erase(t);
    done(Outcome{Outcome::Status::refused, std::move(refusal.why)});
}

void Driver::transfer_leadership(NodeId target, Completion done) {
    if (storage_failed_) return done(Outcome{Outcome::Status::storage_failed, storage_error_});
    if (engine_->status().leader == target) return done(Outcome{Outcome::Status::ok, {}});
    const std::uint64_t id = next_admin_request_id_++;
    if (auto refused = engine_->transfer_leadership(id, target))
        return done(Outcome{Outcome::Status::refused, std::move(*refused)});
    transfers_.push_back(
        PendingTransfer{id, target, std::move(done), now_tick_ + options_.request_timeout_ticks});
}

// Transfers whose target now leads succeed; those past their deadline time out.
void Driver::settle_transfers() {
    if (transfers_.empty()) return;
    const NodeId leader = engine_->status().leader;
    std::vector<std::pair<Completion, Outcome>> settled;
    std::erase_if(transfers_, [&](PendingTransfer& t) {
        if (t.target == leader)
            settled.emplace_back(std::move(t.done), Outcome{Outcome::Status::ok, {}});
        else if (now_tick_ >= t.deadline_tick)
            settled.emplace_back(std::move(t.done), Outcome{Outcome::Status::timeout, {}});
        else
            return false;
        return true;
    });
    for (auto& [done, outcome] : settled) done(outcome);
}

void Driver::read(Completion done) {
    if (storage_failed_) return done(Outcome{Outcome::Status::storage_failed, storage_error_});
    if (quorum_known_lost()) return done(Outcome{Outcome::Status::no_quorum, {}});
    if (reads_.size() >= options_.max_pending_requests) return done(Outcome{Outcome::Status::overloaded, {}});
    std::uint64_t id = next_read_id_++;
    reads_[id] = PendingRead{std::move(done), now_tick_ + options_.request_timeout_ticks, 0};
    engine_->read(id);
}

// Requests past their deadline fail; requests due for a retry are proposed (or read) again.
//
// A write is proposed again only once the log has stalled here: nothing applied for the write's
// retry wait. While entries are applied it is most likely queued behind them, and another copy
// would only lengthen that queue: with a backlog longer than the retry wait, every write went out
// two to four times, the leader took in entries faster than it could replicate them, and the
// backlog never drained (a retry storm; simulator seed raft 100087). A proposal that was lost
// (a forwarded one dropped with its connection) waits for the deadline, and its client retries;
// one lost with its leader goes out at once to the next (track_leadership).
void Driver::expire_and_retry() {
    std::vector<std::pair<RequestKey, Outcome>> settled;
    for (auto& [key, w] : writes_) {
        if (w.applied) {  // a change applied here, not in effect yet: committed, never proposed again
            if (now_tick_ >= w.deadline_tick) settled.emplace_back(key, *w.applied);
        } else if (now_tick_ >= w.deadline_tick) {
            settled.emplace_back(key, expired(w));
        } else if (now_tick_ >= w.retry_tick && now_tick_ >= applied_at_tick_ + w.retry_wait_ticks) {
            if (auto outcome = propose(w)) settled.emplace_back(key, std::move(*outcome));
        }
    }
    for (auto& [key, outcome] : settled) complete_write(key, outcome);

    for (auto it = reads_.begin(); it != reads_.end();) {
        PendingRead& r = it->second;
        if (now_tick_ >= r.deadline_tick) {
            Completion done = std::move(r.done);
            std::erase_if(reads_waiting_apply_, [&](auto& p) { return p.second == it->first; });
            it = reads_.erase(it);
            done(Outcome{unavailable_status(), {}});
            continue;
        }
        if (r.retry_tick != 0 && now_tick_ >= r.retry_tick) {
            r.retry_tick = 0;
            engine_->read(it->first);
        }
        ++it;
    }
}

// A write past its deadline: a change the engine kept refusing was never placed, so the client
// learns the last reason (the outcome is known: not applied); anything else may have been applied.
Outcome Driver::expired(const PendingWrite& w) const {
    if (w.config_change && !w.placed && !w.last_refusal.empty())
        return Outcome{Outcome::Status::refused, w.last_refusal};
    return Outcome{unavailable_status(), {}};
}

// Why a request could not finish in time: -CLUSTERDOWN when this node cannot reach a majority of
// the voters (itself, if it is one, and the voters it is connected to), else -TRYAGAIN. A node in
// no configuration yet (--join, not added) cannot tell: -TRYAGAIN.
Outcome::Status Driver::unavailable_status() const {
    const std::vector<NodeId> voters = engine_->configuration().voters();
    if (voters.empty()) return Outcome::Status::timeout;
    std::size_t reachable = 0;
    for (NodeId v : voters) reachable += (v == self_ || network_.reachable(v)) ? 1 : 0;
    return reachable >= voters.size() / 2 + 1 ? Outcome::Status::timeout : Outcome::Status::no_quorum;
}

// Counted over the voters of the applied configuration (quorums are made of voters only: a
// learner down changes nothing), asking the network about each (Network::known_unreachable).
// Asked for every client request: counts in place, allocating nothing.
bool Driver::quorum_known_lost() const {
    std::size_t voters = 0, down = 0;
    for (const Member& m : engine_->configuration().members()) {
        if (m.role != MemberRole::voter) continue;
        ++voters;
        down += (m.id != self_ && network_.known_unreachable(m.id)) ? 1 : 0;
    }
    return voters > 0 && voters - down < voters / 2 + 1;
}

void Driver::complete_write(const RequestKey& key, const Outcome& outcome) {
    auto it = writes_.find(key);
    if (it != writes_.end()) complete_write(it, outcome);
}

void Driver::complete_write(Writes::iterator it, Outcome outcome) {
    std::vector<Completion> waiters = std::move(it->second.waiters);
    if (it->second.own) own_unanswered_.erase(it->first.seq);
    writes_.erase(it);
    for (auto& done : waiters) done(outcome);
}

void Driver::fail_all(Outcome::Status status) {
    std::vector<std::pair<RequestKey, Outcome>> settled;
    for (auto& [key, w] : writes_) settled.emplace_back(key, w.applied.value_or(Outcome{status, {}}));
    for (auto& [key, outcome] : settled) complete_write(key, outcome);
    changes_applied_.clear();
    auto reads = std::move(reads_);
    reads_.clear();
    reads_waiting_apply_.clear();
    for (auto& [id, r] : reads) r.done(Outcome{status, {}});
    auto transfers = std::move(transfers_);
    transfers_.clear();
    for (auto& t : transfers) t.done(Outcome{status, {}});
}

// ---------------------------------------------------------------- output

void Driver::pump() {
    if (storage_failed_) return;
    do {
        drain_engine();
    } while (release_durable_batches());
    start_flush();
    snapshots_.maybe_start(applied_index_);
    answer_changes_in_effect();
}

// The membership changes applied here, once their configuration is in effect: the runtime follows
// it first, then the clients hear +OK.
void Driver::answer_changes_in_effect() {
    if (changes_applied_.empty() || !engine_->configuration_in_effect()) return;
    if (before_change_answered_) before_change_answered_();
    for (const RequestKey& key : std::exchange(changes_applied_, {})) {
        auto it = writes_.find(key);
        if (it != writes_.end() && it->second.applied) complete_write(it, std::move(*it->second.applied));
    }
}

bool Driver::request_snapshot() {
    if (storage_failed_) return false;
    return snapshots_.request(applied_index_);
}

// Takes every ready batch: writes its durable part, sends what may leave now, queues the rest.
void Driver::drain_engine() {
    while (engine_->has_ready()) {
        Ready r = engine_->take_ready();
#ifdef BALLOT_CHECK_INVARIANTS
        // Debug and sanitizer builds (CMakeLists.txt): the engine's local invariants after every
        // batch. Release builds rely on the engines' always-on BALLOT_ASSERTs.
        engine_->check_invariants();
#endif
        if (r.needs_persist()) {
            storage_.write(r);
            ++written_;
        }
        Batch b;
        b.needs_write = written_;
        for (auto& m : r.messages) {
            if (!m.after_persist && m.to != self_)
                send(m);
            else
                b.held.push_back(std::move(m));
        }
        if (!r.committed.empty()) committed_taken_ = std::max(committed_taken_, r.committed.back().index);
        b.committed = std::move(r.committed);
        b.reads = std::move(r.reads);
        // Snapshot transfers read a file that is already durable: nothing to wait for.
        for (NodeId peer : r.snapshot_to) snapshots_.send_to(peer);
        // A refusal promises nothing about any disk either.
        for (ForwardedRefusal& refusal : r.refusals) forwarded_request_refused(refusal);
        if (!b.held.empty() || !b.committed.empty() || !b.reads.empty()) batches_.push_back(std::move(b));
    }
}

// Releases, oldest first, every batch whose writes are durable. Returns true if a message was
// delivered to this node's own engine (which may then have new output).
bool Driver::release_durable_batches() {
    bool stepped_self = false;
    while (!batches_.empty() && batches_.front().needs_write <= flushed_writes_ && !storage_failed_) {
        Batch b = std::move(batches_.front());
        batches_.pop_front();
        for (auto& m : b.held) {
            if (m.to == self_) {
                trace_message(kSent, self_, m.payload);
                engine_->step(self_, m.payload);
                stepped_self = true;
            } else {
                send(m);
            }
        }
        for (auto& e : b.committed) apply(e);
        for (auto& rs : b.reads) on_read_state(rs);
    }
    return stepped_self;
}

void Driver::send(Envelope& m) {
    trace_message(kSent, m.to, m.payload);
    network_.send(m.to, std::move(m.payload));
}

void Driver::trace_message(bool sent, NodeId peer, std::span<const std::uint8_t> payload) const {
    if (!trace_) return;
    const bool heartbeat = engine_->is_heartbeat(peer, payload);
    if (heartbeat && !trace_heartbeats_) return;
    trace_line(sent, peer, engine_->describe(payload), heartbeat);
}

void Driver::trace_line(bool sent, NodeId peer, std::string what, bool heartbeat) const {
    if (trace_) trace_(TracedMessage{self_, peer, sent, heartbeat, std::move(what)});
}

// A flush may start while earlier ones are still on their way: the storage runs them in order (a
// flush asked for while one is being written waits for it, and later ones join the waiting one),
// so the next fsync starts the moment the previous ends, not after its completion has come back
// to this thread and another pump has asked again.
void Driver::start_flush() {
    if (storage_failed_ || written_ == flush_requested_) return;
    flush_requested_ = written_;
    std::uint64_t covered = written_;
    storage_.flush([this, covered](std::error_code ec) { on_flushed(covered, ec); });
}

void Driver::on_flushed(std::uint64_t covered_writes, std::error_code ec) {
    if (storage_failed_) return;  // a later flush's completion after a failed one: nothing is released
    if (ec) {
        // Persist before you promise: nothing that depends on this data may leave, ever. The
        // page cache may have dropped it, so retrying the fsync proves nothing (fsyncgate).
        storage_failed_ = true;
        storage_error_ =
            "storage failure: " + ec.message() + "; this node acknowledges nothing until restarted";
        log(LogLevel::error, storage_error_);
        batches_.clear();
        fail_all(Outcome::Status::storage_failed);
        return;
    }
    // A flush covers every write issued before it was asked for (an fsync does).
    flushed_writes_ = std::max(flushed_writes_, covered_writes);
    pump();
}

void Driver::apply(const Committed& e) {
    // Already in the state machine by an installed snapshot (taken from the engine before the
    // install, or handed out again at restart below a snapshot): nothing to do.
    if (e.index <= installed_through_ && e.index <= applied_index_) return;
    // Engine contract (common/engine.h): committed entries come in strictly increasing index
    // order with no gaps. A gap means the engine broke its own invariants; applying past it (or
    // skipping the entry) would make this replica's state machine diverge. Fail-stop.
    BALLOT_ASSERT(e.index == applied_index_ + 1, "engine commits contiguously (index " +
                                                     std::to_string(e.index) + " after " +
                                                     std::to_string(applied_index_) + ")");
    applied_index_ = e.index;
    applied_at_tick_ = now_tick_;
    if (!e.data.empty()) {
        auto command = decode_command(e.data);
        if (!command) {
            log(LogLevel::warn, "log entry " + std::to_string(e.index) + " is not a command; skipped");
        } else {
            cluster_clock_.on_applied(command->time_ms, now_ms());
            std::string reply = state_machine_.apply(e.index, *command);
            auto it = writes_.find(RequestKey{command->client_id, command->seq});
            if (it != writes_.end() && it->second.config_change) {
                // Answered at the end of this pump, or once the change is in effect.
                it->second.applied = Outcome{Outcome::Status::ok, std::move(reply)};
                changes_applied_.push_back(it->first);
            } else if (it != writes_.end()) {
                complete_write(it, Outcome{Outcome::Status::ok, std::move(reply)});
            }
        }
    }
    release_reads_up_to_applied();
}

// Reads waiting for an index up to the applied one may now run.
void Driver::release_reads_up_to_applied() {
    while (!reads_waiting_apply_.empty() && reads_waiting_apply_.begin()->first <= applied_index_) {
        std::uint64_t id = reads_waiting_apply_.begin()->second;
        reads_waiting_apply_.erase(reads_waiting_apply_.begin());
        auto it = reads_.find(id);
        if (it == reads_.end()) continue;
        Completion done = std::move(it->second.done);
        reads_.erase(it);
        done(Outcome{Outcome::Status::ok, {}});
    }
}

void Driver::on_read_state(const ReadState& rs) {
    auto it = reads_.find(rs.id);
    if (it == reads_.end()) return;  // already timed out
    if (!rs.ok) {
        it->second.retry_tick = now_tick_ + options_.read_retry_ticks;
        return;
    }
    if (rs.index <= applied_index_) {
        Completion done = std::move(it->second.done);
        reads_.erase(it);
        done(Outcome{Outcome::Status::ok, {}});
        return;
    }
    reads_waiting_apply_.emplace(rs.index, rs.id);
}

// ---------------------------------------------------------------- snapshots

void Driver::snapshot_host_made(const SnapshotMeta& meta, std::uint64_t bytes) {
    engine_->snapshot_made(meta);
    if (on_snapshot_made_) on_snapshot_made_(meta.last_included_index, bytes);
}

bool Driver::snapshot_host_install(const SnapshotMeta& meta, SnapshotDecoder& decoded) {
    BALLOT_ASSERT(meta.last_included_index > std::max(applied_index_, committed_taken_),
                  "an installed snapshot moves the state forward");
    if (!state_machine_.adopt(decoded)) return false;
    applied_index_ = meta.last_included_index;
    applied_at_tick_ = now_tick_;
    installed_through_ = meta.last_included_index;
    cluster_clock_.restart(state_machine_.cluster_time_ms(), now_ms());
    engine_->snapshot_installed(meta);
    release_reads_up_to_applied();
    return true;
}

void Driver::snapshot_host_send_bulk(NodeId to, const SnapshotFrame& frame) {
    if (trace_) trace_line(kSent, to, describe_snapshot_frame(frame));
    network_.send_bulk(to, encode_snapshot_frame(frame));
}

DriverStatus Driver::status() const {
    DriverStatus s;
    s.engine = engine_->status();
    s.applied_index = applied_index_;
    s.pending_writes = writes_.size();
    s.pending_reads = reads_.size();
    s.storage_failed = storage_failed_;
    s.storage_error = storage_error_;
    SnapshotStats snap = snapshots_.stats();
    s.snapshot_index = snap.latest_index;
    s.snapshot_bytes = snap.latest_bytes;
    s.snapshot_in_progress = snap.making;
    s.snapshots_made = snap.made;
    s.snapshots_installed = snap.installed;
    s.snapshots_sent = snap.sent;
    return s;
}

}  // namespace ballot
