"""``python -m qmpsim ARGS...`` runs the installed ``qmpsim`` binary with ARGS."""

import os
import sys

from ._binary import find_binary


def _main() -> None:
    binary = find_binary()
    if sys.platform == "win32":  # pragma: no cover - qmpsim serves unix sockets
        import subprocess

        sys.exit(subprocess.call([binary, *sys.argv[1:]]))
    os.execv(binary, [binary, *sys.argv[1:]])


if __name__ == "__main__":
    _main()
