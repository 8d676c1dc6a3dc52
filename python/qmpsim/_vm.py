"""``qmpsim.Vm``: one qmpsim VM on a temporary unix socket, as a context manager."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
from types import TracebackType
from typing import Optional, Sequence, Type, Union

from qemu.qmp import QMPClient
from qemu.qmp.legacy import QEMUMonitorProtocol

from ._binary import find_binary

#: Seconds :class:`Vm` waits for the socket to appear, and for the VM to exit.
TIMEOUT_S_DEFAULT = 10.0
#: Seconds between two looks for the socket while the VM starts.
POLL_S = 0.01
#: Most bytes of the VM's standard error quoted in a :class:`VmError`.
STDERR_QUOTED_BYTES_MAX = 4000

#: What disconnecting raises when the VM closed the connection first (it quit).
_CLOSED_ERRORS = (EOFError, OSError)

PathLike = Union[str, "os.PathLike[str]"]


class VmError(RuntimeError):
    """The VM did not start, or did not stop in time. The message quotes its
    standard error."""


class Vm:
    """A qmpsim VM with QEMU-style ``options``, serving QMP on a temporary unix socket.

    ``with Vm(...) as vm`` starts the VM, waits for its socket and connects
    ``vm.qmp``, qemu.qmp's synchronous client
    (:class:`qemu.qmp.legacy.QEMUMonitorProtocol`). ``async with Vm(...) as vm``
    does the same without blocking the event loop and connects ``vm.client``, an
    asyncio :class:`qemu.qmp.QMPClient`. Leaving the block disconnects, stops the
    VM (SIGTERM, as QEMU's ``terminating on signal``; a VM that already quit is
    just reaped) and removes the temporary folder.

    A QMP monitor serves one client at a time, as QEMU 0.14's does: pass
    ``connect=False`` to connect your own client to :attr:`socket_path`.

    Args:
        *options: QEMU options, as on the ``qmpsim`` command line (``"-S"``,
            ``"-name", "vm1"``, ...). ``-qmp unix:SOCKET,server,nowait`` is added
            first.
        record: write a trace of the session to this ``.qmptrace`` path
            (``-record``), to replay with ``qmpsim replay``.
        binary: the ``qmpsim`` binary; default :func:`qmpsim.find_binary`.
        cwd: the VM's working folder (relative image paths are read there).
        timeout: seconds to wait for the socket, and for the VM to exit.
        connect: connect a client on entry (default ``True``).
        name: the client's nickname in qemu.qmp's logs.

    Example::

        with qmpsim.Vm("-S", "-name", "demo") as vm:
            assert vm.qmp.cmd("query-name") == {"name": "demo"}
    """

    def __init__(
        self,
        *options: str,
        record: Optional[PathLike] = None,
        binary: Optional[PathLike] = None,
        cwd: Optional[PathLike] = None,
        timeout: float = TIMEOUT_S_DEFAULT,
        connect: bool = True,
        name: str = "qmpsim",
    ) -> None:
        self.options: tuple[str, ...] = tuple(options)
        self.record: Optional[str] = os.fspath(record) if record is not None else None
        self.binary: Optional[str] = os.fspath(binary) if binary is not None else None
        self.cwd: Optional[str] = os.fspath(cwd) if cwd is not None else None
        self.timeout = timeout
        self.connect = connect
        self.name = name
        self._dir: Optional[str] = None
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._qmp: Optional[QEMUMonitorProtocol] = None
        self._client: Optional[QMPClient] = None
        self.returncode: Optional[int] = None
        """The VM's exit status once it stopped (negative: killed by that signal)."""

    # -- what a started VM offers ------------------------------------------------

    @property
    def socket_path(self) -> str:
        """The unix socket the VM serves QMP on."""
        if self._dir is None:
            raise VmError("qmpsim: the VM is not started")
        return os.path.join(self._dir, "qmp.sock")

    @property
    def trace_path(self) -> Optional[str]:
        """The trace being recorded (``record=``), or ``None``."""
        return self.record

    @property
    def pid(self) -> int:
        """The VM process's id."""
        if self._proc is None:
            raise VmError("qmpsim: the VM is not started")
        return self._proc.pid

    @property
    def qmp(self) -> QEMUMonitorProtocol:
        """The connected synchronous client (``with Vm(...)``)."""
        if self._qmp is None:
            raise VmError("qmpsim: no synchronous client (use `with Vm(...)` and connect=True)")
        return self._qmp

    @property
    def client(self) -> QMPClient:
        """The connected asyncio client (``async with Vm(...)``)."""
        if self._client is None:
            raise VmError("qmpsim: no asyncio client (use `async with Vm(...)` and connect=True)")
        return self._client

    def argv(self) -> list[str]:
        """The VM's command line (after :meth:`start`)."""
        argv = [self.binary or find_binary(), "-qmp", f"unix:{self.socket_path},server,nowait"]
        argv += self.options
        if self.record is not None:
            argv += ["-record", self.record]
        return argv

    def stderr(self) -> str:
        """What the VM has written to its standard error so far."""
        if self._dir is None:
            return ""
        try:
            with open(os.path.join(self._dir, "stderr"), "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    # -- starting and stopping ---------------------------------------------------

    def start(self) -> None:
        """Starts the VM and waits for its socket, without connecting a client.

        Raises:
            VmError: the VM exited, or its socket did not appear within ``timeout``.
        """
        if self._proc is not None:
            raise VmError("qmpsim: the VM is already started")
        self._launch()
        deadline = time.monotonic() + self.timeout
        while not self._socket_ready(deadline):
            time.sleep(POLL_S)

    async def start_async(self) -> None:
        """:meth:`start` without blocking the event loop."""
        if self._proc is not None:
            raise VmError("qmpsim: the VM is already started")
        self._launch()
        deadline = time.monotonic() + self.timeout
        while not self._socket_ready(deadline):
            await asyncio.sleep(POLL_S)

    def stop(self) -> int:
        """Disconnects the synchronous client, stops the VM, removes its temporary
        folder and returns its exit status. Safe to call twice."""
        if self._qmp is not None:
            qmp, self._qmp = self._qmp, None
            try:
                qmp.close()
            except _CLOSED_ERRORS:
                pass  # The VM quit first: its end of the connection is gone.
        return self._stop_process()

    async def stop_async(self) -> int:
        """:meth:`stop` for the asyncio client, without blocking the event loop."""
        if self._client is not None:
            client, self._client = self._client, None
            try:
                await client.disconnect()
            except _CLOSED_ERRORS:
                pass  # The VM quit first: its end of the connection is gone.
        return await asyncio.get_running_loop().run_in_executor(None, self._stop_process)

    def __enter__(self) -> "Vm":
        self.start()
        if self.connect:
            try:
                qmp = QEMUMonitorProtocol(self.socket_path, nickname=self.name)
                qmp.settimeout(self.timeout)
                qmp.connect(negotiate=True)
                self._qmp = qmp
            except BaseException:
                self.stop()
                raise
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    async def __aenter__(self) -> "Vm":
        await self.start_async()
        if self.connect:
            client = QMPClient(self.name)
            try:
                await asyncio.wait_for(client.connect(self.socket_path), self.timeout)
                self._client = client
            except BaseException:
                await self.stop_async()
                raise
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.stop_async()

    def __repr__(self) -> str:
        state = "stopped" if self._proc is None else f"pid {self._proc.pid}"
        return f"Vm({', '.join(map(repr, self.options))}) [{state}]"

    # -- helpers -----------------------------------------------------------------

    def _launch(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="qmpsim-")
        self.returncode = None
        argv = self.argv()
        with open(os.path.join(self._dir, "stderr"), "wb") as err:
            self._proc = subprocess.Popen(
                argv, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=err, stderr=err
            )

    def _socket_ready(self, deadline: float) -> bool:
        assert self._proc is not None, "launched before waiting"
        if _listening(self.socket_path):
            return True
        status = self._proc.poll()
        if status is not None:
            text = self._quoted_stderr()
            self._cleanup()
            raise VmError(f"qmpsim: the VM exited with status {status} before serving QMP{text}")
        if time.monotonic() > deadline:
            text = self._quoted_stderr()
            self._stop_process()
            raise VmError(f"qmpsim: the VM's socket did not appear within {self.timeout} s{text}")
        return False

    def _quoted_stderr(self) -> str:
        text = self.stderr().strip()
        if not text:
            return ""
        return ":\n" + text[-STDERR_QUOTED_BYTES_MAX:]

    def _stop_process(self) -> int:
        proc = self._proc
        if proc is None:
            return self.returncode if self.returncode is not None else 0
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(self.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.returncode = proc.returncode
            text = self._quoted_stderr()
            self._cleanup()
            raise VmError(f"qmpsim: the VM did not exit within {self.timeout} s of SIGTERM{text}")
        self.returncode = proc.returncode
        self._cleanup()
        return proc.returncode

    def _cleanup(self) -> None:
        self._proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


#: The flag /proc/net/unix shows for a listening socket (``__SO_ACCEPTCON``).
_SO_ACCEPTCON = 0x10000


def _listening(path: str) -> bool:
    """Whether a unix socket listens at ``path``. The file appears at bind(),
    a moment before listen(): a client connecting in between is refused."""
    try:
        with open("/proc/net/unix") as table:
            for line in table:
                fields = line.split()
                if len(fields) >= 8 and fields[7] == path and int(fields[3], 16) & _SO_ACCEPTCON:
                    return True
    except OSError:
        return os.path.exists(path)
    return False
