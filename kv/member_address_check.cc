#include "kv/member_address_check.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/address_check.h"
#include "common/cluster_config.h"
#include "kv/member_command.h"

namespace ballot::kv {

boost::asio::awaitable<std::string> check_member_address(ConfigChange add, Configuration config) {
    namespace asio = boost::asio;
    asio::ip::tcp::resolver resolver(co_await asio::this_coro::executor);
    auto resolve = [&](const NodeAddress& a) {
        return resolver.async_resolve(a.host, std::to_string(a.client_port),
                                      asio::as_tuple(asio::use_awaitable));
    };
    std::string error;
    const std::optional<NodeAddress> wanted = parse_host_port(add.address, add.id, error);
    if (!wanted) co_return invalid_address_reply(add.address, error);
    auto [ec, endpoints] = co_await resolve(*wanted);
    if (ec)
        co_return "ERR " + cannot_resolve(wanted->host, ec) +
            ": MEMBER ADD needs an address every member can reach";
    AddressClashes clashes;
    clashes.add("MEMBER ADD " + std::to_string(add.id) + " " + add.address, endpoints);
    for (const Member& m : config.members()) {
        const std::optional<NodeAddress> a = parse_host_port(m.address, m.id, error);
        if (m.id == add.id || !a) continue;
        // A member whose name no longer resolves is not this address as far as can be told now.
        auto [member_ec, member_endpoints] = co_await resolve(*a);
        if (member_ec) continue;
        const std::string label = "node " + std::to_string(m.id) + "'s address " + m.address;
        if (auto clash = clashes.add(label, member_endpoints))
            co_return "ERR " + *clash + ": give each member its own HOST:PORT";
    }
    co_return "";
}

}  // namespace ballot::kv
