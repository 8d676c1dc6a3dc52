#!/usr/bin/env python3
"""A buggy QMP client: it assumes that one recv() returns exactly one message.
It skips events and pairs replies by id, but parses whatever one recv()
returned as a single JSON document, so a reply that arrives in pieces, or
together with an event in the same read, breaks it.

Usage: one_recv.py [SOCKET]  (default: $QMP_SOCKET)."""
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
        self.next_id = 0

    def read(self):
        data = self.sock.recv(65536)  # the bug: one read is taken for one message
        if not data:
            raise SystemExit("one_recv: the server closed the connection")
        try:
            return json.loads(data)
        except ValueError as e:
            raise SystemExit(f"one_recv: cannot parse {data[:60]!r}: {e}")

    def cmd(self, name, **args):
        self.next_id += 1
        request = {"execute": name, "id": self.next_id}
        if args:
            request["arguments"] = args
        self.sock.sendall(json.dumps(request).encode() + b"\r\n")
        while True:
            msg = self.read()
            if msg.get("id") != self.next_id:
                continue
            if "error" in msg:
                raise SystemExit(f"one_recv: {name} failed: {msg['error']['desc']}")
            return msg["return"]


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
            raise SystemExit("one_recv: the guest never completed the unplug of nic1")
        if not qmp.cmd("query-status")["running"]:
            qmp.cmd("cont")
        time.sleep(POLL_S)
    qmp.cmd("query-name")
    print("one_recv: done")


main()
