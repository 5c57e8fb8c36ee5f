// How serious a runtime event is, as the driver and the transport report it to whoever runs them.
// The runtime (common/node.cc) maps it to spdlog's level at the edge; the simulator prints it in
// its trace. A typed level, so a caller cannot pass a number from some other scale.
#pragma once

namespace ballot {

enum class LogLevel { debug, info, warn, error };

constexpr const char* log_level_name(LogLevel level) {
    switch (level) {
        case LogLevel::debug:
            return "debug";
        case LogLevel::info:
            return "info";
        case LogLevel::warn:
            return "warn";
        case LogLevel::error:
            return "error";
    }
    return "?";
}

}  // namespace ballot
