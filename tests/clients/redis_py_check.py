#!/usr/bin/python3
"""redis-py (Debian python3-redis) against a running Ballot cluster, as an application uses it.

Usage: redis_py_check.py PORT [PORT...]   (the client ports of the cluster's nodes)
Prints one line per check and exits 0 when every check passed, 1 at the first that did not,
77 when python3-redis is not installed.
"""
import sys
import time

try:
    import redis
except ImportError:
    print("SKIP: python3-redis is not installed (scripts/setup.sh installs it)")
    sys.exit(77)


def check(what, got, want):
    if got != want:
        print(f"FAIL {what}: got {got!r}, want {want!r}")
        sys.exit(1)
    print(f"ok   {what}")


def expect_error(what, call, text):
    try:
        got = call()
    except redis.ResponseError as e:
        if text not in str(e):
            print(f"FAIL {what}: error {e!r} does not contain {text!r}")
            sys.exit(1)
        print(f"ok   {what}: {e}")
        return
    print(f"FAIL {what}: got {got!r}, want an error containing {text!r}")
    sys.exit(1)


def main(ports):
    # client_name makes redis-py send CLIENT SETNAME on every new connection.
    clients = [redis.Redis(host="127.0.0.1", port=p, client_name="ballot-py", socket_timeout=30,
                           decode_responses=True) for p in ports]
    r = clients[0]
    check("PING", r.ping(), True)
    check("ECHO", r.echo("hi"), "hi")
    check("CLIENT GETNAME", r.client_getname(), "ballot-py")
    check("CLIENT ID is a number", isinstance(r.client_id(), int), True)
    check("CLIENT SETINFO", r.execute_command("CLIENT", "SETINFO", "LIB-NAME", "redis-py"), "OK")
    check("CLIENT LIST names this connection",
          any(c.get("name") == "ballot-py" for c in r.client_list()), True)
    check("SELECT 0", r.execute_command("SELECT", 0), True)
    expect_error("SELECT 1", lambda: r.execute_command("SELECT", 1), "DB index is out of range")
    expect_error("HELLO 3", lambda: r.execute_command("HELLO", 3), "NOPROTO")
    check("HELLO 2 proto", r.execute_command("HELLO", 2)[5], 2)
    check("COMMAND COUNT > 0", r.command_count() > 0, True)
    check("COMMAND lists get", "get" in r.command(), True)

    # A pipeline of 100 SETs without MULTI: one round trip, answered in order.
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.set(f"py:{i}", f"v{i}")
    check("pipeline of 100 SETs", pipe.execute(), [True] * 100)
    for c in clients:  # every node reads every write (followers forward, reads are linearizable)
        check(f"GET through port {c.connection_pool.connection_kwargs['port']}", c.get("py:99"), "v99")
    check("MSET", r.mset({"py:a": "1", "py:b": "2"}), True)
    check("MGET", r.mget(["py:a", "py:missing", "py:b"]), ["1", None, "2"])
    check("INCRBY", r.incrby("py:n", 5), 5)
    check("DECRBY", r.decrby("py:n", 2), 3)
    check("DECR", r.decr("py:n"), 2)
    check("EXISTS", r.exists("py:a", "py:b", "py:missing"), 2)
    check("STRLEN", r.strlen("py:99"), 3)
    check("GETSET", r.getset("py:a", "10"), "1")
    check("GETDEL", r.getdel("py:a"), "10")
    check("SETNX new", r.setnx("py:a", "x"), True)
    check("SETNX existing", r.setnx("py:a", "y"), False)
    check("DEL", r.delete("py:a", "py:b"), 2)
    # Key expiry in cluster time (README "Keys that expire, and leases").
    check("SET PX", r.set("py:ttl", "v", px=60000), True)
    check("PTTL within the TTL", 0 < r.pttl("py:ttl") <= 60000, True)
    check("TTL in seconds", r.ttl("py:ttl") in (59, 60), True)
    check("SET NX on an existing key", r.set("py:ttl", "w", nx=True), None)
    check("SET XX GET", r.set("py:ttl", "w", xx=True, get=True), "v")
    check("PTTL after a plain SET", r.pttl("py:ttl"), -1)
    check("PEXPIRE", r.pexpire("py:ttl", 200), True)
    check("PERSIST", r.persist("py:ttl"), True)
    check("PTTL of a missing key", r.pttl("py:missing"), -2)
    check("SET EX then EXPIRE GT", (r.set("py:ex", "v", ex=100), r.expire("py:ex", 200, gt=True)), (True, True))
    check("SET PX 300", r.set("py:short", "v", px=300), True)
    lease = r.execute_command("LEASE", "GRANT", 60000)
    check("LEASE GRANT gives an id", isinstance(lease, int) and lease > 0, True)
    check("SET ... LEASE", r.execute_command("SET", "py:leased", "v", "LEASE", lease), True)
    check("LEASE KEEPALIVE", r.execute_command("LEASE", "KEEPALIVE", lease), 60000)
    check("LEASE REVOKE", r.execute_command("LEASE", "REVOKE", lease), "OK")
    check("the lease's key went with it", r.get("py:leased"), None)
    expect_error("LEASE TTL once revoked", lambda: r.execute_command("LEASE", "TTL", lease), "lease not found")
    # The 300 ms key goes without any client traffic: the leader's clock ticks move time.
    deadline = time.monotonic() + 10
    while r.exists("py:short") and time.monotonic() < deadline:
        time.sleep(0.05)
    check("SET PX 300 key gone within 10 s", r.exists("py:short"), 0)
    # MULTI/EXEC is not supported: a transactional pipeline fails, and none of it is applied.
    tx = r.pipeline(transaction=True)
    tx.set("py:tx", "1")
    expect_error("pipeline(transaction=True)", tx.execute, "MULTI is not supported by Ballot")
    check("nothing of the refused transaction applied", r.get("py:tx"), None)
    print("all redis-py checks passed")


if __name__ == "__main__":
    main([int(p) for p in sys.argv[1:]])
