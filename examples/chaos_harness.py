#!/usr/bin/env python3
"""Runs a small qemu.qmp script against qmpsim under chaos, once per seed, and
lists the seeds that broke it, each with the command line that reproduces it.

    python3 examples/chaos_harness.py --seeds 50
    python3 examples/chaos_harness.py --seeds 20 --rate 0.3 --kinds split+delay

Each run starts ``qmpsim -x-chaos seed=S,...`` on a fresh socket and records its
session; a run whose script raised (or did not finish within ``--timeout``
seconds) keeps its trace in ``--out`` (``qmpsim trace dump`` reads it,
``qmpsim replay`` reproduces it byte for byte). Everything qmpsim does under
chaos is legal QEMU 0.14 behaviour: events between a command and its reply,
replies split or delayed, a guest rebooting or a tray locked at the wrong moment,
a migration failing, the connection dropped. A robust client survives every
seed; this script's client is deliberately naive, so some seeds break it.

It needs qemu.qmp and qmpsim's Python package (``pip install .`` in this
checkout, or ``PYTHONPATH=python``), whose ``qmpsim.Vm`` starts each VM.

The exit status is 0 when no seed broke the script, 1 when some did, 2 on a
usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import shutil
import sys

from qemu.qmp import QMPClient

import qmpsim

#: Seconds to wait for a VM's monitor socket to appear.
SOCKET_WAIT_S = 10


async def script(socket_path: str) -> None:
    """The client under test: a few commands a management stack would send,
    written without any care for events, errors or dropped connections."""
    qmp = QMPClient("harness")
    await qmp.connect(socket_path)
    try:
        status = await qmp.execute("query-status")
        assert status["running"], f"the VM should run: {status}"
        await qmp.execute("stop")
        await qmp.execute("cont")
        await qmp.execute("eject", {"device": "ide1-cd0"})
        devices = [b["device"] for b in await qmp.execute("query-block")]
        assert "ide1-cd0" in devices, devices
        await qmp.execute("system_reset")
        await qmp.execute("query-status")
    finally:
        try:
            await qmp.disconnect()
        except Exception:  # already gone: the failure above says why
            pass


async def guarded(socket_path: str, timeout_s: float) -> None:
    """The script with a deadline; qemu.qmp's background tasks that end with
    the dropped connection are not reported again by asyncio."""
    asyncio.get_running_loop().set_exception_handler(lambda _loop, _context: None)
    await asyncio.wait_for(script(socket_path), timeout_s)


def run_seed(binary: str, chaos: str, out: str, seed: int, timeout_s: float) -> str | None:
    """Runs the script under ``chaos``; returns why it broke, or None."""
    trace = os.path.join(out, f"seed-{seed}.qmptrace")
    # qmpsim.Vm starts the VM on a fresh socket and waits until it listens.
    vm = qmpsim.Vm("-x-chaos", chaos, record=trace, binary=binary, connect=False,
                   timeout=SOCKET_WAIT_S)
    why = None
    try:
        vm.start()
        asyncio.run(guarded(vm.socket_path, timeout_s))
    except asyncio.TimeoutError:
        why = f"no answer within {timeout_s:g} s"
    except Exception as err:  # the script's failure is what we are after
        why = f"{type(err).__name__}: {err}".splitlines()[0].rstrip(": ")
    finally:
        vm.stop()
    if why is None:
        os.unlink(trace)
    return why


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds to run (0..N-1)")
    parser.add_argument("--first-seed", type=int, default=0, help="the first seed")
    parser.add_argument("--rate", default="0.1", help="-x-chaos rate (default 0.1)")
    parser.add_argument("--kinds", default=None, help="-x-chaos kinds, a+b+... (default all)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--qmpsim", default=shutil.which("qmpsim") or "target/debug/qmpsim",
                        help="the qmpsim binary")
    parser.add_argument("--out", default="chaos-traces", help="folder for the broken runs' traces")
    args = parser.parse_args(argv)
    # qemu.qmp logs a dropped connection at length; the summary says it once.
    logging.getLogger("qemu.qmp").setLevel(logging.CRITICAL)
    if args.seeds < 1:
        parser.error("--seeds takes a positive number")
    os.makedirs(args.out, exist_ok=True)
    broken = []
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    for seed in seeds:
        chaos = f"seed={seed},rate={args.rate}"
        if args.kinds:
            chaos += f",kinds={args.kinds}"
        why = run_seed(args.qmpsim, chaos, args.out, seed, args.timeout)
        if why is not None:
            broken.append((seed, chaos, why))
    print(f"{len(seeds)} seeds run, {len(broken)} broke the script")
    for seed, chaos, why in broken:
        trace = os.path.join(args.out, f"seed-{seed}.qmptrace")
        print(f"seed {seed}: {why}")
        print(f"  reproduce: {shlex.join([args.qmpsim, '-qmp', 'unix:/tmp/q.sock,server,nowait', '-x-chaos', chaos])}")
        print(f"  trace:     {trace} (qmpsim trace dump {shlex.quote(trace)})")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
