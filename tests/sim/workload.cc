#include "tests/sim/workload.h"

#include "kv/kv_commands.h"
#include "kv/resp.h"

namespace ballot::sim {

namespace {

constexpr std::uint64_t kClientIdBase = 1000;  // client ids; node sessions use far larger ids
constexpr std::uint64_t kNoNodeRetryUs = 50'000;
constexpr std::uint64_t kRetryBackoffMaxUs = 100'000;
constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
constexpr std::uint64_t kTimedPercent = 15;
constexpr std::uint64_t kTimedKeys = 3;
constexpr std::size_t kLeasesKept = 8;

const char* status_name(Outcome::Status s) {
    switch (s) {
        case Outcome::Status::ok:
            return "ok";
        case Outcome::Status::timeout:
            return "timeout";
        case Outcome::Status::no_quorum:
            return "no quorum";
        case Outcome::Status::storage_failed:
            return "storage failed";
        case Outcome::Status::overloaded:
            return "overloaded";
        case Outcome::Status::refused:
            return "refused";
    }
    return "?";
}

}  // namespace

Workload::Workload(const SimConfig& config, EventQueue& queue, Rng& rng, ClientGateway& gateway,
                   Violations& violations)
    : config_(config), queue_(queue), rng_(rng), gateway_(gateway), violations_(violations) {
    clients_.resize(static_cast<std::size_t>(config_.clients));
    for (std::size_t i = 0; i < clients_.size(); ++i) clients_[i].id = kClientIdBase + i + 1;
}

void Workload::log(const Client& c, const std::string& what) {
    if (trace) trace("client " + std::to_string(c.id) + ": " + what);
}

void Workload::start() {
    for (Client& c : clients_) schedule_next(c);
}

void Workload::begin_liveness() {
    liveness_ = true;
    for (Client& c : clients_) c.acked_since_liveness = 0;
    liveness_clock_ = clock_;
}

bool Workload::every_client_acknowledged_since_liveness() const {
    for (const Client& c : clients_)
        if (c.acked_since_liveness == 0) return false;
    return true;
}

std::uint64_t Workload::pending_ops() const {
    std::uint64_t n = 0;
    for (const Client& c : clients_) n += c.busy ? 1 : 0;
    return n;
}

void Workload::schedule_next(Client& c) {
    if (stopped_) return;
    queue_.after(rng_.between(0, config_.think_max_ms * 1000), [this, &c] {
        if (!stopped_ && !c.busy) begin_op(c);
    });
}

void Workload::begin_op(Client& c) {
    HistoryOp op;
    op.client = c.id;
    if (rng_.between(1, 100) <= kTimedPercent) {
        c.timed = true;
        const std::vector<std::string> args = timed_command(c);
        for (const std::string& a : args) op.note += (op.note.empty() ? "" : " ") + a;
        const bool is_write = kv::validate(args).command.kind() == kv::CommandKind::write;
        return invoke(c, std::move(op), args, is_write);
    }
    c.timed = false;
    c.grants_lease = false;
    op.key = "k" + std::to_string(rng_.between(1, static_cast<std::uint64_t>(config_.keys)));
    std::vector<std::string> args;
    const std::uint64_t pick = rng_.between(1, 100);
    if (pick <= 25) {
        op.op = KvOp::set;
        // Mostly integers (so INCR has work), unique so the checker can tell writes apart.
        op.arg =
            rng_.chance(1, 5) ? "v" + std::to_string(next_value_++) : std::to_string(1000 * next_value_++);
        args = {"SET", op.key, op.arg};
    } else if (pick <= 60) {
        op.op = KvOp::get;
        args = {"GET", op.key};
    } else if (pick <= 80) {
        op.op = KvOp::append;
        op.arg = rng_.chance(1, 6) ? "x" : std::to_string(rng_.between(1, 9));
        args = {"APPEND", op.key, op.arg};
    } else {
        op.op = KvOp::incr;
        args = {"INCR", op.key};
    }
    const bool is_write = op.op != KvOp::get;
    invoke(c, std::move(op), args, is_write);
}

// TTLs from a few ms (they expire while clients, crashes and elections go on) to seconds (they
// outlive leader changes), on the timed keys; leases granted by any client, used by all.
std::vector<std::string> Workload::timed_command(Client& c) {
    const std::string key = "t" + std::to_string(rng_.between(1, kTimedKeys));
    const std::string ttl_ms = std::to_string(rng_.between(5, 3000));
    const std::string lease =
        lease_ids_.empty() ? "1" : std::to_string(lease_ids_[rng_.between(0, lease_ids_.size() - 1)]);
    c.grants_lease = false;
    switch (rng_.between(1, 10)) {
        case 1:
            return {"SET", key, "v" + std::to_string(next_value_++), "PX", ttl_ms};
        case 2:
            return {"SET", key, "v" + std::to_string(next_value_++), "NX", "PX", ttl_ms, "GET"};
        case 3:
            return {"SET", key, "v" + std::to_string(next_value_++), "LEASE", lease};
        case 4:
            return {"PEXPIRE", key, ttl_ms};
        case 5:
            return {"PERSIST", key};
        case 6:
            return {"PTTL", key};
        case 7:
            c.grants_lease = true;
            return {"LEASE", "GRANT", ttl_ms};
        case 8:
            return {"LEASE", "KEEPALIVE", lease};
        case 9:
            return {"LEASE", "TTL", lease};
        default:
            return {"LEASE", "REVOKE", lease};
    }
}

void Workload::invoke(Client& c, HistoryOp op, const std::vector<std::string>& args, bool is_write) {
    kv::Validation v = kv::validate(args);
    if (!v.ok()) {
        violations_.add("workload built an invalid command: " + v.error);
        return;
    }
    c.payload = kv::encode_payload(v.command);
    c.is_write = is_write;
    op.invoke = ++clock_;
    op.invoke_ms = queue_.now_us() / 1000;
    c.op = std::move(op);
    c.busy = true;
    if (c.is_write) {
        // ballot-client's stamp: with one request outstanding, every earlier seq is answered (or
        // given up on, which the runtime treats the same way).
        c.stamp = Stamp{c.id, c.next_seq, c.next_seq};
        ++c.next_seq;
    }
    c.give_up_at_us = queue_.now_us() + config_.give_up_ms * 1000;
    c.last_node = kNoNode;
    const std::string what =
        c.timed ? c.op.note
                : std::string(to_string(c.op.op)) + " " + c.op.key + (c.op.arg.empty() ? "" : " " + c.op.arg);
    log(c, "invoke " + what + (c.is_write ? " seq " + std::to_string(c.stamp.seq) : ""));
    try_once(c);
}

// A timed command's reply has a shape that command can give: +OK, nil, a value, an integer, or
// "lease not found"; never another error (a stale-request or undecodable-entry reply would mean
// the stamp, dedup or payload machinery misbehaved).
void Workload::check_timed_reply(Client& c, const std::string& reply) {
    kv::RespReplyParser parser;
    parser.feed(reply);
    kv::RespValue v;
    if (parser.next(v) != kv::RespStatus::ok || (v.is_error() && v.str != "ERR lease not found")) {
        violations_.add("client " + std::to_string(c.id) + ": unexpected reply " + reply + " to " +
                        c.op.note);
        return;
    }
    ++stats_.timed_ok;
    if (c.grants_lease && v.type == kv::RespValue::Type::integer) {
        if (lease_ids_.size() == kLeasesKept) lease_ids_.erase(lease_ids_.begin());
        lease_ids_.push_back(v.integer);
    }
}

NodeId Workload::pick_node(const Client& c) {
    std::vector<NodeId> up = gateway_.up_nodes();
    if (up.size() > 1) std::erase(up, c.last_node);  // a retry goes elsewhere
    if (up.empty()) return kNoNode;
    return up[rng_.between(0, up.size() - 1)];
}

void Workload::try_once(Client& c) {
    const std::uint64_t attempt = ++c.attempt;
    const NodeId node = pick_node(c);
    if (node == kNoNode) {
        if (queue_.now_us() >= c.give_up_at_us) return abandon(c, "no node up");
        queue_.after(kNoNodeRetryUs, [this, &c, attempt] {
            if (c.busy && c.attempt == attempt) try_once(c);
        });
        return;
    }
    c.last_node = node;
    queue_.after(config_.attempt_timeout_ms * 1000, [this, &c, attempt] {
        if (!c.busy || c.attempt != attempt) return;
        if (c.is_write) return retry_or_give_up(c, "no answer");
        abandon(c, "read got no answer");
    });
    if (c.is_write) {
        log(c, "attempt " + std::to_string(attempt) + " via node " + std::to_string(node));
        gateway_.submit(node, c.stamp, c.payload,
                        [this, &c, attempt](const Outcome& o) { on_write_outcome(c, attempt, o); });
    } else {
        gateway_.read(node, c.payload, [this, &c, attempt](const Outcome& o, const std::string& reply) {
            on_read_outcome(c, attempt, o, reply);
        });
    }
}

void Workload::on_write_outcome(Client& c, std::uint64_t attempt, const Outcome& outcome) {
    if (!c.busy || c.attempt != attempt) return;  // an attempt the client no longer waits for
    if (outcome.status == Outcome::Status::ok && c.timed) {
        check_timed_reply(c, outcome.reply);
        return complete(c, KvResult::ok());
    }
    if (outcome.status == Outcome::Status::ok) return complete(c, parse_reply(c.op, outcome.reply));
    retry_or_give_up(c, status_name(outcome.status));
}

void Workload::on_read_outcome(Client& c, std::uint64_t attempt, const Outcome& outcome,
                               const std::string& reply) {
    if (!c.busy || c.attempt != attempt) return;
    if (outcome.status == Outcome::Status::ok && c.timed) {
        check_timed_reply(c, reply);
        return complete(c, KvResult::ok());
    }
    if (outcome.status == Outcome::Status::ok) return complete(c, parse_reply(c.op, reply));
    abandon(c, status_name(outcome.status));
}

void Workload::retry_or_give_up(Client& c, const char* why) {
    if (queue_.now_us() >= c.give_up_at_us) return abandon(c, why);
    ++stats_.retries;
    const std::uint64_t attempt = ++c.attempt;  // the failed attempt's timer is void now
    log(c, std::string("attempt failed (") + why + "), retrying");
    queue_.after(rng_.between(0, kRetryBackoffMaxUs), [this, &c, attempt] {
        if (c.busy && c.attempt == attempt) try_once(c);
    });
}

KvResult Workload::parse_reply(const HistoryOp& op, const std::string& reply) {
    kv::RespReplyParser parser;
    parser.feed(reply);
    kv::RespValue v;
    if (parser.next(v) != kv::RespStatus::ok) {
        violations_.add("client " + std::to_string(op.client) + ": unparseable reply to " + op.str());
        return KvResult::of_error("unparseable");
    }
    using T = kv::RespValue::Type;
    switch (op.op) {
        case KvOp::set:
            if (v.type == T::simple && v.str == "OK") return KvResult::ok();
            break;
        case KvOp::get:
            if (v.type == T::nil) return KvResult::nil();
            if (v.type == T::bulk) return KvResult::of_value(v.str);
            break;
        case KvOp::append:
            if (v.type == T::integer) return KvResult::of_integer(v.integer);
            break;
        case KvOp::incr:
            if (v.type == T::integer) return KvResult::of_integer(v.integer);
            if (v.type == T::error && v.str == kNotInteger) return KvResult::of_error(v.str);
            break;
    }
    // A stale-request error, say, means the stamp or dedup machinery misbehaved.
    violations_.add("client " + std::to_string(op.client) + ": unexpected reply " +
                    (v.is_error() ? "-" + v.str : reply) + " to " + op.str());
    return KvResult::of_error(v.str);
}

void Workload::complete(Client& c, KvResult result) {
    if (c.timed) {
        c.busy = false;
        ++c.attempt;
        log(c, "complete " + c.op.note + ": " + result.str());
        return schedule_next(c);
    }
    c.op.complete = ++clock_;
    c.op.complete_ms = queue_.now_us() / 1000;
    c.op.result = std::move(result);
    c.busy = false;
    ++c.attempt;
    if (c.is_write) {
        ++stats_.writes_ok;
        if (liveness_ && c.op.invoke > liveness_clock_) ++c.acked_since_liveness;
    } else {
        ++stats_.reads_ok;
    }
    log(c, "complete " + c.op.str());
    history_.push_back(c.op);
    history_seq_.push_back(c.is_write ? c.stamp.seq : 0);
    schedule_next(c);
}

void Workload::abandon(Client& c, const char* why) {
    c.busy = false;
    ++c.attempt;
    if (c.timed) {
        log(c, std::string("gives up (") + why + ") on " + c.op.note);
    } else if (c.is_write) {
        c.op.indeterminate = true;
        ++stats_.writes_indeterminate;
        log(c, std::string("gives up (") + why + ") on " + c.op.str());
        history_.push_back(c.op);
        history_seq_.push_back(c.stamp.seq);
    } else {
        ++stats_.reads_failed;
        log(c, std::string("read failed (") + why + ")");
    }
    schedule_next(c);
}

void Workload::finish() {
    for (Client& c : clients_) {
        if (!c.busy) continue;
        c.busy = false;
        ++c.attempt;
        if (c.is_write && !c.timed) {
            c.op.indeterminate = true;
            ++stats_.writes_indeterminate;
            history_.push_back(c.op);
            history_seq_.push_back(c.stamp.seq);
        }
    }
    stopped_ = true;
    resolve_indeterminate();
}

void Workload::on_first_apply(const Command& command, const std::string& reply) {
    if (command.client_id <= kClientIdBase || command.client_id > kClientIdBase + clients_.size()) return;
    // A stale retry (seq below acked_below) is refused and changes nothing.
    if (reply.rfind("-ERR stale request", 0) == 0) return;
    first_apply_.try_emplace({command.client_id, command.seq},
                             FirstApply{++clock_, queue_.now_us() / 1000, reply});
}

void Workload::resolve_indeterminate() {
    std::vector<HistoryOp> resolved;
    resolved.reserve(history_.size());
    for (std::size_t i = 0; i < history_.size(); ++i) {
        HistoryOp& op = history_[i];
        if (history_seq_[i] == 0) {  // a read
            resolved.push_back(std::move(op));
            continue;
        }
        auto it = first_apply_.find({op.client, history_seq_[i]});
        if (!op.indeterminate) {
            // Exactly once: the acknowledged reply is the first application's, which came first.
            if (it == first_apply_.end()) {
                violations_.add("acknowledged write was never applied anywhere: " + op.str());
            } else {
                KvResult first = parse_reply(op, it->second.reply);
                if (!first.matches(op.result) || it->second.stamp > op.complete)
                    violations_.add("acknowledged " + op.str() + ", but its first application (at " +
                                    std::to_string(it->second.ms) + " ms) answered " + first.str());
            }
            resolved.push_back(std::move(op));
            continue;
        }
        if (it == first_apply_.end()) {
            ++stats_.indeterminate_dropped;
            continue;
        }
        ++stats_.indeterminate_applied;
        op.indeterminate = false;
        op.note = "invoked at " + std::to_string(op.invoke_ms) + " ms, no answer; placed where first applied";
        op.invoke = op.complete = it->second.stamp;
        op.invoke_ms = op.complete_ms = it->second.ms;
        op.result = parse_reply(op, it->second.reply);
        resolved.push_back(std::move(op));
    }
    history_ = std::move(resolved);
    history_seq_.clear();
}

}  // namespace ballot::sim
