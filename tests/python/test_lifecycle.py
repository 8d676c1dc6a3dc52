"""Part of the VM lifecycle driven by the real qemu.qmp client over a unix socket,
with the default idle clock: virtual time jumps to the guest's pending work while
the client waits, so the guest's SHUTDOWN after system_powerdown arrives by itself."""

import asyncio
import os
import subprocess
import tempfile
import time

from qemu.qmp import ExecuteError, QMPClient

from listening import wait_listening

BIN = os.environ.get("QMPSIM_BIN", "target/debug/qmpsim")
TIMEOUT_S = 10


def start_vm(workdir):
    sock = os.path.join(workdir, "qmp.sock")
    with open(os.path.join(workdir, "debian.iso"), "wb") as f:
        f.write(b"\0" * (1 << 20))
    proc = subprocess.Popen(
        [
            BIN, "-qmp", f"unix:{sock},server,nowait", "-S", "-name", "pylife",
            "-m", "64", "-vnc", ":2", "-balloon", "virtio",
            "-drive", "if=none,id=hot0,file=hot0.img,x-virtual=on,x-size=1G",
        ],
        cwd=workdir,
    )
    wait_listening(proc, sock, TIMEOUT_S)
    return proc, sock


async def lifecycle(sock):
    qmp = QMPClient("pylife")
    await qmp.connect(sock)
    seen = {}

    seen["status"] = await qmp.execute("query-status")
    seen["block"] = [b["device"] for b in await qmp.execute("query-block")]

    await qmp.execute("netdev_add", {"type": "user", "id": "net1"})
    await qmp.execute("device_add", {"driver": "e1000", "netdev": "net1", "id": "nic1"})
    pci = await qmp.execute("query-pci")
    seen["nic_plugged"] = any(d["qdev_id"] == "nic1" for d in pci[0]["devices"])
    await qmp.execute("device_del", {"id": "nic1"})

    await qmp.execute("change", {"device": "ide1-cd0", "target": "debian.iso"})
    block = await qmp.execute("query-block")
    seen["cd"] = next(b["inserted"]["file"] for b in block if b["device"] == "ide1-cd0")
    await qmp.execute("eject", {"device": "ide1-cd0"})
    try:
        await qmp.execute("eject", {"device": "nosuch"})
    except ExecuteError as err:
        seen["eject_error"] = err.error_class

    await qmp.execute("balloon", {"value": 48 << 20})
    await qmp.execute("set_password", {"protocol": "vnc", "password": "secret"})
    seen["vnc_auth"] = (await qmp.execute("query-vnc"))["auth"]

    read_end, write_end = os.pipe()
    qmp.send_fd_scm(write_end)
    await qmp.execute("getfd", {"fdname": "spare"})
    os.close(write_end)
    await qmp.execute("closefd", {"fdname": "spare"})
    seen["fd_closed"] = os.read(read_end, 1) == b""
    os.close(read_end)

    events = []
    with qmp.listener(("RESUME", "STOP", "RESET", "POWERDOWN", "SHUTDOWN")) as listener:
        await qmp.execute("cont")
        events.append((await listener.get())["event"])
        await qmp.execute("stop")
        events.append((await listener.get())["event"])
        await qmp.execute("cont")
        events.append((await listener.get())["event"])
        await qmp.execute("system_reset")
        events.append((await listener.get())["event"])
        await qmp.execute("system_powerdown")
        events.append((await listener.get())["event"])
        events.append((await listener.get())["event"])
    seen["events"] = events
    try:
        await qmp.disconnect()
    except EOFError:
        pass  # the VM exited after its guest shut down
    return seen


def test_lifecycle_driven_by_qemu_qmp():
    with tempfile.TemporaryDirectory() as workdir:
        proc, sock = start_vm(workdir)
        try:
            seen = asyncio.run(asyncio.wait_for(lifecycle(sock), TIMEOUT_S))
            code = proc.wait(TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert seen["status"] == {"running": False, "singlestep": False}
    # Command-line drives first, then the default CD-ROM, floppy and SD card.
    assert seen["block"] == ["hot0", "ide1-cd0", "floppy0", "sd0"]
    assert seen["nic_plugged"] is True
    assert seen["cd"] == "debian.iso"
    assert seen["eject_error"] == "DeviceNotFound"
    assert seen["vnc_auth"] == "vnc"
    assert seen["fd_closed"] is True
    assert seen["events"] == ["RESUME", "STOP", "RESUME", "RESET", "POWERDOWN", "SHUTDOWN"]
    assert code == 0
