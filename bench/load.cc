#include "bench/load.h"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <cmath>
#include <cstdio>
#include <deque>
#include <exception>
#include <memory>
#include <sstream>
#include <thread>

#include "bench/info_counter.h"
#include "bench/snapshot_windows.h"
#include "common/random.h"
#include "common/tls.h"
#include "kv/resp.h"

namespace ballot::bench {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// A client whose node failed waits this long before trying the next one, so a dead node costs
// each client one refused connect, not a busy loop.
constexpr auto kReconnectBackoff = 100ms;
// After the measured seconds, requests in flight get this long to be answered (the servers
// answer -TRYAGAIN after their 3 s request timeout); what is still open then is "unfinished".
constexpr auto kDrainGrace = 5s;
// --target leader: how many times a client asks again (every kReconnectBackoff) while the node
// it reached still names the leader it just lost, before it settles for that node.
constexpr int kMaxStaleWaits = 30;
// Bytes asked of the socket per read.
constexpr std::size_t kReadChunkBytes = 16 * 1024;
constexpr std::chrono::milliseconds kTlsHandshakeTimeout{5000};
// --workload lock: each client's lease outlives the run by this much (no keep-alives needed).
constexpr auto kLockLeaseSlack = 60s;

// What a request is, for the lock workload's bookkeeping and the per-kind figures.
enum class Op { set, get, lease_grant, lock, unlock };

// One TCP connection of one client, with its requests in flight (their intended send times,
// oldest first: RESP answers in order). At most `pipeline` are in flight.
struct Connection {
    Connection(asio::io_context& io, const Workload& w)
        : stream(w.tls ? Stream(tcp::socket(io), *w.tls) : Stream(tcp::socket(io))), wake(io, 1), due(io) {}

    Stream stream;  // TCP, or TLS over it (--tls)
    // The writer waits on `wake` while its window is full (notify() wakes it: a channel costs no
    // system call, where re-arming a timer per reply would), and on `due` for an open-loop
    // request's intended send time.
    asio::experimental::channel<void(boost::system::error_code)> wake;
    asio::steady_timer due;
    kv::RespReplyParser parser;
    // A request in flight: when it was (meant to be) sent, and what it is.
    struct Sent {
        Clock::time_point intended;
        Op op = Op::set;

        bool write() const { return op != Op::get; }
    };
    std::deque<Sent> inflight;
    std::string out;
    bool closing = false;      // send nothing more (an error reply, or the run ended)
    bool dead = false;         // the socket failed or was aborted
    bool writer_done = false;  // the writer has returned

    // A reply freed a slot in the window.
    void notify() { wake.try_send(boost::system::error_code{}); }  // one pending wake-up is enough
    // Stop waiting altogether: the connection is closing or dead, or the run is ending.
    void interrupt() {
        notify();
        due.cancel();
    }
    void abort() {
        dead = true;
        stream.close();
        interrupt();
    }
};

struct Client {
    Client(asio::io_context& io, std::uint64_t seed) : rng(seed), backoff(io) {}

