#include "common/address_check.h"

#include <set>
#include <sstream>

namespace ballot {

std::string cannot_resolve(const std::string& host, const boost::system::error_code& ec) {
    return "cannot resolve host " + host + " (" + ec.message() + ")";
}

std::optional<std::string> AddressClashes::add(const std::string& label, const Resolved& endpoints) {
    // A name may resolve to one endpoint several times (once per socket type): each counts once.
    std::set<boost::asio::ip::tcp::endpoint> distinct;
    for (const auto& r : endpoints) distinct.insert(r.endpoint());
    for (const auto& endpoint : distinct) {
        auto [it, fresh] = seen_.emplace(endpoint, label);
        if (fresh) continue;
        std::ostringstream where;
        where << endpoint;
        return it->second + " and " + label + " are one address (both are " + where.str() + ")";
    }
    return std::nullopt;
}

}  // namespace ballot
