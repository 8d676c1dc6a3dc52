"""What the example clients of this folder share: the monitor socket's path,
the connection, QMP requests tagged with ids and replies paired by id, and the
poll of query-pci for an unplugged device. Each client keeps in its own file
the part where it goes wrong (or, for correct.py, right).

Imported by the clients, which run as scripts from this folder
(`python3 tests/clients/NAME.py`), so it is found beside them."""
import json
import os
import socket
import sys
import time

UNPLUG_WAIT_S = 8.0
POLL_S = 0.025


def socket_path(args=None):
    """The first argument, or $QMP_SOCKET."""
    args = sys.argv[1:] if args is None else args
    return args[0] if args else os.environ["QMP_SOCKET"]


class Qmp:
    """A connection to a QMP monitor on a unix socket. `read` takes the next
    message off a buffer of the stream, line by line; `cmd` tags each command
    with an id and returns the reply with that id, setting events aside."""

    def __init__(self, name, path):
        self.name = name
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def fail(self, why):
        raise SystemExit(f"{self.name}: {why}")

    def recv(self, size):
        data = self.sock.recv(size)
        if not data:
            self.fail("the server closed the connection")
        return data

    def read(self):
        while b"\n" not in self.buf:
            self.buf += self.recv(4096)
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def send(self, name, args, **members):
        request = {"execute": name, **members}
        if args:
            request["arguments"] = args
        self.sock.sendall(json.dumps(request).encode() + b"\r\n")

    def cmd(self, name, **args):
        self.next_id += 1
        self.send(name, args, id=self.next_id)
        while True:
            msg = self.read()
            if "event" in msg:
                self.events.append(msg["event"])
            elif msg.get("id") != self.next_id:
                continue  # not ours (an error without id answers someone's bad input)
            elif "error" in msg:
                self.fail(f"{name} failed: {msg['error']['desc']}")
            else:
                return msg["return"]


def pci_ids(qmp):
    """The qdev ids on the PCI bus."""
    return [d.get("qdev_id") for bus in qmp.cmd("query-pci") for d in bus["devices"]]


def unplug_session(qmp, wait_for_unplug):
    """The buggy clients' whole session: negotiate, add nic1, remove it, wait
    for the unplug as `wait_for_unplug(qmp)` does, then one more query."""
    qmp.read()
    negotiate_and_add_nic(qmp)
    qmp.cmd("device_del", id="nic1")
    wait_for_unplug(qmp)
    qmp.cmd("query-name")
    print(f"{qmp.name}: done")


def negotiate_and_add_nic(qmp):
    """Negotiates after the greeting and adds nic1: how every client of this
    folder begins."""
    qmp.cmd("qmp_capabilities")
    qmp.cmd("query-status")
    qmp.cmd("device_add", driver="e1000", id="nic1")


def poll_unplug(qmp):
    """Polls query-pci until nic1 is gone, resuming a stopped VM on the way,
    for at most UNPLUG_WAIT_S."""
    deadline = time.monotonic() + UNPLUG_WAIT_S
    while "nic1" in pci_ids(qmp):
        if time.monotonic() > deadline:
            qmp.fail("the guest never completed the unplug of nic1")
        if not qmp.cmd("query-status")["running"]:
            qmp.cmd("cont")
        time.sleep(POLL_S)