    Rng rng;
    std::size_t node = 0;  // index into the targets
    // Open loop: the intended send time of the next request, and the schedule's period.
    Clock::time_point next_intended{};
    Clock::duration interval{};
    Connection* conn = nullptr;  // while connected (for the end-of-run abort)
    NodeId lost = kNoNode;       // the node this client last lost (--target leader skips it)
    asio::steady_timer backoff;
    // --workload lock: this client's index, the lock it takes, its lease ("" until granted), and
    // the token while it holds the lock ("" when not).
    int index = 0;
    std::size_t lock = 0;
    std::string lease;
    std::string token;
};

// --workload lock: one lock's state as the clients' replies tell it, for the handoff figures.
struct LockState {
    int holder = -1;  // the client that last got the token and has not sent UNLOCK yet
    // The release being timed: its UNLOCK's send time, and when it was acknowledged.
    std::optional<Clock::time_point> release_sent;
    std::optional<Clock::time_point> release_acked;
};

int lock_count(const Workload& w) {
    return (w.clients + w.lock_contention - 1) / w.lock_contention;
}

std::int64_t to_ns(Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

class Run {
public:
    Run(std::string label, const Workload& w, std::vector<tcp::endpoint> endpoints,
        std::vector<Endpoint> nodes, std::function<void(const Progress&)> progress,
        const std::atomic<bool>* interrupted)
        : label_(std::move(label)),
          w_(w),
          endpoints_(std::move(endpoints)),
          nodes_(std::move(nodes)),
          progress_(std::move(progress)),
          interrupted_(interrupted),
          control_timer_(io_),
          drained_(io_),
          progress_timer_(io_),
          watch_timer_(io_) {}

    EngineResult execute(const std::optional<FaultPlan>& fault);

private:
    bool open_loop() const { return w_.rate_ops.has_value(); }
    bool measured(Clock::time_point t) const { return t >= measure_start_ && t < measure_end_; }

    awaitable<void> client_loop(Client& c);
    awaitable<void> writer(Client& c, Connection& conn);
    awaitable<void> reader(Client& c, Connection& conn);
    enum class Lead { here, elsewhere, stale };
    awaitable<Lead> follow_leader(Client& c, Connection& conn);
    awaitable<std::optional<kv::RespValue>> exchange(Connection& conn,
                                                     const std::vector<std::string>& command);
    awaitable<bool> authenticate(Connection& conn);
    awaitable<void> control();
    awaitable<void> progress_loop();
    awaitable<void> watch_interrupt();
    awaitable<void> watch_snapshots(std::size_t node);
    double ms_since_measure_start(Clock::time_point t) const {
        return std::chrono::duration<double, std::milli>(t - measure_start_).count();
    }

    // Appends one request, sent (or meant to be) at `intended`, and says what it is.
    Op append_request(Client& c, std::string& out, Clock::time_point intended);
    Op append_lock_request(Client& c, std::string& out, Clock::time_point intended);
    void on_reply(Client& c, Connection& conn, const Connection::Sent& sent, const kv::RespValue& reply,
                  Clock::time_point now);
    // --workload lock: the client's state after a reply; false if the reply is not a success.
    bool on_lock_reply(Client& c, const Connection::Sent& sent, const kv::RespValue& reply,
                       Clock::time_point now);
    void on_granted(Client& c, const Connection::Sent& sent, Clock::time_point now);
    void record_by_phase(const Connection::Sent& sent, std::uint64_t latency_ns);
    void count_error(const std::string& kind, Clock::time_point when);

    std::string label_;
    Workload w_;
    std::vector<tcp::endpoint> endpoints_;
    std::vector<Endpoint> nodes_;
    std::function<void(const Progress&)> progress_;
    const std::atomic<bool>* interrupted_;

    asio::io_context io_;
    asio::steady_timer control_timer_;
    asio::steady_timer drained_;  // cancelled when the last client returns
    asio::steady_timer progress_timer_;
    asio::steady_timer watch_timer_;
    std::vector<std::unique_ptr<Client>> clients_;
    int live_clients_ = 0;

    Clock::time_point run_start_, measure_start_, measure_end_;
    bool stopping_ = false;  // the measured seconds are over: closed-loop clients send no more
    bool aborted_ = false;   // the grace period is over too: every connection is closed
    bool finished_ = false;
    bool interrupt_seen_ = false;

    std::string value_;  // the SET value, --value-size bytes, built once
    // One thread, so every client records into the same histogram, timeline and counters.
    LatencyHistogram latency_;
    Timeline timeline_;
    std::map<std::string, std::uint64_t> errors_;
    std::uint64_t errors_measured_ = 0;
    std::uint64_t ok_total_ = 0;  // warmup and drain included, for the progress line
    std::uint64_t ok_measured_ = 0;
    std::uint64_t unfinished_ = 0;
    // --fail-follower-for: when its phases began, and the write latencies by phase (before the
    // kill, while down, catching up).
    bool follower_fault_ = false;
    FaultMarks marks_;
    LatencyHistogram write_by_phase_[3];
    // --transfer-leader-at and the like, and the snapshot windows: every successful write of the
    // measured run.
    bool leader_change_fault_ = false;
    std::vector<WriteSample> write_samples_;
    // Workload::watch_snapshots: one poller per node, each with its timer and (while connected)
    // its connection, stopped by control() when the measured seconds end.
    struct SnapshotPoller {
        explicit SnapshotPoller(asio::io_context& io) : timer(io) {}
        asio::steady_timer timer;
        Connection* conn = nullptr;
    };
    std::vector<std::unique_ptr<SnapshotPoller>> snapshot_pollers_;
    SnapshotWindowTracker snapshot_windows_;
    InfoCounterTotal preempted_{"proposals_preempted"};  // from the same INFO replies
    // --workload lock: names "ballot-bench:lock:<run>:<i>", the locks' states, and the figures.
    std::string lock_prefix_;
    std::vector<LockState> locks_;
    LockRun lock_run_;
};

// Runs a fault on the fault thread into `out`; an exception becomes the result's problem.
template <typename Result, typename Fault>
void run_fault(std::optional<Result>& out, const char* what, Fault fault) {
    try {
        out = fault();
    } catch (const std::exception& e) {
        out = Result{};
        out->problem = std::string(what) + " failed: " + e.what();
    }
}

Op Run::append_request(Client& c, std::string& out, Clock::time_point intended) {
    if (w_.kind == WorkloadKind::lock) return append_lock_request(c, out, intended);
    // Keys "key:000000001234" as redis-benchmark names them, uniform over the key space.
    char key[32];
    const int len = std::snprintf(key, sizeof key, "key:%012llu",
                                  static_cast<unsigned long long>(c.rng.next() % w_.keys));
    const std::string_view k(key, static_cast<std::size_t>(len));
    const bool read = w_.read_ratio > 0 && static_cast<double>(c.rng.next() >> 11) * 0x1p-53 < w_.read_ratio;
    if (read) {
        kv::append_array_header(out, 2);
        kv::append_bulk(out, "GET");
        kv::append_bulk(out, k);
    } else {
        kv::append_array_header(out, 3);
        kv::append_bulk(out, "SET");
        kv::append_bulk(out, k);
        kv::append_bulk(out, value_);
    }
    return read ? Op::get : Op::set;
}

Op Run::append_lock_request(Client& c, std::string& out, Clock::time_point intended) {
    if (c.lease.empty()) {
        const auto ttl =
            std::chrono::duration<double>(w_.warmup_s + w_.duration_s) + kDrainGrace + kLockLeaseSlack;
        kv::append_command(
            out, {"LEASE", "GRANT",
                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count())});
        return Op::lease_grant;
    }
    const std::string name = lock_prefix_ + std::to_string(c.lock);
    if (c.token.empty()) {
        kv::append_command(out, {"LOCK", name, c.lease});
        return Op::lock;
    }
    LockState& lock = locks_[c.lock];
    lock.holder = -1;
    lock.release_sent = intended;
    lock.release_acked.reset();
    kv::append_command(out, {"UNLOCK", name, c.token});
    return Op::unlock;
}

// A token for `c`: a handoff if the lock was being released and this LOCK was already waiting.
void Run::on_granted(Client& c, const Connection::Sent& sent, Clock::time_point now) {
    LockState& lock = locks_[c.lock];
    if (lock.holder != -1 && lock.holder != c.index) ++lock_run_.overlapping_grants;
    lock.holder = c.index;
    if (lock.release_sent && sent.intended < *lock.release_sent && measured(*lock.release_sent)) {
        ++lock_run_.handoffs;
        lock_run_.handoff_ns.record(static_cast<std::uint64_t>(to_ns(now - *lock.release_sent)));
        const auto after_ack = lock.release_acked ? now - *lock.release_acked : Clock::duration::zero();
        lock_run_.handoff_after_ack_ns.record(static_cast<std::uint64_t>(to_ns(after_ack)));
    }
    lock.release_sent.reset();
    lock.release_acked.reset();
}

bool Run::on_lock_reply(Client& c, const Connection::Sent& sent, const kv::RespValue& reply,
                        Clock::time_point now) {
    LockState& lock = locks_[c.lock];
    const bool ok = !reply.is_error();
    switch (sent.op) {
        case Op::lease_grant:
            if (ok && reply.type == kv::RespValue::Type::integer) c.lease = std::to_string(reply.integer);
            return ok;
        case Op::lock:
            if (ok && reply.type == kv::RespValue::Type::integer) {
                c.token = std::to_string(reply.integer);
                on_granted(c, sent, now);
                return true;
            }
            if (reply.str == "ERR lease not found") c.lease.clear();
            return false;
        case Op::unlock:
            // Answered or refused, the client no longer holds the lock by this token.
            c.token.clear();
            if (ok && lock.release_sent == sent.intended) lock.release_acked = now;
            return ok;
        case Op::set:
        case Op::get:
            break;
    }
    return ok;
}

void Run::count_error(const std::string& kind, Clock::time_point when) {
    if (!measured(when)) return;
    ++errors_[kind];
    ++errors_measured_;
}

void Run::record_by_phase(const Connection::Sent& sent, std::uint64_t latency_ns) {
    if (!follower_fault_ || !sent.write()) return;
    switch (marks_.phase_at(sent.intended)) {
        case FaultPhase::before_kill:
            write_by_phase_[0].record(latency_ns);
            break;
        case FaultPhase::down:
            write_by_phase_[1].record(latency_ns);
            break;
        case FaultPhase::catching_up:
            write_by_phase_[2].record(latency_ns);
            break;
        case FaultPhase::after:
            break;
    }
}

void Run::on_reply(Client& c, Connection& conn, const Connection::Sent& sent, const kv::RespValue& reply,
                   Clock::time_point now) {
    const auto intended = sent.intended;
    const bool lock_failed = w_.kind == WorkloadKind::lock && !on_lock_reply(c, sent, reply, now);
    if (reply.is_error() || lock_failed) {
        const std::string code(reply.error_code());
        count_error(!reply.is_error() ? "unexpected reply" : code.empty() ? "error" : code, intended);
        // The node cannot serve us now (no quorum, a timeout, still loading): finish what is in
        // flight here and move on to the next node.
        conn.closing = true;
        return;
    }
    if (sent.op == Op::lease_grant) return;  // the lock workload's setup, not measured
    ++ok_total_;
    if (measured(intended)) {
        const auto latency_ns = static_cast<std::uint64_t>(std::max<std::int64_t>(0, to_ns(now - intended)));
        latency_.record(latency_ns);
        record_by_phase(sent, latency_ns);
        if (sent.op == Op::lock) {
            ++lock_run_.acquired;
            lock_run_.acquire_ns.record(latency_ns);
        } else if (sent.op == Op::unlock) {
            ++lock_run_.released;
            lock_run_.release_ns.record(latency_ns);
        }
        if ((leader_change_fault_ || w_.watch_snapshots) && sent.write())
            write_samples_.push_back({ms_since_measure_start(intended), ms_since_measure_start(now)});
    }
    if (measured(now)) {
        ++ok_measured_;
        const auto ms = static_cast<std::size_t>((now - measure_start_) / 1ms);
        if (ms < timeline_.ok_per_ms.size()) ++timeline_.ok_per_ms[ms];
    }
}

awaitable<void> Run::writer(Client& c, Connection& conn) {
    const auto window = static_cast<std::size_t>(w_.pipeline);
    for (;;) {
        if (conn.dead || conn.closing || aborted_) break;
        // Closed loop stops at the end of the measured seconds; open loop sends everything that
        // was due before then, however late.
        if (!open_loop() && stopping_) break;
        if (open_loop() && c.next_intended >= measure_end_) break;
        const auto now = Clock::now();
        if (conn.inflight.size() >= window) {
            co_await conn.wake.async_receive(kUse);
            continue;
        }
        if (open_loop() && c.next_intended > now) {
            conn.due.expires_at(c.next_intended);
            co_await conn.due.async_wait(kUse);
            continue;
        }
        // Fill the window in one write.
        conn.out.clear();
        while (conn.inflight.size() < window) {
            Clock::time_point intended = now;
            if (open_loop()) {
                if (c.next_intended > now || c.next_intended >= measure_end_) break;
                intended = c.next_intended;
                c.next_intended += c.interval;
            }
            conn.inflight.push_back({intended, append_request(c, conn.out, intended)});
        }
        auto [ec, written] = co_await conn.stream.write_all(asio::buffer(conn.out));
        (void)written;
        if (ec) {
            conn.abort();
            break;
        }
    }
    conn.writer_done = true;
    // Nothing left to read either: stop the reader's pending read.
    if (conn.inflight.empty()) {
        boost::system::error_code ignored;
        conn.stream.socket().cancel(ignored);
    }
}

awaitable<void> Run::reader(Client& c, Connection& conn) {
    kv::RespValue reply;
    for (;;) {
        if (conn.inflight.empty() && (conn.writer_done || conn.dead)) break;
        auto space = conn.parser.prepare(kReadChunkBytes);
        auto [ec, n] = co_await conn.stream.read_some(asio::buffer(space.data(), space.size()));
        if (ec) {
            if (!(ec == asio::error::operation_aborted && conn.inflight.empty() && conn.writer_done))
                conn.abort();
            break;
        }
        conn.parser.commit(n);
        const auto now = Clock::now();
        for (;;) {
            const auto status = conn.parser.next(reply);
            if (status == kv::RespStatus::need_more) break;
            if (status == kv::RespStatus::error || conn.inflight.empty()) {
                count_error("protocol error", now);
                conn.abort();
                break;
            }
            const auto sent = conn.inflight.front();
            conn.inflight.pop_front();
            on_reply(c, conn, sent, reply, now);
        }
        if (conn.closing || conn.dead)
            conn.interrupt();
        else
            conn.notify();
        if (conn.dead) break;
    }
}

// --target leader: ask the node we reached who leads; move there if it is someone else. A node
// that still names the leader we just lost is "stale": its election timeout has not fired yet.
// One command and its reply on a connection with nothing in flight; nullopt if the connection
// fails or the reply is malformed.
awaitable<std::optional<kv::RespValue>> Run::exchange(Connection& conn,
                                                      const std::vector<std::string>& command) {
    conn.out.clear();
    kv::append_command(conn.out, command);
    auto [wec, written] = co_await conn.stream.write_all(asio::buffer(conn.out));
    (void)written;
    if (wec) co_return std::nullopt;
    kv::RespValue reply;
    for (;;) {
        auto space = conn.parser.prepare(kReadChunkBytes);
        auto [ec, n] = co_await conn.stream.read_some(asio::buffer(space.data(), space.size()));
        if (ec) co_return std::nullopt;
        conn.parser.commit(n);
        const auto status = conn.parser.next(reply);
        if (status == kv::RespStatus::error) co_return std::nullopt;
        if (status == kv::RespStatus::ok) co_return reply;
    }
}

// A node started with --requirepass-file answers nothing but -NOAUTH before AUTH (kv/auth.h).
awaitable<bool> Run::authenticate(Connection& conn) {
    const std::vector<std::string> auth = {"AUTH", w_.password};
    const auto reply = co_await exchange(conn, auth);
    co_return reply && reply->type != kv::RespValue::Type::error;
}

awaitable<Run::Lead> Run::follow_leader(Client& c, Connection& conn) {
    const std::vector<std::string> info_command = {"INFO"};
    const auto reply = co_await exchange(conn, info_command);
    if (!reply || reply->type != kv::RespValue::Type::bulk) co_return Lead::here;
    const auto info = parse_info(reply->str);
    const auto it = info.find("leader_id");
    if (it == info.end()) co_return Lead::here;  // not a Ballot node (e.g. redis-server): stay
    const NodeId leader = std::strtoull(it->second.c_str(), nullptr, 10);
    if (leader == kNoNode || leader == nodes_[c.node].id) co_return Lead::here;
    if (leader == c.lost) co_return Lead::stale;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
        if (nodes_[i].id == leader) {
            c.node = i;
            co_return Lead::elsewhere;
        }
    }
    co_return Lead::here;
}

