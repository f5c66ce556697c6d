#!/usr/bin/env python3
"""A command client for the engine's tests that handles one request at a
time, with redis-py's Sentinel client and a socket timeout (5 s) longer
than the harness's operation timeout: while the master hangs, requests
queue behind the hanging one and their answers come late."""
import json
import os
import sys

from redis.sentinel import Sentinel

sentinels = [tuple(hp.rsplit(":", 1)) for hp in os.environ["REDISHA_SENTINELS"].split(",")]
sentinels = [(h, int(p)) for h, p in sentinels]
s = Sentinel(sentinels, socket_timeout=5, sentinel_kwargs={"socket_timeout": 1})
master = s.master_for(os.environ["REDISHA_MASTER_NAME"], socket_timeout=5,
                      password=os.environ.get("REDISHA_PASSWORD") or None)
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    try:
        master.set(req["key"], req["value"])
        ans = {"id": req["id"], "ok": True}
    except Exception as e:
        ans = {"id": req["id"], "ok": False, "error": str(e) or type(e).__name__}
    print(json.dumps(ans), flush=True)
