#!/usr/bin/python3
"""A key's TTL across a leader kill, with redis-py (Debian python3-redis).

Usage: redis_py_ttl_failover.py TTL_MS MAX_STRETCH_MS LEADER_PORT LEADER_PID PORT [PORT...]
Sets a key with PX TTL_MS through the leader (basic Paxos: the node that ticks the clock), kills
that process with SIGKILL a third of the way through the TTL, and watches the key through the
other nodes. Cluster time is committed through the log (README "Keys that expire, and leases"),
so the key must neither go early (before TTL_MS after the SET was sent) nor late (more than
MAX_STRETCH_MS after that: one election timeout, the clock-tick interval and slack for polling).
Exits 0 when both hold, 1 otherwise, 77 when python3-redis is not installed.
"""
import os
import signal
import sys
import time

try:
    import redis
except ImportError:
    print("SKIP: python3-redis is not installed (scripts/setup.sh installs it)")
    sys.exit(77)


def fail(what):
    print(f"FAIL {what}")
    sys.exit(1)


def with_retries(call, deadline):
    """Calls until it answers: during the election the survivors may answer -TRYAGAIN."""
    while True:
        try:
            return call()
        except (redis.ResponseError, redis.ConnectionError, redis.TimeoutError) as e:
            if time.monotonic() > deadline:
                fail(f"no answer before the deadline: {e}")
            time.sleep(0.02)


def main(ttl_ms, max_stretch_ms, leader_port, leader_pid, ports):
    leader = redis.Redis(host="127.0.0.1", port=leader_port, socket_timeout=10, decode_responses=True)
    survivors = [redis.Redis(host="127.0.0.1", port=p, socket_timeout=10, decode_responses=True) for p in ports]
    sent = time.monotonic()
    if leader.set("ttl:failover", "v", px=ttl_ms) is not True:
        fail("SET PX was not acknowledged")
    pttl = leader.pttl("ttl:failover")
    if not 0 < pttl <= ttl_ms:
        fail(f"PTTL right after SET is {pttl}, want 1..{ttl_ms}")
    print(f"ok   SET PX {ttl_ms}, PTTL {pttl}")
    time.sleep(ttl_ms / 3000)
    os.kill(leader_pid, signal.SIGKILL)
    killed = time.monotonic()
    print(f"ok   killed the leader {(killed - sent) * 1000:.0f} ms after the SET")
    deadline = sent + (ttl_ms + max_stretch_ms + 10000) / 1000
    r = survivors[0]
    pttl = with_retries(lambda: r.pttl("ttl:failover"), deadline)
    elapsed_ms = (time.monotonic() - sent) * 1000
    print(f"ok   after the failover ({elapsed_ms:.0f} ms after the SET): PTTL {pttl}")
    if pttl == -2:
        fail(f"the key was gone {elapsed_ms:.0f} ms after the SET, before its TTL of {ttl_ms} ms")
    if not 0 < pttl <= ttl_ms:
        fail(f"PTTL {pttl} after the failover is out of range 1..{ttl_ms}")
    while True:
        exists = with_retries(lambda: r.exists("ttl:failover"), deadline)
        now = time.monotonic()
        if not exists:
            break
        if now > deadline:
            fail("the key never expired")
        time.sleep(0.01)
    gone_ms = (now - sent) * 1000
    print(f"key gone {gone_ms:.0f} ms after the SET was sent (TTL {ttl_ms} ms, allowed up to "
          f"{ttl_ms + max_stretch_ms} ms): stretched by {gone_ms - ttl_ms:.0f} ms")
    if gone_ms < ttl_ms:
        fail(f"the key expired early: {gone_ms:.0f} ms < {ttl_ms} ms")
    if gone_ms > ttl_ms + max_stretch_ms:
        fail(f"the key expired late: {gone_ms:.0f} ms > {ttl_ms} + {max_stretch_ms} ms")
    for c in survivors[1:]:
        if with_retries(lambda: c.get("ttl:failover"), deadline) is not None:
            fail(f"port {c.connection_pool.connection_kwargs['port']} still has the key")
    print("all TTL failover checks passed")


if __name__ == "__main__":
    a = sys.argv[1:]
    main(int(a[0]), int(a[1]), int(a[2]), int(a[3]), [int(p) for p in a[4:]])
