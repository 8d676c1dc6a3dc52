"""examples/chaos_harness.py for a few seeds: it runs each, says how many broke
its deliberately naive script, and for each broken seed gives the command line
that reproduces it and a trace that replays byte for byte."""

import os
import re
import subprocess
import sys

BIN = os.environ.get("QMPSIM_BIN", "target/debug/qmpsim")
SEEDS = 6


def test_harness_lists_broken_seeds_with_reproduction_and_replayable_traces(tmp_path):
    out = tmp_path / "traces"
    # The harness starts its VMs with qmpsim's Python package, from this checkout.
    env = dict(os.environ, PYTHONPATH=os.path.abspath("python"))
    result = subprocess.run(
        [sys.executable, "examples/chaos_harness.py", "--seeds", str(SEEDS),
         "--rate", "0.3", "--qmpsim", BIN, "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    summary = re.match(r"(\d+) seeds run, (\d+) broke the script\n", result.stdout)
    assert summary, result.stdout + result.stderr
    broken = re.findall(r"^seed (\d+): ", result.stdout, re.M)
    reproduce = re.findall(r"reproduce: .* -x-chaos seed=(\d+),rate=0\.3$", result.stdout, re.M)
    assert (int(summary[1]), int(summary[2])) == (SEEDS, len(broken))
    assert reproduce == broken
    # At rate 0.3 the naive script cannot survive all six seeds.
    assert broken and result.returncode == 1
    assert sorted(os.listdir(out)) == sorted(f"seed-{s}.qmptrace" for s in broken)
    replay = subprocess.run([BIN, "replay", str(out)], capture_output=True, text=True)
    assert replay.returncode == 0, replay.stdout + replay.stderr
