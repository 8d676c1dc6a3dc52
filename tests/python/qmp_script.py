"""A qemu.qmp session that runs against QEMU 0.14 (qmpsim) and a modern QEMU
alike: queries, stop and cont (with their events), and one human monitor
command. Run as ``python qmp_script.py SOCKET [--changed]``: it prints every
result, error and event as one JSON document on stdout, so two runs can be
compared byte for byte. ``--changed`` alters the argument of one command (the
human monitor command line), as a client whose behaviour drifted would.

Used by tests/python/test_proxy_serve.py (against qmpsim, the proxy and serve)
and by ci/proxy-qemu (against a real qemu-system-x86_64)."""

import asyncio
import json
import sys

from qemu.qmp import ExecuteError, QMPClient

TIMEOUT_S = 10

COMMANDS = [
    ("query-status", None),
    ("query-version", None),
    ("stop", None),
    ("query-status", None),
    ("human-monitor-command", {"command-line": "info status"}),
    ("cont", None),
    ("query-status", None),
    ("query-kvm", None),
]


def commands(changed=False):
    """The session's commands; ``changed`` alters one argument."""
    out = list(COMMANDS)
    if changed:
        out[4] = ("human-monitor-command", {"command-line": "info version"})
    return out


async def session(sock, changed=False):
    """Runs the session on the QMP socket ``sock``; returns what came back."""
    qmp = QMPClient("qmp-script")
    with qmp.listener() as listener:
        await qmp.connect(sock)
        out = {"greeting": qmp.greeting._asdict(), "results": []}
        for name, args in commands(changed):
            try:
                out["results"].append({"return": await qmp.execute(name, args)})
            except ExecuteError as e:
                out["results"].append({"error": e.error_class, "desc": str(e)})
        await qmp.disconnect()
        out["events"] = [event["event"] for event in listener.history]
    return out


def main(argv):
    sock = argv[1]
    changed = "--changed" in argv[2:]
    out = asyncio.run(asyncio.wait_for(session(sock, changed), TIMEOUT_S))
    print(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv)
