#include "kv/resp_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <set>
#include <unordered_map>

#include "common/node_report.h"
#include "common/spawn.h"
#include "common/version.h"
#include "kv/connection_commands.h"
#include "kv/kv_commands.h"
#include "kv/member_address_check.h"
#include "kv/member_command.h"

namespace ballot::kv {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;

namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
using Clock = std::chrono::steady_clock;

// What keeps this node from serving, in words for an error reply; empty when it is neither
// refused nor joining (SPEC "Errors": the code stays, the text names the state).
std::string unavailable_reason(const NodeHealth& h) {
    if (h.refused) {
        std::vector<NodeId> peers;
        std::set<std::string> whys;
        for (auto& [id, reason] : h.refused_by) {
            peers.push_back(id);
            whys.insert(refusal_summary(reason));
        }
        std::string why;
        for (auto& w : whys) why += (why.empty() ? "" : ", ") + w;
        return "this node is refused by peers " + id_list(peers) + " (" + why + "; see INFO)";
    }
    if (h.not_a_member && !h.joining)
        return "this node is not in the cluster's configuration (MEMBER ADD it on the leader; see INFO)";
    if (h.joining) {
        if (h.waiting_for.empty())
            return "this node is joining: every peer has met it, it takes part in a moment";
        return "this node is joining: waiting for peers " + id_list(h.waiting_for) + " to start (see INFO)";
    }
    return {};
}

// The replies for requests that could not finish (SPEC "Errors"), naming this node's state.
std::string failure_reply(const Outcome& o, const Node& node) {
    const std::string unknown = "; a write may or may not have been applied";
    switch (o.status) {
        case Outcome::Status::timeout: {
            std::string why = unavailable_reason(node.health());
            return error_reply("TRYAGAIN " + (why.empty() ? "request timed out" : why) + unknown);
        }
        case Outcome::Status::no_quorum: {
            NodeHealth h = node.health();
            std::string why = unavailable_reason(h);
            if (why.empty())
                why = "no quorum reachable (peers connected: " +
                      (h.connected.empty() ? "none" : id_list(h.connected)) +
                      "; known down: " + (h.down.empty() ? "none" : id_list(h.down)) + ")";
            return error_reply("CLUSTERDOWN " + why + unknown);
        }
        case Outcome::Status::storage_failed:
            return error_reply("ERR " +
                               (o.reply.empty() ? std::string("storage failure on this node") : o.reply));
        case Outcome::Status::overloaded:
            return error_reply("TRYAGAIN too many requests in flight on this node");
        case Outcome::Status::refused:
            return error_reply("ERR " + o.reply);
        case Outcome::Status::ok:
            break;
    }
    return error_reply("ERR internal error");
}

std::optional<std::uint64_t> parse_u64(const std::string& s) {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

// CLIENT LIST's cmd= field as Redis writes it: "get", "client|setname".
std::string command_label(std::span<const std::string> command) {
    std::string label = command[0];
    const std::string upper_name = upper(label);
    if ((upper_name == "CLIENT" || upper_name == "COMMAND") && command.size() > 1) label += "|" + command[1];
    for (auto& c : label) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return label;
}

std::string endpoint_text(const tcp::endpoint& e) {
    return e.address().to_string() + ":" + std::to_string(e.port());
}

}  // namespace

std::string bgsave_reply(Node& node) {
    if (node.request_snapshot()) return simple_reply("Background saving started");
    DriverStatus s = node.status();
    // Redis's text when one is being made; it completes on its own and LASTSAVE then changes.
    if (s.snapshot_in_progress) return error_reply("ERR Background save already in progress");
    // Redis would save anyway; a Ballot snapshot is named by its index, so there is nothing new
    // to write, and the newest snapshot file is already a current backup.
    if (s.applied_index == 0) return error_reply("ERR nothing to save: nothing has been applied yet");
    if (s.applied_index <= s.snapshot_index)
        return error_reply("ERR nothing to save: nothing was applied since the latest snapshot (index " +
                           std::to_string(s.snapshot_index) + "), which is current");
    if (s.storage_failed) return error_reply("ERR Background save not started: " + s.storage_error);
    return error_reply("ERR Background save not started (see this node's log)");
}

// Cluster time (README "Keys that expire, and leases"): the clock at this node's applied index, and
// what waits to expire there.
static std::string time_info_text(const KvStore& store) {
    return "cluster_time_ms:" + std::to_string(store.cluster_time_ms()) +
           "\r\nvolatile_keys:" + std::to_string(store.volatile_keys()) +
           "\r\nleases:" + std::to_string(store.lease_count()) +
           "\r\nlocks:" + std::to_string(store.lock_count()) +
           "\r\nlock_waiters:" + std::to_string(store.lock_waiter_count()) + "\r\n";
}

// A request's reply, once it is done; replies leave in the order of the slots.
struct Slot {
    bool done = false;
    std::string reply;
};

// A write or read of one connection, on its way to the log (kind write, which a read may be
// too: RespServer::Impl::may_start) or the read path (kind read).
struct Request {
    std::shared_ptr<Slot> slot;
    std::optional<Stamp> stamp;
    std::string payload;
    CommandKind kind = CommandKind::write;
    // MEMBER ADD/PROMOTE/REMOVE (a write placed by the engine) or MEMBER TRANSFER, instead of payload.
    std::optional<ConfigChange> change;
    bool address_checked = false;  // MEMBER ADD's (check_member_add), before it is proposed
    NodeId transfer_to = kNoNode;
    std::string lock_name;  // LOCK's or ELECT's, which may leave the client waiting for the lock
};

// One client connection.
struct Session : std::enable_shared_from_this<Session> {
    Session(Stream s, RespServerOptions& options)
        : stream(std::move(s)),
          wake(stream.socket().get_executor()),
          room(stream.socket().get_executor()),
          parser(options.limits) {
        wake.expires_at(asio::steady_timer::time_point::max());
        room.expires_at(asio::steady_timer::time_point::max());
        client.auth = initial_auth(options.auth);
    }

