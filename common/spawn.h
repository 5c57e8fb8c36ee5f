// Completion handlers for coroutines that nobody awaits (asio::co_spawn without a caller).
//
// asio::detached drops an exception silently: a node whose peer accept loop died that way would
// run on, deaf, with nothing in its log. Use one of these instead.
#pragma once

#include <spdlog/spdlog.h>

#include <exception>
#include <string>

namespace ballot {

// For a coroutine the node cannot work without (an accept or dial loop): the exception leaves
// io_context::run(), and ballot-server reports it in one line and exits 1.
inline constexpr auto rethrow_escaped = [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
};

// For a coroutine that serves one connection: its end is logged with the reason, and the node
// keeps serving everyone else.
inline auto log_escaped(std::string what) {
    return [what = std::move(what)](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            spdlog::error("{} ended by an unexpected error: {}", what, x.what());
        } catch (...) {
            spdlog::error("{} ended by an unexpected error", what);
        }
    };
}

}  // namespace ballot
