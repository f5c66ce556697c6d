#!/usr/bin/env python3
"""A command client for the engine's tests, misbehaving on request.

argv[1] is the mode:
  ok        answers every request ok at once (no Redis)
  noready   never prints the ready line
  garbage   ready, then prints a line that is not JSON at the 10th request
  crash     ready, answers 10 requests, then exits with status 3
  unknownid ready, then answers id 999999 at the 10th request
Before anything else it starts a child (sleep) in its own process group,
and writes its pid (the group's id) to $REDISHA_TEST_PIDFILE, so that the
test can check that nothing is left running.
"""
import json
import os
import subprocess
import sys

mode = sys.argv[1]
child = subprocess.Popen(["sleep", "300"])
with open(os.environ["REDISHA_TEST_PIDFILE"], "w") as f:
    f.write("%d %d\n" % (os.getpid(), child.pid))


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


if mode == "noready":
    sys.stdin.read()  # hangs until killed or stdin closes
    sys.exit(0)
say({"ready": True})
n = 0
for line in sys.stdin:
    req = json.loads(line)
    n += 1
    if n == 10 and mode == "garbage":
        print("hello, I am not JSON", flush=True)
        continue
    if n == 10 and mode == "crash":
        sys.exit(3)
    if n == 10 and mode == "unknownid":
        say({"id": 999999, "ok": True})
        continue
    ans = {"id": req["id"], "ok": True}
    if req["op"] == "get":
        ans["value"] = None
    say(ans)
