#include "tests/golden/scenario.h"

#include <algorithm>
#include <stdexcept>

#include "common/ballot.h"
#include "engines/registry.h"
#include "multipaxos/multipaxos.h"
#include "multipaxos/persist.h"
#include "paxos/persist.h"
#include "raft/persist.h"
#include "tests/golden/script.h"

namespace ballot::golden {

namespace {

// What a Raft node has persisted, decoded with Raft's codec (raft/persist.h). A record that does
// not decode is an engine bug: the scenario fails.
std::uint64_t raft_term(const test::EngineCluster& c, NodeId id) {
    if (c.metadata(id).empty()) return 0;
    std::string why;
    auto hs = raft::decode_metadata(c.metadata(id), &why);
    if (!hs) throw std::logic_error("raft metadata does not decode: " + why);
    return hs->term;
}

std::map<Index, raft::Entry> raft_log(const test::EngineCluster& c, NodeId id) {
    std::map<Index, raft::Entry> out;
    std::string why;
    for (const auto& [index, bytes] : c.records(id)) {
        auto e = raft::decode_record(index, bytes, &why);
        if (!e)
            throw std::logic_error("raft log record " + std::to_string(index) + " does not decode: " + why);
        out.emplace(index, *e);
    }
    return out;
}

constexpr int kMaxCampaignTicks = 1000;
constexpr std::size_t kMaxStabilizeMessages = 100000;

std::uint64_t number(const std::string& s, const std::string& what) {
    std::size_t used = 0;
    std::uint64_t v = 0;
    try {
        v = std::stoull(s, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != s.size() || s[0] == '-')
        throw std::invalid_argument(what + " must be a number, not \"" + s + "\"");
    return v;
}

std::string node_name(NodeId id) {
    return id == kNoNode ? "none" : "n" + std::to_string(id);
}

void want_args(const std::vector<std::string>& args, std::size_t min, std::size_t max,
               const std::string& usage) {
    if (args.size() < min || args.size() > max) throw std::invalid_argument("usage: " + usage);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Commands

std::vector<std::string> Scenario::run(const std::string& command_line) {
    out_.clear();
    std::vector<std::string> tokens = tokenize(command_line);
    if (tokens.empty()) return {"error: empty command"};
    const std::string verb = tokens.front();
    tokens.erase(tokens.begin());
    try {
        dispatch(verb, tokens);
        if (cluster_) check_invariants();
    } catch (const std::logic_error& e) {
        // EngineCluster's safety checks, the engines' own invariants and ours: never expected.
        if (dynamic_cast<const std::invalid_argument*>(&e) || dynamic_cast<const std::out_of_range*>(&e)) {
            out_.push_back(std::string("error: ") + e.what());
        } else {
            out_.push_back(std::string("error: VIOLATION: ") + e.what());
            if (!violated_) violation_ = e.what();
            violated_ = true;
        }
    } catch (const std::exception& e) {
        out_.push_back(std::string("error: ") + e.what());
    }
    return out_;
}

void Scenario::dispatch(const std::string& verb, const Args& args) {
    if (verb == "init") return init(args);
    if (!cluster_) throw std::invalid_argument("the first command must be init");
    if (verb == "tick") {
        want_args(args, 1, 2, "tick NODE [TIMES]");
        const NodeId id = node_arg(args[0]);
        const std::uint64_t times = args.size() > 1 ? number(args[1], "TIMES") : 1;
        for (std::uint64_t i = 0; i < times; ++i) {
            cluster().tick(id);
            report_changes();
        }
    } else if (verb == "tick-all") {
        want_args(args, 0, 1, "tick-all [TIMES]");
        const std::uint64_t times = args.empty() ? 1 : number(args[0], "TIMES");
        for (std::uint64_t i = 0; i < times; ++i) {
            cluster().tick_all();
            report_changes();
        }
    } else if (verb == "run") {
        want_args(args, 1, 1, "run TICKS");
        // Many rounds of heartbeats would drown the story: only changes are shown, and a count.
        const std::uint64_t times = number(args[0], "TICKS");
        const std::size_t shown = out_.size();
        std::size_t delivered = 0;
        for (std::uint64_t i = 0; i < times; ++i) {
            cluster().tick_all();
            report_changes();
            delivered += stabilize(/*quiet=*/true);
        }
        out_.insert(out_.begin() + static_cast<std::ptrdiff_t>(shown),
                    "ticked every node " + std::to_string(times) + " times; " + std::to_string(delivered) +
                        " messages delivered");
    } else if (verb == "campaign") {
        want_args(args, 1, 1, "campaign NODE");
        campaign(node_arg(args[0]));
    } else if (verb == "propose") {
        want_args(args, 2, 2, "propose NODE VALUE");
        const NodeId id = node_arg(args[0]);
        if (!up(id)) throw std::invalid_argument("n" + args[0] + " is down");
        const ProposeResult r = cluster().propose(id, args[1]);
        out_.push_back(r == ProposeResult::accepted    ? "accepted"
                       : r == ProposeResult::no_leader ? "no_leader"
                                                       : "overloaded");
        report_changes();
    } else if (verb == "read") {
        want_args(args, 2, 2, "read NODE ID");
        const NodeId id = node_arg(args[0]);
        if (!up(id)) throw std::invalid_argument("n" + args[0] + " is down");
        cluster().read(id, number(args[1], "ID"));
        report_changes();
    } else if (verb == "deliver") {
        deliver(args);
    } else if (verb == "drop" || verb == "hold") {
        move_link(args, verb);
    } else if (verb == "release") {
        release(args);
    } else if (verb == "stabilize") {
        want_args(args, 0, 0, "stabilize");
        stabilize();
    } else if (verb == "cut") {
        want_args(args, 2, 2, "cut A B");
        cluster().cut(node_arg(args[0]), node_arg(args[1]));
    } else if (verb == "isolate") {
        want_args(args, 1, 1, "isolate NODE");
        cluster().isolate(node_arg(args[0]));
    } else if (verb == "heal") {
        want_args(args, 0, 0, "heal");
        cluster().heal();
    } else if (verb == "crash") {
        want_args(args, 1, 1, "crash NODE");
        crash(node_arg(args[0]));
    } else if (verb == "restart") {
        want_args(args, 1, 1, "restart NODE");
        const NodeId id = node_arg(args[0]);
        if (up(id)) throw std::invalid_argument("n" + args[0] + " is up");
        cluster().restart(id);
        commits_seen_[id] = 0;  // it re-applies from index 1
        reads_seen_[id] = 0;
        report_changes();
    } else if (verb == "status") {
        status(args);
    } else if (verb == "committed") {
        want_args(args, 1, 1, "committed NODE");
        committed(node_arg(args[0]));
    } else if (verb == "log") {
        want_args(args, 1, 1, "log NODE");
        log(node_arg(args[0]));
    } else if (verb == "queue") {
        want_args(args, 0, 0, "queue");
        queue();
    } else {
        throw std::invalid_argument("unknown command \"" + verb + "\"");
    }
}

// init protocol=P nodes=N seed=S [election=MIN-MAX] [heartbeat=H] [max-msg-bytes=B] [inflight=M]
void Scenario::init(const Args& args) {
    if (cluster_) throw std::invalid_argument("init may appear once, first");
    std::string protocol;
    std::uint64_t nodes = 3, seed = 1;
    EngineConfig config;
    config.election_timeout_min_ticks = 10;
    config.election_timeout_max_ticks = 20;
    config.heartbeat_ticks = 2;
    for (const std::string& arg : args) {
        const auto eq = arg.find('=');
        if (eq == std::string::npos)
            throw std::invalid_argument("init takes KEY=VALUE arguments, not \"" + arg + "\"");
        const std::string key = arg.substr(0, eq), value = arg.substr(eq + 1);
        if (key == "protocol") {
            protocol = value;
        } else if (key == "nodes") {
            nodes = number(value, key);
        } else if (key == "seed") {
            seed = number(value, key);
        } else if (key == "election") {
            const auto dash = value.find('-');
            if (dash == std::string::npos)
                throw std::invalid_argument("election=MIN-MAX, e.g. election=10-20");
            config.election_timeout_min_ticks =
                static_cast<std::uint32_t>(number(value.substr(0, dash), key));
            config.election_timeout_max_ticks =
                static_cast<std::uint32_t>(number(value.substr(dash + 1), key));
        } else if (key == "heartbeat") {
            config.heartbeat_ticks = static_cast<std::uint32_t>(number(value, key));
        } else if (key == "max-msg-bytes") {
            config.max_message_bytes = number(value, key);
        } else if (key == "inflight") {
            config.max_inflight_messages = number(value, key);
        } else {
            throw std::invalid_argument("unknown init option \"" + key + "\"");
        }
    }
    if (protocol.empty()) throw std::invalid_argument("init needs protocol=raft|multipaxos|paxos");
    if (nodes < 1 || nodes > 9) throw std::invalid_argument("nodes must be 1..9");
    protocol_ = protocol;
    cluster_ = std::make_unique<test::EngineCluster>(protocol, static_cast<int>(nodes), seed, config);
    roles_.assign(nodes + 1, "");
    commits_seen_.assign(nodes + 1, 0);
    reads_seen_.assign(nodes + 1, 0);
    for (NodeId id = 1; id <= nodes; ++id) roles_[id] = role_summary(id);
}

// Ticks one node alone until its role or term changes: its election timeout ran out and it
// started an election (Raft: PreVote first) or phase 1 (Multi-Paxos).
void Scenario::campaign(NodeId id) {
    if (!find_engine(protocol_)->has_leader)
        throw std::invalid_argument(find_engine(protocol_)->title + " has no leader to campaign for");
    if (!up(id)) throw std::invalid_argument(node_name(id) + " is down");
    const EngineStatus before = cluster().status(id);
    auto sent = [&] {
        return std::count_if(cluster().in_flight().begin(), cluster().in_flight().end(),
                             [&](const test::InFlight& m) { return m.from == id; });
    };
    const auto sent_before = sent();
    for (int i = 1; i <= kMaxCampaignTicks; ++i) {
        cluster().tick(id);
        const EngineStatus now = cluster().status(id);
        // A pre-candidate that campaigns again keeps its role and term but sends a new round.
        if (now.role != before.role || now.epoch != before.epoch || sent() > sent_before) {
            out_.push_back("ticked " + node_name(id) + " " + std::to_string(i) + " times");
            report_changes();
            return;
        }
    }
    throw std::invalid_argument(node_name(id) + " did not campaign within " +
                                std::to_string(kMaxCampaignTicks) + " ticks");
}

// deliver                 every message queued now, oldest first
// deliver COUNT           the oldest COUNT
// deliver FROM TO [COUNT] those queued now on the link FROM -> TO
// Messages these deliveries produce are queued behind, for the next deliver.
void Scenario::deliver(const Args& args) {
    want_args(args, 0, 3, "deliver [FROM TO] [COUNT]");
    NodeId from = kNoNode, to = kNoNode;
    std::uint64_t count = UINT64_MAX;
    if (args.size() == 1) count = number(args[0], "COUNT");
    if (args.size() >= 2) {
        from = node_arg(args[0]);
        to = node_arg(args[1]);
    }
    if (args.size() == 3) count = number(args[2], "COUNT");
    std::uint64_t taken = 0;
    auto batch = cluster().take_if([&](const test::InFlight& m) {
        if (taken >= count || (from != kNoNode && (m.from != from || m.to != to))) return false;
        ++taken;
        return true;
    });
    if (batch.empty()) out_.push_back("no messages");
    for (const auto& m : batch) deliver_one(m);
}

// drop FROM TO / hold FROM TO: every message queued now on the link is lost / set aside.
void Scenario::move_link(const Args& args, const std::string& verb) {
    want_args(args, 2, 2, verb + " FROM TO");
    const NodeId from = node_arg(args[0]), to = node_arg(args[1]);
    auto taken = cluster().take_if([&](const test::InFlight& m) { return m.from == from && m.to == to; });
    if (taken.empty()) out_.push_back("no messages");
    for (auto& m : taken) {
        out_.push_back(node_name(m.from) + " -> " + node_name(m.to) + " " + describe(m) + " (" +
                       (verb == "drop" ? "dropped" : "held") + ")");
        if (verb == "hold") held_.push_back(std::move(m));
    }
}

// release [FROM TO]: held messages go back to the end of the queue, in the order they were held.
void Scenario::release(const Args& args) {
    if (args.size() != 0 && args.size() != 2) throw std::invalid_argument("usage: release [FROM TO]");
    const NodeId from = args.empty() ? kNoNode : node_arg(args[0]);
    const NodeId to = args.empty() ? kNoNode : node_arg(args[1]);
    std::deque<test::InFlight> kept;
    for (auto& m : held_) {
        if (from != kNoNode && (m.from != from || m.to != to)) {
            kept.push_back(std::move(m));
            continue;
        }
        out_.push_back(node_name(m.from) + " -> " + node_name(m.to) + " " + describe(m) + " (released)");
        cluster().in_flight().push_back(std::move(m));
    }
    if (held_.size() == kept.size()) out_.push_back("no messages");
    held_ = std::move(kept);
}

std::size_t Scenario::stabilize(bool quiet) {
    std::size_t delivered = 0;
    while (!cluster().in_flight().empty()) {
        if (++delivered > kMaxStabilizeMessages)
            throw std::runtime_error("no quiet after " + std::to_string(kMaxStabilizeMessages) + " messages");
        test::InFlight m = std::move(cluster().in_flight().front());
        cluster().in_flight().pop_front();
        deliver_one(m, quiet);
    }
    return delivered;
}

void Scenario::crash(NodeId id) {
    if (!up(id)) throw std::invalid_argument(node_name(id) + " is already down");
    std::size_t lost = 0;
    for (const auto& m : cluster().in_flight()) lost += (m.from == id || m.to == id) ? 1 : 0;
    cluster().crash(id);
    if (lost > 0)
        out_.push_back(std::to_string(lost) + " queued messages to or from " + node_name(id) + " lost");
    report_changes();
}

void Scenario::status(const Args& args) {
    want_args(args, 0, 1, "status [NODE]");
    if (args.size() == 1) {
        out_.push_back(status_line(node_arg(args[0])));
        return;
    }
    for (NodeId id = 1; id <= static_cast<NodeId>(cluster().size()); ++id) out_.push_back(status_line(id));
}

void Scenario::committed(NodeId id) {
    if (!up(id)) throw std::invalid_argument(node_name(id) + " is down");
    for (const Committed& e : cluster().committed(id))
        out_.push_back(std::to_string(e.index) + " " + (e.data.empty() ? "no-op" : e.data));
    if (cluster().committed(id).empty()) out_.push_back("nothing committed");
}

// What the node has on disk: Raft log entries; the Paxos engines' accepted values per slot.
void Scenario::log(NodeId id) {
    node_arg(std::to_string(id));
    for (const auto& [index, bytes] : cluster().records(id)) out_.push_back(describe_record(index, bytes));
    if (cluster().records(id).empty()) out_.push_back("empty");
}

void Scenario::queue() {
    for (const auto& m : cluster().in_flight())
        out_.push_back(node_name(m.from) + " -> " + node_name(m.to) + " " + describe(m));
    for (const auto& m : held_)
        out_.push_back(node_name(m.from) + " -> " + node_name(m.to) + " " + describe(m) + " (held)");
    if (cluster().in_flight().empty() && held_.empty()) out_.push_back("no messages");
}

// ---------------------------------------------------------------------------------------------
// Reporting

test::EngineCluster& Scenario::cluster() {
    return *cluster_;
}

NodeId Scenario::node_arg(const std::string& s) const {
    const std::string digits = (!s.empty() && s[0] == 'n') ? s.substr(1) : s;
    const NodeId id = number(digits, "NODE");
    if (id < 1 || id > static_cast<NodeId>(cluster_->size()))
        throw std::invalid_argument("no node " + s + " (nodes are 1.." + std::to_string(cluster_->size()) +
                                    ")");
    return id;
}

void Scenario::deliver_one(const test::InFlight& m, bool quiet) {
    std::string line = node_name(m.from) + " -> " + node_name(m.to) + " " + describe(m);
    if (!cluster().linked(m.from, m.to)) {
        if (!quiet) out_.push_back(line + " (dropped: link cut)");
        return;
    }
    if (!up(m.to)) {
        if (!quiet) out_.push_back(line + " (dropped: " + node_name(m.to) + " down)");
        return;
    }
    const bool ok = cluster().deliver(m);
    if (!quiet || !ok) out_.push_back(line + (ok ? "" : " (refused: does not decode)"));
    report_changes();
}

std::string Scenario::describe(const test::InFlight& m) {
    // describe() depends only on the protocol; any live engine of it will do.
    if (up(m.to)) return cluster().engine(m.to).describe(m.payload);
    for (NodeId id = 1; id <= static_cast<NodeId>(cluster().size()); ++id)
        if (up(id)) return cluster().engine(id).describe(m.payload);
    return "(" + std::to_string(m.payload.size()) + " bytes)";
}

std::string Scenario::describe_record(Index index, const Bytes& bytes) const {
    auto value = [](const std::string& data) { return data.empty() ? std::string("no-op") : data; };
    std::string why;
    if (protocol_ == "raft") {
        if (auto e = raft::decode_record(index, bytes, &why))
            return std::to_string(index) + " term=" + std::to_string(e->term) + " " + value(e->data);
    } else if (protocol_ == "multipaxos") {
        if (auto e = multipaxos::decode_record(index, bytes, &why))
            return "slot " + std::to_string(index) + " accepted=" + Ballot::unpack(e->ballot).str() + " " +
                   value(e->data);
    } else if (protocol_ == "paxos") {
        if (auto s = paxos::decode_record(index, bytes, &why)) {
            std::string line = "slot " + std::to_string(index) + " promised=" + s->promised.str();
            if (s->accepted.is_zero()) return line + " nothing accepted";
            return line + " accepted=" + s->accepted.str() + " " + value(s->value);
        }
    }
    return std::to_string(index) + " does not decode: " + why;
}

std::string Scenario::status_line(NodeId id) {
    if (!up(id)) return node_name(id) + " down";
    const EngineStatus s = cluster().status(id);
    return node_name(id) + " " + role_name(s.role) + " " + s.epoch.name() + "=" + s.epoch.str() +
           " leader=" + node_name(s.leader) + " commit=" + std::to_string(s.commit_index) +
           " last=" + std::to_string(s.log_last_index);
}

std::string Scenario::role_summary(NodeId id) {
    if (!up(id)) return "down";
    const EngineStatus s = cluster().status(id);
    return role_name(s.role) + std::string(" ") + s.epoch.name() + "=" + s.epoch.str() +
           " leader=" + node_name(s.leader);
}

void Scenario::report_changes() {
    for (NodeId id = 1; id <= static_cast<NodeId>(cluster().size()); ++id) {
        const std::string role = role_summary(id);
        if (role != roles_[id]) {
            if (role != "down") out_.push_back("  " + node_name(id) + " is " + role);
            roles_[id] = role;
        }
        if (!up(id)) continue;
        const auto& committed = cluster().committed(id);
        if (committed.size() > commits_seen_[id]) {
            std::string line = "  " + node_name(id) + " commits";
            for (std::size_t i = commits_seen_[id]; i < committed.size(); ++i)
                line += " " + std::to_string(committed[i].index) + "=" +
                        (committed[i].data.empty() ? "no-op" : committed[i].data);
            out_.push_back(line);
            commits_seen_[id] = committed.size();
        }
        const auto& reads = cluster().reads(id);
        for (; reads_seen_[id] < reads.size(); ++reads_seen_[id]) {
            const ReadState& r = reads[reads_seen_[id]];
            out_.push_back("  " + node_name(id) + " read " + std::to_string(r.id) +
                           (r.ok ? " ok at index " + std::to_string(r.index) : " failed"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Invariants, after every command

void Scenario::check_invariants() {
    // Each engine's local invariants (Engine::check_invariants), then the cluster-wide ones.
    for (NodeId id = 1; id <= static_cast<NodeId>(cluster().size()); ++id)
        if (up(id)) cluster().engine(id).check_invariants();
    if (protocol_ == "raft") check_raft();
    if (protocol_ == "paxos") check_paxos();
}

// Cluster-wide Raft properties (the local ones are Raft::check_invariants()); the checks of
// tests/raft_test.cc.
void Scenario::check_raft() {
    auto& c = cluster();
    const NodeId n = static_cast<NodeId>(c.size());
    // §5.2 Election Safety: at most one leader per term.
    for (NodeId id = 1; id <= n; ++id) {
        if (!up(id) || c.status(id).role != ballot::Role::leader) continue;
        auto [it, fresh] = leader_of_term_.emplace(raft_term(c, id), id);
        if (!fresh && it->second != id)
            throw std::logic_error("two leaders in term " + std::to_string(it->first) + ": " +
                                   node_name(it->second) + " and " + node_name(id));
    }
    // §5.3 Log Matching over what each node has on disk.
    for (NodeId a = 1; a <= n; ++a) {
        for (NodeId b = a + 1; b <= n; ++b) {
            bool diverged = false;
            const auto log_a = raft_log(c, a), log_b = raft_log(c, b);
            auto ia = log_a.begin(), ib = log_b.begin();
            for (; ia != log_a.end() && ib != log_b.end(); ++ia, ++ib) {
                if (ia->first != ib->first)
                    throw std::logic_error("a log with a gap on " + node_name(a) + " or " + node_name(b));
                if (ia->second != ib->second) diverged = true;
                if (diverged && ia->second.term == ib->second.term)
                    throw std::logic_error("Log Matching broken between " + node_name(a) + " and " +
                                           node_name(b) + " at index " + std::to_string(ia->first));
            }
        }
    }
    // §5.4.3 Leader Completeness.
    std::uint64_t max_term = 0;
    for (NodeId id = 1; id <= n; ++id) max_term = std::max(max_term, raft_term(c, id));
    for (NodeId id = 1; id <= n; ++id)
        if (up(id))
            for (const Committed& e : c.committed(id)) committed_bound_.try_emplace(e.index, e, max_term);
    for (NodeId id = 1; id <= n; ++id) {
        if (!up(id) || c.status(id).role != ballot::Role::leader) continue;
        const std::uint64_t term = raft_term(c, id);
        const auto log = raft_log(c, id);
        for (const auto& [index, committed] : committed_bound_) {
            if (term <= committed.second) continue;
            auto it = log.find(index);
            if (it == log.end() || it->second.data != committed.first.data)
                throw std::logic_error("Leader Completeness broken: leader " + node_name(id) + " of term " +
                                       std::to_string(term) + " lacks committed entry " +
                                       std::to_string(index));
        }
    }
}

// Basic Paxos: per slot, nothing accepted above the slot's promise (P1a), as in tests/paxos_test.cc.
void Scenario::check_paxos() {
    for (NodeId id = 1; id <= static_cast<NodeId>(cluster().size()); ++id) {
        if (!up(id)) continue;
        // paxos::decode_record refuses a record whose accepted ballot is above its promise.
        for (const auto& [slot, bytes] : cluster().records(id)) {
            std::string why;
            if (!paxos::decode_record(slot, bytes, &why))
                throw std::logic_error(node_name(id) + " slot " + std::to_string(slot) + ": " + why);
        }
    }
}

}  // namespace ballot::golden