    // After a read of `bytes`: when this connection was last heard from, and since when the
    // request now buffered has been incomplete (none buffered: none).
    void received(std::size_t bytes) {
        const auto now = Clock::now();
        if (bytes > 0) last_heard = now;
        if (parser.buffered_bytes() == 0)
            partial_since.reset();
        else if (!partial_since || parsed_since_read)
            partial_since = now;
        parsed_since_read = false;
    }

    // Reserves the next reply slot; replies leave in slot order.
    std::shared_ptr<Slot> reserve() {
        slots.push_back(std::make_shared<Slot>());
        return slots.back();
    }
    void finish(const std::shared_ptr<Slot>& slot, std::string reply) {
        slot->reply = std::move(reply);
        slot->done = true;
        if (!slots.empty() && slots.front() == slot) wake.cancel();
    }
    void close() {
        if (closed) return;
        closed = true;
        stream.close();
        wake.cancel();
        room.cancel();
    }

    Stream stream;            // TCP, or TLS over it (--tls-cert-file): the same coroutines serve both
    asio::steady_timer wake;  // the writer waits on it
    asio::steady_timer room;  // the reader waits on it when too many requests are in flight
    RespRequestParser parser;
    ClientState client;  // what CLIENT, HELLO and CLIENT LIST see of this connection
    std::deque<std::shared_ptr<Slot>> slots;
    bool close_after_flush = false;
    bool closed = false;
    // Between a refused MULTI and its EXEC or DISCARD (see transaction_reply).
    bool in_refused_transaction = false;
    // Requests in the log or the read path, all of one kind, and those waiting for them to
    // finish (RespServer::Impl::admit); bounded by max_pipelined_requests, as slots are.
    std::size_t in_flight = 0;
    CommandKind in_flight_kind = CommandKind::write;
    std::deque<Request> waiting;
    // A LOCK or ELECT is in flight, which may wait for the lock (RespServer::Impl::block): nothing
    // behind it starts until it is answered, as nothing behind a blocked command runs in Redis.
    bool blocked = false;
    bool draining = false;
    // For the limits (RespServer::Impl::watchdog): the last bytes received, the start of the
    // request still incomplete, whether a request was completed since the last read.
    Clock::time_point last_heard = Clock::now();
    std::optional<Clock::time_point> partial_since;
    bool parsed_since_read = false;
    // A wrong password's reply leaves no earlier than this (kv/auth.h, failed_auth_delay).
    Clock::time_point replies_held_until{};
};

// MULTI/EXEC is not supported, and a client library's transaction must not be half applied:
// MULTI is refused, and so is every command after it up to EXEC (answered as Redis answers a
// transaction discarded for errors) or DISCARD. So redis-py's pipeline(transaction=True) and
// node-redis's multi().exec() fail with nothing applied. nullopt: not a transaction matter.
std::optional<std::string> transaction_reply(Session& s, const std::string& name) {
    if (name == "MULTI") {
        if (s.in_refused_transaction) return error_reply("ERR MULTI calls can not be nested");
        s.in_refused_transaction = true;
        return error_reply(
            "ERR MULTI is not supported by Ballot; the commands up to EXEC or DISCARD are refused");
    }
    if (name == "EXEC" || name == "DISCARD") {
        if (!s.in_refused_transaction) return error_reply("ERR " + name + " without MULTI");
        s.in_refused_transaction = false;
        return name == "EXEC" ? error_reply("EXECABORT Transaction discarded because of previous errors.")
                              : simple_reply("OK");
    }
    if (s.in_refused_transaction)
        return error_reply(
            "ERR command refused: MULTI is not supported by Ballot (send DISCARD to end the transaction)");
    return std::nullopt;
}

// A client waiting for a lock or election: its LOCK was queued in the state machine as a waiter.
struct BlockedClient {
    std::weak_ptr<Session> session;
    std::shared_ptr<Slot> slot;
};

struct RespServer::Impl : std::enable_shared_from_this<RespServer::Impl> {
    Impl(asio::io_context& io_, Node& node_, KvStore& store_, RespServerOptions options_)
        : io(io_), node(node_), store(store_), options(options_), watchdog_timer(io_) {}

