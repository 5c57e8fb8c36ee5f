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
    // runtime's thread, with an error if the data may not be durable. The runtime asks again
    // whenever it has written more, with earlier flushes still in flight: a completion covers
    // everything written before its flush was asked for, whichever completes first. FileStorage
    // runs them in order and merges the waiting ones into one fsync (group commit).
    virtual void flush(std::function<void(std::error_code)> done) = 0;
};

}  // namespace ballot
