#!/usr/bin/env python3
"""A correct QMP client: it buffers the stream and reads it line by line, tags
every command with an id and pairs replies by id, sets events aside, and waits
for device_del to complete by polling query-pci (resuming the VM if something
stopped it, since a stopped guest cannot eject a device, and asking again after
a RESET, since a guest reset before it ejected the device has forgotten the
request).

Between two polls it sleeps POLL_S, or, with --step-clock, asks the VM to move
its virtual clock to the next thing a client may wait for (`x-clock-step`, for a
VM run with `-x-extensions -x-clock manual`). Stepping makes the session a
function of the replies alone: the same messages however slowly the machine
runs, which a test that counts them needs.

Usage: correct.py [--step-clock] [SOCKET]  (default: $QMP_SOCKET). Exit status 0
on success."""
import json
import os
import socket
import sys
import time

UNPLUG_WAIT_S = 8.0
POLL_S = 0.025
# Clock steps before giving up on the unplug (the guest ejects within one).
UNPLUG_STEPS_MAX = 16


class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def read(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise SystemExit("correct: the server closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        self.next_id += 1
        request = {"execute": name, "id": self.next_id}
        if args:
            request["arguments"] = args
        self.sock.sendall(json.dumps(request).encode() + b"\r\n")
        while True:
            msg = self.read()
            if "event" in msg:
                self.events.append(msg["event"])
            elif msg.get("id") != self.next_id:
                continue  # not ours (an error without id answers someone's bad input)
            elif "error" in msg:
                raise SystemExit(f"correct: {name} failed: {msg['error']['desc']}")
            else:
                return msg["return"]


def pci_ids(qmp):
    return [d.get("qdev_id") for bus in qmp.cmd("query-pci") for d in bus["devices"]]


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
                raise SystemExit("correct: the guest never completed the unplug of nic1")
            qmp.cmd("x-clock-step")
            continue
        if time.monotonic() > deadline:
            raise SystemExit("correct: the guest never completed the unplug of nic1")
        time.sleep(POLL_S)


def main():
    args = sys.argv[1:]
    step_clock = "--step-clock" in args
    args = [a for a in args if a != "--step-clock"]
    path = args[0] if args else os.environ["QMP_SOCKET"]
    qmp = Qmp(path)
    greeting = qmp.read()
    assert "QMP" in greeting, f"not a greeting: {greeting}"
    qmp.cmd("qmp_capabilities")
    qmp.cmd("query-status")
    qmp.cmd("device_add", driver="e1000", id="nic1")
    resets = qmp.events.count("RESET")
    qmp.cmd("device_del", id="nic1")
    wait_for_unplug(qmp, step_clock, resets)
    qmp.cmd("query-name")
    print(f"correct: done; events seen: {', '.join(qmp.events) or 'none'}")


main()
