// MEMBER ADD's address check, apart from kv/member_command.cc because it is a coroutine: the fuzz
// build (clang 14 with the fuzzer's instrumentation) cannot compile coroutines and leaves this file
// out, as it leaves out kv/resp_server.cc, its one caller (kv/CMakeLists.txt).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "common/configuration.h"

namespace ballot::kv {

// MEMBER ADD's address, checked before anything is proposed: it must resolve, and to no endpoint
// of another member of `config` (localhost:7001 is 127.0.0.1:7001: common/address_check.h). The
// error reply text (without '-'), or empty. A member of the same id is left to the engine, which
// refuses it as "already a member". Names resolve on Asio's resolver thread: the node's loop never
// waits on DNS. The change keeps the address as the operator typed it, not what it resolved to:
// every node resolves a member's name itself when it dials it, so a node moved to a new IP under
// the same name is found again, and MEMBER LIST shows the name the operator knows.
boost::asio::awaitable<std::string> check_member_address(ConfigChange add, Configuration config);

}  // namespace ballot::kv
