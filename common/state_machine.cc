#include "common/state_machine.h"

#include "common/assert.h"

namespace ballot {

namespace {

// The default decoder: the bytes, kept for restore().
class BufferingDecoder final : public SnapshotDecoder {
public:
    bool feed(std::string_view bytes) override {
        bytes_.append(bytes);
        return true;
    }
    bool finish() override { return true; }
    const std::string& bytes() const { return bytes_; }

private:
    std::string bytes_;
};

}  // namespace

std::unique_ptr<SnapshotDecoder> StateMachine::snapshot_decoder() const {
    return std::make_unique<BufferingDecoder>();
}

bool StateMachine::adopt(SnapshotDecoder& decoded) {
    auto* buffered = dynamic_cast<BufferingDecoder*>(&decoded);
    BALLOT_ASSERT(buffered != nullptr, "adopt() takes a decoder this state machine made");
    return restore(buffered->bytes());
}

}  // namespace ballot
