#include "common/node_report.h"

#include <algorithm>
#include <cstdio>

#include "common/version.h"

namespace ballot {

namespace {

using Kind = ReportField::Kind;

// INFO's refused_by: "2: data dir identity differs from the one remembered; 3: ..."
std::string refused_by_text(const NodeHealth& h) {
    std::string out;
    for (auto& [id, reason] : h.refused_by)
        out += (out.empty() ? "" : "; ") + std::to_string(id) + ": " + refusal_summary(reason);
    return out;
}

// INFO's role: the engine's (leader, follower, pre-candidate, candidate, proposer), unless this
// node takes no part: refused by its peers, joining (a new data dir not every peer has met, or a
// --join node not added yet), or removed from the configuration (common/node.h, NodeHealth).
std::string role_text(const NodeHealth& h, Role engine_role, bool started_to_join) {
    if (h.refused) return "refused";
    if (h.joining || (h.not_a_member && started_to_join)) return "joining";
    if (h.not_a_member) return "removed";
    return role_name(engine_role);
}

// HOST:PORT of the leader this node knows, empty if none.
std::string leader_address(const Configuration& config, NodeId leader) {
    const Member* m = config.find(leader);
    return m ? m->address : std::string();
}

std::string member_role(const NodeReport& r, const NodeHealth& h, NodeId self, NodeId leader, NodeId member,
                        const std::string& own_role) {
    if (member == self) return own_role;
    if (member == leader) return "leader";
    if (std::find(h.down.begin(), h.down.end(), member) != h.down.end()) return "unreachable";
    return r.has_leader ? "follower" : "proposer";
}

// Every member of the configuration this node has applied (SPEC "Membership change"), voters and
// learners.
std::vector<MemberReport> member_reports(const NodeReport& r, const Node& node, const Configuration& config,
                                         const NodeHealth& h, NodeId leader, const std::string& own_role) {
    const NodeOptions& o = node.options();
    std::vector<MemberReport> out;
    for (const Member& m : config.members()) {
        std::string unused;
        const auto address = parse_node_address(m.address + ":" + std::to_string(m.id), unused);
        out.push_back(MemberReport{
            m.id, m.address, address ? member_http_address(o, *address) : std::string(),
            member_role(r, h, o.cluster.self, leader, m.id, own_role), member_role_name(m.role)});
    }
    return out;
}

// INFO's members (voters) or learners: "1@127.0.0.1:7001,2@127.0.0.1:7002".
std::string members_text(const std::vector<MemberReport>& members, const char* membership) {
    std::string out;
    for (auto& m : members)
        if (m.membership == membership)
            out += (out.empty() ? "" : ",") + std::to_string(m.id) + "@" + m.address;
    return out;
}

std::string hex16(std::uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

// "4:00ab...,5:..." for the members whose configuration entry names a data dir (those added by
// MEMBER ADD; a bootstrap member's names none).
std::string identities_text(const Configuration& config) {
    std::string out;
    for (const Member& m : config.members())
        if (m.identity != 0) out += (out.empty() ? "" : ",") + std::to_string(m.id) + ":" + hex16(m.identity);
    return out;
}

std::string json_ids(const std::string& info_list) {
    return "[" + info_list + "]";  // INFO's "1,2" is JSON's list body already
}

std::string json_members(const std::vector<MemberReport>& members) {
    std::string out = "[";
    for (auto& m : members) {
        if (out.size() > 1) out += ",";
        out += "{\"id\":" + std::to_string(m.id) + ",\"address\":" + json_string(m.address) +
               ",\"http_address\":" + json_string(m.http_address) + ",\"role\":" + json_string(m.role) +
               ",\"membership\":" + json_string(m.membership) + "}";
    }
    return out + "]";
}

// /status's "replication": one object per peer, with the fields every engine shares (what an
// engine does not track is 0, "" or false; common/engine.h, PeerProgress).
std::string json_replication(const std::vector<PeerProgress>& peers) {
    std::string out = "[";
    for (const PeerProgress& p : peers) {
        if (out.size() > 1) out += ",";
        out += "{\"id\":" + std::to_string(p.id) + ",\"match_index\":" + std::to_string(p.match_index) +
               ",\"next_index\":" + std::to_string(p.next_index) + ",\"chosen\":" + std::to_string(p.chosen) +
               ",\"state\":" + json_string(p.state) + ",\"inflight\":" + std::to_string(p.inflight) +
               ",\"inflight_bytes\":" + std::to_string(p.inflight_bytes) +
               ",\"window_bytes\":" + std::to_string(p.window_bytes) +
               ",\"paused\":" + (p.paused ? "true" : "false") +
               ",\"snapshotting\":" + (p.snapshotting ? "true" : "false") + "}";
    }
    return out + "]";
}

std::string json_value(const NodeReport& report, const ReportField& f) {
    switch (f.kind) {
        case Kind::number:
            return f.value;
        case Kind::ids:
            return json_ids(f.value);
        case Kind::members:
            return json_members(report.members);
        case Kind::text:
            break;
    }
    return json_string(f.value);
}

}  // namespace

std::string id_list(const std::vector<NodeId>& ids) {
    std::string out;
    for (NodeId id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
    return out;
}

std::string refusal_summary(const std::string& reason) {
    std::string out = reason.substr(0, reason.find(": "));
    std::replace(out.begin(), out.end(), ';', ',');
    return out;
}

std::string member_http_address(const NodeOptions& options, const NodeAddress& member) {
    if (options.http_port == 0) return {};
    const int offset = int{options.http_port} - int{options.cluster.self_address().client_port};
    const int port = int{member.client_port} + offset;
    if (port < 1 || port > 65535) return {};
    const std::string& host = member.id == options.cluster.self ? options.http_host : member.host;
    return host + ":" + std::to_string(port);
}

NodeReport node_report(const Node& node) {
    const DriverStatus s = node.status();
    const NodeHealth h = node.health();
    const NodeOptions& o = node.options();
    NodeReport r;
    if (o.engine) {
        r.title = o.engine->title;
        r.has_leader = o.engine->has_leader;
    }
    if (o.http_port != 0) r.http_address = o.http_host + ":" + std::to_string(o.http_port);
    r.http_admin = o.http_admin;
    // Crashed by the live view's admin action: what it shows is the state it died with.
    const std::string role = node.crashed() ? "crashed" : role_text(h, s.engine.role, o.join);
    const Configuration config = node.configuration();
    r.members = member_reports(r, node, config, h, s.engine.leader, role);
    r.replication = s.engine.peers;

    auto text = [&](const std::string& k, const std::string& v) { r.fields.push_back({k, v, Kind::text}); };
    auto number = [&](const std::string& k, auto v) {
        r.fields.push_back({k, std::to_string(v), Kind::number});
    };
    auto ids = [&](const std::string& k, const std::vector<NodeId>& v) {
        r.fields.push_back({k, id_list(v), Kind::ids});
    };
    text("version", project_version());
    text("protocol", o.protocol);
    number("id", o.cluster.self);
    text("role", role);
    number("leader_id", s.engine.leader);
    text("leader_address", leader_address(config, s.engine.leader));
    // A term is a number; a ballot ROUND.NODE a string.
    if (s.engine.epoch.kind == Epoch::Kind::term)
        number("term", s.engine.epoch.round);
    else
        text("ballot", s.engine.epoch.str());
    number("commit_index", s.engine.commit_index);
    number("applied_index", s.applied_index);
    number("log_first_index", s.engine.log_first_index);
    number("log_last_index", s.engine.log_last_index);
    // From the configuration the engine has applied, not the command line. JSON lists every member
    // under "members" (each with its membership); INFO lists voters and learners apart.
    r.fields.push_back({"members", members_text(r.members, "voter"), Kind::members});
    text("learners", members_text(r.members, "learner"));
    // Basic Paxos and Multi-Paxos report a configuration from the slot it is chosen in, s; it
    // governs (its voters are the acceptors) from slot s + α on. 0: Raft, where it rules once applied.
    number("config_governs_from", s.engine.config_governs_from);
    // The Paxos engines: proposals given up because an acceptor promised a higher ballot (Nack),
    // since start. Basic Paxos's proposers contend for slots; Raft has no such refusal (always 0).
    number("proposals_preempted", s.engine.proposals_preempted);
    number("pending_writes", s.pending_writes);
    number("pending_reads", s.pending_reads);
    text("storage", s.storage_failed ? s.storage_error : "ok");
    // --unsafe-no-fsync: acknowledged writes may be lost in a machine crash (common/durability.h).
    number("unsafe_no_fsync", o.durability == Durability::unsafe_no_fsync ? 1 : 0);
    // --slow-disk-factor: every fsync held this many times as long (1: off; common/durability.h).
    number("slow_disk_factor", slow_disk_factor());
    // Snapshots (SPEC "Snapshots and log compaction"): the latest durable one, made here or
    // installed from a peer (0 before any), and counts since this process started.
    number("snapshot_index", s.snapshot_index);
    number("snapshot_bytes", s.snapshot_bytes);
    number("snapshot_in_progress", s.snapshot_in_progress ? 1 : 0);
    number("snapshots_made", s.snapshots_made);
    number("snapshots_installed", s.snapshots_installed);
    number("snapshots_sent", s.snapshots_sent);
    // Where this node stands with its peers: who refuses it and why (each full reason on its own
    // line), whom a joining node waits for, whom it is connected to and whom it knows are down.
    text("refused_by", refused_by_text(h));
    for (auto& [id, reason] : h.refused_by) text("refused_by_" + std::to_string(id), reason);
    ids("waiting_for", h.waiting_for);
    ids("connected_peers", h.connected);
    ids("unreachable_peers", h.down);
    // Cut off by the live view's admin action (Node::partition).
    ids("partitioned_peers", {node.partitioned().begin(), node.partitioned().end()});
    text("data_dir", o.data_dir);
    // The data dir's identity (common/membership_guard.h), and the ones the configuration names:
    // a member is admitted by its peers only with the data dir its entry names.
    text("data_dir_identity", hex16(node.data_dir_identity()));
    text("member_identities", identities_text(config));
    number("uptime_in_seconds", node.uptime_seconds());
    text("mem_allocator", mem_allocator());
    return r;
}

std::string info_text(const NodeReport& report) {
    std::string out = "# Ballot\r\n";
    for (auto& f : report.fields) out += f.key + ":" + f.value + "\r\n";
    return out;
}

std::string status_json(const NodeReport& report) {
    std::string out = "{";
    for (auto& f : report.fields) out += json_string(f.key) + ":" + json_value(report, f) + ",";
    out += "\"replication\":" + json_replication(report.replication) + ",";
    out += "\"title\":" + json_string(report.title) +
           ",\"has_leader\":" + (report.has_leader ? "true" : "false") +
           ",\"http_address\":" + json_string(report.http_address) +
           ",\"http_admin\":" + (report.http_admin ? "true" : "false") + "}";
    return out;
}

std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
            out += escaped;
        } else {
            out += ch;  // UTF-8 passes through; a stray byte is the engine's text as it is
        }
    }
    return out + "\"";
}

}  // namespace ballot
