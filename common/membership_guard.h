// Refuses a member that comes back with an empty (or different) data dir.
//
// A node that lost its data dir has forgotten every promise it made: the votes it cast (Raft),
// the ballots it promised and the values it accepted (Paxos). If it rejoined as if nothing had
// happened it could vote twice in one term, or accept below a promise, and break safety; a
// consensus protocol cannot tolerate that without a membership change (etcd likewise requires
// such a member to be removed and added back). So every data dir gets a random identity when it
// is created, each node durably remembers the identity of every peer it has talked to, and a
// peer presenting a different identity is refused at the handshake with a reason it logs.
//
// Membership change (SPEC "Membership change"): the runtime admits only peers of the applied
// configuration (common/transport.h, set_peers), and forgets a peer once its removal is applied
// (forget), so a removed id can come back later with a new data dir. A node started with --join
// does not wait for every peer to meet it (below): it is in no configuration, so no peer talks
// with it, and its engine neither votes nor campaigns, until a leader adds it; the members then
// meet it as a newcomer and remember its identity from then on.
//
// The other half: a NEW data dir takes no part in the protocol until every peer has met it (and
// so remembers it). Otherwise a node that once talked to only some peers, then lost its data,
// could come back, be admitted by a peer that never knew it, and form a majority with it while
// having forgotten promises it made to the others. Until then the node is "joining": the runtime
// passes no message in or out. Once every peer has completed a handshake, JOINED is written (by
// the background writer) and the node takes part from then on, once it is durable. (So a brand-new cluster
// starts serving once all of its members are up; a member that is down at bootstrap holds the others back
// until it starts.)
//
// A data dir that has taken part (JOINED) must still hold its log: the runtime opens the log
// store with expect_existing_log, so a dir whose segments are gone is refused at startup.
//
// Stale copies. A backup restored in place keeps the identity but rolls back votes and promises.
// So each node also presents a high-water mark of its durable state: the log store's record
// sequence (common/log_store.h) less one, since a flipped last record may legitimately be cut at
// restart. Peers learn the mark at the handshake and, as it grows, from small transport frames
// (at most every kMarkAnnounceMs), and remember it (in memory at once, in PEERS at most every
// kSaveIntervalMs, written on a background thread). A first-seen identity is written by that same
// thread at once, not on the caller's (the I/O) thread: the handshake waits for the verdict, and
// the peer is admitted only once PEERS holding its identity is durable (persist before promise). A node
// refuses a peer whose process started from a mark below the one it remembers: the peer presents its "boot
// mark" (the mark when its process started) and a random incarnation id, so a restored copy stays refused for
// the life of that process, however many records it writes on its own. Detection window: see README.md,
// "Backing up a node safely".
//
// The configuration names the identity of every member added by MEMBER ADD (SPEC "Node identities
// are part of the configuration"; a bootstrap member's entry names none). The runtime passes those
// to follow_configuration(), and they rule over what was remembered: a peer presenting another
// identity is refused (the old data dir of a replaced member stays refused, even where this node
// never met it), and a remembered identity the configuration no longer names is replaced by the
// configuration's (this node missed the removal, e.g. it caught up from a snapshot).
//
// IDENTITY also records whether the dir was created by a start with --join (created_by_join): a
// node that came in through MEMBER ADD stays one across restarts with or without the flag, so its
// engine never takes a bootstrap entry of its id for its own (common/configuration.h, SelfId).
//
// Files in the data dir: IDENTITY (this dir's id and how it was created), PEERS (peer id -> remembered identity,
// incarnation and mark) and JOINED, each a small checksummed file replaced atomically (write
// temp, fsync, rename, fsync dir).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/durability.h"
#include "common/types.h"

namespace ballot {

// What a peer says about its data dir at the handshake.
struct DataDirClaim {
    std::uint64_t identity = 0;
    std::uint64_t incarnation = 0;  // random per process start
    std::uint64_t boot_mark = 0;    // the high-water mark when that process started
    std::uint64_t mark = 0;         // the high-water mark now
};

class MembershipGuard {
public:
    static constexpr std::uint32_t kSaveIntervalMs = 500;
    static constexpr std::uint32_t kMarkAnnounceMs = 200;

    // Loads (creating if absent) the data dir's identity and the remembered peers. Throws
    // std::runtime_error naming the file if either exists but is corrupt or cannot be written.
    // `durability`: unsafe_no_fsync (--unsafe-no-fsync, common/durability.h) skips the fsyncs.
    // `join`: this start has --join, recorded in IDENTITY if the dir is created now.
    explicit MembershipGuard(std::string dir, std::uint64_t fresh_identity,
                             Durability durability = Durability::fsync, bool join = false);
    // Writes the last marks learned, then stops the background writer.
    ~MembershipGuard();
    MembershipGuard(const MembershipGuard&) = delete;
    MembershipGuard& operator=(const MembershipGuard&) = delete;

