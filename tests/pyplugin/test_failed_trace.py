"""A test that fails on purpose, run by pytest in a subprocess: its trace is kept
and named in the report; a passing test's trace is dropped, unless
--qmpsim-record DIR keeps them all."""

import os
import re
import subprocess

import inner_pytest
import qmpsim

SUITE = '''
import pytest

@pytest.mark.qmpsim("-S", "-name", "doomed")
def test_fails_on_purpose(qmpsim_vm):
    qmpsim_vm.qmp.cmd("query-name")
    assert qmpsim_vm.qmp.cmd("query-status")["running"], "fails on purpose"

def test_passes(qmpsim_vm):
    qmpsim_vm.qmp.cmd("query-status")
'''


def run_suite(tmp_path, *extra):
    return inner_pytest.run_suite(tmp_path, SUITE, *extra)


def test_failed_test_keeps_its_trace_and_names_it(tmp_path):
    result = run_suite(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 1 passed" in result.stdout
    named = re.findall(r"(\S+test_fails_on_purpose\.qmptrace)", result.stdout)
    assert named, result.stdout
    dump = subprocess.run(
        [qmpsim.find_binary(), "trace", "dump", named[0]], capture_output=True, text=True
    )
    assert dump.returncode == 0, dump.stderr
    assert "query-name" in dump.stdout
    kept = sorted(os.listdir(os.path.dirname(named[0])))
    assert kept == ["test_inner.py_test_fails_on_purpose.qmptrace"]


def test_qmpsim_record_keeps_every_trace(tmp_path):
    result = run_suite(tmp_path, "--qmpsim-record", str(tmp_path / "traces"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert sorted(os.listdir(tmp_path / "traces")) == [
        "test_inner.py_test_fails_on_purpose.qmptrace",
        "test_inner.py_test_passes.qmptrace",
    ]
