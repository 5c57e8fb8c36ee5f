// The linearizability checker (tests/sim/linearizability.h) on small hand-made histories whose
// verdict is known, and on random histories generated from a linearizable system.
#define BOOST_TEST_MODULE linearizability
#include "tests/sim/linearizability.h"

#include <boost/test/unit_test.hpp>

#include "common/random.h"

using namespace ballot;
using namespace ballot::sim;

namespace {

using R = KvResult;

// A history written as a table: times are logical stamps, [invoke, complete].
struct H {
    std::vector<HistoryOp> ops;
    std::uint64_t next_client = 1;

    H& op(KvOp kind, std::string key, std::string arg, std::uint64_t invoke, std::uint64_t complete,
          KvResult r, std::uint64_t client = 0) {
        HistoryOp o;
        o.client = client ? client : next_client++;
        o.op = kind;
        o.key = std::move(key);
        o.arg = std::move(arg);
        o.invoke = o.invoke_ms = invoke;
        o.complete = o.complete_ms = complete;
        o.result = std::move(r);
        ops.push_back(std::move(o));
        return *this;
    }
    H& set(std::string key, std::string v, std::uint64_t i, std::uint64_t c) {
        return op(KvOp::set, std::move(key), std::move(v), i, c, R::ok());
    }
    H& get(std::string key, std::uint64_t i, std::uint64_t c, std::optional<std::string> v) {
        return op(KvOp::get, std::move(key), "", i, c, v ? R::of_value(*v) : R::nil());
    }
    H& append(std::string key, std::string v, std::uint64_t i, std::uint64_t c, std::int64_t len) {
        return op(KvOp::append, std::move(key), std::move(v), i, c, R::of_integer(len));
    }
    H& incr(std::string key, std::uint64_t i, std::uint64_t c, std::int64_t n) {
        return op(KvOp::incr, std::move(key), "", i, c, R::of_integer(n));
    }
    // An operation whose outcome the client never learned.
    H& unknown(KvOp kind, std::string key, std::string arg, std::uint64_t i) {
        op(kind, std::move(key), std::move(arg), i, 0, R::ok());
        ops.back().indeterminate = true;
        return *this;
    }
    LinearizabilityResult check(LinearizabilityOptions o = {}) const { return check_linearizability(ops, o); }
};

void expect_ok(const H& h) {
    auto r = h.check();
    BOOST_TEST(r.ok(), to_string(r.verdict) << ": " << r.explanation);
}

void expect_violation(const H& h) {
    auto r = h.check();
    BOOST_TEST((r.verdict == LinearizabilityResult::Verdict::violation), to_string(r.verdict));
    BOOST_TEST_MESSAGE("explanation (expected violation): " << r.explanation);
}

}  // namespace

// ---------------------------------------------------------------- the model

BOOST_AUTO_TEST_CASE(model_follows_redis) {
    std::optional<std::string> s;
    BOOST_TEST((apply_model(s, KvOp::get, "").type == R::Type::nil));
    BOOST_TEST(apply_model(s, KvOp::incr, "").integer == 1);
    BOOST_TEST(apply_model(s, KvOp::append, "5").integer == 2);  // "15"
    BOOST_TEST(apply_model(s, KvOp::incr, "").integer == 16);
    BOOST_TEST((apply_model(s, KvOp::set, "x").type == R::Type::ok));
    BOOST_TEST((apply_model(s, KvOp::incr, "").type == R::Type::error));
    BOOST_TEST(*s == "x");  // a failed INCR changes nothing
    BOOST_TEST((apply_model(s, KvOp::set, "007").type == R::Type::ok));
    BOOST_TEST(
        (apply_model(s, KvOp::incr, "").type == R::Type::error));  // Redis: leading zeros are not an integer
}

// ---------------------------------------------------------------- histories that are linearizable

BOOST_AUTO_TEST_CASE(empty_history) {
    expect_ok(H{});
}

BOOST_AUTO_TEST_CASE(sequential) {
    H h;
    h.get("k", 0, 1, std::nullopt)
        .set("k", "1", 2, 3)
        .get("k", 4, 5, "1")
        .append("k", "2", 6, 7, 2)
        .incr("k", 8, 9, 13)
        .get("k", 10, 11, "13");
    h.op(KvOp::set, "k", "abc", 12, 13, R::ok())
        .op(KvOp::incr, "k", "", 14, 15, R::of_error("ERR not an integer"));
    expect_ok(h);
}

BOOST_AUTO_TEST_CASE(concurrent_overlapping) {
    // SET 2 takes effect first, then the first GET, then SET 1, then the last GET.
    H h;
    h.set("k", "1", 0, 10).set("k", "2", 1, 9).get("k", 2, 8, "2").get("k", 11, 12, "1");
    expect_ok(h);
}

