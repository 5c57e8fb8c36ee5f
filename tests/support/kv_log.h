// Helpers of the KV state machine tests (kv_store_test, kv_expiry_test): commands validated and
// encoded as the front end does, applied at consecutive log indexes with a cluster-time stamp.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "kv/kv_commands.h"
#include "kv/kv_store.h"

namespace ballot::test {

using Args = std::vector<std::string>;

// The log payload of a valid command (the test fails if it is not).
inline std::string payload(const Args& args) {
    kv::Validation v = kv::validate(args);
    BOOST_REQUIRE_MESSAGE(v.ok(), v.error);
    return kv::encode_payload(v.command);
}

// A read, answered as the node answers it once the read is linearizable.
inline std::string read(const kv::KvStore& store, const Args& args) {
    return store.query(payload(args));
}

// Applies commands at the next index, with a session stamp when client_id != 0, each stamped with
// cluster time `now_ms` (0, the default: no time, as before cluster time existed).
class KvLog {
public:
    explicit KvLog(kv::KvStore& store, std::uint64_t start_ms = 0) : now_ms(start_ms), store_(store) {}

    std::uint64_t now_ms;

    std::string run(const Args& args, std::uint64_t client_id = 0, std::uint64_t seq = 0,
                    std::uint64_t acked_below = 0) {
        Command c{client_id, seq, acked_below, payload(args)};
        c.time_ms = now_ms;
        return store_.apply(++index_, c);
    }
    std::string raw(const Command& c) { return store_.apply(++index_, c); }
    // A clock tick (Driver::maybe_propose_clock_tick): time and nothing else; no reply.
    void tick(std::uint64_t time_ms) {
        Command c;
        c.time_ms = time_ms;
        BOOST_CHECK_EQUAL(store_.apply(++index_, c), "");
    }
    Index index() const { return index_; }

private:
    kv::KvStore& store_;
    Index index_ = 0;
};

}  // namespace ballot::test
