#!/usr/bin/env python3
"""ballot-sim's page in a real browser (issue 14; README "Watch a run").

For every engine: ballot-sim draws the leader-crash scenario of seed 7; headless Chromium (Debian's
`chromium`, driven as tests/live_view_browser_test.py does) loads the file and the script checks
that
  - there is one lane per node, and arrows and marks are drawn,
  - clicking an arrow shows its message (the --trace text) in the info line,
  - zooming in changes the scale,
  - the page logs no console error, throws no exception and requests nothing from the network,
then scrolls to the crash and saves a screenshot: <out>/<engine>-leader-crash.png.

Usage: ballot_sim_browser_test.py BALLOT_SIM_BINARY OUTPUT_DIR [ENGINE...]
Exit 0: passed; 1: failed; 77: skipped (no chromium: scripts/setup.sh installs Debian's).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from live_view_browser_test import SKIP, Browser, wait_for  # noqa: E402

# What the page shows: lanes, drawn elements, the info line and the zoom scale.
PAGE_STATE = """JSON.stringify({
  lanes: document.querySelectorAll('#lanes div').length,
  arrows: document.querySelectorAll('#canvas .msg').length,
  marks: document.querySelectorAll('#canvas .mark').length,
  info: document.getElementById('info').textContent,
  scale: document.getElementById('scale').textContent,
  nodes: run.nodes})"""


def state(browser):
    return json.loads(browser.evaluate(PAGE_STATE) or "{}")


def check_engine(sim, chromium, engine, out_dir, root):
    page = os.path.join(out_dir, f"{engine}-leader-crash.html")
    subprocess.run([sim, "--protocol", engine, "--seed", "7", "--scenario", "leader-crash", "--out", page],
                   check=True, stdout=subprocess.DEVNULL, timeout=120)
    browser = Browser(chromium, os.path.join(root, engine + "-profile"))
    try:
        browser.open("file://" + os.path.abspath(page))
        browser.call("Network.enable")  # and load it again, so that every request is seen
        browser.call("Page.reload")
        s = wait_for("the diagram to be drawn", lambda: (s := state(browser)) and s.get("arrows", 0) > 0 and s)
        if s["lanes"] != s["nodes"]:
            raise AssertionError(f"{s['lanes']} lanes for {s['nodes']} nodes")
        if s["marks"] == 0:
            raise AssertionError("no marks drawn")
        browser.evaluate("document.querySelector('#canvas .hit').dispatchEvent(new MouseEvent('click'))")
        info = state(browser)["info"]
        if " -> " not in info or "sent " not in info:
            raise AssertionError("clicking an arrow did not show its message: " + info)
        before = s["scale"]
        browser.evaluate("document.getElementById('zoom-in').click()")
        if state(browser)["scale"] == before:
            raise AssertionError("zoom in did not change the scale")
        browser.evaluate("document.getElementById('zoom-out').click()")
        # The crash is at ~600 ms: show 540 ms onwards.
        browser.evaluate("scroller.scrollTop = y(540000) - TOP; draw()")
        browser.screenshot(os.path.join(out_dir, f"{engine}-leader-crash.png"))
        requests = [e["params"]["request"]["url"] for e in browser.events
                    if e["method"] == "Network.requestWillBeSent"]
        fetched = [u for u in requests if not u.startswith("file://")]
        if fetched:
            raise AssertionError("the page fetched " + ", ".join(fetched))
        errors = browser.errors()
        if errors:
            raise AssertionError("console errors: " + "; ".join(errors))
        print(f"{engine}: {s['lanes']} lanes, {s['arrows']} arrows and {s['marks']} marks drawn; "
              f"a click shows: {info.splitlines()[0][:80]}")
    finally:
        browser.close()


def passes(sim, chromium, engine, out_dir, root):
    """One engine's check; a failure is printed, and does not hide the other engines'."""
    try:
        check_engine(sim, chromium, engine, out_dir, root)
        return True
    except Exception as e:
        print(f"FAIL {engine}: {e}")
        return False


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    sim, out_dir, engines = sys.argv[1], sys.argv[2], sys.argv[3:] or ["raft", "multipaxos", "paxos"]
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("SKIP: no chromium (scripts/setup.sh installs Debian's): ballot-sim's page was not tested")
        return SKIP
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ballot-sim-browser-") as root:
        results = [passes(sim, chromium, engine, out_dir, root) for engine in engines]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
