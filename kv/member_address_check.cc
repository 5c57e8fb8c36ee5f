#include "kv/member_address_check.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/address_check.h"
#include "common/cluster_config.h"
#include "kv/member_command.h"

namespace ballot::kv {

namespace asio = boost::asio;

namespace {

// `probe` as an awaitable. With use_awaitable the initiation runs only when the result is
// co_awaited, after this function has returned: it must hold `at` and `id` by value (a reference
// to them dangled, and a probe once asked for node 0 instead of the node being added). `probe`
// belongs to the caller, which is suspended in that co_await until the answer comes.
asio::awaitable<PeerProbe> ask(const ProbePeer& probe, const asio::ip::tcp::endpoint& at, NodeId id) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(PeerProbe)>(
        [&probe, at, id](auto handler) {
            auto waiting = std::make_shared<decltype(handler)>(std::move(handler));
            probe(at, id, [waiting](PeerProbe answer) { std::move(*waiting)(std::move(answer)); });
        },
        asio::use_awaitable);
}

}  // namespace

asio::awaitable<MemberAddCheck> check_member_add(ConfigChange add, Configuration config, ProbePeer probe) {
    asio::ip::tcp::resolver resolver(co_await asio::this_coro::executor);
    auto resolve = [&](const NodeAddress& a) {
        return resolver.async_resolve(a.host, std::to_string(a.client_port),
                                      asio::as_tuple(asio::use_awaitable));
    };
    auto refuse = [](std::string why) { return MemberAddCheck{std::move(why), 0}; };
    std::string error;
    const std::optional<NodeAddress> wanted = parse_host_port(add.address, add.id, error);
    if (!wanted) co_return refuse(invalid_address_reply(add.address, error));
    auto [ec, endpoints] = co_await resolve(*wanted);
    if (ec)
        co_return refuse("ERR " + cannot_resolve(wanted->host, ec) +
                         ": MEMBER ADD needs an address every member can reach");
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
            co_return refuse("ERR " + *clash + ": give each member its own HOST:PORT");
    }
    asio::ip::tcp::endpoint peer_port = endpoints.begin()->endpoint();
    peer_port.port(wanted->peer_port());
    PeerProbe found = co_await ask(probe, peer_port, add.id);
    asio::steady_timer pause(co_await asio::this_coro::executor);
    for (std::uint32_t waited = 0; found.identity == 0 && !found.answered && waited < kProbePatienceMs;
         waited += kProbeRetryMs) {
        pause.expires_after(std::chrono::milliseconds(kProbeRetryMs));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        found = co_await ask(probe, peer_port, add.id);
    }
    if (found.identity == 0)
        co_return refuse("ERR cannot learn the data dir identity of node " + std::to_string(add.id) + " at " +
                         add.address + " (peer port " + std::to_string(wanted->peer_port()) + "): " + found.error +
                         "; start the new node with --join first, then MEMBER ADD it");
    co_return MemberAddCheck{{}, found.identity};
}

}  // namespace ballot::kv