    // True if `dir` has taken part in a cluster (JOINED exists), so its log cannot be missing.
    static bool has_taken_part(const std::string& dir);

    std::uint64_t identity() const { return identity_; }
    // Whether this dir was created by a start with --join; nullopt for a dir whose IDENTITY
    // predates the record.
    std::optional<bool> created_by_join() const { return created_by_join_; }

    // False until every peer has met this data dir; see the file comment.
    bool joined() const { return joined_; }
    // Asks the background writer to record, durably, that every peer has met this data dir;
    // joined() turns true once JOINED is durable. A failed write is reported by take_save_error()
    // and tried again at the next request. Never writes on the calling (I/O) thread.
    void request_join();
    // The same, written now on the calling thread: for tests and tools.
    void mark_joined();

    // nullopt admits the peer; otherwise the reason it is refused. A reason starts with a short
    // summary, up to the first ": " (one of these, or "cannot remember node N durably"), which the
    // refused node shows its clients; the rest says what was seen and what to do.
    using Verdict = std::optional<std::string>;
    static constexpr const char* kIdentityDiffers = "data dir identity differs from the one remembered";
    static constexpr const char* kStaleCopy = "data dir older than the one remembered";
    static constexpr const char* kTwoClaimants = "two data dirs claim one node id";
    static constexpr const char* kNotConfigured = "data dir identity differs from the configuration's";
    using AdmitDone = std::function<void(Verdict)>;

    // Called at each handshake; never writes or fsyncs on the calling thread. `done` is called
    // exactly once: at once, on the calling thread, for a peer met before (or refused); for a
    // first-seen identity, on the background writer's thread once PEERS holding it is durable, or
    // with a refusal naming the failed write (the peer is then not remembered, and a later
    // handshake tries again).
    void admit(NodeId peer, const DataDirClaim& claim, AdmitDone done);
    // The same, waiting for the verdict: for tests and tools, never for the I/O thread.
    Verdict admit_and_wait(NodeId peer, const DataDirClaim& claim);
    Verdict admit_and_wait(NodeId peer, std::uint64_t peer_identity) {
        return admit_and_wait(peer, DataDirClaim{peer_identity, 0, 0, 0});
    }

    // `peer` left the committed configuration (a MEMBER REMOVE was applied): its identity and marks
    // are dropped (from PEERS within kSaveIntervalMs), so that the same id, added again later with
    // a new data dir (the replacement procedure: remove, wipe, add, --join), is admitted as a
    // newcomer. Until then the transport refuses the id as "not a member" whatever it presents.
    void forget(NodeId peer);
    // The identities the applied configuration names, by member (0: none, a bootstrap member),
    // replacing the last ones given; see the file comment.
    void follow_configuration(std::map<NodeId, std::uint64_t> identities);
    // A connected peer's mark grew: remembered now, written to PEERS within kSaveIntervalMs.
    void note_mark(NodeId peer, std::uint64_t incarnation, std::uint64_t mark);
    // The remembered mark of `peer` (0 if unknown).
    std::uint64_t remembered_mark(NodeId peer) const;
    // An error of the background PEERS writer not reported yet, if any.
    std::optional<std::string> take_save_error();

private:
    struct Remembered {
        std::uint64_t identity = 0;
        std::uint64_t incarnation = 0;
        std::uint64_t mark = 0;
    };
    // A first-seen peer waiting for PEERS to hold its identity durably.
    struct Newcomer {
        Remembered remembered;
        std::vector<AdmitDone> waiting;  // every handshake of this peer that waits for the write
    };
    Verdict check_known(NodeId peer, Remembered& known, const DataDirClaim& claim);  // mutex_ held
    Bytes encode_peers() const;                            // mutex_ held: peers_ and newcomers_
    void save_peers(std::unique_lock<std::mutex>& lock);   // on the background writer, mutex_ held
    void save_joined(std::unique_lock<std::mutex>& lock);  // on the background writer, mutex_ held
    void run_saver();                                      // the background writer

    std::string dir_;
    Durability durability_;
    std::uint64_t identity_ = 0;
    std::optional<bool> created_by_join_;
    std::atomic<bool> joined_ = false;  // read on the I/O thread, set by the writer

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::map<NodeId, Remembered> peers_;    // guarded by mutex_: admitted, identity durable
    std::map<NodeId, Newcomer> newcomers_;  // guarded by mutex_: first seen, not durable yet
    std::map<NodeId, std::uint64_t> configured_;  // guarded by mutex_: follow_configuration's
    bool dirty_ = false;                    // guarded by mutex_: a mark grew
    bool stopping_ = false;                 // guarded by mutex_
    bool join_requested_ = false;           // guarded by mutex_
    std::string save_error_;                // guarded by mutex_
    std::thread saver_;
};

}  // namespace ballot
