// Waiting for a line in a LocalCluster node's log, for the end-to-end tests.
#pragma once

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "bench/local_cluster.h"

namespace ballot {

// Whether `text` appears in node `id`'s log within `bound` (the node writes it as it happens).
inline bool log_shows(const LocalCluster& c, NodeId id, const std::string& text,
                      std::chrono::milliseconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < deadline) {
        std::ifstream in(c.log_path(id));
        const std::string log(std::istreambuf_iterator<char>(in), {});
        if (log.find(text) != std::string::npos) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

}  // namespace ballot