    asio::io_context& io;
    Node& node;
    KvStore& store;
    // By waiter id (KvStore::queued_reply); two connections may wait as one waiter (one lease,
    // asking twice). Bounded by the store's waiters and this node's connections: each waiter is
    // resolved by the state machine in the end (a grant, its WAIT, or its lease's end).
    std::unordered_multimap<Index, BlockedClient> blocked;
    RespServerOptions options;
    std::unique_ptr<tcp::acceptor> acceptor;
    std::vector<std::weak_ptr<Session>> sessions;
    std::uint64_t next_client_id = 1;
    bool stopped = false;
    asio::steady_timer watchdog_timer;

    static awaitable<void> accept_loop(std::shared_ptr<Impl> me) {
        while (!me->stopped) {
            auto [ec, socket] = co_await me->acceptor->async_accept(tuple_awaitable);
            if (ec) {
                if (me->stopped) co_return;
                spdlog::warn("client accept failed: {}", ec.message());
                continue;
            }
            boost::system::error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            if (me->open_clients() >= me->options.max_clients) {
                asio::co_spawn(me->io,
                               refuse(me->stream_for(std::move(socket)), me->options.tls_handshake_timeout),
                               log_escaped("a refused client connection"));
                continue;
            }
            auto session = std::make_shared<Session>(me->stream_for(std::move(socket)), me->options);
            me->identify(session->client, session->stream.socket());
            std::erase_if(me->sessions, [](auto& w) { return w.expired(); });
            me->sessions.push_back(session);
            asio::co_spawn(me->io, writer(session), log_escaped("a client connection's writer"));
            asio::co_spawn(me->io, reader(me, session), log_escaped("a client connection"));
        }
    }