awaitable<void> Run::client_loop(Client& c) {
    const std::size_t n = endpoints_.size();
    std::size_t hops = 0;  // leader redirections in a row, bounded by the cluster size
    int stale = 0;         // waits for a new leader in a row, bounded by kMaxStaleWaits
    for (;;) {
        // Closed loop ends with the measured seconds; open loop once its schedule is all sent.
        if (aborted_) break;
        if (open_loop() ? c.next_intended >= measure_end_ : stopping_) break;

        Connection conn(io_, w_);
        c.conn = &conn;
        struct Detach {
            Client& c;
            ~Detach() { c.conn = nullptr; }
        } detach{c};

        auto [ec] = co_await conn.stream.socket().async_connect(endpoints_[c.node], kUse);
        if (!ec) ec = co_await conn.stream.handshake(asio::ssl::stream_base::client, kTlsHandshakeTimeout);
        if (!ec && !w_.password.empty() && !co_await authenticate(conn)) conn.abort();
        if (!ec && !conn.dead && w_.target == Target::leader && hops < n) {
            conn.stream.socket().set_option(tcp::no_delay(true), ec);
            const Lead lead = co_await follow_leader(c, conn);
            if (lead == Lead::elsewhere) {
                ++hops;
                continue;
            }
            if (lead == Lead::stale && stale < kMaxStaleWaits && !aborted_) {
                ++stale;
                c.backoff.expires_after(kReconnectBackoff);
                co_await c.backoff.async_wait(kUse);
                continue;
            }
        }
        hops = 0;
        stale = 0;
        if (ec || conn.dead) {
            if (!aborted_) count_error("connect failed", Clock::now());
        } else {
            conn.stream.socket().set_option(tcp::no_delay(true), ec);
            co_await (writer(c, conn) && reader(c, conn));
            // Whatever is still in flight will never be answered on this connection.
            for (const auto& sent : conn.inflight) {
                if (aborted_) {
                    if (measured(sent.intended) && sent.op != Op::lock) ++unfinished_;
                } else {
                    count_error("connection lost", sent.intended);
                }
            }
            if (!conn.dead && !conn.closing) continue;  // the run ended; the loop checks how
        }
        if (aborted_) break;
        if (ec || conn.dead) c.lost = nodes_[c.node].id;  // not after an error reply: it lives
        c.node = (c.node + 1) % n;
        c.backoff.expires_after(kReconnectBackoff);
        co_await c.backoff.async_wait(kUse);
    }
    // Open loop: requests due in the measured seconds that were never sent.
    if (open_loop()) {
        for (auto t = c.next_intended; t < measure_end_; t += c.interval)
            if (t >= measure_start_) ++unfinished_;
    }
    if (--live_clients_ == 0) drained_.cancel();
}