BOOST_AUTO_TEST_CASE(reads_may_see_either_side_of_a_concurrent_write) {
    H h;
    h.set("k", "a", 0, 1).set("k", "b", 2, 20).get("k", 3, 4, "b").get("k", 5, 6, "b");
    expect_ok(h);
    H h2;
    h2.set("k", "a", 0, 1).set("k", "b", 2, 20).get("k", 3, 4, "a").get("k", 5, 6, "b");
    expect_ok(h2);
}

BOOST_AUTO_TEST_CASE(equal_stamps_are_concurrent) {
    // The write's response and the read's invocation carry the same stamp: either order is fine.
    H h;
    h.set("k", "a", 0, 5).get("k", 5, 6, std::nullopt);
    expect_ok(h);
}

BOOST_AUTO_TEST_CASE(indeterminate_write_that_took_effect) {
    H h;
    h.set("k", "1", 0, 1).unknown(KvOp::set, "k", "2", 2).get("k", 50, 51, "2").get("k", 52, 53, "2");
    expect_ok(h);
}

BOOST_AUTO_TEST_CASE(indeterminate_write_that_did_not_take_effect) {
    H h;
    h.set("k", "1", 0, 1).unknown(KvOp::set, "k", "2", 2).get("k", 50, 51, "1").get("k", 52, 53, "1");
    expect_ok(h);
}

BOOST_AUTO_TEST_CASE(indeterminate_write_that_took_effect_late) {
    // Long after its client gave up, the write lands (a retry was still in a queue somewhere).
    H h;
    h.set("k", "1", 0, 1).unknown(KvOp::append, "k", "x", 2).get("k", 50, 51, "1").get("k", 60, 61, "1x");
    expect_ok(h);
}

BOOST_AUTO_TEST_CASE(keys_are_independent) {
    H h;
    h.set("a", "1", 0, 1)
        .set("b", "2", 0, 1)
        .get("a", 2, 3, "1")
        .get("b", 2, 3, "2")
        .get("c", 2, 3, std::nullopt);
    auto r = h.check();
    BOOST_TEST(r.ok());
    BOOST_TEST(r.keys_checked == 3u);
    BOOST_TEST(r.ops_checked == 5u);
}

// ---------------------------------------------------------------- histories that are not

BOOST_AUTO_TEST_CASE(stale_read_after_completed_write) {
    H h;
    h.set("k", "1", 0, 1).set("k", "2", 2, 3).get("k", 4, 5, "1");
    expect_violation(h);
}

BOOST_AUTO_TEST_CASE(lost_write) {
    // SET b was acknowledged, yet every later read sees the older value.
    H h;
    h.set("k", "a", 0, 1)
        .set("k", "b", 2, 10)
        .get("k", 3, 4, "a")
        .get("k", 11, 12, "a")
        .get("k", 13, 14, "a");
    expect_violation(h);
}

BOOST_AUTO_TEST_CASE(duplicated_append) {
    // The second APPEND's length jumps by twice its size: it was applied twice.
    H h;
    h.append("k", "x", 0, 1, 1).append("k", "y", 2, 3, 3);
    expect_violation(h);
    H h2;
    h2.append("k", "ab", 0, 1, 2).get("k", 2, 3, "abab");
    expect_violation(h2);
}

BOOST_AUTO_TEST_CASE(incr_applied_twice) {
    H h;
    h.incr("k", 0, 1, 1).get("k", 2, 3, "2");
    expect_violation(h);
    H h2;
    h2.incr("k", 0, 1, 1).incr("k", 2, 3, 3);
    expect_violation(h2);
}

BOOST_AUTO_TEST_CASE(read_of_a_value_never_written) {
    H h;
    h.set("k", "1", 0, 1).set("k", "2", 0, 1).get("k", 2, 3, "7");
    expect_violation(h);
}

BOOST_AUTO_TEST_CASE(indeterminate_write_cannot_act_before_its_invocation) {
    H h;
    h.get("k", 0, 1, "1").unknown(KvOp::set, "k", "1", 2);
    expect_violation(h);
}

BOOST_AUTO_TEST_CASE(indeterminate_write_takes_effect_at_most_once) {
    H h;
    h.unknown(KvOp::append, "k", "x", 0).get("k", 10, 11, "xx");
    expect_violation(h);
}

BOOST_AUTO_TEST_CASE(violation_on_one_key_is_found_among_good_ones) {
    H h;
    h.set("a", "1", 0, 1).get("a", 2, 3, "1").set("b", "1", 0, 1).get("b", 2, 3, std::nullopt);
    auto r = h.check();
    BOOST_TEST((r.verdict == LinearizabilityResult::Verdict::violation));
    BOOST_TEST(r.key == "b");
    BOOST_TEST(r.explanation.find("GET b") != std::string::npos, r.explanation);
}

