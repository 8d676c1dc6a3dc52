#!/usr/bin/env python3
"""write_ahead.py - the cost of write-ahead recording (`-record`) on the
pipelined benchmark, by one command.

Runs benches/qmp_anchor.py's pipelined phase (--n-pipe query-status requests
written in one burst while the responses are read) against the same qmpsim
binary without and with `-record`, alternating the two --pairs times so that
both see the same load, and prints per pair and as medians:

  responses/s           wall-clock throughput of the burst
  server CPU us/op      the server's user+sys CPU time per request (less
                        sensitive to other processes than the wall clock)

and the recording cost: how much slower (throughput) and how much more CPU
per request the recording server is (aim: at most 15%). The load average is
printed before and after, since every figure depends on it.

Usage: python3 benches/write_ahead.py --qmpsim target/release/qmpsim
         [--pairs 5] [--n-pipe 100000] [--out FILE.jsonl]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def anchor(qmpsim, record, n_pipe, workdir):
    """One qmp_anchor.py run of the pipelined phase; its pipe result."""
    cmd = f"{qmpsim} -nodefaults -qmp unix:{{sock}},server,nowait"
    if record:
        cmd += f" -record {workdir}/bench.qmptrace"
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "qmp_anchor.py"), "--label",
         "record" if record else "plain", "--server-cmd", cmd, "--spawns", "0",
         "--n-seq", "0", "--n-cmds", "0", "--n-pipe", str(n_pipe)],
        check=True, capture_output=True, text=True).stdout
    pipe = json.loads(out)["pipe_query_status"]
    if not pipe["in_order"] or pipe["errors"]:
        raise SystemExit(f"write_ahead.py: responses lost or out of order: {pipe}")
    return pipe


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--qmpsim", required=True, help="the qmpsim binary (release)")
    ap.add_argument("--pairs", type=int, default=5, help="runs without and with -record")
    ap.add_argument("--n-pipe", type=int, default=100000, help="requests in the burst")
    ap.add_argument("--out", help="append one JSON line with every figure to this file")
    args = ap.parse_args()
    before = load()
    rows = []
    with tempfile.TemporaryDirectory(prefix="qmpsim-wal-") as workdir:
        for pair in range(1, args.pairs + 1):
            plain = anchor(args.qmpsim, False, args.n_pipe, workdir)
            record = anchor(args.qmpsim, True, args.n_pipe, workdir)
            trace_bytes = os.path.getsize(f"{workdir}/bench.qmptrace")
            rows.append((plain, record, trace_bytes))
            print(f"pair {pair}: without -record {plain['responses_per_s']:>10,.0f} responses/s "
                  f"{plain.get('server_cpu_us_per_op', float('nan')):6.2f} us CPU/op; "
                  f"with {record['responses_per_s']:>10,.0f} responses/s "
                  f"{record.get('server_cpu_us_per_op', float('nan')):6.2f} us CPU/op "
                  f"({trace_bytes:,} trace bytes)")
    after = load()

    def median(key, which):
        return statistics.median(r[which][key] for r in rows)

    rps_plain, rps_record = median("responses_per_s", 0), median("responses_per_s", 1)
    cpu_plain = median("server_cpu_us_per_op", 0)
    cpu_record = median("server_cpu_us_per_op", 1)
    slower = 1 - rps_record / rps_plain
    more_cpu = cpu_record / cpu_plain - 1
    print(f"median of {args.pairs}: without -record {rps_plain:,.0f} responses/s, "
          f"{cpu_plain:.2f} us CPU/op; with -record {rps_record:,.0f} responses/s, "
          f"{cpu_record:.2f} us CPU/op")
    print(f"recording cost: {slower:+.1%} throughput lost, {more_cpu:+.1%} server CPU per "
          f"request (aim: at most 15%)")
    print(f"load average (1, 5, 15 min): {before} before, {after} after")
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps({
                "pairs": [{"plain": p, "record": r, "trace_bytes": b} for p, r, b in rows],
                "responses_per_s": {"plain": rps_plain, "record": rps_record},
                "server_cpu_us_per_op": {"plain": cpu_plain, "record": cpu_record},
                "throughput_lost": slower, "cpu_added": more_cpu,
                "load_before": before, "load_after": after,
            }) + "\n")


if __name__ == "__main__":
    main()
