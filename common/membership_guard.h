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
// The other half: a NEW data dir takes no part in the protocol until every peer has met it (and
// so remembers it). Otherwise a node that once talked to only some peers, then lost its data,
// could come back, be admitted by a peer that never knew it, and form a majority with it while
// having forgotten promises it made to the others. Until then the node is "joining": the runtime
// passes no message in or out. Once every peer has completed a handshake, JOINED is written and
// the node takes part from then on. (So a brand-new cluster starts serving once all of its
// members are up; a member that is down at bootstrap holds the others back until it starts.)
//
// Files in the data dir: IDENTITY (this dir's id), PEERS (peer id -> remembered identity) and
// JOINED, each a small checksummed file replaced atomically (write temp, fsync, rename, fsync dir).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/types.h"

namespace ballot {

class MembershipGuard {
public:
    // Loads (creating if absent) the data dir's identity and the remembered peers. Throws
    // std::runtime_error naming the file if either exists but is corrupt or cannot be written.
    explicit MembershipGuard(std::string dir, std::uint64_t fresh_identity);

    std::uint64_t identity() const { return identity_; }

    // False until every peer has met this data dir; see the file comment.
    bool joined() const { return joined_; }
    // Records, durably, that every peer has met this data dir.
    void mark_joined();

    // Called at each handshake: nullopt admits the peer (remembering a first-seen identity
    // durably before returning), otherwise the reason it is refused.
    std::optional<std::string> admit(NodeId peer, std::uint64_t peer_identity);

private:
    void save_peers();

    std::string dir_;
    std::uint64_t identity_ = 0;
    bool joined_ = false;
    std::map<NodeId, std::uint64_t> peers_;
};

}  // namespace ballot
