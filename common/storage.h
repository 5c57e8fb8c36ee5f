// How the runtime makes engine output durable. Two implementations: FileStorage (segment files
// and a background fsync thread, common/file_storage.h) and the simulator's disk (tests/sim).
#pragma once

#include <functional>
#include <system_error>

#include "common/engine.h"

namespace ballot {

class Storage {
public:
    virtual ~Storage() = default;

    // Queues the durable part of a batch (metadata, truncation, log records) for writing. Cheap:
    // nothing is durable until a flush that starts after this call completes.
    virtual void write(const Ready& batch) = 0;

    // Makes everything written so far durable (write + fsync). `done` is called later, on the
    // runtime's thread, with an error if the data may not be durable. The runtime keeps at most
    // one flush in flight; everything written meanwhile rides on the next one (group commit).
    virtual void flush(std::function<void(std::error_code)> done) = 0;
};

}  // namespace ballot
