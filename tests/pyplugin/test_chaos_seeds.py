"""--qmpsim-chaos-seeds N, run by pytest in a subprocess: a test marked
qmpsim_chaos runs once per seed under -x-chaos, each failing seed keeps its
trace, which replays; unmarked tests run once; without the option a marked
test runs once, without chaos."""

import os
import subprocess

import inner_pytest
import qmpsim

SUITE = '''
import pytest

@pytest.mark.qmpsim_chaos(rate="1", kinds="failures")
def test_ejects_the_cd(qmpsim_vm):
    # Under chaos the guest holds the tray locked: DeviceLocked, every seed.
    qmpsim_vm.qmp.cmd("eject", device="ide1-cd0")

def test_unmarked(qmpsim_vm):
    qmpsim_vm.qmp.cmd("query-status")
'''


def run_suite(tmp_path, *extra):
    return inner_pytest.run_suite(tmp_path, SUITE, *extra)


def test_each_chaos_seed_runs_and_keeps_its_failing_trace(tmp_path):
    traces = tmp_path / "base" / "qmpsim-traces"
    result = run_suite(tmp_path, "--qmpsim-chaos-seeds", "3")
    assert "3 failed, 1 passed" in result.stdout, result.stdout + result.stderr
    assert sorted(os.listdir(traces)) == [
        f"test_inner.py_test_ejects_the_cd_chaos{s}.qmptrace" for s in range(3)
    ]
    replay = subprocess.run(
        [qmpsim.find_binary(), "replay", str(traces)], capture_output=True, text=True
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr


def test_without_the_option_a_marked_test_runs_once_without_chaos(tmp_path):
    result = run_suite(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
