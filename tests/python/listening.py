"""Waiting for a qmpsim monitor socket to accept connections, and for the
simulated guest's balloon to settle.

The socket file appears at bind(), a moment before listen(): a client that
connects in between is refused. These tests therefore wait until the kernel's
table of unix sockets shows the path listening."""

import asyncio
import time

# __SO_ACCEPTCON in /proc/net/unix's Flags column: the socket listens.
_SO_ACCEPTCON = 0x10000


def listening(path):
    """Whether a unix socket listens at ``path``."""
    with open("/proc/net/unix") as table:
        for line in table:
            fields = line.split()
            if len(fields) >= 8 and fields[7] == path and int(fields[3], 16) & _SO_ACCEPTCON:
                return True
    return False


def wait_listening(proc, path, timeout_s):
    """Waits until ``path`` listens; fails if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while not listening(path):
        assert proc.poll() is None, "qmpsim exited before its monitor listened"
        assert time.monotonic() < deadline, f"{path} never listened"
        time.sleep(0.01)


async def settle_balloon(qmp, target, timeout_s=10):
    """Asks the guest for ``target`` bytes and waits until it gets there."""
    await qmp.execute("balloon", {"value": target})
    deadline = time.monotonic() + timeout_s
    while (await qmp.execute("query-balloon"))["actual"] != target:
        assert time.monotonic() < deadline, "balloon never settled"
        await asyncio.sleep(0.02)
