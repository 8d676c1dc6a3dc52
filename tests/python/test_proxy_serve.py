"""The real QMP client library through qmpsim's proxy and mock server: a
qemu.qmp session (qmp_script.py) recorded by ``qmpsim proxy`` in front of a
qmpsim VM, then played back by ``qmpsim serve`` to the same script, which
gets the same results, events and greeting; the script with one argument
changed gets an error naming both requests, and serve reports the
divergence and exits non-zero."""

import asyncio
import os
import signal
import subprocess
import tempfile

import pytest

from listening import wait_listening
from qmp_script import session

BIN = os.environ.get("QMPSIM_BIN", "target/debug/qmpsim")
TIMEOUT_S = 10


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT_S))


@pytest.fixture(scope="module")
def recorded():
    """Records the script through the proxy; yields (trace, what it got)."""
    d = tempfile.mkdtemp()
    up, proxied, trace = (os.path.join(d, n) for n in ("up.sock", "p.sock", "s.qmptrace"))
    vm = subprocess.Popen([BIN, "-qmp", f"unix:{up},server,nowait"], stderr=subprocess.PIPE)
    wait_listening(vm, up, TIMEOUT_S)
    proxy = subprocess.Popen(
        [BIN, "proxy", "--listen", f"unix:{proxied}", "--upstream", f"unix:{up}", "-record", trace],
        stderr=subprocess.PIPE,
    )
    wait_listening(proxy, proxied, TIMEOUT_S)
    got = run(session(proxied))
    proxy.send_signal(signal.SIGTERM)
    assert proxy.wait(TIMEOUT_S) == 0
    vm.kill()
    vm.wait(TIMEOUT_S)
    yield trace, got


def serve(trace, changed):
    """Plays the trace to the script; returns (what it got, exit status, stderr)."""
    sock = os.path.join(tempfile.mkdtemp(), "m.sock")
    server = subprocess.Popen([BIN, "serve", trace, "--listen", f"unix:{sock}"], stderr=subprocess.PIPE)
    wait_listening(server, sock, TIMEOUT_S)
    got = run(session(sock, changed))
    _, err = server.communicate(timeout=TIMEOUT_S)
    return got, server.returncode, err.decode()


def test_serve_plays_the_recording_back_to_the_same_script(recorded):
    trace, proxied = recorded
    got, code, _ = serve(trace, changed=False)
    assert (got, code) == (proxied, 0)


def test_recording_holds_events_and_the_greeting(recorded):
    _, proxied = recorded
    assert proxied["events"] == ["STOP", "RESUME"]
    assert proxied["greeting"]["QMP"]["version"]["qemu"]["minor"] == 14


def test_changed_script_gets_an_error_and_a_divergence_report(recorded):
    trace, _ = recorded
    got, code, err = serve(trace, changed=True)
    error = got["results"][4]
    assert code == 1
    assert error["error"] == "GenericError"
    assert "expected" in error["desc"] and '"info version"' in error["desc"]
    assert "divergence in session 1 at request 6" in err
    assert '+    "command-line": "info version"' in err
