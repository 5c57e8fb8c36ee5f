// MEMBER's arguments (kv/member_command.h), MEMBER ADD's checks, and what the KV store
// answers for a membership change's log entry (SPEC "Membership change": +OK, once per client
// request).
#define BOOST_TEST_MODULE member_command
#include "kv/member_command.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include "common/command.h"
#include "kv/kv_store.h"
#include "kv/member_address_check.h"

using namespace ballot;
using namespace ballot::kv;

namespace {

std::string error_of(const std::vector<std::string>& args) {
    MemberRequest r = parse_member(args);
    auto* e = std::get_if<std::string>(&r);
    return e ? *e : "";
}

ConfigChange change_of(const std::vector<std::string>& args) {
    MemberRequest r = parse_member(args);
    BOOST_REQUIRE(std::holds_alternative<ConfigChange>(r));
    return std::get<ConfigChange>(r);
}

// What check_member_add asked the node at the address (the probe's arguments), and answered.
struct Probed {
    std::optional<boost::asio::ip::tcp::endpoint> at;
    NodeId id = kNoNode;
    int times = 0;
};

// check_member_add's answer for MEMBER ADD `id` `address` to `config`, run to completion; the node
// at the address answers the probe with `found`.
MemberAddCheck check_add(NodeId id, const std::string& address, const Configuration& config,
                         PeerProbe found = PeerProbe{0x5EED, {}, true}, Probed* probed = nullptr) {
    boost::asio::io_context io;
    ProbePeer probe = [&](const boost::asio::ip::tcp::endpoint& at, NodeId asked,
                          std::function<void(PeerProbe)> done) {
        if (probed) *probed = Probed{at, asked, probed->times + 1};
        boost::asio::post(io, [done = std::move(done), found] { done(found); });
    };
    auto answer = boost::asio::co_spawn(
        io, check_member_add(ConfigChange{ConfigChange::Kind::add_learner, id, address, true}, config, probe),
        boost::asio::use_future);
    io.run();
    return answer.get();
}

std::string address_refusal(NodeId id, const std::string& address, const Configuration& config) {
    return check_add(id, address, config).refusal;
}

}  // namespace

BOOST_AUTO_TEST_CASE(subcommands_parse_into_changes) {
    BOOST_TEST(std::holds_alternative<MemberList>(parse_member({"list"})));
    BOOST_TEST((change_of({"ADD", "4", "127.0.0.1:7004"}) ==
                ConfigChange{ConfigChange::Kind::add_learner, 4, "127.0.0.1:7004", true}));
    BOOST_TEST((change_of({"add", "4", "127.0.0.1:7004", "learner"}) ==
                ConfigChange{ConfigChange::Kind::add_learner, 4, "127.0.0.1:7004", false}));
    BOOST_TEST((change_of({"PROMOTE", "4"}) == ConfigChange{ConfigChange::Kind::promote, 4, "", false}));
    BOOST_TEST((change_of({"remove", "2"}) == ConfigChange{ConfigChange::Kind::remove, 2, "", false}));
    MemberRequest t = parse_member({"TRANSFER", "3"});
    BOOST_REQUIRE(std::holds_alternative<MemberTransfer>(t));
    BOOST_TEST(std::get<MemberTransfer>(t).target == 3u);
}

BOOST_AUTO_TEST_CASE(bad_arguments_get_redis_style_errors) {
    BOOST_TEST(error_of({"LIST", "x"}) == "ERR wrong number of arguments for 'member|list' command");
    BOOST_TEST(error_of({"Add", "4"}) == "ERR wrong number of arguments for 'member|add' command");
    BOOST_TEST(error_of({"REMOVE"}) == "ERR wrong number of arguments for 'member|remove' command");
    BOOST_TEST(error_of({"frob"}).starts_with("ERR unknown subcommand 'frob'"));
    BOOST_TEST(error_of({"REMOVE", "0"}).starts_with("ERR invalid node id '0'"));
    BOOST_TEST(error_of({"PROMOTE", "65536"}).starts_with("ERR invalid node id '65536'"));
    BOOST_TEST(error_of({"TRANSFER", "x1"}).starts_with("ERR invalid node id 'x1'"));
    BOOST_TEST(error_of({"ADD", "4", "127.0.0.1"}).starts_with("ERR invalid address '127.0.0.1'"));
    BOOST_TEST(error_of({"ADD", "4", "127.0.0.1:70000"}).find("out of range") != std::string::npos);
    BOOST_TEST(error_of({"ADD", "4", "127.0.0.1:7004", "VOTER"}) == "ERR syntax error");
}

BOOST_AUTO_TEST_CASE(member_list_shows_each_member_and_its_role) {
    Configuration config({Member{2, "127.0.0.1:7002", MemberRole::voter, false},
                          Member{4, "127.0.0.1:7004", MemberRole::learner, true}});
    BOOST_TEST(member_list_reply(config) ==
               "*2\r\n$22\r\n2@127.0.0.1:7002 voter\r\n$24\r\n4@127.0.0.1:7004 learner\r\n");
}

