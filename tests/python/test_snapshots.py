"""Internal snapshots and resuming, driven by the real qemu.qmp client: HMP
savevm/info snapshots/loadvm/delvm on a qcow2 image, -loadvm on a restart
(the table lives in the image's sidecar file), and -x-resume from a recorded
trace at a middle frame, then driven live."""

import asyncio
import json
import os
import struct
import subprocess
import tempfile
import time

from qemu.qmp import QMPClient
from qemu.qmp.protocol import ConnectError

from listening import settle_balloon

BIN = os.environ.get("QMPSIM_BIN", "target/debug/qmpsim")
TIMEOUT_S = 10


def qcow2(path, size):
    """A qcow2 header, all the prober reads."""
    header = b"QFI\xfb" + struct.pack(">I", 2) + bytes(16) + struct.pack(">Q", size) + bytes(40)
    with open(path, "wb") as f:
        f.write(header)


def start(workdir, *args):
    sock = os.path.join(workdir, "qmp.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    proc = subprocess.Popen(
        [BIN, "-qmp", f"unix:{sock},server,nowait", "-m", "64", "-balloon", "virtio", *args],
        cwd=workdir,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + TIMEOUT_S
    while not os.path.exists(sock):
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "socket never appeared"
        time.sleep(0.01)
    return proc, sock


async def connect(sock):
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        qmp = QMPClient("snap")
        try:
            await qmp.connect(sock)
            return qmp
        except ConnectError:
            assert time.monotonic() < deadline, "never accepted a connection"
            await asyncio.sleep(0.01)


async def hmp(qmp, line):
    return await qmp.execute("human-monitor-command", {"command-line": line})


async def quit_vm(qmp):
    await qmp.execute("quit")
    try:
        await qmp.disconnect()
    except EOFError:
        pass


async def save_change_load(sock):
    qmp = await connect(sock)
    seen = {}
    await settle_balloon(qmp, 40 << 20)
    seen["savevm"] = await hmp(qmp, "savevm base")
    await settle_balloon(qmp, 20 << 20)
    seen["info"] = await hmp(qmp, "info snapshots")
    seen["loadvm"] = await hmp(qmp, "loadvm base")
    seen["balloon"] = (await qmp.execute("query-balloon"))["actual"]
    seen["status"] = await qmp.execute("query-status")
    seen["missing"] = await hmp(qmp, "delvm nosuch")
    await quit_vm(qmp)
    return seen


async def loaded_state(sock):
    qmp = await connect(sock)
    seen = {
        "balloon": (await qmp.execute("query-balloon"))["actual"],
        "status": await qmp.execute("query-status"),
        "info": await hmp(qmp, "info snapshots"),
    }
    await quit_vm(qmp)
    return seen


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT_S * 2))


def test_savevm_loadvm_then_loadvm_on_restart():
    with tempfile.TemporaryDirectory() as w:
        qcow2(os.path.join(w, "disk.qcow2"), 1 << 30)
        proc, sock = start(w, "-hda", "disk.qcow2")
        try:
            first = run(save_change_load(sock))
            assert proc.wait(TIMEOUT_S) == 0
        finally:
            proc.kill()
        sidecar = os.path.exists(os.path.join(w, "disk.qcow2.qmpsim-snapshots"))
        proc, sock = start(w, "-hda", "disk.qcow2", "-loadvm", "base")
        try:
            second = run(loaded_state(sock))
        finally:
            proc.kill()
    assert first["savevm"] == {}
    assert first["info"].startswith("ID        TAG                 VM SIZE                DATE       VM CLOCK\r\n1         base  ")
    assert first["loadvm"] == {}
    assert first["balloon"] == 40 << 20
    assert first["status"] == {"running": True, "singlestep": False}
    assert first["missing"] == "Error -2 while deleting snapshot on 'ide0-hd0'\r\n"
    assert sidecar
    assert second["balloon"] == 40 << 20
    assert second["status"] == {"running": True, "singlestep": False}
    assert "1         base  " in second["info"]


def test_loadvm_of_an_unknown_tag_on_restart_leaves_the_vm_paused():
    with tempfile.TemporaryDirectory() as w:
        qcow2(os.path.join(w, "disk.qcow2"), 1 << 30)
        proc, sock = start(w, "-hda", "disk.qcow2", "-loadvm", "nosuch")
        try:
            seen = run(loaded_state(sock))
        finally:
            proc.kill()
    assert seen["status"] == {"running": False, "singlestep": False}
    assert seen["info"] == "There is no snapshot available.\r\n"


async def recorded_session(sock):
    qmp = await connect(sock)
    await settle_balloon(qmp, 32 << 20)
    await qmp.execute("stop")
    await qmp.execute("balloon", {"value": 16 << 20})
    await quit_vm(qmp)


async def resumed_session(sock):
    qmp = await connect(sock)
    seen = {
        "status": await qmp.execute("query-status"),
        "balloon": (await qmp.execute("query-balloon"))["actual"],
    }
    await qmp.execute("cont")
    seen["after_cont"] = await qmp.execute("query-status")
    await quit_vm(qmp)
    return seen


def frame_of_stop(trace):
    """The index of the frame whose input is the `stop` command."""
    out = subprocess.run([BIN, "trace", "export", "--jsonl", trace], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        record = json.loads(line)
        step = record.get("step")
        data = step["input"].get("Bytes", {}).get("data", "") if step else ""
        if isinstance(data, str) and '"stop"' in data:
            return record["frame"]
    raise AssertionError("no stop in the trace")


def test_resume_from_a_trace_before_its_stop_then_drive_it_live():
    with tempfile.TemporaryDirectory() as w:
        trace = os.path.join(w, "s.qmptrace")
        proc, sock = start(w, "-record", trace)
        try:
            run(recorded_session(sock))
            assert proc.wait(TIMEOUT_S) == 0
        finally:
            proc.kill()
        frame = frame_of_stop(trace)
        proc, sock = start(w, "-x-resume", f"{trace}@{frame}")
        try:
            seen = run(resumed_session(sock))
            proc.wait(TIMEOUT_S)
            err = proc.stderr.read()
        finally:
            proc.kill()
    assert seen["status"] == {"running": True, "singlestep": False}
    assert seen["balloon"] == 32 << 20
    assert seen["after_cont"] == {"running": True, "singlestep": False}
    assert err.startswith(f"qmpsim: resumed {trace} after {frame} frames (")
    assert "client 1 of the trace is gone" in err