BOOST_AUTO_TEST_CASE(budget_exhausted_is_inconclusive_not_ok) {
    H h;
    for (int i = 0; i < 30; ++i) h.unknown(KvOp::append, "k", "x", 0);
    h.get("k", 100, 101, std::string(15, 'x'));
    h.get("k", 102, 103, std::string(14, 'x'));  // impossible (appends only grow) but costly to refute
    auto r = h.check(LinearizabilityOptions{1000});
    BOOST_TEST((r.verdict == LinearizabilityResult::Verdict::inconclusive));
    BOOST_TEST(!r.ok());
}

BOOST_AUTO_TEST_CASE(malformed_history_is_refused) {
    H h;
    h.set("k", "1", 5, 4);
    BOOST_CHECK_THROW(h.check(), std::invalid_argument);
}

// ---------------------------------------------------------------- generated histories

namespace {

// Clients run ops one at a time against an atomic register per key; each op takes effect at a
// random instant inside its interval. So the history is linearizable by construction.
H generate(std::uint64_t seed, bool with_unknowns) {
    Rng rng(seed);
    const int clients = static_cast<int>(rng.between(2, 6));
    const int keys = static_cast<int>(rng.between(1, 2));
    struct Pending {
        HistoryOp op;
        std::uint64_t effect_at;
        bool takes_effect;
    };
    std::vector<std::uint64_t> free_at(clients, 0);
    std::vector<Pending> all;
    for (int i = 0; i < 60 * clients; ++i) {
        int c = static_cast<int>(rng.between(0, clients - 1));
        HistoryOp o;
        o.client = static_cast<std::uint64_t>(c + 1);
        o.op = static_cast<KvOp>(rng.between(0, 3));
        o.key = "k" + std::to_string(rng.between(1, keys));
        if (o.op == KvOp::set) o.arg = rng.chance(1, 4) ? "v" : std::to_string(rng.between(0, 50));
        if (o.op == KvOp::append) o.arg = rng.chance(1, 5) ? "z" : std::to_string(rng.between(0, 9));
        o.invoke = free_at[c] + rng.between(1, 20);
        o.complete = o.invoke + rng.between(1, 60);
        free_at[c] = o.complete;
        bool unknown = with_unknowns && o.op != KvOp::get && rng.chance(1, 12);
        o.indeterminate = unknown;
        bool takes_effect = !unknown || rng.chance(1, 2);
        // An unknown op may land long after its client moved on.
        std::uint64_t effect = rng.between(o.invoke, unknown ? o.complete + 200 : o.complete);
        all.push_back({o, effect * 1000 + static_cast<std::uint64_t>(i), takes_effect});
    }
    std::vector<Pending*> by_effect;
    for (auto& p : all) by_effect.push_back(&p);
    std::sort(by_effect.begin(), by_effect.end(),
              [](auto* a, auto* b) { return a->effect_at < b->effect_at; });
    std::map<std::string, std::optional<std::string>> state;
    for (Pending* p : by_effect) {
        if (!p->takes_effect) continue;
        p->op.result = apply_model(state[p->op.key], p->op.op, p->op.arg);
    }
    H h;
    for (auto& p : all) {
        p.op.invoke_ms = p.op.invoke;
        p.op.complete_ms = p.op.complete;
        h.ops.push_back(p.op);
    }
    return h;
}

}  // namespace

BOOST_AUTO_TEST_CASE(generated_linearizable_histories_pass) {
    std::uint64_t steps = 0;
    for (std::uint64_t seed = 1; seed <= 200; ++seed) {
        H h = generate(seed, seed % 2 == 0);
        auto r = h.check();
        BOOST_TEST(r.ok(), "seed " << seed << ": " << to_string(r.verdict) << ": " << r.explanation);
        steps += r.steps;
    }
    BOOST_TEST_MESSAGE("200 generated histories, " << steps << " search steps");
}

BOOST_AUTO_TEST_CASE(generated_histories_with_a_corrupted_read_fail) {
    // Turning one GET's answer into a value no one ever wrote must always be caught.
    int corrupted = 0;
    for (std::uint64_t seed = 1; seed <= 100; ++seed) {
        H h = generate(seed, seed % 2 == 0);
        for (auto& o : h.ops) {
            if (o.op == KvOp::get && !o.indeterminate) {
                o.result = R::of_value("never-written");
                ++corrupted;
                break;
            }
        }
        auto r = h.check();
        BOOST_TEST((r.verdict == LinearizabilityResult::Verdict::violation), "seed " << seed);
    }
    BOOST_TEST(corrupted == 100);
}
