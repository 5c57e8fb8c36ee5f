#include "paxos/paxos.h"

#include <algorithm>

#include "common/persisted_format.h"
#include "common/random.h"

namespace ballot::paxos {

namespace {

// The configuration, once it has passed the checks every engine makes (throws otherwise). Basic
// Paxos adds none of its own: Tuning::from clamps every knob it derives to at least one tick.
const EngineConfig& validated(const EngineConfig& config) {
    validate_engine_config(config, "paxos");
    return config;
}

// The recovered snapshot and trim point must agree (common/engine.h, "Recovery"): a trim point
// above the snapshot would mean slots this acceptor forgot and the state machine never applied.
// Returns the trim point; throws std::invalid_argument otherwise.
Index checked_trim(const Recovered& recovered, const std::optional<SnapshotMeta>& snapshot) {
    const Index trim = recovered.metadata.trim;
    if (snapshot && snapshot->last_included_index == 0)
        throw std::invalid_argument("paxos: the recovered snapshot is at index 0");
    const Index through = snapshot ? snapshot->last_included_index : 0;
    if (trim > through)
        throw std::invalid_argument("paxos: persisted trim point " + std::to_string(trim) +
                                    " is above the recovered snapshot (" +
                                    (snapshot ? "index " + std::to_string(through) : std::string("none")) +
                                    "): the slots between were compacted away and nothing covers them");
    return trim;
}

}  // namespace

Paxos::Paxos(const EngineConfig& config, RecoveredState recovered)
    : Paxos(config, std::move(recovered), Tuning::from(config)) {}

Paxos::Paxos(const EngineConfig& config, RecoveredState recovered, const Tuning& tuning)
    : Paxos(config, decode_recovered<&decode_metadata, &decode_record>(recovered, "paxos"),
            recovered.snapshot, tuning) {}

Paxos::Paxos(const EngineConfig& config, Recovered&& recovered, std::optional<SnapshotMeta> snapshot,
             const Tuning& tuning)
    : config_(validated(config)),
      configs_(config.self(), bootstrap_configuration(config)),
      tuning_(tuning),
      acceptor_(recovered.records, checked_trim(recovered, snapshot)),
      proposer_(configs_, tuning, recovered.metadata.round, config.seed, outbox_),
      persisted_round_(recovered.metadata.round),
      next_read_round_(Rng(~config.seed).next()),
      persisted_trim_(recovered.metadata.trim),
      compacted_(recovered.metadata.trim) {
    if (config.join)
        for (NodeId id : config.members)
            if (id != config.id) contacts_.push_back(id);
    // A snapshot restored into the state machine: the learner starts at it (snapshots.cc).
    if (snapshot) {
        const bool leftovers =
            !recovered.records.empty() && recovered.records.front().slot <= persisted_trim_;
        recover_snapshot(*snapshot, leftovers);
    }
    // Restart: the acceptor's state came back from disk, and so did what this node knew chosen
    // (each slot record's chosen mark; the learner ignores slots the snapshot covers). Learned
    // after its last write, or never known here: the slots this node has touched, and those a
    // majority has accepted in (the probe), are known in use, so this node is behind until it
    // knows them: it asks its peers for the chosen values in bulk, and fills with no-ops only what
    // none of them reports chosen (catch_up.cc).
    for (SlotRecord& r : recovered.records)
        if (r.chosen && r.slot > persisted_trim_) learner_.learn(r.slot, std::move(*r.chosen));
    follow_chosen_prefix();  // the configurations chosen in it (membership.cc)
    proposer_.observe(acceptor_.highest_slot());
    probe();
}

// ---------------------------------------------------------------- inputs

void Paxos::tick() {
    ++now_;
    acceptor_.collect_garbage();
    learner_.collect_garbage();
    proposer_.tick();
    expire_reads();
    expire_transfers();  // snapshots.cc
    request_snapshot();
    tick_auto_promotion();  // membership.cc
    if (now_ >= next_probe_) probe();
    use_window();
}

// A payload is a batch of messages (messages.h). Check the whole batch before acting on any of
// it, so a bad message changes nothing; then one handler per message type (the on() overloads,
// grouped by concern file: election.cc, replication.cc, reads.cc, snapshots.cc, catch_up.cc).
bool Paxos::step(NodeId from, std::span<const std::uint8_t> payload) {
    auto messages = decode(payload);
    if (!messages || !accepts_from(from, *messages)) return false;
    for (const Message& m : *messages)
        if (!plausible(from, m)) return false;
    if (from != configs_.self()) {
        heard_from_ = from;
        last_heard_[from] = now_;
    }
    for (const Message& m : *messages) std::visit([&](const auto& msg) { on(from, msg); }, m);
    use_window();  // catch_up.cc
    return true;
}

// Proposal numbers carry their proposer's id: a Prepare or Accept must come from the node its
// ballot names, and a Promise, Accepted or Nack must answer one of this node's own ballots.
bool Paxos::plausible(NodeId from, const Message& m) const {
    if (auto* p = std::get_if<Prepare>(&m)) return p->ballot.node == from;
    if (auto* p = std::get_if<Accept>(&m)) return p->ballot.node == from;
    if (auto* p = std::get_if<Promise>(&m)) return p->ballot.node == configs_.self();
    if (auto* p = std::get_if<Accepted>(&m)) return p->ballot.node == configs_.self();
    if (auto* p = std::get_if<Nack>(&m)) return p->ballot.node == configs_.self();
    if (auto* p = std::get_if<Trimmed>(&m)) return p->ballot.node == configs_.self();
    return true;
}

ProposeResult Paxos::propose(std::string command) {
    // Learners never propose (README "Membership change"): they hand the command to a voter.
    if (!configs_.newest().self_is_voter()) return forward(std::move(command));
    ProposeResult result = proposer_.propose(std::move(command));
    use_window();
    return result;
}

// ---------------------------------------------------------------- output

void Paxos::send(NodeId to, Message m) {
    const bool wait = after_persist(m);
    outbox_.send(to, std::move(m), wait);
}

bool Paxos::has_ready() const {
    const Index trim = acceptor_.trim_point();
    return !outbox_.empty() || acceptor_.has_unsaved() || proposer_.round_used() > persisted_round_ ||
           trim > persisted_trim_ || trim > compacted_ || learner_.has_committed() || !reads_ready_.empty() ||
           !snapshot_to_.empty() || !refusals_.empty();
}

Ready Paxos::take_ready() {
    Ready ready;
    // The metadata (with the trim point) goes before the compaction it allows (common/engine.h:
    // metadata, truncate_from, compact_below, records): a crash in between leaves records the
    // restarted acceptor drops, never a forgotten slot it would answer for as if fresh.
    const Index trim = acceptor_.trim_point();
    if (proposer_.round_used() > persisted_round_ || trim > persisted_trim_) {
        persisted_round_ = proposer_.round_used();
        persisted_trim_ = trim;
        ready.metadata = encode_metadata(Metadata{persisted_round_, learner_.commit_index(), trim});
    }
    if (trim > compacted_) {
        compacted_ = trim;
        ready.compact_below = trim + 1;
    }
    // Each record carries the learner's chosen mark when the slot is known chosen, so that a restart
    // does not relearn what this node knew (README "Restart: relearning").
    for (SlotRecord& s : acceptor_.take_unsaved()) {
        if (const std::string* v = learner_.chosen(s.slot)) s.chosen = *v;
        ready.records.push_back(encode_record(s));
    }
    // One payload per peer and per after_persist flag (split at max_message_bytes), however many
    // slots the messages are about. Within a payload, messages keep the order they were made in.
    outbox_.take_packed(ready.messages, config_.max_message_bytes,
                        [](const Message& m, Bytes& out) { encode(m, out); });
    ready.committed = learner_.take_committed();
    // A void configuration entry (configurations.h) is handed out as the no-op it is: the state
    // machine must not answer its change as made.
    for (Committed& c : ready.committed)
        if (void_slots_.erase(c.index)) c.data.clear();
    ready.refusals = std::move(refusals_);
    refusals_.clear();
    ready.snapshot_to = std::move(snapshot_to_);
    snapshot_to_.clear();
    ready.reads = std::move(reads_ready_);
    reads_ready_.clear();
    open_read_round_ = 0;  // its queries are in this batch: later reads need a new round
    return ready;
}

std::optional<std::string> Paxos::transfer_leadership(std::uint64_t /*request_id*/, NodeId /*target*/) {
    return std::string("basic Paxos has no leader");
}

EngineStatus Paxos::status() const {
    EngineStatus s;
    // A learner, a removed node or one not added yet only learns (README "Membership change").
    s.role = configs_.newest().self_is_voter() ? Role::proposer : Role::follower;
    s.leader = kNoNode;
    s.epoch = Epoch::ballot(std::max(proposer_.highest_ballot(), acceptor_.highest_promise()));
    s.commit_index = learner_.commit_index();
    s.log_last_index = proposer_.next_slot() - 1;
    // Slots at or below the trim point are gone (past the last one if every slot seen is trimmed).
    s.log_first_index = s.log_last_index > 0 ? acceptor_.trim_point() + 1 : 0;
    s.snapshot_index = snapshot_index_;
    s.config_governs_from = configuration().empty() ? 0 : configs_.newest_from();
    s.proposals_preempted = proposer_.preempted();
    s.peers = peer_knowledge();
    return s;
}

// Basic Paxos keeps no replication state per peer (every slot runs both phases with a majority,
// whoever proposes): all a node knows of the others is the trim point each announced and the
// snapshot transfers it is making. The live view shows that much and no lag bars.
std::vector<PeerProgress> Paxos::peer_knowledge() const {
    std::vector<PeerProgress> out;
    const Membership& members = configs_.newest();
    for (NodeId id : members.peers()) {
        PeerProgress pp;
        pp.id = id;
        if (auto it = peer_trims_.find(id); it != peer_trims_.end()) pp.chosen = it->second;
        pp.snapshotting = transfers_.count(id) > 0;
        out.push_back(std::move(pp));
    }
    return out;
}

std::string Paxos::describe(std::span<const std::uint8_t> payload) const {
    return paxos::describe(payload);
}

// Basic Paxos has no leader and so no heartbeats: every message is a phase of some slot or a read
// round. Its periodic probe (catch_up.cc) is a read round without readers, a few a second, and
// looks to its receivers exactly like a read, so it is shown like one.
bool Paxos::is_heartbeat(NodeId /*peer*/, std::span<const std::uint8_t> /*payload*/) const {
    return false;
}

}  // namespace ballot::paxos
