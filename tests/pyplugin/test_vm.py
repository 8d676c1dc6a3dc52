"""qmpsim.Vm from the installed wheel: the binary it finds, the sync and asyncio
clients, recording, and a VM that refuses its options."""

import asyncio
import os
import subprocess
import sys
import sysconfig

import pytest
from qemu.qmp import QMPClient
from qemu.qmp.legacy import QEMUMonitorProtocol

import qmpsim


def test_find_binary_is_the_one_installed_with_the_package():
    assert os.path.dirname(qmpsim.find_binary()) == sysconfig.get_path("scripts")


def test_python_dash_m_runs_the_binary():
    out = subprocess.run(
        [sys.executable, "-m", "qmpsim", "-version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("QEMU emulator version 0.14.0 (qmpsim ")


def test_with_vm_gives_a_connected_sync_client_and_socket():
    with qmpsim.Vm("-S", "-name", "pyvm") as vm:
        assert isinstance(vm.qmp, QEMUMonitorProtocol)
        assert os.path.basename(vm.socket_path) == "qmp.sock"
        assert vm.qmp.cmd("query-name") == {"name": "pyvm"}
        assert vm.qmp.cmd("query-status") == {"running": False, "singlestep": False}
        folder = os.path.dirname(vm.socket_path)
    assert vm.returncode == 0
    assert not os.path.exists(folder)


def test_async_with_vm_gives_a_connected_qmpclient():
    async def session():
        async with qmpsim.Vm("-name", "pyasync") as vm:
            assert isinstance(vm.client, QMPClient)
            return await vm.client.execute("query-name")

    assert asyncio.run(session()) == {"name": "pyasync"}


def test_vm_after_quit_reports_the_exit_status():
    with qmpsim.Vm("-S") as vm:
        vm.qmp.cmd("quit")
    assert vm.returncode == 0


def test_connect_false_leaves_the_monitor_to_your_own_client():
    with qmpsim.Vm("-name", "own", connect=False) as vm:
        with QEMUMonitorProtocol(vm.socket_path) as own:
            own.connect()
            assert own.cmd("query-name") == {"name": "own"}


def test_record_writes_a_trace_that_replays(tmp_path):
    trace = tmp_path / "session.qmptrace"
    with qmpsim.Vm("-S", record=trace) as vm:
        vm.qmp.cmd("cont")
        assert vm.trace_path == str(trace)
    binary = qmpsim.find_binary()
    dump = subprocess.run([binary, "trace", "dump", str(trace)], capture_output=True, text=True)
    assert dump.returncode == 0, dump.stderr
    assert '"cont"' in dump.stdout
    replay = subprocess.run([binary, "replay", str(trace)], capture_output=True, text=True)
    assert replay.returncode == 0, replay.stdout + replay.stderr


def test_refused_options_raise_vm_error_quoting_qemu():
    with pytest.raises(qmpsim.VmError, match=r"(?s)exited with status 1.*-frobnicate"):
        with qmpsim.Vm("-frobnicate"):
            pass
