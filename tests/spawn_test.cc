// common/spawn.h: an exception in a coroutine nobody awaits is never dropped. One the node needs
// (an accept or dial loop) leaves io_context::run(), where ballot-server reports it and exits 1;
// one that serves a single connection is logged and the event loop carries on.
#define BOOST_TEST_MODULE spawn
#include "common/spawn.h"

#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>
#include <stdexcept>

namespace asio = boost::asio;
using namespace ballot;

namespace {

asio::awaitable<void> fails() {
    throw std::runtime_error("accept loop broke");
    co_return;
}

asio::awaitable<void> finishes(bool& ran) {
    ran = true;
    co_return;
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_essential_coroutine_s_exception_leaves_the_event_loop) {
    asio::io_context io;
    asio::co_spawn(io, fails(), rethrow_escaped);
    BOOST_CHECK_EXCEPTION(io.run(), std::runtime_error, [](const std::runtime_error& e) {
        return std::string(e.what()) == "accept loop broke";
    });
}

BOOST_AUTO_TEST_CASE(a_connection_s_exception_is_logged_and_the_loop_goes_on) {
    asio::io_context io;
    bool other_ran = false;
    asio::co_spawn(io, fails(), log_escaped("a client connection"));
    asio::co_spawn(io, finishes(other_ran), rethrow_escaped);
    BOOST_CHECK_NO_THROW(io.run());
    BOOST_TEST(other_ran);
}
