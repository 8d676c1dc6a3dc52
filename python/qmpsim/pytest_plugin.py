"""The qmpsim pytest plugin, loaded by pytest by itself once qmpsim is installed.

The ``qmpsim_vm`` fixture gives each test a started :class:`qmpsim.Vm` with its
synchronous client connected (``qmpsim_vm.qmp``). Its QEMU options come from,
in order of precedence:

* an indirect parameter: ``@pytest.mark.parametrize("qmpsim_vm", [["-S"],
  ["-m", "256"]], indirect=True)``;
* the ``qmpsim`` marker: ``@pytest.mark.qmpsim("-S", "-name", "t")``, whose
  keyword arguments go to :class:`qmpsim.Vm` (``connect=False``, ``timeout=30``).

Every ``qmpsim_vm`` records a trace of its session. A test that fails keeps it and
its report names the path (a ``qmpsim trace`` section); a test that passes drops it,
unless ``--qmpsim-record DIR`` was given, which keeps the trace of every test in
DIR. Without that option, kept traces go to ``qmpsim-traces/`` in pytest's base
temporary folder. Replay one with ``qmpsim replay PATH`` or read it with
``qmpsim trace dump PATH``.

``--qmpsim-chaos-seeds N`` runs every test marked ``qmpsim_chaos`` N times, once
per chaos seed 0..N-1 (the test ids end in ``[chaos0]``, ``[chaos1]``, ...): its
``qmpsim_vm`` gets ``-x-chaos seed=S``, plus the marker's ``rate`` and ``kinds``
(``@pytest.mark.qmpsim_chaos(rate="0.3", kinds="split+delay")``). A seed that
breaks the test keeps its trace like any failed test; ``qmpsim replay`` then
reproduces the session byte for byte. Without the option a marked test runs
once, without chaos.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Generator, Optional

import pytest

from ._vm import Vm

#: Longest file name, before ``.qmptrace``, given to a test's trace.
TRACE_NAME_CHARS_MAX = 180

_REPORT_KEY = pytest.StashKey[dict]()
_TRACE_KEY = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Adds ``--qmpsim-record DIR`` and ``--qmpsim-chaos-seeds N``."""
    group = parser.getgroup("qmpsim", "qmpsim VMs (the qmpsim_vm fixture)")
    group.addoption(
        "--qmpsim-record",
        metavar="DIR",
        default=None,
        help="keep the trace of every qmpsim_vm test in DIR (default: only failed "
        "tests keep theirs, in pytest's base temporary folder)",
    )
    group.addoption(
        "--qmpsim-chaos-seeds",
        metavar="N",
        type=int,
        default=0,
        help="run each test marked qmpsim_chaos under chaos seeds 0..N-1 (-x-chaos)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declares the ``qmpsim`` and ``qmpsim_chaos`` markers."""
    config.addinivalue_line(
        "markers",
        "qmpsim(*options, **vm_kwargs): QEMU options (and qmpsim.Vm keyword "
        "arguments) for the qmpsim_vm fixture",
    )
    config.addinivalue_line(
        "markers",
        "qmpsim_chaos(rate=None, kinds=None): with --qmpsim-chaos-seeds N, run the "
        "test under chaos seeds 0..N-1",
    )
    if config.getoption("--qmpsim-chaos-seeds") < 0:
        raise pytest.UsageError("--qmpsim-chaos-seeds takes a number from 0")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrizes each ``qmpsim_chaos`` test over the chaos seeds."""
    seeds = metafunc.config.getoption("--qmpsim-chaos-seeds")
    marked = metafunc.definition.get_closest_marker("qmpsim_chaos") is not None
    if seeds > 0 and marked and "qmpsim_vm" in metafunc.fixturenames:
        metafunc.fixturenames.append(_CHAOS_SEED)
        metafunc.parametrize(
            _CHAOS_SEED, range(seeds), ids=[f"chaos{s}" for s in range(seeds)]
        )


#: The parameter that carries a test's chaos seed.
_CHAOS_SEED = "qmpsim_chaos_seed"


def chaos_option(seed: int, rate: Optional[str] = None, kinds: Optional[str] = None) -> str:
    """The ``-x-chaos`` value for ``seed`` and the marker's settings."""
    value = f"seed={seed}"
    if rate is not None:
        value += f",rate={rate}"
    if kinds is not None:
        value += f",kinds={kinds}"
    return value


@pytest.fixture
def qmpsim_chaos_seed(request: pytest.FixtureRequest) -> Optional[int]:
    """The chaos seed this run of a ``qmpsim_chaos`` test is under, or None."""
    return getattr(request, "param", None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator:
    """Notes each phase's report, and names the trace in a failed test's report."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    item.stash.setdefault(_REPORT_KEY, {})[report.when] = report
    trace = item.stash.get(_TRACE_KEY, None)
    if trace is not None and report.failed:
        report.sections.append(("qmpsim trace", str(trace)))
        item.user_properties.append(("qmpsim_trace", str(trace)))


def trace_file_name(nodeid: str) -> str:
    """The trace file name for a test: its node id with every character other
    than letters, digits, ``.``, ``_`` and ``-`` made ``_``."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", nodeid).strip("_")
    return name[:TRACE_NAME_CHARS_MAX] + ".qmptrace"


def _trace_dir(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen: Optional[str] = config.getoption("--qmpsim-record")
    folder = Path(chosen) if chosen else tmp_path_factory.getbasetemp() / "qmpsim-traces"
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


def _options(request: pytest.FixtureRequest) -> tuple[list[str], dict]:
    marker = request.node.get_closest_marker("qmpsim")
    options = list(marker.args) if marker else []
    kwargs = dict(marker.kwargs) if marker else {}
    param = getattr(request, "param", None)
    if param is not None:
        options = [param] if isinstance(param, str) else list(param)
    callspec = getattr(request.node, "callspec", None)
    seed = callspec.params.get(_CHAOS_SEED) if callspec is not None else None
    if seed is not None:
        chaos = request.node.get_closest_marker("qmpsim_chaos")
        settings = dict(chaos.kwargs) if chaos else {}
        options += ["-x-chaos", chaos_option(seed, **settings)]
    return [os.fspath(o) for o in options], kwargs


def _failed(item: pytest.Item) -> bool:
    reports = item.stash.get(_REPORT_KEY, {})
    return any(r.failed for r in reports.values())


@pytest.fixture
def qmpsim_vm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Generator[Vm, None, None]:
    """A started qmpsim VM with its synchronous client connected (``.qmp``),
    recording a trace that is kept when the test fails."""
    options, kwargs = _options(request)
    keep_all = request.config.getoption("--qmpsim-record") is not None
    trace = _trace_dir(request.config, tmp_path_factory) / trace_file_name(request.node.nodeid)
    request.node.stash[_TRACE_KEY] = trace
    with Vm(*options, record=trace, **kwargs) as vm:
        yield vm
    if not keep_all and not _failed(request.node):
        trace.unlink(missing_ok=True)
