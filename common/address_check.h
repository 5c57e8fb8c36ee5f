// One node under two names: `localhost:7001` and `127.0.0.1:7001` are one address, and a cluster
// that lists it for two members has a node that dials itself forever (issue 12). Names are
// resolved and their endpoints compared, by startup for its --node flags (kv/server_main.cc, before
// anything is created on disk) and by the front end for MEMBER ADD's address against every
// member's (kv/resp_server.cc, before the change is proposed). Never by an engine: a name's
// resolution is an input from the world, and the engines are deterministic.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <map>
#include <optional>
#include <string>

namespace ballot {

// Why `host` did not resolve, in one line: "cannot resolve host db-4 (Host not found ...)".
std::string cannot_resolve(const std::string& host, const boost::system::error_code& ec);

// Addresses added one by one, each under a label that names it for the operator ("--node
// localhost:7001:1", "node 2's address 127.0.0.1:7001"); the first one that shares an endpoint
// with an earlier one is a clash.
class AddressClashes {
public:
    using Resolved = boost::asio::ip::tcp::resolver::results_type;

    // nullopt, or the clash in one line: "EARLIER LABEL and LABEL are one address (both are
    // 127.0.0.1:7001)".
    std::optional<std::string> add(const std::string& label, const Resolved& endpoints);

private:
    std::map<boost::asio::ip::tcp::endpoint, std::string> seen_;  // each endpoint: the first label
};

}  // namespace ballot
