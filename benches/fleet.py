#!/usr/bin/env python3
"""fleet.py - `qmpsim fleet` at scale: start, greet, one query-status round, memory.

Stdlib only.  For each --count (default 1 and 10000) it starts
``QMPSIM fleet --count N --dir DIR --manifest FILE -S``, measures spawn -> the
ready line (every socket listens), then runs the load client
(``QMP_LOAD fleet --manifest FILE -j J``: connect, greeting and
qmp_capabilities on every VM, then one query-status round over all of them),
and reads the fleet's VmRSS / VmHWM after the round.  The fleet is stopped with
SIGTERM (by its PID only).

Prints one JSON line per count, then a summary line with the RSS per extra VM:
(RSS(N) - RSS(1)) / (N - 1).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def proc_mem_kb(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def auto_window(count):
    """Most sessions the load client keeps open at once: every VM when the hard
    open-file limit holds a listener and a client for each (with room to
    spare), else what it leaves after the listeners (``qmpsim fleet`` says the
    same on stderr)."""
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return count
    return max(1, min(count, hard - count - 128))


def one(qmpsim, qmp_load, count, jobs, timeout, window=None):
    work = tempfile.mkdtemp(prefix="qmpfleet-")
    manifest = os.path.join(work, "m.json")
    argv = [qmpsim, "fleet", "--count", str(count), "--dir", os.path.join(work, "s"),
            "--manifest", manifest, "-S"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        line = proc.stdout.readline().decode()
        t_ready = time.perf_counter() - t0
        if "fleet ready" not in line:
            err = proc.stderr.read(2000).decode("utf-8", "replace")
            raise RuntimeError("no ready line: %r %s" % (line, err))
        mem_ready = proc_mem_kb(proc.pid)
        window = window or auto_window(count)
        load = subprocess.run([qmp_load, "fleet", "--manifest", manifest, "-j", str(jobs),
                               "--window", str(window)],
                              capture_output=True, text=True, timeout=timeout)
        t_greeted = time.perf_counter() - t0
        if load.returncode != 0:
            raise RuntimeError("load client failed: %s" % load.stderr.strip())
        res = json.loads(load.stdout.strip().splitlines()[-1])
        mem = proc_mem_kb(proc.pid)
        res.update({
            "count": count,
            "spawn_to_ready_s": round(t_ready, 4),
            "spawn_to_all_greeted_s": round(t_ready + res["connect_greet_caps_s"], 4),
            "wall_spawn_to_load_done_s": round(t_greeted, 4),
            "rss_kB_at_ready": mem_ready.get("VmRSS"),
            "rss_kB_after_round": mem.get("VmRSS"),
            "hwm_kB": mem.get("VmHWM"),
        })
        return res
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qmpsim", required=True)
    ap.add_argument("--qmp-load", required=True, help="the benches/qmp_load.rs binary")
    ap.add_argument("--counts", default="1,10000")
    ap.add_argument("-j", "--jobs", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--window", type=int,
                    help="most sessions open at once (default: what the open-file limit allows)")
    ap.add_argument("--out", help="also append the JSON lines to this file")
    args = ap.parse_args(argv)
    results = []
    for count in [int(c) for c in args.counts.split(",")]:
        try:
            r = one(args.qmpsim, args.qmp_load, count, args.jobs, args.timeout, args.window)
            r["ok"] = True
        except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
            r = {"count": count, "ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        results.append(r)
    ok = [r for r in results if r.get("ok")]
    summary = {"summary": True}
    if len(ok) >= 2:
        small, big = ok[0], ok[-1]
        summary["rss_per_extra_vm_kB"] = round(
            (big["rss_kB_after_round"] - small["rss_kB_after_round"])
            / (big["count"] - small["count"]), 2)
        summary["count"] = big["count"]
    results.append(summary)
    for r in results:
        line = json.dumps(r)
        print(line, flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(line + "\n")
    return 0 if all(r.get("ok") for r in results[:-1]) else 1


if __name__ == "__main__":
    sys.exit(main())
