#include "paxos/paxos.h"

#include <algorithm>

#include "common/assert.h"
#include "common/random.h"

namespace ballot::paxos {

namespace {

// The configuration, once it has passed the checks every engine makes (throws otherwise). Basic
// Paxos adds none of its own: Tuning::from clamps every knob it derives to at least one tick.
const EngineConfig& validated(const EngineConfig& config) {
    validate_engine_config(config, "paxos");
    return config;
}

}  // namespace

Paxos::Paxos(const EngineConfig& config, RecoveredState recovered)
    : Paxos(config, std::move(recovered), Tuning::from(config)) {}

Paxos::Paxos(const EngineConfig& config, RecoveredState recovered, const Tuning& tuning)
    : Paxos(config, decode_recovered<&decode_metadata, &decode_record>(recovered, "paxos"), tuning) {}

Paxos::Paxos(const EngineConfig& config, const Recovered& recovered, const Tuning& tuning)
    : config_(validated(config)),
      members_(config.id, config.members),
      tuning_(tuning),
      acceptor_(recovered.records),
      proposer_(members_, tuning, recovered.metadata.round, config.seed, outbox_),
      persisted_round_(recovered.metadata.round),
      next_read_round_(Rng(~config.seed).next()) {
    // Restart: the acceptor's state came back from disk, what was chosen did not. The slots this
    // node has touched, and those a majority has accepted in (the probe), are known in use, so gap
    // filling relearns them all: a Prepare per slot, answered with Learn by any peer that knows.
    proposer_.observe(acceptor_.highest_slot());
    probe();
}

// ---------------------------------------------------------------- inputs

void Paxos::tick() {
    ++now_;
    proposer_.tick();
    expire_reads();
    if (now_ >= next_probe_) probe();
    use_window();
}

bool Paxos::step(NodeId from, std::span<const std::uint8_t> payload) {
    if (!members_.contains(from)) return false;
    auto messages = decode(payload);
    if (!messages) return false;
    // Check the whole batch before acting on any of it: a bad message changes nothing.
    for (const Message& m : *messages)
        if (!plausible(from, m)) return false;
    for (const Message& m : *messages) handle(from, m);
    use_window();
    return true;
}

// Proposal numbers carry their proposer's id: a Prepare or Accept must come from the node its
// ballot names, and a Promise, Accepted or Nack must answer one of this node's own ballots.
bool Paxos::plausible(NodeId from, const Message& m) const {
    if (auto* p = std::get_if<Prepare>(&m)) return p->ballot.node == from;
    if (auto* p = std::get_if<Accept>(&m)) return p->ballot.node == from;
    if (auto* p = std::get_if<Promise>(&m)) return p->ballot.node == config_.id;
    if (auto* p = std::get_if<Accepted>(&m)) return p->ballot.node == config_.id;
    if (auto* p = std::get_if<Nack>(&m)) return p->ballot.node == config_.id;
    return true;
}

void Paxos::handle(NodeId from, const Message& message) {
    if (auto* m = std::get_if<Prepare>(&message)) {
        proposer_.observe(m->slot);
        if (from == config_.id) proposer_.on_round_durable(m->ballot.round);
        // A slot this node knows is decided: say so rather than promise (how laggards catch up).
        if (const std::string* v = learner_.chosen(m->slot))
            send(from, Learn{m->slot, *v}, false);
        else
            send(from, acceptor_.on_prepare(*m), true);  // the promise is durable before it leaves
    } else if (auto* m = std::get_if<Accept>(&message)) {
        proposer_.observe(m->slot);
        send(from, acceptor_.on_accept(*m), true);  // the accepted value is durable before it leaves
    } else if (auto* m = std::get_if<Promise>(&message)) {
        proposer_.on_promise(from, *m);
    } else if (auto* m = std::get_if<Accepted>(&message)) {
        if (auto chosen = proposer_.on_accepted(from, *m)) learn(m->slot, std::move(*chosen));
    } else if (auto* m = std::get_if<Nack>(&message)) {
        proposer_.on_nack(*m);
    } else if (auto* m = std::get_if<Learn>(&message)) {
        learn(m->slot, m->value);
    } else if (auto* m = std::get_if<ReadQuery>(&message)) {
        // A larger answer is never unsafe, so this need not wait for the disk (README "Reads").
        send(from, ReadReply{m->round, acceptor_.highest_accepted_slot()}, false);
    } else if (auto* m = std::get_if<ReadReply>(&message)) {
        on_read_reply(from, *m);
    }
}

ProposeResult Paxos::propose(std::string command) {
    ProposeResult result = proposer_.propose(std::move(command));
    use_window();
    return result;
}

void Paxos::learn(Index slot, std::string value) {
    if (learner_.learn(slot, value)) proposer_.on_chosen(slot, value);
}

// ---------------------------------------------------------------- gap filling

// Hands out the proposer's window after every input: holes below the chosen prefix first, then
// new commands. The order matters. §3: a server cannot execute commands above a gap until it is
// filled, so a hole blocks every learner; if a decision's freed window slot went to a new command
// first, a window of one or two slots could stay full of new commands for ever and the hole would
// never be retried (a livelock the simulator found, see README "Gap filling").
void Paxos::use_window() {
    fill_gaps();
    proposer_.start_queued();
}

// §3 fills a gap in the log with 'a special "no-op" command that leaves the state unchanged'.
// Here any node does so, by running Paxos in the slot with a no-op: phase 1 either finds a value
// accepted (or chosen) there and completes it, or the no-op is chosen. We wait gap_timeout_ticks first,
// because a gap is usually another proposer's slot still in flight; once filling starts it continues until
// the prefix reaches the slot that was known in use, the window permitting.
void Paxos::fill_gaps() {
    const Index commit = learner_.commit_index();
    const Index horizon = proposer_.next_slot() - 1;  // the highest slot known in use
    if (commit != last_commit_ || horizon <= commit) {
        last_commit_ = commit;
        behind_since_ = now_;
    }
    if (horizon > commit && now_ - behind_since_ >= tuning_.gap_timeout_ticks)
        fill_until_ = std::max(fill_until_, horizon);

    Index slot = std::max(fill_next_, commit + 1);
    for (; slot <= fill_until_; ++slot)
        if (!learner_.chosen(slot) && !proposer_.fill(slot)) break;  // the window is full
    fill_next_ = slot;
}

// ---------------------------------------------------------------- reads

// A linearizable read asks a majority of acceptors for the highest slot in which each has
// accepted anything. Any write acknowledged before the read began was chosen, so accepted by a
// majority, which shares an acceptor with this one: the maximum is at or above its slot. The
// runtime serves the read once everything up to that slot is applied (README "Reads").
void Paxos::read(std::uint64_t read_id) {
    if (open_read_round_ == 0) open_read_round_ = query_highest_accepted();
    read_rounds_[open_read_round_].read_ids.push_back(read_id);
}

// A read with no reader: learns how far the log extends, so that a node that restarted or missed
// the last Learn of a quiet cluster finds the slots it does not know and fills them.
void Paxos::probe() {
    next_probe_ = now_ + tuning_.probe_interval_ticks;
    if (open_read_round_ == 0) open_read_round_ = query_highest_accepted();
}

std::uint64_t Paxos::query_highest_accepted() {
    std::uint64_t round = next_read_round_++;
    ReadRound& r = read_rounds_[round];
    r.answered = members_.tally();
    r.deadline = now_ + tuning_.read_timeout_ticks;
    for (NodeId to : members_.members()) send(to, ReadQuery{round}, false);
    return round;
}

// No majority answered in time: the runtime is told, and may retry.
void Paxos::expire_reads() {
    for (auto it = read_rounds_.begin(); it != read_rounds_.end();) {
        if (now_ < it->second.deadline) {
            ++it;
            continue;
        }
        for (std::uint64_t id : it->second.read_ids) reads_ready_.push_back(ReadState{id, 0, false});
        it = read_rounds_.erase(it);
    }
}

void Paxos::on_read_reply(NodeId from, const ReadReply& m) {
    auto it = read_rounds_.find(m.round);
    if (it == read_rounds_.end()) return;
    ReadRound& round = it->second;
    if (!round.answered.record(from, true)) return;
    round.highest_accepted = std::max(round.highest_accepted, m.highest_accepted);
    if (!round.answered.won()) return;
    for (std::uint64_t id : round.read_ids)
        reads_ready_.push_back(ReadState{id, round.highest_accepted, true});
    // Slots up to the read index are in use: gap filling sees them through.
    proposer_.observe(round.highest_accepted);
    read_rounds_.erase(it);
}

// ---------------------------------------------------------------- output

void Paxos::send(NodeId to, Message m, bool after_persist) {
    outbox_.send(to, std::move(m), after_persist);
}

bool Paxos::has_ready() const {
    return !outbox_.empty() || acceptor_.has_unsaved() || proposer_.round_used() > persisted_round_ ||
           learner_.has_committed() || !reads_ready_.empty();
}

Ready Paxos::take_ready() {
    Ready ready;
    if (proposer_.round_used() > persisted_round_) {
        persisted_round_ = proposer_.round_used();
        ready.metadata = encode_metadata(Metadata{persisted_round_, learner_.commit_index()});
    }
    for (const SlotRecord& s : acceptor_.take_unsaved()) ready.records.push_back(encode_record(s));

    // One payload per peer and per after_persist flag (split at max_message_bytes), however many
    // slots the messages are about. Within a payload, messages keep the order they were made in.
    outbox_.take_packed(ready.messages, config_.max_message_bytes,
                        [](const Message& m, Bytes& out) { encode(m, out); });

    ready.committed = learner_.take_committed();
    ready.reads = std::move(reads_ready_);
    reads_ready_.clear();
    open_read_round_ = 0;  // its queries are in this batch: later reads need a new round
    return ready;
}

EngineStatus Paxos::status() const {
    EngineStatus s;
    s.role = Role::proposer;
    s.leader = kNoNode;
    s.epoch = Epoch::ballot(std::max(proposer_.highest_ballot(), acceptor_.highest_promise()));
    s.commit_index = learner_.commit_index();
    s.log_last_index = proposer_.next_slot() - 1;
    s.log_first_index = s.log_last_index > 0 ? 1 : 0;
    return s;
}

// Every role's local invariants (acceptor.cc, learner.cc, proposer.cc), then the glue's.
void Paxos::check_invariants() const {
    acceptor_.check_invariants();
    learner_.check_invariants();
    proposer_.check_invariants();
    // §2.5: the highest round put in a Prepare is persisted before that Prepare leaves.
    BALLOT_ASSERT(persisted_round_ <= proposer_.round_used(), "paxos: the persisted round was used");
    BALLOT_ASSERT(learner_.highest_chosen() < proposer_.next_slot(),
                  "paxos: every chosen slot is known in use");
    BALLOT_ASSERT(fill_next_ >= 1, "paxos: gap filling starts at slot 1 or later");
}

std::string Paxos::describe(std::span<const std::uint8_t> payload) const {
    return paxos::describe(payload);
}

}  // namespace ballot::paxos
