#!/usr/bin/env python3
"""The live view in a real browser (issue 14; README "Live view").

For every engine: starts a 3-node cluster of ballot-server with --http on loopback, loads the
page from node 1 in headless Chromium (Debian's `chromium`), and checks over the DevTools
protocol (on a pipe: --remote-debugging-pipe, so no WebSocket library is needed) that
  - every member appears with the role its own /status gives (and a leader, where the engine
    has one),
  - events arrive (the page's event counter grows while a client writes),
  - a leader's card shows a lag bar per peer (engines with a leader),
  - the admin buttons work (the servers run with --http-admin): clicking Crash on node 3's card
    shows it crashed, clicking Restart brings it back,
  - the page logs no console error and throws no exception,
then saves screenshots per engine: <build>/live_view/<engine>.png, and <engine>-crashed.png with
node 3 crashed.

Usage: live_view_browser_test.py BALLOT_SERVER_BINARY OUTPUT_DIR [ENGINE...]
Exit 0: passed; 1: failed; 77: skipped (no chromium: scripts/setup.sh installs Debian's).
The waits below are bounds on progress, not speed targets.
"""
import base64
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SKIP = 77
LIVENESS_S = 20


def free_port_block(low, high, offsets, count=3):
    """A random base port P in [low, high) such that P+i+offset can be bound for every i < count
    and offset."""
    for _ in range(1000):
        base = random.randrange(low, high - count)
        if all(can_bind(base + i + o) for i in range(count) for o in offsets):
            return base
    raise RuntimeError("no free loopback ports")


def client_port_range():
    """bench/local_cluster.h client_port_range(): [low, high) for client ports whose peer port
    (10000 above) stays below the ephemeral range, which outgoing connections take ports from."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral_low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    high = ephemeral_low - 1 - 10000
    return (20000, 45000) if high < 19000 else (16000, high + 1)


def can_bind(port):
    with socket.socket() as s:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Cluster:
    """Three ballot-server processes; node i serves clients on base+i-1 (peers 10000 above) and
    its live view on http_base+i-1: one offset for all, the rule by which the page finds the
    others. Client and peer ports are picked as LocalCluster picks them (bench/local_cluster.h
    client_port_range: below Linux's ephemeral ports); the live-view ports lie in 61000-65535,
    away from both, so that tests run side by side do not take each other's ports."""

    def __init__(self, server, engine, root):
        self.base = free_port_block(*client_port_range(), (0, 10000))
        self.http_base = free_port_block(61000, 65536, (0,))
        self.procs = []
        nodes = []
        for i in range(1, 4):
            nodes += ["--node", f"127.0.0.1:{self.base + i - 1}:{i}"]
        for i in range(1, 4):
            log = open(os.path.join(root, f"{engine}-n{i}.log"), "w")
            args = [server, "--protocol", engine, "--id", str(i), "--data-dir",
                    os.path.join(root, f"{engine}-n{i}"), "--http",
                    f"127.0.0.1:{self.http_port(i)}", "--http-admin"] + nodes
            self.procs.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT))

    def http_port(self, i):
        return self.http_base + i - 1

    def status(self, i):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port(i)}/status", timeout=2) as r:
                return json.load(r)
        except OSError:
            return None

    def write(self, key, value):
        """SET through node 1 with redis-cli (scripts/setup.sh installs redis-tools)."""
        subprocess.run(["redis-cli", "-p", str(self.base), "SET", key, value], capture_output=True, timeout=10)

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


