"""Where the ``qmpsim`` binary is: the one installed with this package, as ruff
finds its own."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig

#: Environment variable naming a ``qmpsim`` binary to use instead of the installed one.
BINARY_ENV = "QMPSIM_BIN"


class BinaryNotFound(FileNotFoundError):
    """No ``qmpsim`` binary was found."""


def _candidates() -> list[str]:
    exe = "qmpsim" + (".exe" if sys.platform == "win32" else "")
    dirs = [sysconfig.get_path("scripts")]
    user_scheme = f"{os.name}_user"
    if user_scheme in sysconfig.get_scheme_names():
        dirs.append(sysconfig.get_path("scripts", scheme=user_scheme))
    # A venv's binary sits beside its python, even when sysconfig points elsewhere.
    dirs.append(os.path.dirname(sys.executable))
    return [os.path.join(d, exe) for d in dirs if d]


def find_binary() -> str:
    """Returns the path of the ``qmpsim`` binary.

    In order: ``$QMPSIM_BIN``; the binary installed with this package (the
    environment's scripts folder, then the user scheme's); ``qmpsim`` on ``PATH``.

    Raises:
        BinaryNotFound: when none of them exists.
    """
    override = os.environ.get(BINARY_ENV)
    if override:
        if not os.path.isfile(override):
            raise BinaryNotFound(f"qmpsim: ${BINARY_ENV} names no file: {override}")
        return override
    for path in _candidates():
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    on_path = shutil.which("qmpsim")
    if on_path:
        return on_path
    raise BinaryNotFound(
        "qmpsim: the qmpsim binary was not found (reinstall the package, "
        f"or set ${BINARY_ENV})"
    )
