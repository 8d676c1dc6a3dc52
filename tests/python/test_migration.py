"""Live migration between two real qmpsim processes, driven by the real qemu.qmp
client on both sides: tcp, unix and exec channels, save to a file and restore,
cancel, a mismatched destination, a damaged and a truncated stream (through a
small proxy), and a source killed mid-stream. RAM is small or the speed raised,
so every test takes a few hundred milliseconds."""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time

from qemu.qmp import QMPClient
from qemu.qmp.protocol import ConnectError

from listening import settle_balloon

BIN = os.environ.get("QMPSIM_BIN", "target/debug/qmpsim")
TIMEOUT_S = 10
LOAD_FAILED = "load of migration failed"


class Vm:
    """A qmpsim process with a QMP unix socket; killed when the test ends."""

    def __init__(self, workdir, name, *args):
        self.sock = os.path.join(workdir, f"{name}.sock")
        self.proc = subprocess.Popen(
            [BIN, "-qmp", f"unix:{self.sock},server,nowait", "-name", name, *args],
            cwd=workdir,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + TIMEOUT_S
        while not os.path.exists(self.sock):
            assert self.proc.poll() is None, self.proc.stderr.read()
            assert time.monotonic() < deadline, "socket never appeared"
            time.sleep(0.01)
        self.name = name

    async def connect(self):
        # The socket file appears at bind(), a moment before listen(): a connect
        # in between is refused, so retry until the deadline.
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            self.qmp = QMPClient(self.name)
            try:
                await self.qmp.connect(self.sock)
                return self.qmp
            except ConnectError:
                assert time.monotonic() < deadline, "never accepted a connection"
                await asyncio.sleep(0.01)

    def exit(self):
        """Waits for the process to exit: (status, stderr)."""
        code = self.proc.wait(TIMEOUT_S)
        return code, self.proc.stderr.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT_S)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_migration(qmp, until=("completed", "failed", "cancelled")):
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        info = await qmp.execute("query-migrate")
        if info.get("status") in until:
            return info
        assert time.monotonic() < deadline, f"migration still {info}"
        await asyncio.sleep(0.02)


async def quiet_disconnect(qmp):
    try:
        await qmp.disconnect()
    except EOFError:
        pass


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT_S * 2))


@contextlib.contextmanager
def workdir_vms():
    """A temporary folder and `start(name, *args)`, which starts a Vm in it; every
    Vm started is killed when the block ends."""
    with tempfile.TemporaryDirectory() as w:
        started = []

        def start(name, *args):
            started.append(Vm(w, name, *args))
            return started[-1]

        try:
            yield w, start
        finally:
            for vm in started:
                vm.kill()


async def migrate_and_check(src, dst, uri, dest_paused):
    """Balloons the source, migrates it to `uri`; returns what both sides say."""
    s = await src.connect()
    d = await dst.connect()
    seen = {"dst_before": await d.execute("query-status")}
    await settle_balloon(s, 48 << 20)
    await s.execute("migrate_set_speed", {"value": 1 << 30})
    with d.listener(("RESUME",)) as resumed:
        await s.execute("migrate", {"uri": uri})
        seen["src_migrate"] = await wait_migration(s)
        if not dest_paused:
            seen["dst_event"] = (await asyncio.wait_for(resumed.get(), TIMEOUT_S))["event"]
    seen["src_status"] = await s.execute("query-status")
    deadline = time.monotonic() + TIMEOUT_S
    while (await d.execute("query-balloon"))["actual"] != 48 << 20:
        assert time.monotonic() < deadline, "state never arrived"
        await asyncio.sleep(0.02)
    seen["dst_balloon"] = (await d.execute("query-balloon"))["actual"]
    seen["dst_status"] = await d.execute("query-status")
    await quiet_disconnect(s)
    await quiet_disconnect(d)
    return seen