    Stream stream_for(tcp::socket socket) {
        return options.tls ? Stream(std::move(socket), *options.tls) : Stream(std::move(socket));
    }

    // SPEC "Security": with TLS, a client that does not finish the handshake in time (a
    // plaintext one among them) is dropped, and its address logged.
    awaitable<bool> tls_handshake(Session& s) {
        const auto ec =
            co_await s.stream.handshake(asio::ssl::stream_base::server, options.tls_handshake_timeout);
        if (!ec) co_return true;
        if (!s.closed && !stopped)
            spdlog::warn("dropping client {}: TLS handshake failed ({})", s.client.addr, tls_error_text(ec));
        co_return false;
    }

    // SPEC "Security": beyond --max-clients, Redis's error and the connection closed; the
    // connections already open go on being served. With TLS the error goes inside it, after the
    // handshake (bounded as for any client).
    static awaitable<void> refuse(Stream stream, std::chrono::milliseconds handshake_timeout) {
        boost::system::error_code ec;
        const auto remote = stream.socket().remote_endpoint(ec);
        spdlog::warn("refusing client {}: max number of clients reached", ec ? "?" : endpoint_text(remote));
        static const std::string reply = error_reply("ERR max number of clients reached");
        if (!co_await stream.handshake(asio::ssl::stream_base::server, handshake_timeout))
            co_await stream.write_all(asio::buffer(reply));
        stream.close();
    }

    std::size_t open_clients() const {
        return static_cast<std::size_t>(std::count_if(sessions.begin(), sessions.end(), [](auto& w) {
            auto s = w.lock();
            return s && !s->closed;
        }));
    }

    // Closes connections past the idle timeout, and those holding an incomplete request past the
    // partial-request timeout (slow-loris: a byte now and then keeps a connection open for
    // ever, so progress in bytes does not count, only completed requests do).
    static awaitable<void> watchdog(std::shared_ptr<Impl> me) {
        while (!me->stopped) {
            me->watchdog_timer.expires_after(me->watchdog_interval());
            co_await me->watchdog_timer.async_wait(tuple_awaitable);
            const auto now = Clock::now();
            for (auto& w : me->sessions) {
                auto s = w.lock();
                if (s && !s->closed) me->enforce_timeouts(*s, now);
            }
        }
    }

    // A quarter of the shortest timeout, so a connection outlives its timeout by at most that.
    std::chrono::milliseconds watchdog_interval() const {
        std::chrono::milliseconds shortest{1000};
        for (auto t : {options.idle_timeout, options.partial_request_timeout})
            if (t.count() > 0) shortest = std::min(shortest, t);
        return std::max(std::chrono::milliseconds(5), shortest / 4);
    }

    void enforce_timeouts(Session& s, Clock::time_point now) {
        using std::chrono::duration_cast;
        using std::chrono::milliseconds;
        const auto partial = options.partial_request_timeout;
        const bool reading = s.slots.size() < options.max_pipelined_requests;  // else we are the slow one
        if (partial.count() > 0 && reading && s.partial_since && now - *s.partial_since > partial) {
            spdlog::warn("closing client {}: a request incomplete for {} ms (limit {} ms)", s.client.addr,
                         duration_cast<milliseconds>(now - *s.partial_since).count(), partial.count());
            s.close();
            return;
        }
        const auto idle = options.idle_timeout;
        const bool waiting_for_us = !s.slots.empty() || s.in_flight > 0;
        if (idle.count() > 0 && !waiting_for_us && now - s.last_heard > idle) {
            spdlog::info("closing client {}: idle for more than {} ms", s.client.addr, idle.count());
            s.close();
        }
    }

