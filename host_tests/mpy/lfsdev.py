"""littlefs on a RAM block device that loses power after N writes (for test_store_lfs.py).

``lfs_factory(budget)`` formats a fresh littlefs (``vfs.VfsLfs2``) in the shared buffer and
returns a boot function: each call remounts it and opens a Store on it.
"""

import gc

BLOCK = 128
COUNT = 40
_BUF = bytearray(BLOCK * COUNT)  # one buffer for every run, before the heap fragments

import vfs  # noqa: E402
from powercut import Budget, PowerCut  # noqa: E402

from tokenpad import store  # noqa: E402


def buffer():
    return _BUF


MOUNT = "/lfs"
_FF = b"\xff" * BLOCK


class RamBlockDev:
    """littlefs block device in RAM (extended interface with offsets). A write that runs
    out of ``budget`` is torn (first half programmed) and raises PowerCut."""

    def __init__(self, budget):
        self.data = buffer()
        for b in range(COUNT):
            self.data[b * BLOCK:(b + 1) * BLOCK] = _FF
        self.budget = budget

    def readblocks(self, n, buf, off=0):
        a = n * BLOCK + off
        buf[:] = self.data[a:a + len(buf)]

    def writeblocks(self, n, buf, off=None):
        a = n * BLOCK + (off or 0)
        if off is None:  # whole-block write implies erase
            self.data[a:a + BLOCK] = _FF
        if self.budget.tick():
            half = len(buf) // 2
            self.data[a:a + half] = buf[:half]
            raise PowerCut()
        self.data[a:a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return COUNT
        if op == 5:
            return BLOCK
        if op == 6:  # erase
            a = arg * BLOCK
            self.data[a:a + BLOCK] = _FF
            return 0
        return None


def _umount():
    try:
        vfs.umount(MOUNT)
    except OSError:
        pass


def lfs_factory(budget):
    """A fresh formatted littlefs; each call of the returned function is one boot."""
    gc.collect()
    dev = RamBlockDev(Budget())
    vfs.VfsLfs2.mkfs(dev)
    dev.budget = budget

    def boot():
        _umount()
        gc.collect()
        vfs.mount(vfs.VfsLfs2(dev), MOUNT)
        return store.Store(store.FileMedium(MOUNT + "/tokenpad.dat"))

    return boot
