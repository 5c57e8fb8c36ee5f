#include "tests/sim/recording_state_machine.h"

#include "kv/kv_commands.h"

namespace ballot::sim {

std::string RecordingStateMachine::apply(Index index, const Command& command) {
    std::string reply = inner_.apply(index, command);
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
