#include "common/snapshotter.h"

#include <algorithm>

#include "common/driver.h"
#include "common/random.h"

namespace ballot {

// A snapshot file being written, touched only by worker jobs (submitted in order, so never two at
// once); `error` and `info` are read on the runtime's thread only in a job's completion.
struct Snapshotter::WriteJob {
    SnapshotDir* dir = nullptr;
    SnapshotMeta meta;
    std::unique_ptr<SnapshotWriter> writer;
    std::string error;
    std::uint64_t payload_bytes = 0;
    // Receiving only: the committed file read back into the state machine's decoder, a piece at a
    // time on the worker; `malformed`: the file is sound but the decoder refused it.
    std::unique_ptr<SnapshotDecoder> decoder;
    bool malformed = false;

    void start() { writer = SnapshotWriter::start(*dir, meta, error); }
    void append(std::string_view bytes) {
        if (error.empty() && writer) error = writer->append(bytes);
    }
    void commit() {
        if (!error.empty() || !writer) return;
        payload_bytes = writer->payload_bytes();
        error = writer->commit();
    }
    void abort() {
        if (writer) writer->abort();
    }
};

struct Snapshotter::ReadJob {
    std::unique_ptr<SnapshotReader> reader;
    std::string error;
    std::string chunk;
    bool done = false;
};

struct Snapshotter::Making {
    std::uint64_t id = 0;  // completions match by id: a new Making may reuse a freed address
    SnapshotMeta meta;
    std::shared_ptr<WriteJob> job;
    int in_flight = 0;  // worker jobs not yet completed
    bool produced_last = false;
    bool committing = false;
};

struct Snapshotter::Outgoing {
    std::uint64_t transfer = 0;
    Index index = 0;
    std::shared_ptr<ReadJob> job;
    std::uint64_t sent = 0;   // payload bytes sent
    std::uint64_t acked = 0;  // payload bytes the receiver has written
    bool reading = false;     // a read job is in flight
    bool all_sent = false;
    std::uint64_t last_heard = 0;
};

struct Snapshotter::Incoming {
    std::uint64_t transfer = 0;
    std::shared_ptr<WriteJob> job;
    std::uint64_t received = 0;  // payload bytes handed to the worker
    std::uint64_t written = 0;   // payload bytes the worker has written
    bool got_last = false;
    bool finishing = false;
    std::uint64_t last_heard = 0;
};

Snapshotter::Snapshotter(NodeId self, SnapshotIo io, StateMachine& state_machine, SnapshotHost& host,
                         const DriverOptions& options)
    : self_(self),
      io_(std::move(io)),
      state_machine_(state_machine),
      host_(host),
      options_(options),
      latest_(io_.latest),
      // Transfer ids differ between this node's processes, so an ack meant for an earlier process
      // never matches a transfer of this one.
      next_transfer_(Rng(options.session_id ^ 0x5bd1e995u).next() | 1) {
    if (latest_) last_attempt_ = latest_->meta.last_included_index;
}

Snapshotter::~Snapshotter() = default;

SnapshotStats Snapshotter::stats() const {
    SnapshotStats s;
    if (latest_) {
        s.latest_index = latest_->meta.last_included_index;
        s.latest_bytes = latest_->payload_bytes;
    }
    s.making = making_ != nullptr;
    s.made = made_;
    s.installed = installed_;
    s.sent = sent_;
    return s;
}

void Snapshotter::note_latest(const SnapshotFileInfo& info) {
    if (!latest_ || info.meta.last_included_index > latest_->meta.last_included_index) latest_ = info;
}

void Snapshotter::tick(std::uint64_t now_tick) {
    now_ = now_tick;
    make_budget_ = options_.snapshot_make_bytes_per_tick;
    feed_making();
    std::uint64_t timeout = options_.snapshot_transfer_timeout_ticks;
    std::vector<NodeId> silent;
    for (auto& [peer, out] : outgoing_)
        if (now_ - out->last_heard > timeout) silent.push_back(peer);
    for (NodeId peer : silent) {
        log(LogLevel::warn, "snapshot transfer to n" + std::to_string(peer) + " timed out");
        end_outgoing(peer, false);
    }
    silent.clear();
    for (auto& [peer, in] : incoming_)
        if (!in->finishing && now_ - in->last_heard > timeout) silent.push_back(peer);
    for (NodeId peer : silent) {
        log(LogLevel::warn, "snapshot transfer from n" + std::to_string(peer) + " timed out");
        end_incoming(peer, SnapshotAckFrame::Status::restart);
    }
}

// ---------------------------------------------------------------- making

void Snapshotter::maybe_start(Index applied) {
    if (!enabled() || making_ || options_.snapshot_entries == 0) return;
    if (applied >= last_attempt_ + options_.snapshot_entries) start_making(applied);
}

bool Snapshotter::request(Index applied) {
    if (!enabled() || making_) return false;
    if (latest_ && applied <= latest_->meta.last_included_index) return false;
    return start_making(applied);
}

bool Snapshotter::start_making(Index applied) {
    Index index = state_machine_.begin_snapshot();
    if (index == 0 || (latest_ && index <= latest_->meta.last_included_index) || receiving(index)) {
        state_machine_.abort_snapshot();
        last_attempt_ = applied;
        return false;
    }
    last_attempt_ = index;
    making_ = std::make_unique<Making>();
    making_->id = ++making_ids_;
    making_->meta = SnapshotMeta{index, host_.snapshot_host_engine_metadata(index)};
    auto job = std::make_shared<WriteJob>();
    job->dir = io_.dir;
    job->meta = making_->meta;
    making_->job = job;
    making_->in_flight = 1;
    Making* m = making_.get();
    io_.worker->run([job] { job->start(); },
                    [this, m, id = m->id] {
                        if (!making_ || making_->id != id) return;
                        --m->in_flight;
                        if (!m->job->error.empty()) return fail_making(m->job->error);
                        feed_making();
                    });
    log(LogLevel::info, "snapshot started at index " + std::to_string(index));
    return true;
}

// Produces the next chunks while fewer than two are waiting for the disk and this tick's budget
// lasts: the state machine's work is spread between apply batches and over ticks, and at most two
// chunks are in memory. A chunk may overdraw the budget; the next tick starts afresh.
void Snapshotter::feed_making() {
    Making* m = making_.get();
    if (!m) return;
    const bool paced = options_.snapshot_make_bytes_per_tick > 0;
    while (!m->produced_last && m->in_flight < 2 && (!paced || make_budget_ > 0)) {
        if (!state_machine_.snapshot_open()) return fail_making("the state machine dropped the snapshot");
        SnapshotChunk chunk = state_machine_.snapshot_chunk(options_.snapshot_make_chunk_bytes);
        if (paced) make_budget_ -= std::min(make_budget_, chunk.bytes.size());
        m->produced_last = chunk.last;
        ++m->in_flight;
        io_.worker->run([job = m->job, bytes = std::move(chunk.bytes)] { job->append(bytes); },
                        [this, m, id = m->id] {
                            if (!making_ || making_->id != id) return;
                            --m->in_flight;
                            if (!m->job->error.empty()) return fail_making(m->job->error);
                            feed_making();
                        });
    }
    if (m->produced_last && m->in_flight == 0 && !m->committing) finish_making();
}

void Snapshotter::finish_making() {
    Making* m = making_.get();
    m->committing = true;
    io_.worker->run([job = m->job] { job->commit(); },
                    [this, m, id = m->id] {
                        if (!making_ || making_->id != id) return;
                        if (!m->job->error.empty()) return fail_making(m->job->error);
                        std::unique_ptr<Making> done = std::move(making_);
                        SnapshotFileInfo info{snapshot_file_name(done->meta.last_included_index), done->meta,
                                              done->job->payload_bytes};
                        note_latest(info);
                        ++made_;
                        log(LogLevel::info, "snapshot " + info.name + " is durable (" +
                                                std::to_string(info.payload_bytes) + " bytes)");
                        host_.snapshot_host_made(done->meta, done->job->payload_bytes);
                        host_.snapshot_host_pump();
                    });
}

void Snapshotter::fail_making(const std::string& why) {
    if (!making_) return;
    log(LogLevel::error, "snapshot at index " + std::to_string(making_->meta.last_included_index) +
                             " failed: " + why + "; the next one is tried after --snapshot-entries more");
    if (state_machine_.snapshot_open()) state_machine_.abort_snapshot();
    discard(making_->job);
    making_.reset();
}

bool Snapshotter::receiving(Index index) const {
    for (auto& [peer, in] : incoming_)
        if (in->job->meta.last_included_index == index) return true;
    return false;
}

void Snapshotter::discard(std::shared_ptr<WriteJob> job) {
    io_.worker->run([job] { job->abort(); }, nullptr);
}

// ---------------------------------------------------------------- sending

void Snapshotter::send_to(NodeId peer) {
    if (outgoing_.count(peer)) return;  // one transfer per peer
    if (!enabled() || !latest_) {
        host_.snapshot_host_sent(peer, 0, false);
        return;
    }
    auto out = std::make_unique<Outgoing>();
    out->transfer = next_transfer_++;
    out->index = latest_->meta.last_included_index;
    out->job = std::make_shared<ReadJob>();
    out->last_heard = now_;
    Outgoing* o = out.get();
    outgoing_[peer] = std::move(out);
    o->reading = true;
    io_.worker->run(
        [dir = io_.dir, job = o->job, name = latest_->name] {
            job->reader = SnapshotReader::open(*dir, name, job->error);
        },
        [this, peer, transfer = o->transfer] {
            if (read_done(peer, transfer)) read_next_chunk(peer);
        });
    log(LogLevel::info, "sending snapshot " + latest_->name + " to n" + std::to_string(peer));
}

// Reads and sends the next chunk if the window has room.
void Snapshotter::read_next_chunk(NodeId peer) {
    Outgoing* o = outgoing_.at(peer).get();
    std::uint64_t window = options_.snapshot_window * options_.snapshot_chunk_bytes;
    if (o->reading || o->all_sent || o->sent - o->acked >= window) return;
    o->reading = true;
    io_.worker->run(
        [job = o->job, max = options_.snapshot_chunk_bytes] {
            job->error = job->reader->next(max, job->chunk);
            job->done = job->reader->done();
        },
        [this, peer, transfer = o->transfer] {
            if (!read_done(peer, transfer)) return;
            Outgoing* o = outgoing_.at(peer).get();
            SnapshotChunkFrame c;
            c.transfer = o->transfer;
            c.index = o->index;
            c.offset = o->sent;
            c.last = o->job->done;
            if (c.offset == 0) c.engine_metadata = o->job->reader->info().meta.engine_metadata;
            c.data = std::move(o->job->chunk);
            o->sent += c.data.size();
            o->all_sent = c.last;
            host_.snapshot_host_send_bulk(peer, c);
            read_next_chunk(peer);
        });
}

// A read job of `transfer` to `peer` completed: true if that transfer is still on and the read
// went well (a failed read ends it).
bool Snapshotter::read_done(NodeId peer, std::uint64_t transfer) {
    auto it = outgoing_.find(peer);
    if (it == outgoing_.end() || it->second->transfer != transfer) return false;
    Outgoing* o = it->second.get();
    o->reading = false;
    if (o->job->error.empty()) return true;
    log(LogLevel::error, "snapshot for n" + std::to_string(peer) + ": " + o->job->error);
    end_outgoing(peer, false);
    return false;
}

void Snapshotter::on_ack(NodeId from, const SnapshotAckFrame& ack) {
    auto it = outgoing_.find(from);
    if (it == outgoing_.end() || it->second->transfer != ack.transfer) return;  // an old transfer's
    Outgoing* o = it->second.get();
    o->last_heard = now_;
    switch (ack.status) {
        case SnapshotAckFrame::Status::more:
            o->acked = std::max(o->acked, std::min(ack.received, o->sent));
            return read_next_chunk(from);
        case SnapshotAckFrame::Status::done:
            ++sent_;
            return end_outgoing(from, true);
        case SnapshotAckFrame::Status::restart:
            return end_outgoing(from, false);
    }
}

void Snapshotter::end_outgoing(NodeId peer, bool ok) {
    auto it = outgoing_.find(peer);
    if (it == outgoing_.end()) return;
    Index index = it->second->index;
    outgoing_.erase(it);  // the reader closes with its last job (the worker holds a reference)
    log(ok ? LogLevel::info : LogLevel::warn, "snapshot transfer to n" + std::to_string(peer) +
                                                  (ok ? " done" : " failed") + " (index " +
                                                  std::to_string(index) + ")");
    host_.snapshot_host_sent(peer, index, ok);
    host_.snapshot_host_pump();
}

// ---------------------------------------------------------------- receiving

bool Snapshotter::receive(NodeId from, std::span<const std::uint8_t> payload) {
    std::string error;
    auto frame = decode_snapshot_frame(payload, &error);
    if (!frame) {
        log(LogLevel::warn, "malformed snapshot frame from n" + std::to_string(from) + ": " + error);
        return false;
    }
    if (auto* ack = std::get_if<SnapshotAckFrame>(&*frame)) {
        on_ack(from, *ack);
    } else {
        on_chunk(from, std::move(std::get<SnapshotChunkFrame>(*frame)));
    }
    return true;
}

void Snapshotter::ack(NodeId to, std::uint64_t transfer, Index index, std::uint64_t received,
                      SnapshotAckFrame::Status status) {
    host_.snapshot_host_send_bulk(to, SnapshotAckFrame{transfer, index, received, status});
}

void Snapshotter::on_chunk(NodeId from, SnapshotChunkFrame&& c) {
    if (!enabled()) return ack(from, c.transfer, c.index, 0, SnapshotAckFrame::Status::restart);
    if (c.offset == 0) {
        // This node already has this state or a later one: done, nothing to install (no state
        // ever goes backwards).
        Index have = std::max(host_.snapshot_host_has_through(), latest_ ? latest_->meta.last_included_index : 0);
        if (c.index <= have) return ack(from, c.transfer, c.index, 0, SnapshotAckFrame::Status::done);
        // Two writers of one file name would interleave their bytes.
        if (making_ && making_->meta.last_included_index == c.index)
            return ack(from, c.transfer, c.index, 0, SnapshotAckFrame::Status::restart);
        // One transfer in at a time: two (a basic Paxos node that asked a second peer while the
        // first was still streaming, a new Raft leader's beside its predecessor's) share this
        // node's disk and both finish later; on a slow disk, neither within the peers' retry
        // time, and the node never catches up (simulator seed 58234584). The one under way goes
        // on (or times out, snapshot_transfer_timeout_ticks); the newcomer's engine asks again.
        for (auto& [peer, in] : incoming_)
            if (peer != from) return ack(from, c.transfer, c.index, 0, SnapshotAckFrame::Status::restart);
        if (incoming_.count(from)) end_incoming(from, SnapshotAckFrame::Status::restart);
        auto in = std::make_unique<Incoming>();
        in->transfer = c.transfer;
        in->job = std::make_shared<WriteJob>();
        in->job->dir = io_.dir;
        in->job->meta = SnapshotMeta{c.index, std::move(c.engine_metadata)};
        io_.worker->run([job = in->job] { job->start(); }, nullptr);
        incoming_[from] = std::move(in);
        log(LogLevel::info, "receiving snapshot " + snapshot_file_name(c.index) + " from n" + std::to_string(from));
    }
    auto it = incoming_.find(from);
    if (it == incoming_.end() || it->second->transfer != c.transfer || it->second->received != c.offset ||
        it->second->got_last || it->second->job->meta.last_included_index != c.index) {
        // Out of order, or for a transfer this node no longer follows: start over.
        if (it != incoming_.end() && it->second->transfer == c.transfer)
            end_incoming(from, SnapshotAckFrame::Status::restart);
        else
            ack(from, c.transfer, c.index, 0, SnapshotAckFrame::Status::restart);
        return;
    }
    Incoming* in = it->second.get();
    in->last_heard = now_;
    in->received += c.data.size();
    in->got_last = c.last;
    std::uint64_t transfer = in->transfer;
    std::uint64_t upto = in->received;
    io_.worker->run([job = in->job, data = std::move(c.data)] { job->append(data); },
                    [this, from, transfer, upto] {
                        auto it = incoming_.find(from);
                        if (it == incoming_.end() || it->second->transfer != transfer) return;
                        it->second->written = upto;
                        on_chunk_written(from, transfer);
                    });
}

void Snapshotter::on_chunk_written(NodeId from, std::uint64_t transfer) {
    Incoming* in = incoming_.at(from).get();
    if (!in->job->error.empty()) {
        log(LogLevel::error, "snapshot from n" + std::to_string(from) + ": " + in->job->error);
        return end_incoming(from, SnapshotAckFrame::Status::restart);
    }
    if (in->got_last && in->written == in->received) return finish_incoming(from);
    ack(from, transfer, in->job->meta.last_included_index, in->written, SnapshotAckFrame::Status::more);
}

// The whole file is written: make it durable and renamed (the commit point of the install), then
// read it back, checksums verified end to end, into the state machine's decoder, on the worker:
// this thread goes on applying, and only swaps the decoded state in (install).
void Snapshotter::finish_incoming(NodeId from) {
    Incoming* in = incoming_.at(from).get();
    if (in->finishing) return;
    in->finishing = true;
    std::uint64_t transfer = in->transfer;
    in->job->decoder = host_.snapshot_host_decoder();
    io_.worker->run(
        [job = in->job] {
            job->commit();
            if (job->error.empty())
                job->error = decode_snapshot_file(*job->dir, snapshot_file_name(job->meta.last_included_index),
                                                  *job->decoder, &job->malformed);
        },
        [this, from, transfer] { install(from, transfer); });
}

void Snapshotter::install(NodeId from, std::uint64_t transfer) {
    auto it = incoming_.find(from);
    if (it == incoming_.end() || it->second->transfer != transfer) return;
    std::shared_ptr<WriteJob> job = it->second->job;
    const SnapshotMeta& meta = job->meta;
    Index index = meta.last_included_index;
    if (!job->error.empty() && !job->malformed) {
        log(LogLevel::error, "snapshot from n" + std::to_string(from) + ": " + job->error);
        return end_incoming(from, SnapshotAckFrame::Status::restart);
    }
    SnapshotFileInfo info{snapshot_file_name(index), meta, job->payload_bytes};
    if (index > host_.snapshot_host_has_through()) {
        // The state machine drops a snapshot it was making; so do we.
        if (making_) {
            discard(making_->job);
            making_.reset();
        }
        if (job->malformed || !host_.snapshot_host_install(meta, *job->decoder)) {
            log(LogLevel::error, "snapshot " + info.name + " from n" + std::to_string(from) +
                                     " does not decode as a state machine snapshot; deleted");
            io_.worker->run([dir = io_.dir, name = info.name] { (void)dir->remove(name); }, nullptr);
            return end_incoming(from, SnapshotAckFrame::Status::restart);
        }
        ++installed_;
        last_attempt_ = std::max(last_attempt_, index);
        log(LogLevel::info, "installed snapshot " + info.name + " from n" + std::to_string(from));
    }
    note_latest(info);
    // The decoder holds the state the install replaced (StateMachine::adopt): freed on the worker.
    io_.worker->run([dropped = std::shared_ptr<SnapshotDecoder>(std::move(job->decoder))]() mutable { dropped.reset(); },
                    nullptr);
    incoming_.erase(it);
    ack(from, transfer, index, info.payload_bytes, SnapshotAckFrame::Status::done);
    host_.snapshot_host_pump();
}

void Snapshotter::end_incoming(NodeId from, SnapshotAckFrame::Status status) {
    auto it = incoming_.find(from);
    if (it == incoming_.end()) return;
    Incoming* in = it->second.get();
    ack(from, in->transfer, in->job->meta.last_included_index, in->written, status);
    discard(in->job);
    incoming_.erase(it);
}

}  // namespace ballot