    static awaitable<void> reader(std::shared_ptr<Impl> me, std::shared_ptr<Session> s) {
        std::vector<std::string> args;
        if (!co_await me->tls_handshake(*s)) {
            s->close();
            co_return;
        }
        while (!s->closed) {
            if (s->slots.size() >= me->options.max_pipelined_requests) {
                co_await s->room.async_wait(tuple_awaitable);           // the writer makes room
                if (s->partial_since) s->partial_since = Clock::now();  // the wait was ours
                continue;
            }
            auto buffer = s->parser.prepare(16 * 1024);
            auto [ec, n] = co_await s->stream.read_some(asio::buffer(buffer.data(), buffer.size()));
            if (ec) break;
            s->parser.commit(n);
            for (;;) {
                RespStatus st = s->parser.next(args);
                if (st == RespStatus::need_more) break;
                if (st == RespStatus::error) {
                    // SPEC: one -ERR Protocol error reply, then the connection is closed.
                    auto slot = s->reserve();
                    s->finish(slot, error_reply("ERR Protocol error: " + s->parser.error()));
                    s->close_after_flush = true;
                    s->wake.cancel();
                    co_return;
                }
                s->parsed_since_read = true;
                me->dispatch(s, args);
                if (s->close_after_flush) co_return;
            }
            s->received(n);
        }
        if (s->slots.empty())
            s->close();
        else
            s->close_after_flush = true;
    }

    static awaitable<void> writer(std::shared_ptr<Session> s) {
        std::string out;
        while (!s->closed) {
            out.clear();
            while (!s->slots.empty() && s->slots.front()->done) {
                out += s->slots.front()->reply;
                s->slots.pop_front();
            }
            if (out.empty()) {
                if (s->close_after_flush && s->slots.empty()) break;
                co_await s->wake.async_wait(tuple_awaitable);
                continue;
            }
            s->room.cancel();
            auto [ec, n] = co_await s->stream.write_all(asio::buffer(out));
            if (ec) break;
        }
        s->close();
    }

    void identify(ClientState& client, const tcp::socket& socket) {
        client.id = next_client_id++;
        boost::system::error_code ec;
        if (auto remote = socket.remote_endpoint(ec); !ec) client.addr = endpoint_text(remote);
        if (auto local = socket.local_endpoint(ec); !ec) client.laddr = endpoint_text(local);
    }

    std::vector<const ClientState*> client_states() const {
        std::vector<const ClientState*> out;
        for (const auto& w : sessions)
            if (auto s = w.lock(); s && !s->closed) out.push_back(&s->client);
        return out;
    }

    // The commands this node answers itself (CommandKind::local).
    std::string local_reply(const KvCommand& command, Session& s) {
        std::string r;
        switch (command.op) {
            case Op::ping:
                if (command.args.empty())
                    append_simple(r, "PONG");
                else
                    append_bulk(r, command.args[0]);
                break;
            case Op::info:
                append_bulk(r, info_text(node_report(node)) + time_info_text(store));
                break;
            case Op::bgsave:
                r = bgsave_reply(node);
                break;
            case Op::lastsave:
                append_integer(r, node.last_save_unix());
                break;
            default:
                r = connection_reply(
                    command, s.client, [this] { return client_states(); }, options.auth);
        }
        return r;
    }

