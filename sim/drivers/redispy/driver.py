#!/usr/bin/env python3
"""redisha-sim's redis-py driver: redis-py's Sentinel client behind the
client protocol (README, "Client protocol").

It reads one JSON request per line on stdin, runs it with
redis.sentinel.Sentinel(...).master_for (set) or .slave_for (get), and
prints one JSON answer per line on stdout. Requests run on a few threads,
so answers may come in any order. It exits when stdin closes.

Environment: REDISHA_SENTINELS (host:port,...), REDISHA_MASTER_NAME,
REDISHA_PASSWORD, REDISHA_SENTINEL_PASSWORD, REDISHA_TIMEOUT_MS (the harness's operation timeout,
used as the socket timeout), REDISHA_DRIVER_THREADS (default 8).
"""
import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import redis
from redis.sentinel import Sentinel, SentinelManagedConnection

out_lock = threading.Lock()
served = threading.local()  # the address the last command of a thread went to


def say(obj):
    line = json.dumps(obj, separators=(",", ":"))
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class TracedConnection(SentinelManagedConnection):
    """Remembers, per thread, the node each command was sent to."""

    def send_packed_command(self, command, check_health=True):
        served.addr = "%s:%s" % (self.host, self.port)
        return super().send_packed_command(command, check_health)


def main():
    sentinels = []
    for hp in os.environ["REDISHA_SENTINELS"].split(","):
        host, port = hp.rsplit(":", 1)
        sentinels.append((host, int(port)))
    name = os.environ["REDISHA_MASTER_NAME"]
    password = os.environ.get("REDISHA_PASSWORD") or None
    timeout = int(os.environ.get("REDISHA_TIMEOUT_MS", "1000")) / 1000.0
    threads = int(os.environ.get("REDISHA_DRIVER_THREADS", "8"))

    sentinel_kwargs = {"socket_timeout": timeout}
    sentinel_password = os.environ.get("REDISHA_SENTINEL_PASSWORD") or None
    if sentinel_password:
        sentinel_kwargs["password"] = sentinel_password
    sentinel = Sentinel(sentinels, socket_timeout=timeout, password=password,
                        sentinel_kwargs=sentinel_kwargs)
    master = sentinel.master_for(name, socket_timeout=timeout, socket_connect_timeout=timeout,
                                 connection_class=TracedConnection)
    replica = sentinel.slave_for(name, socket_timeout=timeout, socket_connect_timeout=timeout,
                                 connection_class=TracedConnection)

    def run(req):
        rid = req["id"]
        served.addr = None
        try:
            if req["op"] == "set":
                master.set(req["key"], req["value"])
                ans = {"id": rid, "ok": True}
            else:
                v = replica.get(req["key"])
                ans = {"id": rid, "ok": True, "value": None if v is None else v.decode()}
        except Exception as e:  # every failure is an answer
            msg = str(e) or type(e).__name__
            if isinstance(e, redis.exceptions.TimeoutError):
                msg = "timeout: " + msg
            ans = {"id": rid, "ok": False, "error": msg}
            if isinstance(e, redis.sentinel.MasterNotFoundError) or (
                    isinstance(e, redis.exceptions.ConnectionError) and "refused" in msg):
                ans["sent"] = False
        if served.addr:
            ans["addr"] = served.addr
        say(ans)

    say({"ready": True})
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for line in sys.stdin:
            pool.submit(run, json.loads(line))


if __name__ == "__main__":
    main()
