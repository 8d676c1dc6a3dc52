#!/usr/bin/env python3
"""A buggy QMP client: it takes the first message after each command for the
command's reply. An event that arrives before a reply (legal at any time
after negotiation) is mistaken for the reply, and every later reply is paired
with the wrong command.

Usage: mispaired.py [SOCKET]  (default: $QMP_SOCKET)."""
import json

from qmp_client import Qmp, poll_unplug, socket_path, unplug_session


class Mispaired(Qmp):
    def cmd(self, name, **args):
        self.send(name, args)
        reply = self.read()  # the bug: this may be an event
        if "return" not in reply:
            self.fail(f"{name} got no reply but {json.dumps(reply)}")
        return reply["return"]


unplug_session(Mispaired("mispaired", socket_path()), poll_unplug)