def test_tcp_migration_moves_the_state_and_runs_the_destination():
    port = free_port()
    with workdir_vms() as (_, start):
        dst = start("dst", "-m", "64", "-balloon", "virtio", "-incoming", f"tcp:127.0.0.1:{port}")
        src = start("src", "-m", "64", "-balloon", "virtio")
        seen = run(migrate_and_check(src, dst, f"tcp:127.0.0.1:{port}", dest_paused=False))
    assert seen["dst_before"] == {"running": False, "singlestep": False}
    assert seen["src_migrate"]["status"] == "completed"
    assert seen["src_status"] == {"running": False, "singlestep": False}
    assert seen["dst_event"] == "RESUME"
    assert seen["dst_balloon"] == 48 << 20
    assert seen["dst_status"] == {"running": True, "singlestep": False}


def test_unix_migration_to_a_dash_s_destination_stays_paused():
    with workdir_vms() as (w, start):
        mig = os.path.join(w, "mig.sock")
        dst = start("dst", "-S", "-m", "64", "-balloon", "virtio", "-incoming", f"unix:{mig}")
        src = start("src", "-m", "64", "-balloon", "virtio")
        seen = run(migrate_and_check(src, dst, f"unix:{mig}", dest_paused=True))
    assert seen["src_migrate"]["status"] == "completed"
    assert seen["dst_balloon"] == 48 << 20
    assert seen["dst_status"] == {"running": False, "singlestep": False}


def test_exec_migration_through_a_pipe():
    with workdir_vms() as (w, start):
        mig = os.path.join(w, "mig.sock")
        dst = start("dst", "-m", "64", "-balloon", "virtio", "-incoming", f"unix:{mig}")
        src = start("src", "-m", "64", "-balloon", "virtio")
        seen = run(migrate_and_check(src, dst, f"exec:socat - UNIX-CONNECT:{mig}", dest_paused=False))
    assert seen["src_migrate"]["status"] == "completed"
    assert seen["dst_balloon"] == 48 << 20
    assert seen["dst_status"] == {"running": True, "singlestep": False}


async def save_to(src, path):
    s = await src.connect()
    await settle_balloon(s, 24 << 20)
    await s.execute("stop")
    await s.execute("migrate_set_speed", {"value": 1 << 30})
    await s.execute("migrate", {"uri": f"exec:cat > {path}"})
    info = await wait_migration(s)
    await s.execute("quit")
    await quiet_disconnect(s)
    return info


async def restored(dst):
    d = await dst.connect()
    deadline = time.monotonic() + TIMEOUT_S
    while not (await d.execute("query-status"))["running"]:
        assert time.monotonic() < deadline, "restored VM never ran"
        await asyncio.sleep(0.02)
    balloon = (await d.execute("query-balloon"))["actual"]
    await quiet_disconnect(d)
    return balloon


def test_save_to_a_file_then_restore_from_it():
    with workdir_vms() as (w, start):
        saved = os.path.join(w, "vm.save")
        src = start("src", "-m", "32", "-balloon", "virtio")
        info = run(save_to(src, saved))
        src_code, _ = src.exit()
        dst = start("dst", "-m", "32", "-balloon", "virtio", "-incoming", f"exec:cat {saved}")
        balloon = run(restored(dst))
        size = os.path.getsize(saved)
    assert info["status"] == "completed"
    assert src_code == 0
    assert size > 32 << 20
    assert balloon == 24 << 20


async def start_then(src, uri, action):
    """Starts a slow migration to `uri`, runs `action`, returns the source's view."""
    s = await src.connect()
    await s.execute("migrate", {"uri": uri})
    await action(s)
    info = await wait_migration(s)
    status = await s.execute("query-status")
    await quiet_disconnect(s)
    return info, status


async def nothing(_s):
    pass


