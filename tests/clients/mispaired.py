#!/usr/bin/env python3
"""A buggy QMP client: it takes the first message after each command for the
command's reply. An event that arrives before a reply (legal at any time
after negotiation) is mistaken for the reply, and every later reply is paired
with the wrong command.

Usage: mispaired.py [SOCKET]  (default: $QMP_SOCKET)."""
import json
import os
import socket
import sys
import time

UNPLUG_WAIT_S = 8.0
POLL_S = 0.025


class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.lines = self.sock.makefile("rb")

    def read(self):
        line = self.lines.readline()
        if not line:
            raise SystemExit("mispaired: the server closed the connection")
        return json.loads(line)

    def cmd(self, name, **args):
        request = {"execute": name}
        if args:
            request["arguments"] = args
        self.sock.sendall(json.dumps(request).encode() + b"\r\n")
        reply = self.read()  # the bug: this may be an event
        if "return" not in reply:
            raise SystemExit(f"mispaired: {name} got no reply but {json.dumps(reply)}")
        return reply["return"]


def pci_ids(qmp):
    return [d.get("qdev_id") for bus in qmp.cmd("query-pci") for d in bus["devices"]]


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ["QMP_SOCKET"]
    qmp = Qmp(path)
    qmp.read()
    qmp.cmd("qmp_capabilities")
    qmp.cmd("query-status")
    qmp.cmd("device_add", driver="e1000", id="nic1")
    qmp.cmd("device_del", id="nic1")
    deadline = time.monotonic() + UNPLUG_WAIT_S
    while "nic1" in pci_ids(qmp):
        if time.monotonic() > deadline:
            raise SystemExit("mispaired: the guest never completed the unplug of nic1")
        if not qmp.cmd("query-status")["running"]:
            qmp.cmd("cont")
        time.sleep(POLL_S)
    qmp.cmd("query-name")
    print("mispaired: done")


main()