awaitable<void> Run::control() {
    control_timer_.expires_at(measure_end_);
    co_await control_timer_.async_wait(kUse);
    stopping_ = true;
    for (auto& c : clients_) {
        if (c->conn) c->conn->interrupt();
        c->backoff.cancel();
    }
    for (auto& poller : snapshot_pollers_) {
        poller->timer.cancel();
        if (poller->conn) poller->conn->abort();
    }
    if (!aborted_ && live_clients_ > 0) {
        drained_.expires_at(measure_end_ + kDrainGrace);
        co_await drained_.async_wait(kUse);
    }
    if (aborted_ || live_clients_ > 0) {
        aborted_ = true;
        for (auto& c : clients_) {
            if (c->conn) c->conn->abort();
            c->backoff.cancel();
        }
    }
    finished_ = true;
    progress_timer_.cancel();
    watch_timer_.cancel();
}

// Workload::watch_snapshots: node `node`'s INFO every kSnapshotPollInterval, from the start of
// the run (a snapshot under way when measurement begins is then known) until the measured
// seconds end, on a connection of its own; a node that cannot be reached is tried again after
// kReconnectBackoff (--fail-follower-for kills one).
awaitable<void> Run::watch_snapshots(std::size_t node) {
    SnapshotPoller& poller = *snapshot_pollers_[node];
    const NodeId id = nodes_[node].id;
    const std::vector<std::string> info_command = {"INFO"};
    while (!stopping_ && !aborted_) {
        Connection conn(io_, w_);
        auto [ec] = co_await conn.stream.socket().async_connect(endpoints_[node], kUse);
        if (!ec) ec = co_await conn.stream.handshake(asio::ssl::stream_base::client, kTlsHandshakeTimeout);
        if (!ec && !w_.password.empty() && !co_await authenticate(conn)) ec = asio::error::access_denied;
        poller.conn = &conn;
        while (!ec && !stopping_ && !aborted_) {
            const auto sent = Clock::now();
            const auto reply = co_await exchange(conn, info_command);
            if (!reply || reply->type != kv::RespValue::Type::bulk) break;
            const auto info = parse_info(reply->str);
            snapshot_windows_.observe(id, ms_since_measure_start(sent), ms_since_measure_start(Clock::now()),
                                      info);
            preempted_.observe(id, ms_since_measure_start(sent), info);
            poller.timer.expires_at(sent + kSnapshotPollInterval);
            co_await poller.timer.async_wait(kUse);
        }
        poller.conn = nullptr;
        if (stopping_ || aborted_) break;
        snapshot_windows_.unreachable(id, ms_since_measure_start(Clock::now()));
        poller.timer.expires_after(kReconnectBackoff);
        co_await poller.timer.async_wait(kUse);
    }
}

