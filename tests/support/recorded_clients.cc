#include "tests/support/recorded_clients.h"

#include <random>

#include "kv/resp_client.h"

namespace ballot::test {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

// What a client saw, as the checker's model answers; nullopt for an error (no outcome known).
std::optional<sim::KvResult> seen(const kv::RespValue& reply) {
    switch (reply.type) {
        case kv::RespValue::Type::simple:
            return sim::KvResult::ok();
        case kv::RespValue::Type::nil:
            return sim::KvResult::nil();
        case kv::RespValue::Type::bulk:
            return sim::KvResult::of_value(reply.str);
        case kv::RespValue::Type::integer:
            return sim::KvResult::of_integer(reply.integer);
        case kv::RespValue::Type::error:
        case kv::RespValue::Type::array:
            return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace

RecordedClients::RecordedClients(std::vector<std::uint16_t> ports, Options options)
    : ports_(std::move(ports)), options_(options) {}

RecordedClients::~RecordedClients() {
    stop();
}

std::string RecordedClients::key(int index) const {
    return "recorded-" + std::to_string(index);
}

void RecordedClients::start() {
    stopping_ = false;
    for (int i = 0; i < options_.clients; ++i) threads_.emplace_back([this, i] { run_client(i); });
}

void RecordedClients::stop() {
    stopping_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
}

void RecordedClients::record(sim::HistoryOp op) {
    std::lock_guard lock(mutex_);
    history_.push_back(std::move(op));
}

std::vector<sim::HistoryOp> RecordedClients::history() const {
    std::lock_guard lock(mutex_);
    return history_;
}

void RecordedClients::run_client(int client) {
    std::mt19937_64 random(options_.seed * 1000 + static_cast<std::uint64_t>(client));
    std::size_t node = static_cast<std::size_t>(client) % ports_.size();
    kv::RespClient connection;
    std::uint64_t written = 0;
    while (!stopping_) {
        sim::HistoryOp op;
        op.client = static_cast<std::uint64_t>(client);
        op.key = key(static_cast<int>(random() % static_cast<std::uint64_t>(options_.keys)));
        const auto dice = random() % 10;
        op.op = dice < 4 ? sim::KvOp::set : dice < 5 ? sim::KvOp::append : sim::KvOp::get;
        // Values are unique, so a read names the one write it saw.
        if (op.op != sim::KvOp::get) op.arg = "c" + std::to_string(client) + "-" + std::to_string(++written) + ";";
        const std::vector<std::string> command =
            op.op == sim::KvOp::get ? std::vector<std::string>{"GET", op.key}
                                    : std::vector<std::string>{op.op == sim::KvOp::set ? "SET" : "APPEND", op.key, op.arg};

        std::optional<sim::KvResult> result;
        std::string failure;
        op.invoke = now_ns();
        try {
            if (!connection.connected()) {
                connection.connect("127.0.0.1", ports_[node], options_.reply_timeout);
                connection.set_timeout(options_.reply_timeout);
            }
            const kv::RespValue reply = connection.command(command);
            result = seen(reply);
            if (!result) failure = reply.str;
        } catch (const std::exception& e) {
            failure = e.what();
            connection.close();
        }
        op.complete = now_ns();

        if (result) {
            op.result = *result;
            (op.op == sim::KvOp::get ? answered_reads_ : acknowledged_writes_)++;
            record(std::move(op));
            continue;
        }
        if (op.op != sim::KvOp::get) {
            op.indeterminate = true;
            op.note = "port " + std::to_string(ports_[node]) + ": " + failure;
            indeterminate_writes_++;
            record(std::move(op));
        }
        connection.close();
        node = (node + 1) % ports_.size();
        std::this_thread::sleep_for(50ms);
    }
}

bool RecordedClients::read_every_key(std::uint16_t port, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (int k = 0; k < options_.keys; ++k) {
        while (true) {
            sim::HistoryOp op;
            op.client = static_cast<std::uint64_t>(options_.clients);  // a client of its own
            op.key = key(k);
            op.op = sim::KvOp::get;
            op.invoke = now_ns();
            std::optional<sim::KvResult> result;
            try {
                kv::RespClient connection;
                connection.connect("127.0.0.1", port, options_.reply_timeout);
                connection.set_timeout(options_.reply_timeout);
                result = seen(connection.command({"GET", op.key}));
            } catch (const std::exception&) {
            }
            op.complete = now_ns();
            if (result) {
                op.result = *result;
                op.note = kFinalRead;
                answered_reads_++;
                record(std::move(op));
                break;
            }
            if (Clock::now() >= deadline) return false;
            std::this_thread::sleep_for(100ms);
        }
    }
    return true;
}

}  // namespace ballot::test
