// A cluster configuration and the single-server changes that move it (SPEC "Membership change,
// learners, leadership transfer"), shared by every engine and the runtime.
//
// The configuration lives in the replicated log and in snapshots, never only on a command line:
// a change is an ordinary logged command (a Command whose payload is an encoded ConfigChange,
// below), chosen like any other, and every engine folds the changes it applies into its
// Configuration in log order, so every replica holds the same configuration at the same index.
// The `--node` list is only the bootstrap configuration of a new cluster.
//
// One change at a time, each adding, promoting or removing ONE server: any majority of the old
// voters and any majority of the new ones then share a member (Ongaro's dissertation §4.1), so no
// joint consensus is needed. What an engine adds to make that true in its protocol (Raft: a change
// only once the leader committed an entry of its term; Paxos: α slots between choosing and
// governing) is in its own folder.
//
// A learner receives the log and snapshots but is not counted in any quorum (it neither votes nor
// accepts): a new server catches up as one, then is promoted (etcd's learners, ZooKeeper's
// observers), so a far-behind new voter never stalls commitment (etcd#3477).
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.h"

namespace ballot {

enum class MemberRole : std::uint8_t { voter = 1, learner = 2 };

inline const char* member_role_name(MemberRole role) {
    return role == MemberRole::voter ? "voter" : "learner";
}

struct Member {
    NodeId id = kNoNode;
    std::string address;  // HOST:PORT where it serves clients (peers: PORT + kPeerPortOffset)
    MemberRole role = MemberRole::voter;
    // A learner added by `MEMBER ADD` without LEARNER: the leader promotes it by itself once it has
    // caught up. Kept in the configuration so a new leader carries on where the old one stopped.
    bool auto_promote = false;
    // The data dir identity of the node added (SPEC: "Node identities are part of the
    // configuration"); 0 where none was recorded: the bootstrap configuration, made from --node.
    std::uint64_t identity = 0;

    friend bool operator==(const Member&, const Member&) = default;
};

// Which node a configuration's entries are, for the node itself. A node that lost its data dir
// and was added back under the same id (the replacement procedure: MEMBER REMOVE, wipe, MEMBER
// ADD, --join) relearns the log from the start, and meets the entries of its old identity long
// before its own: were it to take their voter's role, it would vote, promise and accept with
// none of the promises its old data dir made, and campaign with a log far behind (the simulator
// found both, two replaced nodes electing each other and overwriting committed entries: Raft
// seed 21259, Multi-Paxos seed 272). So an entry is this node's only if its identity is this
// node's; an entry with none (the bootstrap configuration) only if this node did not join.
struct SelfId {
    NodeId id = kNoNode;
    std::uint64_t identity = 0;  // this data dir's; 0: unknown, and every entry with the id is it
    bool joined = false;         // it was started with --join (EngineConfig::join)

    bool is(const Member& m) const {
        return m.id == id && (identity == 0 || m.identity == identity || (m.identity == 0 && !joined));
    }
};

// One single-server change (SPEC: MEMBER ADD / PROMOTE / REMOVE).
struct ConfigChange {
    enum class Kind : std::uint8_t { add_learner = 1, promote = 2, remove = 3 };
    Kind kind = Kind::add_learner;
    NodeId id = kNoNode;
    std::string address;         // add_learner only
    bool auto_promote = false;   // add_learner only
    std::uint64_t identity = 0;  // add_learner only: the new member's data dir (Member::identity)
    // promote and remove: the identity of the member the request means (Member::identity, 0 for a
    // bootstrap member), as the node that took the request knew it (Driver::submit_config_change).
    // Refused once the id names another data dir: a request made before a replacement, retried or
    // delivered late, would otherwise remove or promote the replacement (simulator seed 733100660
    // with membership changes: a forwarded "remove 3" meant for the node whose disk died arrived
    // again 7 s later and removed its replacement, which left two voters, one of them dead).
    // kNotAMember if that node knew no member under the id: refused once one is there (basic Paxos
    // seed 55000209: a node that had already learned of node 2's removal took a retried "remove 2"
    // and placed it once the replacement had joined, and it removed the replacement). The entry
    // keeps it too (encode_config_entry), for the engines that check entries again when they
    // apply them.
    std::optional<std::uint64_t> member_identity = std::nullopt;
    static constexpr std::uint64_t kNotAMember = ~std::uint64_t{0};  // never a data dir's identity

