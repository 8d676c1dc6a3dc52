"""Event timestamps come from virtual time: the real qemu.qmp client, run twice
against fresh VMs with the same script, sees the same timestamps, with the idle
clock (which jumps to the guest's pending shutdown while the client waits) and
with the manual clock (which moves only with messages and x-clock-step)."""

import asyncio
import os
import subprocess
import tempfile

from qemu.qmp import QMPClient

from listening import wait_listening

BIN = os.environ.get("QMPSIM_BIN", "target/debug/qmpsim")
TIMEOUT_S = 10


async def script(sock, manual):
    """stop, cont, system_reset, system_powerdown, then waits for SHUTDOWN;
    returns every event seen with its timestamp."""
    qmp = QMPClient("clock")
    await qmp.connect(sock)
    seen = []
    names = ("STOP", "RESUME", "RESET", "POWERDOWN", "SHUTDOWN")
    with qmp.listener(names) as listener:
        for command in ("stop", "cont", "system_reset", "system_powerdown"):
            await qmp.execute(command)
            seen.append(await listener.get())
        if manual:
            await qmp.execute("x-clock-step")
        seen.append(await listener.get())
    try:
        await qmp.disconnect()
    except EOFError:
        pass  # the VM exited after its guest shut down
    return [(e["event"], e["timestamp"]["seconds"], e["timestamp"]["microseconds"]) for e in seen]


def run_once(mode):
    with tempfile.TemporaryDirectory() as workdir:
        sock = os.path.join(workdir, "qmp.sock")
        proc = subprocess.Popen(
            [BIN, "-qmp", f"unix:{sock},server,nowait", "-x-extensions", "-x-clock", mode]
        )
        try:
            wait_listening(proc, sock, TIMEOUT_S)
            seen = asyncio.run(asyncio.wait_for(script(sock, mode == "manual"), TIMEOUT_S))
            assert proc.wait(TIMEOUT_S) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    return seen


def test_idle_clock_gives_the_same_timestamps_twice():
    first = run_once("idle")
    assert [e[0] for e in first] == ["STOP", "RESUME", "RESET", "POWERDOWN", "SHUTDOWN"]
    assert run_once("idle") == first


def test_manual_clock_gives_the_same_timestamps_twice():
    first = run_once("manual")
    assert [e[0] for e in first] == ["STOP", "RESUME", "RESET", "POWERDOWN", "SHUTDOWN"]
    assert run_once("manual") == first
