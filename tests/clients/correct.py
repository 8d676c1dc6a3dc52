#!/usr/bin/env python3
"""A correct QMP client: it buffers the stream and reads it line by line, tags
every command with an id and pairs replies by id, sets events aside, and waits
for device_del to complete by polling query-pci (resuming the VM if something
stopped it, since a stopped guest cannot eject a device, and asking again after
a RESET, since a guest reset before it ejected the device has forgotten the
request). After a POWERDOWN or SHUTDOWN event the guest may go away: the
connection closing then ends the session normally.

Between two polls it sleeps POLL_S, or, with --step-clock, asks the VM to move
its virtual clock to the next thing a client may wait for (`x-clock-step`, for a
VM run with `-x-extensions -x-clock manual`). Stepping makes the session a
function of the replies alone: the same messages however slowly the machine
runs, which a test that counts them needs.

Usage: correct.py [--step-clock] [SOCKET]  (default: $QMP_SOCKET). Exit status 0
on success."""
import json
import sys
import time

from qmp_client import (
    POLL_S,
    UNPLUG_WAIT_S,
    Qmp,
    negotiate_and_add_nic,
    pci_ids,
    socket_path,
)

# Clock steps before giving up on the unplug (the guest ejects within one).
UNPLUG_STEPS_MAX = 16


def wait_for_unplug(qmp, step_clock, resets):
    """Polls query-pci until nic1 is gone, resuming a stopped VM on the way and
    asking again after each RESET past the `resets` seen before device_del (one
    that came with device_del's reply may already have undone it)."""
    deadline = time.monotonic() + UNPLUG_WAIT_S
    steps = 0
    while "nic1" in pci_ids(qmp):
        if qmp.events.count("RESET") > resets:
            resets = qmp.events.count("RESET")
            qmp.cmd("device_del", id="nic1")
        if not qmp.cmd("query-status")["running"]:
            qmp.cmd("cont")
        if step_clock:
            steps += 1
            if steps > UNPLUG_STEPS_MAX:
                qmp.fail("the guest never completed the unplug of nic1")
            qmp.cmd("x-clock-step")
            continue
        if time.monotonic() > deadline:
            qmp.fail("the guest never completed the unplug of nic1")
        time.sleep(POLL_S)


# Events after which the guest may shut down and the connection close.
GOING_AWAY = ("POWERDOWN", "SHUTDOWN")


class Correct(Qmp):
    """A Qmp whose connection may end after the guest was told to go away."""

    def events_sent(self):
        """The events seen, with those still unread (in the buffer, or in the
        socket when a send found it closed)."""
        try:
            while chunk := self.sock.recv(4096):
                self.buf += chunk
        except OSError:
            pass
        unread = [json.loads(line) for line in self.buf.split(b"\n") if line.strip()]
        return self.events + [m["event"] for m in unread if "event" in m]

    def closed(self):
        events = self.events_sent()
        if any(e in events for e in GOING_AWAY):
            print(f"correct: the guest went away; events seen: {', '.join(events)}")
            raise SystemExit(0)
        self.fail("the server closed the connection")

    def recv(self, size):
        try:
            data = self.sock.recv(size)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed()
        return data

    def send(self, name, args, **members):
        try:
            super().send(name, args, **members)
        except (BrokenPipeError, ConnectionResetError):
            self.closed()


def main():
    args = sys.argv[1:]
    step_clock = "--step-clock" in args
    args = [a for a in args if a != "--step-clock"]
    qmp = Correct("correct", socket_path(args))
    greeting = qmp.read()
    assert "QMP" in greeting, f"not a greeting: {greeting}"
    negotiate_and_add_nic(qmp)
    resets = qmp.events.count("RESET")
    qmp.cmd("device_del", id="nic1")
    wait_for_unplug(qmp, step_clock, resets)
    qmp.cmd("query-name")
    print(f"correct: done; events seen: {', '.join(qmp.events) or 'none'}")


main()
