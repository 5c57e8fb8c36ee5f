#include "tests/sim/recording_state_machine.h"

#include "kv/kv_commands.h"

namespace ballot::sim {

namespace {

// SET ... FENCE name token without its fence: what a store that forgot the check would apply.
Command without_fence(const Command& command) {
    auto decoded = kv::decode_payload(command.payload);
    if (!decoded || decoded->op != kv::Op::set_fenced) return command;
    Command unfenced = command;
    decoded->op = kv::Op::set_options;
    decoded->args.resize(6);
    unfenced.payload = kv::encode_payload(*decoded);
    return unfenced;
}

}  // namespace

std::string RecordingStateMachine::apply(Index index, const Command& command) {
    std::string reply =
        inner_.apply(index, sabotage_ == Sabotage::unfenced_writes ? without_fence(command) : command);
    if (sabotage_ == Sabotage::double_append) {
        auto decoded = kv::decode_payload(command.payload);
        if (decoded && decoded->op == kv::Op::append) {
            Command again = command;
            again.client_id = 0;  // no session: the store cannot tell it is a duplicate
            inner_.apply(index, again);
        }
    }
    if (sabotage_ == Sabotage::divergent_report) {
        Command lie = command;
        lie.payload += "!";
        listener_(index, lie, reply);
    } else {
        listener_(index, command, reply);
    }
    return reply;
}

}  // namespace ballot::sim
