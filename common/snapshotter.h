// The runtime's snapshot work, for every engine (SPEC "Snapshots and log compaction"; the engine
// side of the contract is in common/engine.h, SNAPSHOTS). Three jobs, all driven from the
// runtime's one thread, with file I/O on a SnapshotWorker (common/snapshot_worker.h):
//
//  MAKING. Every `snapshot_entries` applied (or on BGSAVE) the state machine freezes a
//  point-in-time view (StateMachine::begin_snapshot, copy-on-write in the KV) and hands it out in
//  chunks between apply batches; the worker appends each chunk to `snapshot-<index>.tmp`, then
//  fsyncs, renames and fsyncs the directory (common/snapshot_file.h). At most two chunks are
//  waiting for the disk at any time, so memory stays bounded and writes go on meanwhile, and at
//  most `snapshot_make_bytes_per_tick` are serialized per tick: the serializing runs on the
//  runtime's thread, and unpaced it took that thread from the writes for as long as the worker
//  kept up (RocksDB and CockroachDB rate-limit their background writes for the same reason).
//  Once the file is durable the engine hears snapshot_made() and may compact its log.
//
//  SENDING. When the engine names a peer in Ready::snapshot_to, its latest durable snapshot file
//  streams to that peer on the bulk lane (Network::send_bulk) in chunks of `snapshot_chunk_bytes`,
//  at most `snapshot_window` unacknowledged, read from disk by the worker: at most a window of
//  chunks is ever in memory per transfer (etcd#2662 saw a leader at 40x the data). One transfer
//  per peer; the engine hears snapshot_sent() when it ends. An open file stays readable after a
//  newer snapshot replaces it, so a snapshot is never deleted under its transfer.
//
//  RECEIVING. Chunks are written, in order, to a temporary file; the receiver acknowledges each
//  once written (that paces the sender). The last one makes the file durable and renames it (the
//  commit point: a crash before it leaves the old state, after it the node restarts from the new
//  snapshot), then the state machine is restored from the whole checked file, and only then does
//  the engine hear snapshot_installed(). A snapshot at or below what the node already applied is
//  acknowledged as done and not installed: no state ever goes backwards. One transfer comes in
//  at a time: a second peer's is refused (`restart`) while one is under way. A chunk out of order, an
//  unknown transfer, a failed write, or silence for `snapshot_transfer_timeout_ticks` ends the
//  transfer (`restart`); the sender's engine asks again and a new transfer starts from offset 0.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/log_level.h"
#include "common/snapshot_file.h"
#include "common/snapshot_transfer.h"
#include "common/snapshot_worker.h"
#include "common/state_machine.h"
#include "common/types.h"

namespace ballot {

struct DriverOptions;

// Where a node keeps its snapshots, and what it found there at startup (already restored into the
// state machine by whoever built the node). A null dir disables snapshots.
struct SnapshotIo {
    SnapshotDir* dir = nullptr;
    SnapshotWorker* worker = nullptr;
    std::optional<SnapshotFileInfo> latest;
};

// What the snapshot work needs from the runtime (common/driver.h implements it).
class SnapshotHost {
public:
    virtual ~SnapshotHost() = default;
    // The highest index this node's state machine has applied or will apply from the log (its
    // engine has handed it out as committed): a snapshot at or below it brings nothing new.
    virtual Index snapshot_host_has_through() const = 0;
    virtual Bytes snapshot_host_engine_metadata(Index index) = 0;
    virtual void snapshot_host_made(const SnapshotMeta& meta, std::uint64_t bytes) = 0;
    // A decoder for the state machine's snapshots (StateMachine::snapshot_decoder), which the
    // worker feeds a received file to.
    virtual std::unique_ptr<SnapshotDecoder> snapshot_host_decoder() const = 0;
    // Replaces the state machine's state with a snapshot `decoded` holds whole (read from a
    // complete, checked file) and tells the engine. False if the state machine refuses it
    // (nothing changed then).
    virtual bool snapshot_host_install(const SnapshotMeta& meta, SnapshotDecoder& decoded) = 0;
    virtual void snapshot_host_sent(NodeId to, Index index, bool ok) = 0;
    virtual void snapshot_host_send_bulk(NodeId to, const SnapshotFrame& frame) = 0;
    virtual void snapshot_host_log(LogLevel level, const std::string& line) = 0;
    // Something finished in the background: the runtime takes the engine's new output.
    virtual void snapshot_host_pump() = 0;
};

struct SnapshotStats {
    Index latest_index = 0;
    std::uint64_t latest_bytes = 0;
    bool making = false;
    std::uint64_t made = 0;
    std::uint64_t installed = 0;
    std::uint64_t sent = 0;
};

class Snapshotter {
public:
    Snapshotter(NodeId self, SnapshotIo io, StateMachine& state_machine, SnapshotHost& host,
                const DriverOptions& options);
    ~Snapshotter();

    bool enabled() const { return io_.dir != nullptr; }

    // After applying: starts a snapshot once enough entries were applied since the last one.
    void maybe_start(Index applied);
    // BGSAVE. False if one is being made already, or nothing was applied since the latest.
    bool request(Index applied);
    // The engine's Ready::snapshot_to.
    void send_to(NodeId peer);
    // A bulk-lane frame. False if it does not decode (the caller drops the connection).
    bool receive(NodeId from, std::span<const std::uint8_t> payload);
    void tick(std::uint64_t now_tick);

    SnapshotStats stats() const;

private:
    struct WriteJob;
    struct ReadJob;
    struct Making;
    struct Outgoing;
    struct Incoming;

    // making
    bool start_making(Index applied);
    void feed_making();
    void finish_making();
    void fail_making(const std::string& why);
    // sending
    void read_next_chunk(NodeId peer);
    bool read_done(NodeId peer, std::uint64_t transfer);
    void on_ack(NodeId from, const SnapshotAckFrame& ack);
    void end_outgoing(NodeId peer, bool ok);
    // receiving
    void on_chunk(NodeId from, SnapshotChunkFrame&& chunk);
    void on_chunk_written(NodeId from, std::uint64_t transfer);
    void finish_incoming(NodeId from);
    void install(NodeId from, std::uint64_t transfer);
    void end_incoming(NodeId from, SnapshotAckFrame::Status status);
    bool receiving(Index index) const;  // a transfer of snapshot `index` is being written here
    void ack(NodeId to, std::uint64_t transfer, Index index, std::uint64_t received, SnapshotAckFrame::Status status);
    // Discards a writer's temporary file, in the background.
    void discard(std::shared_ptr<WriteJob> job);
    void note_latest(const SnapshotFileInfo& info);
    void log(LogLevel level, const std::string& line) { host_.snapshot_host_log(level, line); }

    NodeId self_;
    SnapshotIo io_;
    StateMachine& state_machine_;
    SnapshotHost& host_;
    const DriverOptions& options_;
    std::uint64_t now_ = 0;
    // What making may still serialize this tick (snapshot_make_bytes_per_tick; refilled, never
    // saved up, at each tick).
    std::size_t make_budget_ = 0;

    std::optional<SnapshotFileInfo> latest_;  // the newest durable snapshot on this node
    Index last_attempt_ = 0;                  // index of the last snapshot started (made or failed)
    std::unique_ptr<Making> making_;
    std::uint64_t making_ids_ = 0;
    std::uint64_t next_transfer_;
    std::map<NodeId, std::unique_ptr<Outgoing>> outgoing_;
    std::map<NodeId, std::unique_ptr<Incoming>> incoming_;
    std::uint64_t made_ = 0, installed_ = 0, sent_ = 0;
};

}  // namespace ballot
