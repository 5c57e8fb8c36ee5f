#include "tests/sim/lock_workload.h"

#include "kv/kv_commands.h"
#include "kv/kv_store.h"
#include "kv/resp.h"

namespace ballot::sim {

namespace {

// Session ids: above the key-value clients' (1001...), far below the nodes' own.
constexpr std::uint64_t kMainSessionBase = 2000;
constexpr std::uint64_t kKeepaliveSessionBase = 2100;
constexpr std::uint64_t kLocks = 2;  // lock1 lock2: clients contend
constexpr std::uint64_t kNoNodeRetryUs = 50'000;
constexpr std::uint64_t kRetryBackoffMaxUs = 100'000;
constexpr std::uint64_t kThinkMinUs = 10'000;
constexpr std::uint64_t kThinkMaxUs = 100'000;

kv::RespValue parse(const std::string& reply) {
    kv::RespReplyParser parser;
    parser.feed(reply);
    kv::RespValue v;
    if (parser.next(v) != kv::RespStatus::ok) return kv::RespValue::error_string("unparseable reply");
    return v;
}

bool is_integer(const kv::RespValue& v) {
    return v.type == kv::RespValue::Type::integer;
}

}  // namespace

LockWorkload::LockWorkload(const SimConfig& config, EventQueue& queue, ClientGateway& gateway,
                           const LockChecker& checker, Violations& violations)
    : config_(config),
      queue_(queue),
      gateway_(gateway),
      checker_(checker),
      violations_(violations),
      rng_(config.seed ^ 0x10C4C11E47ull) {
    clients_.resize(static_cast<std::size_t>(config_.lock_clients));
    for (std::size_t i = 0; i < clients_.size(); ++i) {
        clients_[i].number = i + 1;
        clients_[i].main.id = kMainSessionBase + i + 1;
        clients_[i].keepalive.id = kKeepaliveSessionBase + i + 1;
    }
}

void LockWorkload::log(const Client& c, const std::string& what) {
    if (trace) trace("lock client " + std::to_string(c.number) + ": " + what);
}

void LockWorkload::start() {
    for (Client& c : clients_) think_then_next(c);
}

void LockWorkload::think_then_next(Client& c) {
    // A holder works between its writes: 10-100 ms, so that lock clients add a fraction of the
    // key-value clients' load (and of the default run's time) while leases still end mid-work.
    queue_.after(rng_.between(kThinkMinUs, kThinkMaxUs), [this, &c] { next(c); });
}

void LockWorkload::next(Client& c) {
    if (stopped_ || c.paused) return;
    if (c.lease == 0) return grant_lease(c);
    if (c.token == 0) return acquire(c);
    hold(c);
}

void LockWorkload::grant_lease(Client& c) {
    c.ttl_ms = rng_.between(config_.lock_ttl_min_ms, config_.lock_ttl_max_ms);
    send(c.main, {"LEASE", "GRANT", std::to_string(c.ttl_ms)},
         [this, &c](const std::optional<std::string>& reply, NodeId) {
             const kv::RespValue v = reply ? parse(*reply) : kv::RespValue();
             if (is_integer(v)) {
                 c.lease = static_cast<std::uint64_t>(v.integer);
                 const std::uint64_t generation = ++c.lease_generation;
                 queue_.after(c.ttl_ms * 1000 / 3, [this, &c, generation] { keep_alive(c, generation); });
             }
             think_then_next(c);
         });
}

// Every TTL/3 from the client's second session, while it has the lease and is not paused.
void LockWorkload::keep_alive(Client& c, std::uint64_t generation) {
    if (stopped_ || c.lease_generation != generation) return;
    queue_.after(c.ttl_ms * 1000 / 3, [this, &c, generation] { keep_alive(c, generation); });
    if (c.paused || c.keepalive.busy) return;
    send(c.keepalive, {"LEASE", "KEEPALIVE", std::to_string(c.lease)},
         [this, &c, generation](const std::optional<std::string>& reply, NodeId) {
             // A paused process reads nothing: it learns the news (if still news) when it resumes.
             if (reply && !c.paused && c.lease_generation == generation &&
                 parse(*reply).str == kv::kLeaseNotFound)
                 drop_lease(c, "keep-alive: lease not found");
         });
}

void LockWorkload::drop_lease(Client& c, const char* why) {
    log(c, std::string("drops lease ") + std::to_string(c.lease) + " (" + why + ")");
    ++stats_.leases_lost;
    c.lease = 0;
    c.token = 0;
    ++c.lease_generation;
}

void LockWorkload::held(Client& c, std::uint64_t token) {
    c.token = token;
    ++stats_.locks_held;
    log(c, "holds " + c.lock + " with token " + std::to_string(token));
}

// LOCK or ELECT one of the locks: try once (WAIT 0) or queue behind the holder for a while.
void LockWorkload::acquire(Client& c) {
    c.lock = "lock" + std::to_string(rng_.between(1, kLocks));
    c.elected = rng_.chance(1, 4);
    const std::uint64_t wait_ms = rng_.chance(1, 2) ? 0 : rng_.between(50, 2 * c.ttl_ms);
    std::vector<std::string> args = {c.elected ? "ELECT" : "LOCK", c.lock, std::to_string(c.lease)};
    if (c.elected) args.push_back("client-" + std::to_string(c.number));
    args.insert(args.end(), {"WAIT", std::to_string(wait_ms)});
    const std::uint64_t generation = c.lease_generation;
    send(c.main, args, [this, &c, generation, wait_ms](const std::optional<std::string>& reply, NodeId node) {
        if (c.lease_generation != generation) return think_then_next(c);
        if (!reply) {
            drop_lease(c, "gave up on a LOCK");
            return think_then_next(c);
        }
        on_acquire_reply(c, *reply, node, wait_ms);
    });
}

void LockWorkload::on_acquire_reply(Client& c, const std::string& reply, NodeId node, std::uint64_t wait_ms) {
    if (auto waiter = kv::KvStore::queued_waiter(reply)) {
        // Wait on the node, as a connection does, until woken or it seems hopeless.
        const std::uint64_t generation = c.lease_generation;
        const std::uint64_t attempt = ++c.main.attempt;
        auto resume = [this, &c, generation, attempt](const std::optional<std::string>& outcome) {
            if (c.main.attempt != attempt) return;  // the other of the two came first
            ++c.main.attempt;
            if (c.lease_generation != generation) return think_then_next(c);
            if (!outcome) {
                drop_lease(c, "gave up waiting for the lock");
                return think_then_next(c);
            }
            ++stats_.waits;
            on_acquire_reply(c, *outcome, kNoNode, 0);
        };
        log(c, "waits for " + c.lock + " on node " + std::to_string(node) + " as waiter " +
                   std::to_string(*waiter));
        gateway_.await_waiter(node, *waiter, c.lock, resume);
        queue_.after((wait_ms + config_.give_up_ms) * 1000, [resume] { resume(std::nullopt); });
        return;
    }
    const kv::RespValue v = parse(reply);
    if (is_integer(v)) {
        held(c, static_cast<std::uint64_t>(v.integer));
    } else if (v.str == kv::kLeaseNotFound) {
        drop_lease(c, "LOCK: lease not found");
    }
    think_then_next(c);
}

void LockWorkload::hold(Client& c) {
    const std::uint64_t pick = rng_.between(1, 100);
    if (pick <= 55) return fenced_write(c, false);
    if (pick <= 65) return read_leader(c);
    if (pick <= 80) return let_go(c);
    if (pick <= 80 + config_.lock_pause_percent) return pause(c);
    send(c.main, {"LEASE", "REVOKE", std::to_string(c.lease)},
         [this, &c](const std::optional<std::string>&, NodeId) {
             drop_lease(c, "revoked");
             think_then_next(c);
         });
}

void LockWorkload::fenced_write(Client& c, bool after_pause) {
    const std::string value = "c" + std::to_string(c.number) + "-t" + std::to_string(c.token);
    const std::uint64_t generation = c.lease_generation;
    send(c.main, {"SET", "f" + c.lock, value, "FENCE", c.lock, std::to_string(c.token)},
         [this, &c, generation, after_pause](const std::optional<std::string>& reply, NodeId) {
             if (c.lease_generation != generation) return think_then_next(c);
             if (!reply) {
                 drop_lease(c, "gave up on a fenced write");
                 return think_then_next(c);
             }
             const bool refused = parse(*reply).str == kv::kStaleToken;
             if (after_pause) ++(refused ? stats_.stale_refused : stats_.stale_applied);
             if (!refused) ++stats_.fenced_ok;
             if (refused) {
                 log(c, "lost " + c.lock + " (its fenced write was refused)");
                 c.token = 0;
             }
             think_then_next(c);
         });
}

// LEADER name, a linearizable read: it must answer a holder of some index applied while it ran.
void LockWorkload::read_leader(Client& c) {
    const std::string name = c.lock;
    const Index from = checker_.last_index();
    const NodeId node = pick_node(kNoNode);
    const std::uint64_t attempt = ++c.main.attempt;
    c.main.busy = true;
    auto finish = [this, &c, attempt, name, from](const Outcome* o, const std::string& reply) {
        if (c.main.attempt != attempt) return;
        ++c.main.attempt;
        c.main.busy = false;
        if (o != nullptr && o->status == Outcome::Status::ok) {
            ++stats_.reads_ok;
            const kv::RespValue v = parse(reply);
            const std::uint64_t token = v.type == kv::RespValue::Type::array && v.elements.size() == 2
                                            ? static_cast<std::uint64_t>(v.elements[1].integer)
                                            : 0;
            if (!checker_.held_between(name, token, from, checker_.last_index()))
                violations_.add("lock client " + std::to_string(c.number) + ": LEADER " + name +
                                " answered " + (token == 0 ? "no holder" : "token " + std::to_string(token)) +
                                ", which no index from " + std::to_string(from) + " to " +
                                std::to_string(checker_.last_index()) + " had");
        }
        think_then_next(c);
    };
    if (node == kNoNode) return finish(nullptr, "");
    queue_.after(config_.attempt_timeout_ms * 1000, [finish] { finish(nullptr, ""); });
    gateway_.read(node, kv::encode_payload(kv::validate({"LEADER", name}).command),
                  [finish](const Outcome& o, const std::string& reply) { finish(&o, reply); });
}

void LockWorkload::let_go(Client& c) {
    send(c.main, {c.elected ? "RESIGN" : "UNLOCK", c.lock, std::to_string(c.token)},
         [this, &c](const std::optional<std::string>& reply, NodeId) {
             if (!reply) drop_lease(c, "gave up on an UNLOCK");
             c.token = 0;
             think_then_next(c);
         });
}

// A GC pause or SIGSTOP longer than the TTL: no requests, no keep-alives; then the old token.
void LockWorkload::pause(Client& c) {
    const std::uint64_t ms = c.ttl_ms * rng_.between(150, 300) / 100;
    log(c,
        "pauses for " + std::to_string(ms) + " ms holding " + c.lock + " token " + std::to_string(c.token));
    ++stats_.pauses;
    c.paused = true;
    queue_.after(ms * 1000, [this, &c] {
        c.paused = false;
        if (stopped_) return;
        log(c, "resumes, writes with its old token " + std::to_string(c.token));
        fenced_write(c, true);
    });
}

// ---- sessions

void LockWorkload::send(Session& s, const std::vector<std::string>& args, Done done) {
    kv::Validation v = kv::validate(args);
    if (!v.ok()) {
        violations_.add("lock workload built an invalid command: " + v.error);
        return;
    }
    s.payload = kv::encode_payload(v.command);
    s.what.clear();
    for (const std::string& a : args) s.what += (s.what.empty() ? "" : " ") + a;
    s.stamp = Stamp{s.id, s.next_seq, s.next_seq};  // one outstanding: every earlier seq is settled
    ++s.next_seq;
    s.busy = true;
    s.invoke_us = queue_.now_us();
    s.give_up_at_us = s.invoke_us + config_.give_up_ms * 1000;
    s.last_node = kNoNode;
    s.done = std::move(done);
    try_once(s);
}

NodeId LockWorkload::pick_node(NodeId avoid) {
    std::vector<NodeId> up = gateway_.up_nodes();
    if (up.size() > 1) std::erase(up, avoid);
    return up.empty() ? kNoNode : up[rng_.between(0, up.size() - 1)];
}

void LockWorkload::try_once(Session& s) {
    const std::uint64_t attempt = ++s.attempt;
    const NodeId node = pick_node(s.last_node);
    if (node == kNoNode) {
        if (queue_.now_us() >= s.give_up_at_us) return settle(s, std::nullopt, kNoNode);
        queue_.after(kNoNodeRetryUs, [this, &s, attempt] {
            if (s.busy && s.attempt == attempt) try_once(s);
        });
        return;
    }
    s.last_node = node;
    queue_.after(config_.attempt_timeout_ms * 1000, [this, &s, attempt] {
        if (s.busy && s.attempt == attempt) retry_or_give_up(s, "no answer");
    });
    gateway_.submit(node, s.stamp, s.payload, [this, &s, attempt, node](const Outcome& o) {
        if (!s.busy || s.attempt != attempt) return;
        if (o.status == Outcome::Status::ok) return settle(s, o.reply, node);
        retry_or_give_up(s, "failed");
    });
}

void LockWorkload::retry_or_give_up(Session& s, const char* /*why*/) {
    if (queue_.now_us() >= s.give_up_at_us) return settle(s, std::nullopt, kNoNode);
    const std::uint64_t attempt = ++s.attempt;
    queue_.after(rng_.between(0, kRetryBackoffMaxUs), [this, &s, attempt] {
        if (s.busy && s.attempt == attempt) try_once(s);
    });
}

void LockWorkload::settle(Session& s, const std::optional<std::string>& reply, NodeId node) {
    s.busy = false;
    ++s.attempt;
    if (reply) {
        ++stats_.commands_ok;
        acknowledged_[{s.id, s.stamp.seq}] = Acknowledged{s.invoke_us, queue_.now_us(), *reply, s.what};
    } else {
        ++stats_.commands_given_up;
    }
    if (trace)
        trace("lock session " + std::to_string(s.id) + ": " + s.what + " -> " +
              (reply ? (reply->empty() || reply->front() == '\0' ? "queued"
                                                                 : reply->substr(0, reply->find('\r')))
                     : "gave up"));
    Done done = std::move(s.done);
    done(reply, node);
}

// ---- what the clients saw against the log

void LockWorkload::on_first_apply(const Command& command, const std::string& reply) {
    if (command.client_id <= kMainSessionBase || command.client_id > kKeepaliveSessionBase + clients_.size())
        return;
    if (reply.starts_with("-ERR stale request")) return;  // a stale retry changes nothing
    first_apply_.try_emplace({command.client_id, command.seq}, FirstApply{queue_.now_us(), reply});
}

void LockWorkload::finish() {
    stopped_ = true;
    for (const auto& [key, ack] : acknowledged_) {
        auto it = first_apply_.find(key);
        const std::string who = "lock session " + std::to_string(key.first) + " seq " +
                                std::to_string(key.second) + " (" + ack.what + ")";
        if (it == first_apply_.end()) {
            violations_.add(who + " was acknowledged but never applied");
        } else if (it->second.reply != ack.reply) {
            violations_.add(who + " was acknowledged with " + ack.reply +
                            " but its first application answered " + it->second.reply);
        } else if (it->second.at_us < ack.invoke_us || it->second.at_us > ack.complete_us) {
            violations_.add(who + " took effect at " + std::to_string(it->second.at_us) +
                            " us, outside its interval [" + std::to_string(ack.invoke_us) + ", " +
                            std::to_string(ack.complete_us) + "] us");
        }
    }
}

}  // namespace ballot::sim
