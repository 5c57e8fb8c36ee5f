#include "tests/sim/linearizability.h"

#include <algorithm>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include "common/random.h"
#include "kv/resp.h"

namespace ballot::sim {

const char* to_string(KvOp op) {
    switch (op) {
        case KvOp::set:
            return "SET";
        case KvOp::get:
            return "GET";
        case KvOp::append:
            return "APPEND";
        case KvOp::incr:
            return "INCR";
    }
    return "?";
}

const char* to_string(LinearizabilityResult::Verdict verdict) {
    switch (verdict) {
        case LinearizabilityResult::Verdict::linearizable:
            return "linearizable";
        case LinearizabilityResult::Verdict::violation:
            return "NOT linearizable";
        case LinearizabilityResult::Verdict::inconclusive:
            return "inconclusive";
    }
    return "?";
}

bool KvResult::matches(const KvResult& other) const {
    if (type != other.type) return false;
    switch (type) {
        case Type::ok:
        case Type::nil:
        case Type::error:
            return true;
        case Type::value:
            return value == other.value;
        case Type::integer:
            return integer == other.integer;
    }
    return false;
}

std::string KvResult::str() const {
    switch (type) {
        case Type::ok:
            return "OK";
        case Type::nil:
            return "(nil)";
        case Type::value:
            return "\"" + value + "\"";
        case Type::integer:
            return "(integer) " + std::to_string(integer);
        case Type::error:
            return "(error) " + value;
    }
    return "?";
}

std::string HistoryOp::str() const {
    std::ostringstream out;
    out << "client " << client << ": " << to_string(op) << ' ' << key;
    if (op == KvOp::set || op == KvOp::append) out << " \"" << arg << '"';
    out << " [" << invoke_ms << " ms";
    if (indeterminate)
        out << ", ?) -> unknown outcome";
    else
        out << ", " << complete_ms << " ms] -> " << result.str();
    if (!note.empty()) out << " (" << note << ")";
    return out.str();
}

KvResult apply_model(std::optional<std::string>& state, KvOp op, const std::string& arg) {
    switch (op) {
        case KvOp::set:
            state = arg;
            return KvResult::ok();
        case KvOp::get:
            return state ? KvResult::of_value(*state) : KvResult::nil();
        case KvOp::append:
            if (!state) state.emplace();
            state->append(arg);
            return KvResult::of_integer(static_cast<std::int64_t>(state->size()));
        case KvOp::incr: {
            std::int64_t current = 0;
            if (state) {
                auto parsed = kv::parse_redis_integer(*state);
                if (!parsed) return KvResult::of_error("ERR value is not an integer or out of range");
                current = *parsed;
            }
            if (current == std::numeric_limits<std::int64_t>::max())
                return KvResult::of_error("ERR increment or decrement would overflow");
            state = std::to_string(current + 1);
            return KvResult::of_integer(current + 1);
        }
    }
    return KvResult::of_error("unknown op");
}

namespace {

std::string show_state(const std::optional<std::string>& state) {
    return state ? "\"" + *state + "\"" : "absent";
}

// 128 bits identifying a configuration: which operations are placed, and the model's state.
struct ConfigKey {
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    bool operator==(const ConfigKey&) const = default;
};
struct ConfigKeyHash {
    std::size_t operator()(const ConfigKey& k) const { return k.a ^ (k.b * 0x9E3779B97F4A7C15ull); }
};

std::uint64_t fnv1a(const std::string& s, std::uint64_t seed) {
    std::uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

ConfigKey state_key(const std::optional<std::string>& state) {
    if (!state) return {0x51ED270B27B5A3C1ull, 0x7A3B9C1D5E2F4A6Bull};
    return {fnv1a(*state, 1), fnv1a(*state, 0x5bd1e995ull)};
}

// One key's search (Lowe §3, the "just-in-time" free version with a doubly linked event list).
class KeySearch {
public:
    KeySearch(std::vector<const HistoryOp*> ops, std::uint64_t max_steps)
        : ops_(std::move(ops)), max_steps_(max_steps) {
        build();
    }

    LinearizabilityResult::Verdict run();
    std::uint64_t steps() const { return steps_; }
    std::string explain() const;

private:
    struct Node {
        int op = -1;
        bool call = true;
        int match = -1;  // a call's return node; -1 for an indeterminate call
        int prev = -1;
        int next = -1;
    };
    struct Frame {
        int call = 0;
        std::optional<std::string> old_state;
    };

    void build();
    void lift(int call) {
        unlink(call);
        if (nodes_[call].match >= 0) unlink(nodes_[call].match);
    }
    void unlift(int call) {
        if (nodes_[call].match >= 0) relink(nodes_[call].match);
        relink(call);
    }
    void unlink(int n) {
        nodes_[nodes_[n].prev].next = nodes_[n].next;
        if (nodes_[n].next >= 0) nodes_[nodes_[n].next].prev = nodes_[n].prev;
    }
    void relink(int n) {
        nodes_[nodes_[n].prev].next = n;
        if (nodes_[n].next >= 0) nodes_[nodes_[n].next].prev = n;
    }
    void note_progress(std::size_t placed_definite, const std::optional<std::string>& state);

    std::vector<const HistoryOp*> ops_;
    std::uint64_t max_steps_;
    std::vector<Node> nodes_;  // nodes_[0] is the head sentinel
    std::vector<ConfigKey> zobrist_;
    std::vector<Frame> stack_;
    std::uint64_t steps_ = 0;
    std::size_t definite_ = 0;

    // The deepest point the search reached, for the explanation.
    std::size_t best_placed_ = 0;
    std::vector<int> best_order_;  // ops, in linearization order
    std::optional<std::string> best_state_;
    int best_blocker_ = -1;  // the op whose return stopped the search there
};

void KeySearch::build() {
    struct Event {
        std::uint64_t time;
        int kind;  // 0 call, 1 return: at equal times calls come first (they count as concurrent)
        int op;
    };
    std::vector<Event> events;
    Rng rng(0x6C696E6561726973ull);  // fixed: the verdict must not depend on anything but the history
    for (int i = 0; i < static_cast<int>(ops_.size()); ++i) {
        const HistoryOp& op = *ops_[i];
        events.push_back({op.invoke, 0, i});
        if (!op.indeterminate) {
            if (op.complete < op.invoke)
                throw std::invalid_argument("history: an operation completes before it is invoked: " +
                                            op.str());
            events.push_back({op.complete, 1, i});
            ++definite_;
        }
        zobrist_.push_back({rng.next(), rng.next()});
    }
    std::sort(events.begin(), events.end(), [](const Event& x, const Event& y) {
        if (x.time != y.time) return x.time < y.time;
        if (x.kind != y.kind) return x.kind < y.kind;
        return x.op < y.op;
    });
    nodes_.resize(events.size() + 1);
    std::vector<int> call_node(ops_.size(), -1);
    for (std::size_t i = 0; i < events.size(); ++i) {
        int n = static_cast<int>(i) + 1;
        nodes_[n].op = events[i].op;
        nodes_[n].call = events[i].kind == 0;
        nodes_[n].prev = n - 1;
        nodes_[n].next = i + 1 < events.size() ? n + 1 : -1;
        if (nodes_[n].call)
            call_node[events[i].op] = n;
        else
            nodes_[call_node[events[i].op]].match = n;
    }
    nodes_[0].next = events.empty() ? -1 : 1;
}

void KeySearch::note_progress(std::size_t placed_definite, const std::optional<std::string>& state) {
    if (placed_definite <= best_placed_ && !best_order_.empty()) return;
    best_placed_ = placed_definite;
    best_order_.clear();
    for (const Frame& f : stack_) best_order_.push_back(nodes_[f.call].op);
    best_state_ = state;
    best_blocker_ = -1;
}

LinearizabilityResult::Verdict KeySearch::run() {
    std::unordered_set<ConfigKey, ConfigKeyHash> seen;
    std::optional<std::string> state;
    ConfigKey placed;  // Zobrist hash of the set of placed ops
    std::size_t placed_definite = 0;
    int entry = nodes_[0].next;
    note_progress(0, state);
    while (placed_definite < definite_) {
        if (++steps_ > max_steps_) return LinearizabilityResult::Verdict::inconclusive;
        const Node& n = nodes_[entry];
        const HistoryOp& op = *ops_[n.op];
        if (n.call) {
            std::optional<std::string> next_state = state;
            KvResult r = apply_model(next_state, op.op, op.arg);
            if (op.indeterminate || r.matches(op.result)) {
                ConfigKey next_placed{placed.a ^ zobrist_[n.op].a, placed.b ^ zobrist_[n.op].b};
                ConfigKey s = state_key(next_state);
                if (seen.insert(ConfigKey{next_placed.a ^ s.a, next_placed.b ^ (s.b * 31)}).second) {
                    stack_.push_back(Frame{entry, std::move(state)});
                    state = std::move(next_state);
                    placed = next_placed;
                    lift(entry);
                    if (!op.indeterminate) ++placed_definite;
                    note_progress(placed_definite, state);
                    entry = nodes_[0].next;
                    continue;
                }
            }
            entry = n.next;
            continue;
        }
        // This op returned before it could be placed: undo the most recent choice.
        if (best_blocker_ < 0 && placed_definite == best_placed_) best_blocker_ = n.op;
        if (stack_.empty()) return LinearizabilityResult::Verdict::violation;
        Frame f = std::move(stack_.back());
        stack_.pop_back();
        const int op_index = nodes_[f.call].op;
        state = std::move(f.old_state);
        placed.a ^= zobrist_[op_index].a;
        placed.b ^= zobrist_[op_index].b;
        unlift(f.call);
        if (!ops_[op_index]->indeterminate) --placed_definite;
        entry = nodes_[f.call].next;
    }
    return LinearizabilityResult::Verdict::linearizable;
}

std::string KeySearch::explain() const {
    std::ostringstream out;
    out << ops_.size() << " operations (" << ops_.size() - definite_ << " with unknown outcome); the longest "
        << "linearization found places " << best_placed_ << " of the " << definite_ << " that completed";
    constexpr std::size_t kShown = 12;
    std::size_t from = best_order_.size() > kShown ? best_order_.size() - kShown : 0;
    out << (from > 0 ? ", ending:\n" : ":\n");
    std::optional<std::string> replay;
    for (std::size_t i = 0; i < best_order_.size(); ++i) {
        const HistoryOp& op = *ops_[best_order_[i]];
        KvResult r = apply_model(replay, op.op, op.arg);
        if (i >= from)
            out << "    " << op.str() << (op.indeterminate ? "  [took effect: " + r.str() + "]" : "") << '\n';
    }
    out << "  state there: " << show_state(best_state_) << '\n';
    if (best_blocker_ >= 0) {
        const HistoryOp& blocker = *ops_[best_blocker_];
        std::optional<std::string> s = best_state_;
        KvResult expected = apply_model(s, blocker.op, blocker.arg);
        out << "  then this operation must take effect but cannot:\n    " << blocker.str()
            << "\n    (the model answers " << expected.str()
            << " there, and no concurrent operation can be placed first to change that)\n";
        out << "  operations overlapping it:\n";
        std::size_t shown = 0;
        for (const HistoryOp* op : ops_) {
            if (op == &blocker) continue;
            bool overlaps =
                op->invoke <= blocker.complete && (op->indeterminate || op->complete >= blocker.invoke);
            if (overlaps && shown++ < 20) out << "    " << op->str() << '\n';
        }
        if (shown == 0) out << "    (none)\n";
    }
    return out.str();
}

}  // namespace

LinearizabilityResult check_linearizability(const std::vector<HistoryOp>& history,
                                            const LinearizabilityOptions& options) {
    // Lowe §5: each key on its own (P-compositionality).
    std::map<std::string, std::vector<const HistoryOp*>> by_key;
    for (const HistoryOp& op : history) {
        // A read whose outcome is unknown changed nothing and constrains nothing.
        if (op.indeterminate && op.op == KvOp::get) continue;
        by_key[op.key].push_back(&op);
    }
    LinearizabilityResult result;
    for (auto& [key, ops] : by_key) {
        KeySearch search(ops, options.max_steps_per_key);
        auto verdict = search.run();
        ++result.keys_checked;
        result.ops_checked += ops.size();
        result.steps += search.steps();
        result.max_steps_one_key = std::max(result.max_steps_one_key, search.steps());
        if (verdict == LinearizabilityResult::Verdict::linearizable) continue;
        result.verdict = verdict;
        result.key = key;
        if (verdict == LinearizabilityResult::Verdict::inconclusive)
            result.explanation = "key \"" + key + "\": search gave up after " +
                                 std::to_string(options.max_steps_per_key) + " steps over " +
                                 std::to_string(ops.size()) +
                                 " operations (history too concurrent; shorten the run)";
        else
            result.explanation = "key \"" + key + "\": " + search.explain();
        return result;
    }
    return result;
}

}  // namespace ballot::sim