class Browser:
    """Headless Chromium driven over the DevTools protocol on fds 3 (in) and 4 (out)."""

    def __init__(self, chromium, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def child_fds():  # in the child: its ends of the pipes become fds 3 and 4
            ends = os.dup(to_chrome_r), os.dup(from_chrome_w)  # neither is then 3 or 4 by chance
            os.dup2(ends[0], 3)
            os.dup2(ends[1], 4)

        args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                f"--user-data-dir={profile}", "--window-size=1400,1000", "about:blank"]
        self.proc = subprocess.Popen(args, preexec_fn=child_fds, pass_fds=(3, 4),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.next_id = 0
        self.pending = b""
        self.events = []
        self.session = None

    def _read_message(self):
        while b"\0" not in self.pending:
            chunk = os.read(self.from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.pending += chunk
        raw, self.pending = self.pending.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, session=True):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read_message()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def open(self, url):
        targets = self.call("Target.getTargets", session=False)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
            self.call(domain)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
        self.call("Page.navigate", {"url": url})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result.get("result", {}).get("value")

    def errors(self):
        """Console errors, uncaught exceptions and error log entries seen so far."""
        out = []
        for e in self.events:
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:500])
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console." + p["type"] + ": " + json.dumps(p.get("args", []))[:500])
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append("log: " + p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
        return out

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", session=False)
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()


# What the page shows of each node: its card's role, and the page's event counter.
PAGE_STATE = """JSON.stringify({
  roles: Object.fromEntries([...document.querySelectorAll('.node')].map(
      e => [e.id, e.dataset.role])),
  lag_bars: document.querySelectorAll('.progress .bar').length,
  events: Number(document.getElementById('events-count').textContent),
  cluster: document.getElementById('cluster').textContent})"""


def wait_for(what, check, timeout=LIVENESS_S):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def click_admin(browser, node, action):
    """Clicks an admin button on a node's card, as a person would (the card is redrawn often, so
    the button is looked up when it is clicked)."""
    selector = f'button[data-node="{node}"][data-action="{action}"]'
    wait_for(f"the {action} button of node {node}",
             lambda: browser.evaluate(f"(b => b ? (b.click(), true) : false)(document.querySelector('{selector}'))"))


def check_engine(server, chromium, engine, out_dir, root):
    cluster = Cluster(server, engine, root)
    browser = None
    try:
        # Every node up with a settled role (a leader, where the engine has one).
        def settled():
            statuses = [cluster.status(i) for i in (1, 2, 3)]
            if not all(statuses):
                return None
            if statuses[0]["has_leader"] and not any(s["role"] == "leader" for s in statuses):
                return None
            return statuses
        wait_for(engine + " cluster up", settled)
        cluster.write("warm", "up")

        browser = Browser(chromium, os.path.join(root, engine + "-profile"))
        browser.open(f"http://127.0.0.1:{cluster.http_port(1)}/")

        def page_matches_cluster():
            state = json.loads(browser.evaluate(PAGE_STATE) or "{}")
            statuses = [cluster.status(i) for i in (1, 2, 3)]
            want = {f"node-{s['id']}": s["role"] for s in statuses if s}
            return state if state.get("roles") == want and len(want) == 3 else None
        state = wait_for("the page to show every node with its role", page_matches_cluster)
        before = state["events"]
        for i in range(20):
            cluster.write(f"key{i}", f"value{i}")
        state = wait_for("events to arrive on the page",
                         lambda: (s := json.loads(browser.evaluate(PAGE_STATE))) and s["events"] > before and s)
        if settled()[0]["has_leader"]:
            wait_for("a lag bar per peer on the leader's card",
                     lambda: json.loads(browser.evaluate(PAGE_STATE))["lag_bars"] == 2)
        time.sleep(1)  # let the messages of the last writes be drawn in the screenshot
        shot = os.path.join(out_dir, engine + ".png")
        browser.screenshot(shot)

        click_admin(browser, 3, "crash")
        wait_for("node 3 shown crashed",
                 lambda: json.loads(browser.evaluate(PAGE_STATE))["roles"].get("node-3") == "crashed")
        cluster.write("while-crashed", "1")
        time.sleep(1)
        browser.screenshot(os.path.join(out_dir, engine + "-crashed.png"))
        click_admin(browser, 3, "restart")
        wait_for("node 3 back after Restart",
                 lambda: json.loads(browser.evaluate(PAGE_STATE))["roles"].get("node-3") not in
                 (None, "crashed", "down"))
        errors = browser.errors()
        if errors:
            raise AssertionError("console errors: " + "; ".join(errors))
        print(f"{engine}: page shows {state['roles']} ({state['cluster']}), {state['events']} events; "
              f"screenshot {shot}")
    finally:
        if browser:
            browser.close()
        cluster.stop()


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    server, out_dir, engines = sys.argv[1], sys.argv[2], sys.argv[3:] or ["raft", "multipaxos", "paxos"]
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("SKIP: chromium is not installed and could not be (scripts/setup.sh installs Debian's "
              "chromium); the live view was not tested in a browser")
        return SKIP
    os.makedirs(out_dir, exist_ok=True)
    failed = []
    root = tempfile.mkdtemp(prefix="ballot-live-view-")
    try:
        for engine in engines:
            try:
                check_engine(server, chromium, engine, out_dir, root)
            except Exception as e:  # one engine's failure does not hide the others'
                print(f"FAIL {engine}: {e}")
                for i in (1, 2, 3):
                    log = os.path.join(root, f"{engine}-n{i}.log")
                    if os.path.exists(log):
                        print(f"--- {engine} n{i} log tail:\n" + "".join(open(log).readlines()[-10:]))
                failed.append(engine)
    finally:
        if not os.environ.get("BALLOT_KEEP_TEST_DIRS"):
            shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
