// Two of ballot-sim's scenarios (scenarios.h) that replay a figure from the literature on the real
// engines, with nothing but network and process faults (cuts, crashes, restarts) timed against the
// roles and logs the script observes; the engines are not touched. Each step is a note in the
// diagram. The engine READMEs link to the pages they draw (docs/runs/).
//
//   figure-8     Raft, §5.4.2 and Figure 8: five nodes; n1 leads term 2 and its entry at index 2
//                reaches n2 only; n5 leads term 3 with its own entry at index 2, alone; n1 leads
//                term 4 and brings its term-2 entry to n3, a majority, but may not count replicas
//                of an older term's entry, so does not commit it; n1 crashes; n5 is elected in
//                term 5 and overwrites the term-2 entry everywhere. The figure's entries are the
//                leaders' no-ops (§8), the only entries: the scenario runs no clients.
//   hole-filled  Multi-Paxos, PMS §3 and PMMC: three nodes; the leader's Accepts to the others are
//                cut while it proposes two slots, then one follower hears it again and accepts a
//                later slot, which is chosen; the leader crashes; the new leader's phase 1 hears
//                of the later slot only and proposes no-ops in the hole below it.
#pragma once

#include "tests/sim/simulator.h"

namespace ballot::sim {

void figure_8_configure(SimConfig& c);
void figure_8(ScenarioContext& ctx);

void hole_filled_configure(SimConfig& c);
void hole_filled(ScenarioContext& ctx);

}  // namespace ballot::sim