    void dispatch(const std::shared_ptr<Session>& s, std::vector<std::string>& args) {
        if (args.empty()) return;  // an empty inline line: Redis ignores it
        auto slot = s->reserve();
        std::optional<Stamp> stamp;
        std::span<const std::string> command(args);
        std::string name = upper(args[0]);

        // Exactly-once writes from ballot-client: BALLOT.STAMPED client seq acked_below CMD args...
        if (name == "BALLOT.STAMPED") {
            if (args.size() < 5)
                return s->finish(slot,
                                 error_reply("ERR wrong number of arguments for 'ballot.stamped' command"));
            auto client = parse_u64(args[1]), seq = parse_u64(args[2]), acked = parse_u64(args[3]);
            if (!client || !seq || !acked || *client == 0)
                return s->finish(
                    slot,
                    error_reply(
                        "ERR BALLOT.STAMPED needs a non-zero client id, a seq and acked_below as integers"));
            stamp = Stamp{*client, *seq, *acked};
            command = command.subspan(4);
            name = upper(command[0]);
        }

        if (name == "QUIT") {
            s->finish(slot, simple_reply("OK"));
            s->close_after_flush = true;
            return;
        }
        s->client.last_command = command_label(command);
        if (auto refused = permission_error(options.auth, s->client.auth, access_needed(name));
            !refused.empty())
            return s->finish(slot, std::move(refused));
        if (auto refused = transaction_reply(*s, name)) return s->finish(slot, std::move(*refused));
        Validation check = validate(std::vector<std::string>(command.begin(), command.end()));
        if (!check.ok()) return s->finish(slot, error_reply(check.error));
        if (check.command.op == Op::member) return member(s, slot, stamp, check.command.args);
        if (check.command.kind() == CommandKind::local) {
            const unsigned failures = s->client.auth.failures;
            std::string reply = local_reply(check.command, *s);
            if (s->client.auth.failures != failures) return hold_failed_auth(s, slot, std::move(reply));
            return s->finish(slot, std::move(reply));
        }
        Request r;
        r.slot = slot;
        r.stamp = stamp;
        r.payload = encode_payload(check.command);
        r.kind = check.command.kind();
        if (check.command.op == Op::lock || check.command.op == Op::elect)
            r.lock_name = check.command.args[0];
        admit(s, std::move(r));
    }

    // MEMBER (kv/member_command.h): LIST answers from the applied configuration; a change or a
    // transfer goes to the node in this connection's order, like a write.
    void member(const std::shared_ptr<Session>& s, const std::shared_ptr<Slot>& slot,
                std::optional<Stamp> stamp, const std::vector<std::string>& args) {
        MemberRequest request = parse_member(args);
        if (auto* error = std::get_if<std::string>(&request)) return s->finish(slot, error_reply(*error));
        if (std::holds_alternative<MemberList>(request))
            return s->finish(slot, member_list_reply(node.configuration()));
        Request r;
        r.slot = slot;
        r.stamp = stamp;
        if (auto* change = std::get_if<ConfigChange>(&request)) r.change = *change;
        if (auto* transfer = std::get_if<MemberTransfer>(&request)) r.transfer_to = transfer->target;
        admit(s, std::move(r));
    }

    // What running `name` takes: the table's Access, and the data password for the names the
    // table does not hold (MULTI, unknown commands), as Redis refuses them before AUTH.
    static CommandSpec access_needed(const std::string& name) {
        if (const CommandSpec* spec = find_command(name)) return *spec;
        CommandSpec unlisted{};
        unlisted.name = "";
        unlisted.access = Access::data;
        return unlisted;
    }

    // A wrong password: logged with the client's address, and its reply (with every reply behind
    // it on this connection) held back, longer after each failure, on a timer that blocks
    // nothing else. Pipelined guesses wait one after the other.
    void hold_failed_auth(const std::shared_ptr<Session>& s, const std::shared_ptr<Slot>& slot,
                          std::string reply) {
        const unsigned failures = s->client.auth.failures;
        const auto delay = failed_auth_delay(failures);
        spdlog::warn("client {}: wrong password (failure {} on this connection; replying in {} ms)",
                     s->client.addr, failures,
                     std::chrono::duration_cast<std::chrono::milliseconds>(delay).count());
        s->replies_held_until = std::max(Clock::now(), s->replies_held_until) + delay;
        auto timer = std::make_shared<asio::steady_timer>(io, s->replies_held_until);
        timer->async_wait(
            [s, slot, timer, reply = std::move(reply)](const boost::system::error_code&) mutable {
                s->finish(slot, std::move(reply));
            });
    }