    friend bool operator==(const ConfigChange&, const ConfigChange&) = default;
};

class Configuration {
public:
    Configuration() = default;
    // Every member a voter, with no addresses known (tests, the simulator).
    static Configuration of_voters(const std::vector<NodeId>& ids);
    // `members` in any order. Throws std::invalid_argument, saying why, on id 0, a repeated id or
    // a repeated non-empty address.
    explicit Configuration(std::vector<Member> members);

    const std::vector<Member>& members() const { return members_; }  // ascending id
    std::vector<NodeId> ids() const;
    std::vector<NodeId> voters() const;    // ascending
    std::vector<NodeId> learners() const;  // ascending
    const Member* find(NodeId id) const;
    bool contains(NodeId id) const { return find(id) != nullptr; }
    bool is_voter(NodeId id) const;
    bool empty() const { return members_.empty(); }
    // Whether `self` is a voter of this configuration, and whether it names self's id for another
    // data dir (SelfId): then this node is none of its members.
    bool is_voter(const SelfId& self) const;
    bool names_another(const SelfId& self) const;

    // Why `change` cannot be made to this configuration (nullopt: it can): an id already a member
    // or an address already used (add), an unknown id, promoting a voter, removing the last voter.
    std::optional<std::string> refuse(const ConfigChange& change) const;
    // The configuration after `change`; `change` must not be refused.
    Configuration with(const ConfigChange& change) const;
    // etcd's strict reconfiguration check, which every engine makes before it proposes a change
    // to this (new) configuration: why it is refused when only `reachable` of its voters are
    // reachable and it needs `quorum` of them (nullopt: enough are). A change that could never
    // take effect would stall the cluster behind it.
    std::optional<std::string> refuse_unreachable(std::size_t reachable, std::size_t quorum) const;

    // True if `next` is this configuration with exactly one server added, removed or changed in role.
    friend bool single_server_change(const Configuration& prev, const Configuration& next);

    // "1@127.0.0.1:7001 voter,4@127.0.0.1:7004 learner" for logs and --trace.
    std::string str() const;

    friend bool operator==(const Configuration&, const Configuration&) = default;
    friend std::ostream& operator<<(std::ostream& os, const Configuration& c) { return os << c.str(); }

private:
    std::vector<Member> members_;
};

// ---- codecs (common/codec.h): bounds-checked, validating ----
void encode_configuration(const Configuration& config, Bytes& out);
// nullopt, with `why`, unless `bytes` hold exactly one well-formed configuration.
std::optional<Configuration> decode_configuration(std::span<const std::uint8_t> bytes, std::string& why);

// How a change travels. The runtime asks for one with an encoded Command whose payload is an
// encoded ConfigChange (a REQUEST); the engine that accepts it puts in the log, in its place, the
// same Command with an encoded ConfigEntry as payload: the change AND the whole configuration it
// results in. Because every entry holds a whole configuration, a node replaying the log (a new
// learner reading it from the start, a restarted node) needs nothing but the latest entry it
// applied; the bootstrap configuration (--node) holds only until the first change. Each payload
// starts with a tag byte no state-machine payload starts with (the KV's versions are 1 and 2). The
// state machine answers an entry +OK and records it in the client's session like any write, so a
// retried change is applied once.
inline constexpr std::uint8_t kConfigRequestTag = 0xC4;
inline constexpr std::uint8_t kConfigEntryTag = 0xC5;

struct ConfigEntry {
    ConfigChange change;
    Configuration config;  // the configuration after `change`

    friend bool operator==(const ConfigEntry&, const ConfigEntry&) = default;
};

std::string encode_config_request(const ConfigChange& change);
// The change a request's payload holds; nullopt if the bytes are not one.
std::optional<ConfigChange> decode_config_request(std::string_view payload);
std::string encode_config_entry(const ConfigEntry& entry);
bool is_config_entry(std::string_view payload);
// nullopt unless `payload` is exactly one well-formed entry whose configuration is `change` made
// to some configuration (the member `change` names is there, or gone, as it says).
std::optional<ConfigEntry> decode_config_entry(std::string_view payload);
// The entry a committed log entry's data (an encoded Command) carries, if it carries one. Cheap
// for the usual entry that does not: it looks at one byte first.
std::optional<ConfigEntry> config_entry_of(std::string_view entry_data);

// Turns a request (an encoded Command whose payload is an encoded request) into the encoded Command
// that carries its entry, made against `current`. nullopt, with `why`, if the request does not
// decode or `current` refuses the change (Configuration::refuse).
std::optional<std::string> make_config_entry_command(std::string_view request, const Configuration& current,
                                                     std::string& why);

std::string describe(const ConfigChange& change);  // "add learner 4@127.0.0.1:7004", "remove 2"

}  // namespace ballot