// Polls the interrupt flag (a signal handler can only set an atomic) and ends the run early.
awaitable<void> Run::watch_interrupt() {
    if (!interrupted_) co_return;
    while (!finished_) {
        if (interrupted_->load()) {
            interrupt_seen_ = true;
            aborted_ = true;
            control_timer_.cancel();
            drained_.cancel();
            co_return;
        }
        watch_timer_.expires_after(100ms);
        co_await watch_timer_.async_wait(kUse);
    }
}

awaitable<void> Run::progress_loop() {
    std::uint64_t last_ok = 0;
    auto next = run_start_ + 1s;
    while (!finished_ && next <= measure_end_) {
        progress_timer_.expires_at(next);
        co_await progress_timer_.async_wait(kUse);
        if (finished_) break;
        const auto now = Clock::now();
        Progress p;
        p.label = label_;
        // The tick that lands on the end of the warmup still reports the warmup (as "2/2 s").
        p.warming_up = now < measure_start_ + 100ms && w_.warmup_s > 0;
        const auto since = p.warming_up ? now - run_start_ : now - measure_start_;
        p.elapsed_s = std::min(std::chrono::duration<double>(since).count(),
                               p.warming_up ? w_.warmup_s : w_.duration_s);
        p.total_s = p.warming_up ? w_.warmup_s : w_.duration_s;
        p.ops_last_second = static_cast<double>(ok_total_ - last_ok);
        p.errors = errors_measured_;
        last_ok = ok_total_;
        if (progress_) progress_(p);
        next += 1s;
    }
}

