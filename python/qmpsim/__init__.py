"""qmpsim: a deterministic QEMU 0.14 virtual machine, as seen through QMP.

The wheel holds the ``qmpsim`` binary; this package starts it for you:

* :class:`Vm` runs one VM on a temporary unix socket, as a context manager, and
  hands out a connected ``qemu.qmp`` client (``with`` for the synchronous client,
  ``async with`` for the asyncio :class:`qemu.qmp.QMPClient`);
* :func:`find_binary` says which ``qmpsim`` binary is used;
* :mod:`qmpsim.pytest_plugin` (loaded by pytest by itself) gives the
  ``qmpsim_vm`` fixture.
"""

from ._binary import BinaryNotFound, find_binary
from ._vm import Vm, VmError

__all__ = ["BinaryNotFound", "Vm", "VmError", "find_binary"]
