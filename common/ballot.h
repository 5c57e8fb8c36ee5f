// Ballot numbers for the two Paxos engines: (round, node id), totally ordered, packed into one
// 64-bit integer so that numeric order is ballot order (Paxos Made Simple §2.2: "proposal
// numbers ... from disjoint sets", here made disjoint by the node id in the low bits).
#pragma once

#include <cstdint>
#include <string>

#include "common/types.h"

namespace ballot {

struct Ballot {
    std::uint64_t round = 0;
    NodeId node = kNoNode;

    static constexpr int kNodeBits = 16;  // node ids must be < 65536 (checked by the config)
    static constexpr std::uint64_t kMaxNode = (std::uint64_t{1} << kNodeBits) - 1;
    // Rounds fill the other 48 bits. A peer's ballot with a round above this is malformed, so a
    // proposer that outbids it (round + 1) never overflows into a smaller ballot.
    static constexpr std::uint64_t kMaxRound = std::uint64_t{1} << 46;

    std::uint64_t packed() const { return (round << kNodeBits) | (node & kMaxNode); }
    static Ballot unpack(std::uint64_t p) { return Ballot{p >> kNodeBits, p & kMaxNode}; }

    bool is_zero() const { return round == 0 && node == kNoNode; }
    std::string str() const { return std::to_string(round) + "." + std::to_string(node); }

    friend auto operator<=>(const Ballot& a, const Ballot& b) { return a.packed() <=> b.packed(); }
    friend bool operator==(const Ballot& a, const Ballot& b) { return a.packed() == b.packed(); }
};

}  // namespace ballot
