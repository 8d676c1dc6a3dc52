"""Runs a small test suite through pytest in a subprocess, in a temporary folder,
so a test can look at what the plugin reports and keeps for it. A plain module,
not a conftest.py: this folder loads the plugin only through its entry point."""

import subprocess
import sys


def run_suite(tmp_path, suite, *extra):
    """Writes ``suite`` to ``tmp_path/test_inner.py`` and runs pytest on it with
    ``extra`` options, temporary files under ``tmp_path/base``."""
    (tmp_path / "test_inner.py").write_text(suite)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--basetemp", str(tmp_path / "base"), *extra, "test_inner.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
