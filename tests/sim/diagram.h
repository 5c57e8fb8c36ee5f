// ballot-sim's output: a self-contained HTML page that draws a Recording (tests/sim/recorder.h)
// as a space-time diagram: one lane per node, time flowing down, messages as arrows from send to
// arrival (lost ones marked), fsyncs, roles (elections, phase 1), commits, crashes, restarts,
// pauses and cuts. The page (web/sim_diagram.html, built in) holds the record as JSON and draws it
// with plain inline JavaScript: it fetches nothing.
#pragma once

#include <string>

#include "tests/sim/recorder.h"

namespace ballot::sim {

// The record as JSON (the page's data; compact arrays, see web/sim_diagram.html).
std::string recording_json(const Recording& recording);

// The whole page. Deterministic: the same record gives the same bytes.
std::string render_diagram(const Recording& recording);

}  // namespace ballot::sim
