#!/usr/bin/env python3
"""A buggy QMP client: it assumes that one recv() returns exactly one message.
It skips events and pairs replies by id, but parses whatever one recv()
returned as a single JSON document, so a reply that arrives in pieces, or
together with an event in the same read, breaks it.

Usage: one_recv.py [SOCKET]  (default: $QMP_SOCKET)."""
import json

from qmp_client import Qmp, poll_unplug, socket_path, unplug_session


class OneRecv(Qmp):
    def read(self):
        data = self.recv(65536)  # the bug: one read is taken for one message
        try:
            return json.loads(data)
        except ValueError as e:
            self.fail(f"cannot parse {data[:60]!r}: {e}")


unplug_session(OneRecv("one_recv", socket_path()), poll_unplug)
