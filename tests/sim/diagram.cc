#include "tests/sim/diagram.h"

#include <stdexcept>

#include "common/node_report.h"

namespace ballot::sim {

// Generated from web/sim_diagram.html (tests/CMakeLists.txt).
const std::string& sim_diagram_page();

namespace {

constexpr std::string_view kDataSlot = "/*BALLOT_SIM_DATA*/";

std::string number(std::uint64_t n) {
    return std::to_string(n);
}

// [from, to, sent_us, heartbeat, bulk, "what"]
std::string message_json(const RecordedMessage& m) {
    return "[" + number(m.from) + "," + number(m.to) + "," + number(m.sent_us) + "," +
           (m.heartbeat ? "1" : "0") + "," + (m.bulk ? "1" : "0") + "," + json_string(m.what) + "]";
}

// [message, at_us, delivered, "how"]
std::string arrival_json(const RecordedArrival& a) {
    return "[" + number(a.message) + "," + number(a.at_us) + "," + (a.delivered ? "1" : "0") + "," +
           json_string(a.how) + "]";
}

// ["kind", node, at_us, until_us, peer, "text"]
std::string mark_json(const RecordedMark& m) {
    return "[" + json_string(to_string(m.kind)) + "," + number(m.node) + "," + number(m.at_us) + "," +
           number(m.until_us) + "," + number(m.peer) + "," + json_string(m.text) + "]";
}

template <typename T, typename F>
std::string json_array(const std::vector<T>& items, F item_json) {
    std::string out = "[";
    for (const T& item : items) out += (out.size() > 1 ? ",\n" : "") + item_json(item);
    return out + "]";
}

// Inside <script>, "</script" or "<!--" in the data would change how the page is parsed. A '<'
// only ever stands inside a JSON string here, where "\u003c" is the same character.
std::string safe_in_script(const std::string& json) {
    std::string out;
    out.reserve(json.size());
    for (char c : json) out += c == '<' ? std::string("\\u003c") : std::string(1, c);
    return out;
}

}  // namespace

std::string recording_json(const Recording& r) {
    return "{\"engine\":" + json_string(r.engine) + ",\"seed\":" + number(r.seed) +
           ",\"scenario\":" + json_string(r.scenario) +
           ",\"scenario_summary\":" + json_string(r.scenario_summary) + ",\"nodes\":" + number(r.nodes) +
           ",\"from_us\":" + number(r.from_us) + ",\"until_us\":" + number(r.until_us) +
           ",\"end_us\":" + number(r.end_us) + ",\"config\":" + json_string(r.config) +
           ",\"result\":" + json_string(r.result) + ",\"passed\":" + (r.passed ? "true" : "false") +
           ",\"messages_before\":" + number(r.messages_before) +
           ",\"messages_after\":" + number(r.messages_after) +
           ",\"marks_outside\":" + number(r.marks_outside) +
           ",\"messages_over_limit\":" + number(r.messages_over_limit) +
           ",\n\"messages\":" + json_array(r.messages, message_json) +
           ",\n\"arrivals\":" + json_array(r.arrivals, arrival_json) +
           ",\n\"marks\":" + json_array(r.marks, mark_json) + "}";
}

std::string render_diagram(const Recording& recording) {
    std::string page = sim_diagram_page();
    const std::size_t slot = page.find(kDataSlot);
    if (slot == std::string::npos) throw std::logic_error("web/sim_diagram.html has no data slot");
    return page.replace(slot, kDataSlot.size(), safe_in_script(recording_json(recording)));
}

}  // namespace ballot::sim