EngineResult Run::execute(const std::optional<FaultPlan>& fault) {
    EngineResult result;
    result.engine = label_;
    result.duration_s = w_.duration_s;

    value_.resize(w_.value_size_bytes);
    for (std::size_t i = 0; i < value_.size(); ++i) value_[i] = static_cast<char>('a' + i % 26);
    timeline_.ok_per_ms.assign(static_cast<std::size_t>(std::ceil(w_.duration_s * 1000)), 0);
    if (w_.kind == WorkloadKind::lock) {
        lock_prefix_ = "ballot-bench:lock:" + std::to_string(Clock::now().time_since_epoch().count()) + ":";
        lock_run_.contention = w_.lock_contention;
        lock_run_.locks = lock_count(w_);
        locks_.assign(static_cast<std::size_t>(lock_run_.locks), LockState{});
    }

    run_start_ = Clock::now();
    measure_start_ =
        run_start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(w_.warmup_s));
    measure_end_ = measure_start_ +
                   std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(w_.duration_s));

    auto rethrow = [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    };
    for (int i = 0; i < w_.clients; ++i) {
        auto c =
            std::make_unique<Client>(io_, w_.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(i));
        c->node = w_.target == Target::all ? static_cast<std::size_t>(i) % endpoints_.size() : 0;
        c->index = i;
        c->lock = static_cast<std::size_t>(i / w_.lock_contention);
        if (open_loop()) {
            // Each client's share of the rate, staggered so the clients do not fire together.
            const std::chrono::duration<double> period(static_cast<double>(w_.clients) / *w_.rate_ops);
            c->interval = std::chrono::duration_cast<Clock::duration>(period);
            if (c->interval <= Clock::duration::zero()) c->interval = Clock::duration(1);
            c->next_intended = run_start_ + c->interval * i / w_.clients;
        }
        clients_.push_back(std::move(c));
    }
    live_clients_ = w_.clients;
    for (auto& c : clients_) asio::co_spawn(io_, client_loop(*c), rethrow);
    asio::co_spawn(io_, control(), rethrow);
    asio::co_spawn(io_, progress_loop(), rethrow);
    asio::co_spawn(io_, watch_interrupt(), rethrow);
    if (w_.watch_snapshots) {
        for (std::size_t i = 0; i < endpoints_.size(); ++i) {
            snapshot_pollers_.push_back(std::make_unique<SnapshotPoller>(io_));
            asio::co_spawn(io_, watch_snapshots(i), rethrow);
        }
    }

    std::optional<KillReport> kill;
    std::optional<FollowerCatchup> follower;
    std::optional<LeaderChanges> leader_changes;
    std::thread injector;
    if (fault) {
        follower_fault_ = static_cast<bool>(fault->fail_follower);
        leader_change_fault_ = static_cast<bool>(fault->change_leader);
        const auto at = measure_start_ + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(fault->at_s));
        injector = std::thread([&kill, &follower, &leader_changes, at, measure_start = measure_start_,
                                &plan = *fault, &marks = marks_, interrupted = interrupted_] {
            // Short sleeps, so an interrupted run does not wait here for the kill time.
            for (auto now = Clock::now(); now < at; now = Clock::now()) {
                if (interrupted && interrupted->load()) return;
                std::this_thread::sleep_for(std::min<Clock::duration>(at - now, 50ms));
            }
            if (plan.change_leader)
                return run_fault(leader_changes, "the leader changes",
                                 [&] { return plan.change_leader(measure_start); });
            if (plan.fail_follower)
                return run_fault(follower, "the follower fault", [&] { return plan.fail_follower(marks); });
            try {
                kill = plan.kill_leader();
            } catch (const std::exception& e) {
                kill = KillReport{kNoNode, std::string("the kill failed: ") + e.what(), Clock::now()};
            }
        });
    }
    try {
        io_.run();
    } catch (...) {
        if (injector.joinable()) injector.join();
        throw;
    }
    if (injector.joinable()) injector.join();

    if (interrupt_seen_) {
        result.failure = "interrupted";
        return result;
    }
    result.completed = true;
    result.ok = ok_measured_;
    result.latency_ns = latency_;
    result.errors = errors_;
    result.unfinished = unfinished_;
    result.timeline = timeline_;
    if (w_.kind == WorkloadKind::lock) result.lock = lock_run_;
    if (kill) {
        Failover f;
        f.killed = kill->killed;
        f.how = kill->how;
        const double kill_ms = std::chrono::duration<double, std::milli>(kill->at - measure_start_).count();
        f.kill_at_s = kill_ms / 1000;
        f.window = find_unavailability(timeline_, kill_ms);
        result.failover = f;
    }
    if (follower) {
        auto seconds_in = [&](std::int64_t mark_ns) {
            if (mark_ns == 0) return 0.0;
            const Clock::time_point t{
                std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(mark_ns))};
            return std::chrono::duration<double>(t - measure_start_).count();
        };
        follower->kill_at_s = seconds_in(marks_.kill_ns.load());
        follower->restart_at_s = seconds_in(marks_.restart_ns.load());
        follower->write_before_ns = write_by_phase_[0];
        follower->write_down_ns = write_by_phase_[1];
        follower->write_catchup_ns = write_by_phase_[2];
        result.follower = std::move(follower);
    }
    if (w_.watch_snapshots && snapshot_windows_.nodes_watched() > 0) {
        const double duration_ms = w_.duration_s * 1000;
        result.snapshots = split_by_snapshot_windows(write_samples_, snapshot_windows_.finish(duration_ms),
                                                     duration_ms, snapshot_windows_.nodes_watched());
    }
    result.proposals_preempted = preempted_.total();
    if (leader_changes) {
        analyse_leader_changes(std::move(write_samples_), *leader_changes);
        result.leader_changes = std::move(leader_changes);
    }
    return result;
}

}  // namespace