    // Per-connection order, which Redis clients assume of a pipeline (SET k v; GET k reads v).
    // Linearizability alone would let a pipelined GET miss the SET before it, as the two are
    // concurrent. Requests that may run together run together; see may_start.
    void admit(const std::shared_ptr<Session>& s, Request request) {
        if (s->waiting.empty() && may_start(*s, request))
            start(s, std::move(request));
        else
            s->waiting.push_back(std::move(request));
    }

    // Whether `r` may start now, beside what this connection has in flight. Writes go together
    // (the log keeps their order), and so do reads. A read behind writes is sent through the log
    // after them (kind write: log order is the connection's order) instead of waiting for them,
    // so a mixed pipeline keeps flowing. A write behind reads on the read path waits for them,
    // or a read could see a write sent after it.
    static bool may_start(const Session& s, Request& r) {
        if (s.blocked) return false;
        if (s.in_flight == 0) return true;
        if (r.kind == CommandKind::read && s.in_flight_kind == CommandKind::write)
            r.kind = CommandKind::write;
        return r.kind == s.in_flight_kind;
    }

    void start(const std::shared_ptr<Session>& s, Request request) {
        if (request.change && request.change->kind == ConfigChange::Kind::add_learner &&
            !request.address_checked)
            return check_address_then_start(s, std::move(request));
        s->in_flight_kind = request.kind;
        ++s->in_flight;
        if (!request.lock_name.empty()) s->blocked = true;
        std::weak_ptr<Session> weak = s;
        auto slot = std::move(request.slot);
        auto reply_when_done = [this, weak, slot,
                                lock_name = std::move(request.lock_name)](const Outcome& o) {
            auto session = weak.lock();
            if (!session) return;
            if (o.status == Outcome::Status::ok && !lock_name.empty()) {  // only LOCK and ELECT queue
                if (auto waiter = KvStore::queued_waiter(o.reply))
                    return block(session, slot, *waiter, lock_name);
            }
            if (!lock_name.empty()) session->blocked = false;
            session->finish(slot, o.status == Outcome::Status::ok ? o.reply : failure_reply(o, node));
            finished(session);
        };
        if (request.change) {
            node.submit_config_change(request.stamp, *request.change, reply_when_done);
        } else if (request.transfer_to != kNoNode) {
            node.transfer_leadership(request.transfer_to, [reply_when_done](Outcome o) {
                if (o.status == Outcome::Status::ok) o.reply = simple_reply("OK");
                reply_when_done(o);
            });
        } else if (request.kind == CommandKind::write) {
            node.submit(request.stamp, std::move(request.payload), reply_when_done);
        } else {
            node.read([this, weak, slot, payload = std::move(request.payload)](const Outcome& o) {
                auto session = weak.lock();
                if (!session) return;
                session->finish(
                    slot, o.status == Outcome::Status::ok ? store.query(payload) : failure_reply(o, node));
                finished(session);
            });
        }
    }

    // MEMBER ADD: its address is resolved and compared with the members', and the node there asked
    // for its data dir identity, which the change carries (check_member_add), before anything is
    // proposed. Nothing behind it on this connection starts meanwhile, so the connection's requests
    // still reach the log in their order.
    void check_address_then_start(const std::shared_ptr<Session>& s, Request request) {
        s->in_flight_kind = CommandKind::write;
        ++s->in_flight;
        s->blocked = true;
        std::weak_ptr<Session> weak = s;
        const ConfigChange add = *request.change;
        ProbePeer probe = [me = shared_from_this()](const asio::ip::tcp::endpoint& at, NodeId id,
                                                    std::function<void(PeerProbe)> done) {
            me->node.probe_peer(at, id, std::move(done));
        };
        asio::co_spawn(io, check_member_add(add, node.configuration(), std::move(probe)),
                       [me = shared_from_this(), weak, request = std::move(request)](
                           std::exception_ptr failed, MemberAddCheck check) mutable {
                           auto session = weak.lock();
                           if (!session) return;
                           session->blocked = false;
                           if (failed) check.refusal = "ERR cannot check the address of MEMBER ADD; try again";
                           if (!check.refusal.empty()) {
                               session->finish(request.slot, error_reply(check.refusal));
                               return me->finished(session);
                           }
                           --session->in_flight;  // start() counts it again
                           request.address_checked = true;
                           request.change->identity = check.identity;
                           me->start(session, std::move(request));
                       });
    }

