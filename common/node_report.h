// What a node tells about itself, computed once and rendered twice: as INFO's `key:value` lines
// (kv/resp_server.h) and as the live view's /status JSON (common/live_view.h). Adding a field
// here adds it to both.
#pragma once

#include <string>
#include <vector>

#include "common/node.h"

namespace ballot {

// One INFO line. `kind` says how JSON shows it: a number, a string, or a list of node ids
// (INFO's "1,2"); the members list has its own kind, rendered from NodeReport::members.
struct ReportField {
    enum class Kind { text, number, ids, members };
    std::string key;
    std::string value;  // INFO's text
    Kind kind = Kind::text;
};

// A member as this node sees it. `role`: this node's own role for itself, "leader" for the leader
// it knows, "unreachable" for a peer known down, else what the others are in this engine while
// it runs normally ("follower", or "proposer" in a leaderless engine); the page asks each member
// itself for the truth.
struct MemberReport {
    NodeId id = kNoNode;
    std::string address;       // HOST:PORT for clients
    std::string http_address;  // HOST:PORT of its live view by the --http rule; empty without --http
    std::string role;
    std::string membership;  // "voter" or "learner" (common/configuration.h)
};

struct NodeReport {
    std::vector<ReportField> fields;  // in INFO's order
    std::vector<MemberReport> members;
    // Per-peer replication progress (EngineStatus::peers): /status's "replication" list.
    std::vector<PeerProgress> replication;
    std::string title;         // the engine's name for people ("Multi-Paxos")
    bool has_leader = true;    // EngineTraits::has_leader
    std::string http_address;  // this node's --http HOST:PORT; empty without
    bool http_admin = false;   // --http-admin: the live view's admin actions are on
};

NodeReport node_report(const Node& node);

// INFO's body: "# Ballot" and one `key:value` line per field, CRLF-terminated.
std::string info_text(const NodeReport& report);
// /status: one JSON object (fields, then "replication", "title", "has_leader", "http_address", "http_admin").
std::string status_json(const NodeReport& report);

// A member's live-view address by the --http rule (README "Live view"): every member serves its
// live view at its own host, on its client port plus the offset this node's --http port has
// from this node's client port. Empty without --http, or if that is not a port.
std::string member_http_address(const NodeOptions& options, const NodeAddress& member);

// "1,2,3"
std::string id_list(const std::vector<NodeId>& ids);
// A refusal's summary: its text up to the first ": " (common/membership_guard.h), with no ';'
// (INFO's refused_by separates peers with it).
std::string refusal_summary(const std::string& reason);

// `text` as a JSON string literal, quotes included.
std::string json_string(std::string_view text);

}  // namespace ballot