def unfinished_migration(dst_mb, src_mb, action=nothing, **spoil):
    """Migrates a source of `src_mb` MiB to a destination of `dst_mb` over tcp,
    through a `Proxy(**spoil)` when spoiled, running `action` once it started:
    the source's (query-migrate, query-status), the destination's exit status
    and stderr."""
    port = free_port()
    with workdir_vms() as (_, start):
        dst = start("dst", "-m", dst_mb, "-incoming", f"tcp:127.0.0.1:{port}")
        src = start("src", "-m", src_mb)
        via = Proxy(port, **spoil).port if spoil else port
        info, status = run(start_then(src, f"tcp:127.0.0.1:{via}", action))
        code, err = dst.exit()
    return info, status, code, err


def test_cancel_mid_migration_keeps_the_source_running_and_ends_the_destination():
    async def cancel(s):
        await await_active(s)
        await s.execute("migrate_cancel")

    info, status, code, err = unfinished_migration("256", "256", cancel)
    assert info["status"] == "cancelled"
    assert status == {"running": True, "singlestep": False}
    assert code == 0
    assert err.endswith(LOAD_FAILED + "\n")


async def await_active(s):
    info = await s.execute("query-migrate")
    assert info["status"] == "active"


def test_mismatched_destination_refuses_and_the_source_keeps_running():
    info, status, code, err = unfinished_migration("128", "64")
    assert info["status"] == "failed"
    assert status == {"running": True, "singlestep": False}
    assert code == 0
    assert err == (
        "qmpsim: incoming migration: the source has 67108864 bytes of RAM, "
        "this machine 134217728\n" + LOAD_FAILED + "\n"
    )


class Proxy:
    """Forwards one connection to `port`, spoiling the stream: a flipped byte at
    `flip_at`, or the connection cut after `cut_at` bytes."""

    def __init__(self, port, flip_at=None, cut_at=None):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.target, self.flip_at, self.cut_at = port, flip_at, cut_at
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        conn, _ = self.listener.accept()
        out = socket.create_connection(("127.0.0.1", self.target))
        seen = 0
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                if self.flip_at is not None and seen <= self.flip_at < seen + len(data):
                    i = self.flip_at - seen
                    data = data[:i] + bytes([data[i] ^ 0x55]) + data[i + 1:]
                if self.cut_at is not None and seen + len(data) >= self.cut_at:
                    out.sendall(data[: self.cut_at - seen])
                    break
                out.sendall(data)
                seen += len(data)
        except OSError:
            pass
        out.close()
        conn.close()


def test_damaged_stream_is_refused_and_the_source_keeps_running():
    info, status, code, err = unfinished_migration("64", "64", flip_at=4096)
    assert info["status"] == "failed"
    assert status == {"running": True, "singlestep": False}
    assert code == 0
    assert err == "qmpsim: incoming migration: Migration stream damaged at byte 4096\n" + LOAD_FAILED + "\n"


def test_truncated_stream_is_refused_and_the_source_keeps_running():
    info, status, code, err = unfinished_migration("64", "64", cut_at=1 << 20)
    assert info["status"] == "failed"
    assert status == {"running": True, "singlestep": False}
    assert code == 0
    assert err.startswith("qmpsim: incoming migration: Migration stream ended after 1048576 of ")
    assert err.endswith(LOAD_FAILED + "\n")


def test_source_killed_mid_stream_ends_the_destination():
    port = free_port()
    with workdir_vms() as (_, start):
        dst = start("dst", "-m", "512", "-incoming", f"tcp:127.0.0.1:{port}")
        src = start("src", "-m", "512")

        async def start(s):
            await s.execute("migrate", {"uri": f"tcp:127.0.0.1:{port}"})
            await await_active(s)

        async def go():
            s = await src.connect()
            await start(s)
            src.proc.send_signal(signal.SIGKILL)
            await quiet_disconnect(s)

        run(go())
        code, err = dst.exit()
    assert code == 0
    assert "Migration stream ended after" in err
    assert err.endswith(LOAD_FAILED + "\n")
