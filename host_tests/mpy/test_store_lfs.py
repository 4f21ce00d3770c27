"""MicroPython lane: the tokenpad store on a real littlefs (``vfs.VfsLfs2``) over a RAM block
device that loses power after N block writes, for every N up to what one run uses.

No invocation counter value repeats and no journaled token is lost. Under CPython (no
littlefs) the same scenario runs against a real temporary directory without cuts.
"""
# lane-heap: 80k  (the RAM block device and littlefs's buffers live in this heap, not on a
# board; the script needs 60-64k, so 64k left no margin: it failed at longer checkout paths)


import os
import sys

try:
    import vfs

    HAVE_LFS = hasattr(vfs, "VfsLfs2")
except ImportError:
    vfs = None
    HAVE_LFS = False

if HAVE_LFS:
    # first: lfsdev allocates the block device's buffer while the heap is whole
    from lfsdev import MOUNT, _umount, lfs_factory  # noqa: E402

from tokenpad import store  # noqa: E402

from mpytest import eq, main, test  # noqa: E402
from powercut import Budget, count_writes, run_scenario  # noqa: E402

if HAVE_LFS:

    @test
    def lfs_clean_run():
        n = count_writes(lfs_factory)
        assert n > 20, n
        _umount()

    @test
    def lfs_cut_at_every_write():
        total = count_writes(lfs_factory)
        _umount()
        for n in range(1, total + 1):
            boots, values = run_scenario(lfs_factory(Budget(cut_at=n)))
            eq(boots, 2, "cut at write %d" % n)
            _umount()
        print("  littlefs: cut at each of %d block writes, all safe" % total)

    @test
    def lfs_cut_repeatedly():
        for every in (9, 13, 23):
            boots, _ = run_scenario(lfs_factory(Budget(cut_at=every, every=every)))
            assert boots > 3, boots
            _umount()

    @test
    def lfs_rename_replaces_and_tmp_ignored():
        boot = lfs_factory(Budget())
        s = boot()
        s.resync(10)
        with open(MOUNT + "/tokenpad.dat.tmp", "wb") as f:
            f.write(b"TPS1 torn")
        s2 = boot()
        eq(s2.value, 11)
        eq(s2.next(), 11)
        _umount()

else:

    @test
    def host_directory_run():
        import tempfile

        d = tempfile.mkdtemp()
        path = os.path.join(d, "tp.dat")
        boots, values = run_scenario(lambda: store.Store(store.FileMedium(path)))
        eq(boots, 1)
        assert values == sorted(set(values))
        print("  (no vfs.VfsLfs2 on %s: ran without power cuts)" % sys.implementation.name)


main()
