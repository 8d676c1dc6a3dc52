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
  report.py aims ANCHOR FLEET       each aim of the event loop and fleet: the
                                    figure, its ratio to QEMU -M none and to the
                                    echo floor (from the same run), met or not

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
    ("sequential round trip p50, native client", lambda r: show(dig(r, "seq_query_status_native", "median_us"), "%.1f µs")),
    ("sequential round trip p99, native client", lambda r: show(dig(r, "seq_query_status_native", "p99_us"), "%.1f µs")),
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


def load_jsonl(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                if line.strip():
                    out.append(json.loads(line))
    except OSError:
        pass
    return out


# (aim, path into an anchor result, unit, bound on the ratio to QEMU -M none,
#  bound on the ratio to the echo floor; "<=" or ">=")
AIMS = [
    ("sequential `query-status` round trip p50", ("seq_query_status", "median_us"), "µs", ("<=", 0.2), ("<=", 2.0)),
    ("the same, native client (`qmp_load rtt`)", ("seq_query_status_native", "median_us"), "µs", ("<=", 0.2), ("<=", 2.0)),
    ("pipelined `query-status`, responses/s", ("pipe_query_status", "responses_per_s"), "/s", (">=", 40.0), None),
    ("peak RSS (VmHWM)", ("server", "mem_kB", "VmHWM"), "kB", ("<=", 0.1), None),
    ("spawn → greeting, median", ("greeting", "spawn_to_greeting", "median_ms"), "ms", ("<=", 0.1), None),
]


def judge(ratio, bound):
    if ratio is None or bound is None:
        return ""
    op, limit = bound
    ok = ratio <= limit if op == "<=" else ratio >= limit
    return "%s %s: %s" % (op, limit, "met" if ok else "NOT met")


def aims(anchor_path, fleet_path, label="qmpsim-nodefaults"):
    """Each aim of the event-loop issue, from one run: the figure, its ratio to
    QEMU `-M none` and to the echo floor, and whether the aim is met."""
    by_label = {r.get("label"): r for r in load_jsonl(anchor_path) if r.get("ok")}
    ours, qemu, floor = by_label.get(label), by_label.get("qemu-none"), by_label.get("echo-floor")
    print("| aim | qmpsim | QEMU `-M none` | ratio to QEMU | echo floor | ratio to floor |")
    print("| --- | ---: | ---: | --- | ---: | --- |")
    for name, path, unit, to_qemu, to_floor in AIMS:
        v = dig(ours, *path) if ours else None
        q = dig(qemu, *path) if qemu else None
        e = dig(floor, *path) if floor else None
        rq = v / q if v is not None and q else None
        re_ = v / e if v is not None and e else None
        print("| %s | %s | %s | %s | %s | %s |" % (
            name, show(v, "%.1f " + unit), show(q, "%.1f " + unit),
            "–" if rq is None else "%.3f (%s)" % (rq, judge(rq, to_qemu) or "no aim"),
            show(e, "%.1f " + unit),
            "–" if re_ is None else "%.2f (%s)" % (re_, judge(re_, to_floor) or "no aim")))
    fleet = load_jsonl(fleet_path)
    big = max((r for r in fleet if r.get("ok")), key=lambda r: r["count"], default=None)
    summary = next((r for r in fleet if r.get("summary")), {})
    if big:
        n = big["count"]
        rows = [
            ("fleet of %d: spawn → every VM greeted and negotiated" % n, big["spawn_to_all_greeted_s"], "s", ("<=", 2.0)),
            ("fleet of %d: one `query-status` round over all" % n, big["query_status_round_s"], "s", ("<=", 1.0)),
            ("fleet: RSS per extra VM", summary.get("rss_per_extra_vm_kB"), "kB", ("<=", 64.0)),
        ]
        for name, v, unit, bound in rows:
            print("| %s | %s | – | %s | – | – |" % (name, show(v, "%.3f " + unit), judge(v, bound) if v is not None else "–"))
        print()
        print("- fleet of %d: spawn → ready line %.3f s, connect+greeting+capabilities %.3f s (%d load workers), RSS %s kB after the round, bad replies %d"
              % (n, big["spawn_to_ready_s"], big["connect_greet_caps_s"], big["jobs"], big["rss_kB_after_round"], big["bad_replies"]))
    for r in fleet:
        if not r.get("ok") and not r.get("summary"):
            print("- fleet of %s failed: %s" % (r.get("count"), r.get("error")))
    return 0


def main(argv):
    if len(argv) >= 1 and argv[0] == "machine":
        machine()
        return 0
    if len(argv) == 2 and argv[0] == "criterion":
        return criterion(argv[1])
    if len(argv) == 2 and argv[0] == "anchor":
        return anchor(argv[1])
    if len(argv) == 3 and argv[0] == "aims":
        return aims(argv[1], argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
