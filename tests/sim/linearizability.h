// A linearizability checker for the KV store's client histories.
//
// The search is Wing & Gong's (1993): walk the history in real-time order, repeatedly pick an
// operation that may go next (one invoked before every pending operation has returned), apply it
// to a sequential model, and backtrack when an operation's return is reached before it could be
// placed. Two of Lowe's improvements ("Testing for linearizability", 2017) keep it fast:
//
//  - memoization (§4): a (set of operations linearized, model state) configuration that was
//    already explored is never explored again. The set is hashed Zobrist-style (one random key
//    per operation, XORed), the state by its value: 128 bits per configuration.
//  - P-compositionality (§5): a history of independent keys is linearizable if and only if each
//    key's sub-history is, so every key is checked on its own.
//
// Indeterminate operations (the client never learned the outcome: timeout, crash, no quorum) may
// take effect at any point after their invocation, or never: they have no return event, and the
// search succeeds once every operation that did return is placed.
//
// Time is any strictly comparable stamp: A precedes B in real time iff A.complete < B.invoke.
// Equal stamps count as concurrent, the permissive reading.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ballot::sim {

enum class KvOp { set, get, append, incr };

// What the client saw.
struct KvResult {
    enum class Type { ok, nil, value, integer, error };
    Type type = Type::ok;
    std::string value;         // value: the GET's bulk string; error: the message
    std::int64_t integer = 0;  // integer: APPEND's new length, INCR's new value

    static KvResult ok() { return {Type::ok, {}, 0}; }
    static KvResult nil() { return {Type::nil, {}, 0}; }
    static KvResult of_value(std::string v) { return {Type::value, std::move(v), 0}; }
    static KvResult of_integer(std::int64_t n) { return {Type::integer, {}, n}; }
    static KvResult of_error(std::string message) { return {Type::error, std::move(message), 0}; }

    // Errors match on their kind alone: the model knows that INCR fails, not the exact wording.
    bool matches(const KvResult& other) const;
    std::string str() const;
};

struct HistoryOp {
    std::uint64_t client = 0;
    KvOp op = KvOp::get;
    std::string key;
    std::string arg;  // SET / APPEND: the value

    std::uint64_t invoke = 0;    // logical time of the invocation
    std::uint64_t complete = 0;  // logical time of the response (ignored when indeterminate)
    // The outcome is unknown: it took effect once, at some point after `invoke`, or never.
    bool indeterminate = false;
    KvResult result;  // ignored when indeterminate

    // Simulated wall time, for messages only.
    std::uint64_t invoke_ms = 0;
    std::uint64_t complete_ms = 0;
    std::string note;  // shown with the operation, e.g. where its interval came from

    std::string str() const;
};

// The sequential specification of one key: absent or a string. Applies `op` to `state` and
// returns what a client would see (Redis semantics: INCR on a non-integer fails and changes
// nothing; APPEND answers the new length).
KvResult apply_model(std::optional<std::string>& state, KvOp op, const std::string& arg);

struct LinearizabilityOptions {
    // Search steps allowed per key before the answer is "inconclusive". Each step is one attempt
    // to place an operation; memory grows with the number of distinct configurations.
    std::uint64_t max_steps_per_key = 2'000'000;
};

struct LinearizabilityResult {
    enum class Verdict { linearizable, violation, inconclusive };
    Verdict verdict = Verdict::linearizable;
    std::string key;          // the key that failed (violation / inconclusive)
    std::string explanation;  // multi-line, for a human
    std::size_t keys_checked = 0;
    std::size_t ops_checked = 0;
    std::uint64_t steps = 0;  // over all keys
    std::uint64_t max_steps_one_key = 0;

    bool ok() const { return verdict == Verdict::linearizable; }
};

LinearizabilityResult check_linearizability(const std::vector<HistoryOp>& history,
                                            const LinearizabilityOptions& options = {});

const char* to_string(KvOp op);
const char* to_string(LinearizabilityResult::Verdict verdict);

}  // namespace ballot::sim
