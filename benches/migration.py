#!/usr/bin/env python3
"""Live migration of a VM between two qmpsim processes over a unix socket,
timed: wall time from `migrate` to `completed` on the source, and virtual time
from the source's RESUME event (a `stop`/`cont` just before `migrate`) to its
STOP event (the final stage). Run by ci/bench; prints one markdown row per
speed and appends JSON lines to --out.

usage: migration.py --qmpsim PATH [--ram-mb 1024] [--speeds default,1073741824]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

TIMEOUT_S = 120
# Pause between query-migrate polls: longer than the idle clock's 20 ms, so that
# virtual time can jump to the next migration tick in between (every message
# also moves it by 1 ms).
POLL_S = 0.05


class Qmp:
    def __init__(self, path):
        deadline = time.monotonic() + 10
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self.file = self.sock.makefile("rw")
        self.events = []
        self.file.readline()
        self.execute("qmp_capabilities")

    def execute(self, cmd, **args):
        self.file.write(json.dumps({"execute": cmd, "arguments": args}) + "\n")
        self.file.flush()
        while True:
            msg = json.loads(self.file.readline())
            if "event" in msg:
                self.events.append(msg)
            else:
                return msg

    def event_time(self, name):
        """The timestamp of the last `name` event, in seconds."""
        for e in reversed(self.events):
            if e["event"] == name:
                ts = e["timestamp"]
                return ts["seconds"] + ts["microseconds"] / 1e6
        return None


def spawn(qmpsim, workdir, name, *args):
    sock = os.path.join(workdir, f"{name}.sock")
    proc = subprocess.Popen(
        [qmpsim, "-qmp", f"unix:{sock},server,nowait", *args],
        stderr=subprocess.DEVNULL,
    )
    return proc, sock


def one(qmpsim, ram_mb, speed):
    with tempfile.TemporaryDirectory() as w:
        mig = os.path.join(w, "mig.sock")
        dst, dsock = spawn(qmpsim, w, "dst", "-m", str(ram_mb), "-incoming", f"unix:{mig}")
        src, ssock = spawn(qmpsim, w, "src", "-m", str(ram_mb))
        try:
            s = Qmp(ssock)
            d = Qmp(dsock)
            if speed != "default":
                s.execute("migrate_set_speed", value=int(speed))
            s.execute("stop")
            s.execute("cont")
            start = time.monotonic()
            s.execute("migrate", uri=f"unix:{mig}")
            while True:
                status = s.execute("query-migrate")["return"].get("status")
                if status != "active":
                    break
                assert time.monotonic() - start < TIMEOUT_S, "migration never ended"
                time.sleep(POLL_S)
            wall = time.monotonic() - start
            while d.execute("query-status")["return"]["running"] is not True:
                assert time.monotonic() - start < TIMEOUT_S, "destination never ran"
                time.sleep(POLL_S)
            landed = time.monotonic() - start
            virtual = s.event_time("STOP") - s.event_time("RESUME")
            return {
                "ram_mb": ram_mb,
                "speed": speed,
                "status": status,
                "virtual_s": round(virtual, 3),
                "wall_s": round(wall, 3),
                "destination_running_s": round(landed, 3),
            }
        finally:
            src.kill()
            dst.kill()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--qmpsim", required=True)
    p.add_argument("--ram-mb", type=int, default=1024)
    p.add_argument("--speeds", default="default,1073741824")
    p.add_argument("--out")
    a = p.parse_args()
    print("| RAM | speed (B/s) | status | virtual time | wall time to `completed` | wall time to destination running |")
    print("| ---: | ---: | --- | ---: | ---: | ---: |")
    for speed in a.speeds.split(","):
        r = one(a.qmpsim, a.ram_mb, speed)
        shown = "32 MiB/s (default)" if speed == "default" else speed
        print(f"| {a.ram_mb} MiB | {shown} | {r['status']} | {r['virtual_s']} s | {r['wall_s']} s | {r['destination_running_s']} s |")
        if a.out:
            with open(a.out, "a") as f:
                f.write(json.dumps(r) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