Workload Workload::from(const Options& o) {
    Workload w;
    w.clients = o.clients;
    w.pipeline = o.pipeline;
    w.rate_ops = o.rate_ops;
    w.value_size_bytes = o.value_size_bytes;
    w.keys = o.keys;
    w.read_ratio = o.read_ratio;
    w.kind = o.workload;
    w.lock_contention = o.lock_contention;
    w.warmup_s = o.warmup_s;
    w.duration_s = o.duration_s;
    w.seed = o.seed;
    w.target = o.target;
    w.password = o.password;
    return w;
}

std::map<std::string, std::string> parse_info(const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const auto colon = line.find(':');
        if (line.empty() || line[0] == '#' || colon == std::string::npos) continue;
        out[line.substr(0, colon)] = line.substr(colon + 1);
    }
    return out;
}

EngineResult run_load(const std::string& label, const Workload& workload, const std::vector<Endpoint>& nodes,
                      const std::function<void(const Progress&)>& progress,
                      const std::optional<FaultPlan>& fault, const std::atomic<bool>* interrupted) {
    if (nodes.empty()) {
        EngineResult r;
        r.engine = label;
        r.failure = "no node to send requests to";
        return r;
    }
    std::vector<tcp::endpoint> endpoints;
    {
        asio::io_context io;
        tcp::resolver resolver(io);
        for (const auto& n : nodes) {
            boost::system::error_code ec;
            auto found = resolver.resolve(n.host, std::to_string(n.port), ec);
            if (ec || found.empty()) {
                EngineResult r;
                r.engine = label;
                r.failure = "cannot resolve " + n.host + ": " + ec.message();
                return r;
            }
            endpoints.push_back(found.begin()->endpoint());
        }
    }
    if (workload.kind == WorkloadKind::set) {
        Run run(label, workload, std::move(endpoints), nodes, progress, interrupted);
        return run.execute(fault);
    }
    // --workload lock: SET before and after the locks on the same nodes (so neither has the fresh
    // cluster to itself), one row. SET runs with one client per lock: as many writes in flight at
    // once as the lock run has (a lock's waiters wait in its queue, not in the log).
    Workload set = workload;
    set.kind = WorkloadKind::set;
    set.clients = lock_count(workload);
    EngineResult before =
        Run(label + " SET", set, endpoints, nodes, progress, interrupted).execute(std::nullopt);
    if (!before.completed) {
        before.engine = label;
        return before;
    }
    EngineResult r = Run(label + " lock", workload, endpoints, nodes, progress, interrupted).execute(fault);
    r.engine = label;
    if (!r.completed) return r;
    EngineResult after =
        Run(label + " SET", set, std::move(endpoints), nodes, progress, interrupted).execute(std::nullopt);
    if (!after.completed) {
        after.engine = label;
        return after;
    }
    SetReference& reference = r.lock->set;
    reference.completed = true;
    reference.clients = set.clients;
    reference.ops = static_cast<double>(before.ok + after.ok) / (before.duration_s + after.duration_s);
    reference.latency_ns = before.latency_ns;
    reference.latency_ns.merge(after.latency_ns);
    reference.errors = before.error_count() + after.error_count();
    return r;
}

}  // namespace ballot::bench
