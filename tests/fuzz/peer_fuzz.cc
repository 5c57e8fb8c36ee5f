// libFuzzer target: hostile peer frames against every engine. The first byte picks the engine
// and the sender; the rest is the payload handed to step(). A malformed payload must be rejected
// (step returns false) without crashing; a well-formed one may change state, and whatever the
// engine does next (take_ready, status, describe) must not crash either, and must not break the
// engine's local invariants: a peer can never make a node fail-stop (check_invariants() and the
// engines' BALLOT_ASSERTs throw ballot::InvariantViolation, which the fuzzer reports as a crash).
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/engine.h"
#include "engines/registry.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ballot;
    if (size < 1) return 0;
    const auto& names = engine_names();
    const std::string& protocol = names[data[0] % names.size()];
    // 4 is not a member: refused, but for what any node may tell (basic Paxos: chosen values).
    NodeId from = 1 + (data[0] / names.size()) % 4;
    EngineConfig config;
    config.id = 1;
    config.members = {1, 2, 3};
    config.election_timeout_min_ticks = 2;
    config.election_timeout_max_ticks = 4;
    config.heartbeat_ticks = 1;
    auto engine = make_engine(protocol, config, RecoveredState{});
    std::span<const std::uint8_t> payload(data + 1, size - 1);
    EngineStatus before = engine->status();
    bool accepted = engine->step(from, payload);
    if (!accepted) {
        EngineStatus after = engine->status();
        // A refused message changes no state.
        if (after.role != before.role || after.epoch != before.epoch || after.leader != before.leader ||
            after.commit_index != before.commit_index || after.log_last_index != before.log_last_index)
            __builtin_trap();
    }
    engine->check_invariants();
    (void)engine->describe(payload);
    for (int i = 0; i < 8; ++i) {
        engine->tick();
        Ready r = engine->take_ready();
        for (auto& m : r.messages) (void)engine->describe(m.payload);
        engine->check_invariants();
    }
    engine->step(from, payload);
    (void)engine->take_ready();
    engine->check_invariants();
    return 0;
}
