// The replicated state machine the runtime applies chosen commands to. The KV store (kv/) is
// the one we ship; the interface keeps the runtime and the engines ignorant of what it does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/command.h"
#include "common/types.h"

namespace ballot {

// One piece of a snapshot being produced: the next bytes of the canonical encoding.
struct SnapshotChunk {
    std::string bytes;
    bool last = false;  // the snapshot is complete with this chunk (which may be empty)
};

// Reads the bytes of a snapshot in order, a piece at a time, into a state of its own, which the
// state machine that made the decoder then adopts whole (StateMachine::adopt). A decoder touches
// nothing of that state machine, so the runtime feeds it on its worker thread while apply() goes
// on: installing or loading a snapshot holds one piece of the file at a time, never the whole
// payload beside the state built from it, and the runtime thread only swaps the finished state in.
class SnapshotDecoder {
public:
    virtual ~SnapshotDecoder() = default;
    // The next bytes. False once what was fed is malformed (and from then on).
    virtual bool feed(std::string_view bytes) = 0;
    // Every byte was fed. False if the snapshot is incomplete or malformed.
    virtual bool finish() = 0;
};

class StateMachine {
public:
    virtual ~StateMachine() = default;

    // Applies a chosen command and returns its reply (the KV returns a RESP-encoded reply).
    // Must be deterministic, and must apply a (client_id, seq) at most once: a duplicate returns
    // the reply the first application produced.
    virtual std::string apply(Index index, const Command& command) = 0;

    // Runs a read-only operation against the current state. Linearizability is the caller's
    // job: it calls this only once the runtime says the read is safe.
    virtual std::string query(std::string_view payload) const = 0;

    // The index of the last command applied (0: none yet, or the index of the restored snapshot).
    virtual Index applied_index() const = 0;

    // --- Cluster time (common/command.h, Command::time_ms) ---
    //
    // The state machine's clock: the largest time stamp applied (restored with a snapshot). The
    // runtime never stamps below it. 0 for a state machine that keeps no time.
    virtual std::uint64_t cluster_time_ms() const { return 0; }
    // The earliest cluster time at which something it holds expires (a key's TTL, a lease);
    // nullopt when nothing can expire. While it has a value, the runtime's leader proposes clock
    // ticks so that expiry happens without client traffic.
    virtual std::optional<std::uint64_t> next_expiry_ms() const { return std::nullopt; }

    // --- Snapshots (SPEC "Snapshots and log compaction") ---
    //
    // The bytes of a snapshot are canonical: two replicas that applied the same commands up to
    // the same index produce byte-equal snapshots, however they were produced (all at once or in
    // chunks, with any chunk sizes, with any writes applied meanwhile). They carry the applied
    // index they were taken at.

    // The whole snapshot at once. Blocks the caller for time proportional to the state: for
    // tests, and for checking that replicas agree, not for the write path.
    virtual std::string snapshot() const = 0;

    // Point-in-time snapshot that never stalls apply(): freezes a consistent view at
    // applied_index() (returned) and opens it. The runtime then calls snapshot_chunk() between
    // apply batches, on the same thread as apply(), until a chunk comes back with `last`; apply()
    // and query() go on meanwhile and are not delayed by more than a small constant per write.
    // Only one snapshot is open at a time: beginning another one discards the open one.
    virtual Index begin_snapshot() = 0;
    // The next at most `max_bytes` (> 0) bytes of the open snapshot; only the last chunk may be
    // shorter. Each call costs time proportional to max_bytes (plus one value longer than it),
    // never to the whole state. Must not be called with no snapshot open.
    virtual SnapshotChunk snapshot_chunk(std::size_t max_bytes) = 0;
    // Discards the open snapshot (if any); the runtime gave up on it (a crash of the file write,
    // a newer snapshot installed).
    virtual void abort_snapshot() = 0;
    virtual bool snapshot_open() const = 0;

    // Replaces the whole state with a complete snapshot (the concatenation of its chunks).
    // False, with the state unchanged, if the bytes are malformed. Discards an open snapshot.
    virtual bool restore(std::string_view snapshot) = 0;

    // A decoder for a snapshot of this state machine (SnapshotDecoder), safe to use on another
    // thread. The default keeps the bytes and restore()s them in adopt(); the KV store decodes as
    // the bytes come.
    virtual std::unique_ptr<SnapshotDecoder> snapshot_decoder() const;
    // Replaces the whole state with what `decoded`, one of this state machine's decoders that
    // finished, holds. False, with the state unchanged, if it is malformed. Discards an open
    // snapshot. The decoder may keep the state it replaced (the KV's does: a swap), for its owner
    // to free off the runtime thread.
    virtual bool adopt(SnapshotDecoder& decoded);
};

}  // namespace ballot