    // A LOCK or ELECT the state machine queued as `waiter`: the client waits, with nothing behind
    // it started, until the state machine resolves the waiter (waiter_done). A retried LOCK may
    // find it resolved already (KvStore::waiter_outcome).
    void block(const std::shared_ptr<Session>& s, const std::shared_ptr<Slot>& slot, Index waiter,
               const std::string& name) {
        if (auto outcome = store.waiter_outcome(waiter, name)) {
            s->blocked = false;
            s->finish(slot, std::move(*outcome));
            return finished(s);
        }
        blocked.emplace(waiter, BlockedClient{s, slot});
    }

    // KvStore's WaiterListener, on every replica: only the node holding the client's connection
    // has it in `blocked`. Posted, so the reply (and what it lets start) runs after the apply.
    void waiter_done(Index waiter, const std::string& reply) {
        auto [first, last] = blocked.equal_range(waiter);
        std::vector<BlockedClient> woken;
        for (auto it = first; it != last; ++it) woken.push_back(std::move(it->second));
        blocked.erase(first, last);
        for (BlockedClient& client : woken) {
            auto s = client.session.lock();
            if (!s) continue;
            s->blocked = false;
            s->finish(client.slot, reply);
            finished(s);
        }
    }

    // A request of `s` finished: start the waiting ones that may now run. A request can finish
    // inside start() (a node that refuses at once), so only the outermost call drains.
    void finished(const std::shared_ptr<Session>& s) {
        --s->in_flight;
        if (s->draining) return;
        s->draining = true;
        while (!s->waiting.empty() && may_start(*s, s->waiting.front())) {
            Request next = std::move(s->waiting.front());
            s->waiting.pop_front();
            start(s, std::move(next));
        }
        s->draining = false;
    }
};

RespServer::RespServer(asio::io_context& io, Node& node, KvStore& store, RespServerOptions options)
    : impl_(std::make_shared<Impl>(io, node, store, options)) {
    std::weak_ptr<Impl> weak = impl_;
    store.set_waiter_listener([weak](Index waiter, const std::string& reply) {
        auto me = weak.lock();
        if (!me) return;
        asio::post(me->io, [weak, waiter, reply] {
            if (auto me = weak.lock()) me->waiter_done(waiter, reply);
        });
    });
}

RespServer::~RespServer() {
    stop();
    impl_->store.set_waiter_listener({});
}

void RespServer::start(tcp::acceptor listening) {
    impl_->acceptor = std::make_unique<tcp::acceptor>(std::move(listening));
    asio::co_spawn(impl_->io, Impl::accept_loop(impl_), rethrow_escaped);
    if (impl_->options.idle_timeout.count() > 0 || impl_->options.partial_request_timeout.count() > 0)
        asio::co_spawn(impl_->io, Impl::watchdog(impl_), rethrow_escaped);
}

void RespServer::stop() {
    if (impl_->stopped) return;
    impl_->stopped = true;
    boost::system::error_code ignored;
    if (impl_->acceptor) impl_->acceptor->close(ignored);
    impl_->watchdog_timer.cancel();
    close_connections();
}

void RespServer::close_connections() {
    for (auto& w : impl_->sessions)
        if (auto s = w.lock()) s->close();
}

}  // namespace ballot::kv
