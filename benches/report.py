#!/usr/bin/env python3
"""report.py - markdown tables for ci/bench (stdlib only).

  report.py machine                 the host: cores, CPU model, memory, kernel,
                                    rustc, QEMU, load average
  report.py criterion DIR           one row per criterion benchmark found under
                                    DIR (target/criterion): median with its 95%
                                    confidence interval, and the throughput at the
                                    median
  report.py anchor FILE             qmp_anchor.py JSON lines (one per server) side
                                    by side, one column per server

Everything printed is read from files this run wrote; nothing is estimated.
"""

import json
import os
import platform
import subprocess
import sys

# Groups in the order benches/engine.rs runs them.
GROUP_ORDER = ["framing", "dispatch", "broadcast_stop_cont", "digest", "snapshot", "trace_lifecycle"]

# What one "element" of a group's Throughput::Elements counts.
ELEMENT_UNITS = {
    "dispatch": "requests/s",
    "broadcast_stop_cont": "events delivered/s",
    "trace_lifecycle": "steps/s",
}


def run_first_line(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0] if lines and out.returncode == 0 else None


def machine():
    model = None
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = None
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    rows = [
        ("cores (`nproc`)", run_first_line(["nproc"])),
        ("CPU model", model),
        ("memory", "%.1f GiB" % (mem_kb / 1024 / 1024) if mem_kb else None),
        ("kernel", platform.release()),
        ("rustc", run_first_line(["rustc", "--version"])),
        ("QEMU", run_first_line(["qemu-system-x86_64", "--version"]) or "not installed"),
        ("python", platform.python_version()),
        ("load average (1, 5, 15 min) at start", load),
    ]
    print("| | |\n| --- | --- |")
    for k, v in rows:
        print("| %s | %s |" % (k, v if v is not None else "unknown"))


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return "%.3g %s" % (ns / scale, unit)
    return "%.3g ns" % ns


def fmt_rate(per_s, unit):
    for prefix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if per_s >= scale:
            return "%.3g %s%s" % (per_s / scale, prefix, unit)
    return "%.3g %s" % (per_s, unit)


def row_key(bench):
    group = bench["group_id"]
    rank = GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER)
    value = bench.get("value_str") or ""
    number = int(value) if value.isdigit() else 0
    return (rank, group, number, bench["full_id"])


def criterion(root):
    rows = []
    for dirpath, _dirs, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            median = json.load(f)["median"]
        rows.append((bench, median))
    if not rows:
        print("no criterion results under %s" % root)
        return 1
    rows.sort(key=lambda r: row_key(r[0]))
    print("| benchmark | median | 95% CI of the median | throughput at the median |")
    print("| --- | ---: | ---: | ---: |")
    for bench, median in rows:
        ns = median["point_estimate"]
        ci = median["confidence_interval"]
        thr = bench.get("throughput") or {}
        rate = ""
        if "Bytes" in thr:
            rate = "%.1f MB/s" % (thr["Bytes"] / ns * 1e9 / 1e6)
        elif "Elements" in thr:
            unit = ELEMENT_UNITS.get(bench["group_id"], "elements/s")
            rate = fmt_rate(thr["Elements"] / ns * 1e9, unit)
        print("| `%s` | %s | %s – %s | %s |" % (
            bench["full_id"], fmt_time(ns), fmt_time(ci["lower_bound"]),
            fmt_time(ci["upper_bound"]), rate))
    return 0


def dig(obj, *path):
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def show(v, fmt="%s"):
    return "–" if v is None else fmt % v


def version_of(r):
    v = dig(r, "greeting_obj", "QMP", "version", "qemu")
    if not v:
        return None
    caps = dig(r, "greeting_obj", "QMP", "capabilities")
    return "%s.%s.%s, capabilities %s" % (v["major"], v["minor"], v["micro"], json.dumps(caps))


ANCHOR_ROWS = [
    ("greeting: QMP version", version_of),
    ("spawn → socket connectable, median", lambda r: show(dig(r, "greeting", "spawn_to_connect", "median_ms"), "%.1f ms")),
    ("spawn → greeting line, median", lambda r: show(dig(r, "greeting", "spawn_to_greeting", "median_ms"), "%.1f ms")),
    ("spawn → `qmp_capabilities` answered, median", lambda r: show(dig(r, "greeting", "spawn_to_caps_done", "median_ms"), "%.1f ms")),
    ("sequential `query-status` round trip p50", lambda r: show(dig(r, "seq_query_status", "median_us"), "%.0f µs")),
    ("sequential `query-status` round trip p99", lambda r: show(dig(r, "seq_query_status", "p99_us"), "%.0f µs")),
    ("sequential `query-status`, round trips/s", lambda r: show(dig(r, "seq_query_status", "wall_ops_per_s"), "%.0f")),
    ("server CPU per sequential `query-status`", lambda r: show(dig(r, "seq_query_status", "server_cpu_us_per_op"), "%.0f µs")),
    ("`query-status` reply size", lambda r: show(dig(r, "seq_query_status", "reply_bytes_mean"), "%.0f B")),
    ("pipelined `query-status`, responses/s", lambda r: show(dig(r, "pipe_query_status", "responses_per_s"), "%.0f")),
    ("pipelined: complete and in order", lambda r: show(None if dig(r, "pipe_query_status", "in_order") is None else (dig(r, "pipe_query_status", "in_order") and dig(r, "pipe_query_status", "errors") == 0))),
    ("`query-commands` round trip p50", lambda r: show(dig(r, "seq_query_commands", "median_us"), "%.0f µs")),
    ("`query-commands` round trip p99", lambda r: show(dig(r, "seq_query_commands", "p99_us"), "%.0f µs")),
    ("`query-commands`: commands, reply size", lambda r: None if dig(r, "query_commands_count") is None else "%d, %.0f B" % (r["query_commands_count"], dig(r, "seq_query_commands", "reply_bytes_mean"))),
    ("RSS after `qmp_capabilities`", lambda r: show(dig(r, "server_pid_mem_after_caps_kB", "VmRSS"), "%d kB")),
    ("peak RSS (VmHWM) at the end", lambda r: show(dig(r, "server", "mem_kB", "VmHWM"), "%d kB")),
    ("threads", lambda r: show(dig(r, "server", "mem_kB", "Threads"))),
    ("server CPU time over the session (user+sys)", lambda r: show(dig(r, "server", "cpu_s_during_run"), "%.2f s")),
    ("wall time of the session", lambda r: show(dig(r, "server", "wall_s_during_run"), "%.2f s")),
]


def anchor(path):
    results = []
    with open(path) as f:
        for line in f:
            if line.strip():
                results.append(json.loads(line))
    if not results:
        print("no anchor results in %s" % path)
        return 1
    print("| | " + " | ".join("`%s`" % r.get("label", "?") for r in results) + " |")
    print("| --- |" + " ---: |" * len(results))
    for name, get in ANCHOR_ROWS:
        cells = []
        for r in results:
            cells.append(("failed: " + r.get("error", "?")) if not r.get("ok") else (get(r) or "–"))
        print("| %s | %s |" % (name, " | ".join(cells)))
    print()
    for r in results:
        print("- `%s`: `%s`" % (r.get("label"), r.get("server_cmd")))
    params = next((r["params"] for r in results if r.get("params")), None)
    if params:
        print("- parameters: %s" % json.dumps(params))
    return 0


def main(argv):
    if len(argv) >= 1 and argv[0] == "machine":
        machine()
        return 0
    if len(argv) == 2 and argv[0] == "criterion":
        return criterion(argv[1])
    if len(argv) == 2 and argv[0] == "anchor":
        return anchor(argv[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
