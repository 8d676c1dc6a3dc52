"""The real QMP client library, qemu.qmp's QMPClient, driving qmpsim over a unix
socket: negotiation against the 0.14 greeting, results, and STOP/RESUME events."""

import asyncio
import os
import subprocess
import tempfile
import time

import pytest
from qemu.qmp import ExecuteError, QMPClient

from listening import wait_listening

BIN = os.environ.get("QMPSIM_BIN", "target/debug/qmpsim")
TIMEOUT_S = 10


class Vm:
    """A qmpsim process on a fresh unix socket, killed on exit."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp()
        self.sock = os.path.join(self.dir, "qmp.sock")
        self.proc = subprocess.Popen(
            [BIN, "-qmp", f"unix:{self.sock},server,nowait", *args],
            stderr=subprocess.PIPE,
        )
        wait_listening(self.proc, self.sock, TIMEOUT_S)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(TIMEOUT_S)


@pytest.fixture
def vm_paused():
    vm = Vm("-name", "pyclient", "-S")
    yield vm
    vm.close()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT_S))


def test_client_negotiates_and_reads_results(vm_paused):
    async def session():
        qmp = QMPClient("pyclient")
        await qmp.connect(vm_paused.sock)
        assert qmp.greeting.QMP.version["qemu"]["major"] == 0
        assert qmp.greeting.QMP.version["qemu"]["minor"] == 14
        status = await qmp.execute("query-status")
        name = await qmp.execute("query-name")
        kvm = await qmp.execute("query-kvm")
        await qmp.disconnect()
        return status, name, kvm

    status, name, kvm = run(session())
    assert status == {"running": False, "singlestep": False}
    assert name == {"name": "pyclient"}
    assert kvm == {"enabled": False, "present": True}


def test_client_sees_resume_and_stop_events(vm_paused):
    async def session():
        qmp = QMPClient("pyclient")
        await qmp.connect(vm_paused.sock)
        names = []
        with qmp.listener(("RESUME", "STOP")) as listener:
            await qmp.execute("cont")
            names.append((await listener.get())["event"])
            running = await qmp.execute("query-status")
            await qmp.execute("stop")
            names.append((await listener.get())["event"])
        await qmp.disconnect()
        return names, running

    names, running = run(session())
    assert names == ["RESUME", "STOP"]
    assert running["running"] is True


def test_client_gets_error_class_for_unknown_command(vm_paused):
    async def session():
        qmp = QMPClient("pyclient")
        await qmp.connect(vm_paused.sock)
        try:
            await qmp.execute("no-such-command")
        except ExecuteError as err:
            return err.error_class
        finally:
            await qmp.disconnect()
        return None

    assert run(session()) == "CommandNotFound"


def test_client_quit_ends_process_with_status_zero(vm_paused):
    async def session():
        qmp = QMPClient("pyclient")
        await qmp.connect(vm_paused.sock)
        with qmp.listener("SHUTDOWN") as listener:
            await qmp.execute("quit")
            event = await listener.get()
        try:
            await qmp.disconnect()
        except EOFError:
            # QEMU closes the monitor after quit; the client's reader may see the
            # end of stream before disconnect() runs (qemu.qmp's machine.py
            # tolerates the same).
            pass
        return event["event"]

    assert run(session()) == "SHUTDOWN"
    assert vm_paused.proc.wait(TIMEOUT_S) == 0
    assert not os.path.exists(vm_paused.sock)
