#!/usr/bin/env python3
"""A buggy QMP client: it treats device_del as synchronous. It reads the stream
correctly and pairs replies by id, but after device_del returns it only waits
a fixed moment before checking query-pci, as if the unplug were complete by
then. In QEMU 0.14 device_del only asks the guest to eject the slot; a guest
that is stopped, or slow, completes the unplug much later.

Usage: unplug_sync.py [SOCKET]  (default: $QMP_SOCKET)."""
import time

from qmp_client import Qmp, pci_ids, socket_path, unplug_session

SETTLE_S = 0.5


def settle(qmp):
    time.sleep(SETTLE_S)  # the bug: the unplug is assumed done by now
    if "nic1" in pci_ids(qmp):
        qmp.fail("nic1 is still on the PCI bus after device_del returned")


unplug_session(Qmp("unplug_sync", socket_path()), settle)
