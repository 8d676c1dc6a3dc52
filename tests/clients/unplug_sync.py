#!/usr/bin/env python3
"""A buggy QMP client: it treats device_del as synchronous. It reads the stream
correctly and pairs replies by id, but after device_del returns it only waits
a fixed moment before checking query-pci, as if the unplug were complete by
then. In QEMU 0.14 device_del only asks the guest to eject the slot; a guest
that is stopped, or slow, completes the unplug much later.

Usage: unplug_sync.py [SOCKET]  (default: $QMP_SOCKET)."""
import json
import os
import socket
import sys
import time

SETTLE_S = 0.5


class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 0

    def read(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise SystemExit("unplug_sync: the server closed the connection")
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
            if msg.get("id") != self.next_id:
                continue  # events, and errors without id
            if "error" in msg:
                raise SystemExit(f"unplug_sync: {name} failed: {msg['error']['desc']}")
            return msg["return"]


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ["QMP_SOCKET"]
    qmp = Qmp(path)
    qmp.read()
    qmp.cmd("qmp_capabilities")
    qmp.cmd("query-status")
    qmp.cmd("device_add", driver="e1000", id="nic1")
    qmp.cmd("device_del", id="nic1")
    time.sleep(SETTLE_S)  # the bug: the unplug is assumed done by now
    ids = [d.get("qdev_id") for bus in qmp.cmd("query-pci") for d in bus["devices"]]
    if "nic1" in ids:
        raise SystemExit("unplug_sync: nic1 is still on the PCI bus after device_del returned")
    qmp.cmd("query-name")
    print("unplug_sync: done")


main()
