#!/usr/bin/env python3
"""proxy_serve.py - what qmpsim proxy adds to a round trip, and how fast qmpsim
serve answers pipelined requests (stdlib only; run by ci/bench).

  latency   sequential round trips of {"execute":"query-status"} after
            qmp_capabilities, directly to a server and through `qmpsim proxy`
            (recording, write-ahead) in front of the same server; the proxy's
            added latency is the difference of the medians. Servers: a release
            qmpsim, and QEMU -M none when installed.
  pipeline  one client writes --n-pipe {"execute":"query-status","id":N}
            requests in one burst (a writer thread) while it reads the
            responses; responses per second from the first write to the last
            response. Servers: QEMU -M none, qmpsim, and `qmpsim serve --pace
            instant` of the same script recorded through the proxy from each
            of them (a fresh serve process per run).

Every server is started on a fresh unix socket and stopped by its own PID.
Prints a markdown table (and one JSON line per figure to --out FILE).

Example:
  python3 benches/proxy_serve.py --qmpsim target/release/qmpsim
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

# The check the Python tests wait with (stdlib only, like this script).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "python"))
from listening import listening  # noqa: E402

TIMEOUT_S = 30


def wait_listening(proc, path):
    deadline = time.monotonic() + TIMEOUT_S
    while not listening(path):
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} before {path} listened")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} never listened")
        time.sleep(0.005)


def start(args, sock):
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_listening(proc, sock)
    return proc


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Client:
    def __init__(self, sock):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(TIMEOUT_S)
        self.s.connect(sock)
        self.r = self.s.makefile("rb")
        self.greeting = self.r.readline()
        self.s.sendall(b'{"execute":"qmp_capabilities"}\n')
        self.response()

    def response(self):
        while True:
            line = self.r.readline()
            if not line:
                raise RuntimeError("the server closed the connection")
            if b'"return"' in line or b'"error"' in line:
                return line

    def close(self):
        self.r.close()
        self.s.close()


def seq_rtts_ns(sock, n, warmup):
    c = Client(sock)
    req = b'{"execute":"query-status"}\n'
    out = []
    for i in range(warmup + n):
        t0 = time.perf_counter_ns()
        c.s.sendall(req)
        c.response()
        if i >= warmup:
            out.append(time.perf_counter_ns() - t0)
    c.close()
    return out


def pipeline_requests(n):
    return b"".join(b'{"execute":"query-status","id":%d}\n' % i for i in range(n))


def pipelined_rate(sock, n):
    """Responses per second for n pipelined requests."""
    c = Client(sock)
    data = pipeline_requests(n)
    t0 = time.perf_counter()
    writer = threading.Thread(target=c.s.sendall, args=(data,))
    writer.start()
    for _ in range(n):
        c.response()
    elapsed = time.perf_counter() - t0
    writer.join()
    c.close()
    return n / elapsed


def median_us(ns):
    return statistics.median(ns) / 1000


def p99_us(ns):
    return sorted(ns)[int(len(ns) * 0.99)] / 1000


class Bench:
    def __init__(self, args):
        self.a = args
        self.dir = tempfile.mkdtemp(prefix="proxy-serve-")
        self.n = 0
        self.rows = []

    def sock(self, name):
        self.n += 1
        return os.path.join(self.dir, f"{name}-{self.n}.sock")

    def server(self, kind):
        sock = self.sock(kind)
        if kind == "qemu":
            args = [self.a.qemu, "-M", "none", "-nodefaults", "-display", "none",
                    "-qmp", f"unix:{sock},server,wait=off"]
        else:
            args = [self.a.qmpsim, "-S", "-display", "none", "-qmp", f"unix:{sock},server,nowait"]
        return start(args, sock), sock

    def proxy(self, upstream, trace):
        sock = self.sock("proxy")
        args = [self.a.qmpsim, "proxy", "--listen", f"unix:{sock}", "--upstream",
                f"unix:{upstream}", "-record", trace]
        return start(args, sock), sock

    def record(self, name, value, unit, **extra):
        row = {"figure": name, "value": value, "unit": unit, **extra}
        self.rows.append(row)
        if self.a.out:
            with open(self.a.out, "a") as f:
                f.write(json.dumps(row) + "\n")

    def latency(self, kind):
        server, sock = self.server(kind)
        try:
            direct = seq_rtts_ns(sock, self.a.n_seq, self.a.warmup)
            proxy, psock = self.proxy(sock, os.path.join(self.dir, f"lat-{kind}.qmptrace"))
            try:
                through = seq_rtts_ns(psock, self.a.n_seq, self.a.warmup)
            finally:
                stop(proxy)
        finally:
            stop(server)
        self.record(f"{kind}: round trip, direct (median)", median_us(direct), "µs",
                    p99=p99_us(direct))
        self.record(f"{kind}: round trip through the proxy (median)", median_us(through), "µs",
                    p99=p99_us(through))
        self.record(f"{kind}: added by the proxy (difference of medians)",
                    median_us(through) - median_us(direct), "µs")

    def pipeline(self, kind):
        server, sock = self.server(kind)
        trace = os.path.join(self.dir, f"pipe-{kind}.qmptrace")
        try:
            direct = max(pipelined_rate(sock, self.a.n_pipe) for _ in range(self.a.rounds))
            proxy, psock = self.proxy(sock, trace)
            try:
                pipelined_rate(psock, self.a.n_pipe)
            finally:
                stop(proxy)
        finally:
            stop(server)
        served = []
        for _ in range(self.a.rounds):
            msock = self.sock("serve")
            serve = start([self.a.qmpsim, "serve", trace, "--listen", f"unix:{msock}",
                           "--pace", "instant"], msock)
            try:
                served.append(pipelined_rate(msock, self.a.n_pipe))
                code = serve.wait(TIMEOUT_S)
                if code != 0:
                    raise RuntimeError(f"serve exited with {code}: {serve.stderr.read()[-2000:]!r}")
            finally:
                stop(serve)
        self.record(f"{kind}: pipelined, direct (best of {self.a.rounds})", direct, "responses/s")
        self.record(f"serve of the {kind} recording, --pace instant (best of {self.a.rounds})",
                    max(served), "responses/s", vs_direct=max(served) / direct)
        return direct, max(served)


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--qmpsim", default="target/release/qmpsim")
    p.add_argument("--qemu", default=shutil.which("qemu-system-x86_64"))
    p.add_argument("--no-qemu", action="store_true")
    p.add_argument("--n-seq", type=int, default=5000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--n-pipe", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out")
    a = p.parse_args()
    if a.no_qemu:
        a.qemu = None
    b = Bench(a)
    load_before = load()
    kinds = ["qmpsim"] + (["qemu"] if a.qemu else [])
    for kind in kinds:
        b.latency(kind)
    rates = {kind: b.pipeline(kind) for kind in kinds}
    if "qemu" in rates:
        qemu_direct, served_qemu = rates["qemu"]
        b.record("serve (QEMU recording) / QEMU direct, pipelined", served_qemu / qemu_direct, "x")
        b.record("serve (QEMU recording) / qmpsim engine direct, pipelined",
                 served_qemu / rates["qmpsim"][0], "x")
    b.record("serve (qmpsim recording) / qmpsim engine direct, pipelined",
             rates["qmpsim"][1] / rates["qmpsim"][0], "x")
    shutil.rmtree(b.dir, ignore_errors=True)
    print(f"load average before: {load_before}; after: {load()}; "
          f"{a.n_seq} sequential round trips, {a.n_pipe} pipelined requests\n")
    print("| figure | value |")
    print("| --- | --- |")
    for r in b.rows:
        extra = f" (p99 {r['p99']:.1f} µs)" if "p99" in r else ""
        extra += f" ({r['vs_direct']:.1f}x direct)" if "vs_direct" in r else ""
        fmt = "{:,.0f}" if r["unit"] == "responses/s" else "{:.1f}"
        print(f"| {r['figure']} | {fmt.format(r['value'])} {r['unit']}{extra} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
