"""The qmpsim_vm fixture, loaded through the package's pytest11 entry point (this
folder has no conftest.py)."""

import os

import pytest


def test_fixture_without_marker_runs_a_default_vm(qmpsim_vm):
    assert qmpsim_vm.qmp.cmd("query-status")["running"] is True


@pytest.mark.qmpsim("-S", "-name", "marked")
def test_marker_gives_the_options(qmpsim_vm):
    assert qmpsim_vm.qmp.cmd("query-name") == {"name": "marked"}
    assert qmpsim_vm.qmp.cmd("query-status")["running"] is False


@pytest.mark.parametrize("qmpsim_vm", [["-smp", "2"], ["-smp", "4"]], indirect=True)
def test_indirect_parameter_gives_the_options(qmpsim_vm):
    cpus = qmpsim_vm.qmp.cmd("query-cpus")
    assert len(cpus) == int(qmpsim_vm.options[1])


@pytest.mark.qmpsim("-name", "own", connect=False)
def test_marker_keywords_go_to_vm(qmpsim_vm):
    with pytest.raises(Exception, match="no synchronous client"):
        qmpsim_vm.qmp


def test_fixture_records_a_trace_while_the_test_runs(qmpsim_vm):
    assert qmpsim_vm.trace_path.endswith(
        "test_fixture.py_test_fixture_records_a_trace_while_the_test_runs.qmptrace"
    )
    assert os.path.isfile(qmpsim_vm.trace_path)