BOOST_AUTO_TEST_CASE(an_applied_config_entry_is_answered_ok_once_per_request) {
    KvStore store;
    const ConfigChange add{ConfigChange::Kind::add_learner, 4, "127.0.0.1:7004", true};
    const Configuration before = Configuration::of_voters({1, 2, 3});
    const std::string entry = encode_config_entry(ConfigEntry{add, before.with(add)});
    Command c{42, 1, 1, entry};
    BOOST_TEST(store.apply(1, c) == "+OK\r\n");
    BOOST_TEST(store.apply(2, c) == "+OK\r\n");  // a retried request: the recorded reply
    BOOST_TEST(store.size() == 0u);              // no key touched
    // An engine's own change (no client session) is answered to nobody and changes nothing.
    BOOST_TEST(store.apply(3, Command{0, 0, 0, entry}) == "+OK\r\n");
}

// Issue 12: localhost:7001 is 127.0.0.1:7001, and a node added under the other name would be a
// member that dials itself. MEMBER ADD resolves its address and compares it with every member's
// before anything is proposed (localhost and IP literals resolve without DNS).
BOOST_AUTO_TEST_CASE(member_add_refuses_an_address_a_member_has_under_another_name) {
    const Configuration three({Member{1, "127.0.0.1:7001", MemberRole::voter, false},
                               Member{2, "127.0.0.1:7002", MemberRole::voter, false},
                               Member{3, "localhost:7003", MemberRole::learner, false}});
    BOOST_TEST(
        address_refusal(4, "localhost:7001", three) ==
        "ERR MEMBER ADD 4 localhost:7001 and node 1's address 127.0.0.1:7001 are one address (both are "
        "127.0.0.1:7001): give each member its own HOST:PORT");
    const std::string learner = address_refusal(4, "127.0.0.1:7003", three);
    BOOST_TEST(learner.find("node 3's address localhost:7003") != std::string::npos, learner);
    // Another port, or the same address under the member's own id (the engine says "already a
    // member"), is not a clash.
    BOOST_TEST(address_refusal(4, "localhost:7004", three) == "");
    BOOST_TEST(address_refusal(1, "localhost:7001", three) == "");
}

// SPEC "Node identities are part of the configuration": MEMBER ADD asks the node at the address
// (its peer port, client port + 10000) for its data dir identity, and the change carries it; a node
// that does not answer as that id is not added, and the reply says what to do.
BOOST_AUTO_TEST_CASE(member_add_learns_the_identity_of_the_node_it_adds) {
    const Configuration one({Member{1, "127.0.0.1:7001", MemberRole::voter, false}});
    Probed probed;
    MemberAddCheck found = check_add(4, "localhost:7004", one, PeerProbe{0xABC, {}, true}, &probed);
    BOOST_TEST(found.refusal.empty(), found.refusal);
    BOOST_TEST(found.identity == 0xABCu);
    BOOST_REQUIRE(probed.at.has_value());
    BOOST_TEST(probed.at->address().to_string() == "127.0.0.1");
    BOOST_TEST(probed.at->port() == 17004);
    BOOST_TEST(probed.id == 4u);
    BOOST_TEST(probed.times == 1);

    // Nothing listens there: asked again for a while (the node may be starting), then refused.
    probed = Probed{};
    MemberAddCheck absent = check_add(
        4, "127.0.0.1:7004", one, PeerProbe{0, "cannot connect to 127.0.0.1:17004: Connection refused"}, &probed);
    BOOST_TEST(probed.times == 1 + static_cast<int>(kProbePatienceMs / kProbeRetryMs));
    BOOST_TEST(absent.identity == 0u);
    BOOST_TEST(absent.refusal ==
               "ERR cannot learn the data dir identity of node 4 at 127.0.0.1:7004 (peer port 17004): cannot "
               "connect to 127.0.0.1:17004: Connection refused; start the new node with --join first, then "
               "MEMBER ADD it");

    // Another node answers there: no point asking again.
    probed = Probed{};
    MemberAddCheck other =
        check_add(4, "127.0.0.1:7004", one, PeerProbe{0, "the node at 127.0.0.1:17004 is node 5, not node 4", true},
                  &probed);
    BOOST_TEST(probed.times == 1);
    BOOST_TEST(other.refusal.find("is node 5, not node 4; start the new node") != std::string::npos, other.refusal);
}

BOOST_AUTO_TEST_CASE(member_add_refuses_an_address_that_does_not_resolve_or_parse) {
    const Configuration one({Member{1, "127.0.0.1:7001", MemberRole::voter, false}});
    const std::string unknown = address_refusal(4, "no-such-host.invalid:7004", one);
    BOOST_TEST(unknown.starts_with("ERR cannot resolve host no-such-host.invalid ("), unknown);
    BOOST_TEST(unknown.ends_with("): MEMBER ADD needs an address every member can reach"), unknown);
    BOOST_TEST(address_refusal(4, "localhost", one).starts_with("ERR invalid address 'localhost': "));
}
