"""Power-cut tests of the tokenpad store on CPython (firmware/tokenpad/store.py).

File backend: a fake filesystem where every open-for-write, write and rename is one write
(rename atomic, a write torn in half). Two-slot backend: a fake non-atomic ``nvm``. For
every N up to the writes one run makes, the power is cut at write N (and, separately,
at every N-th write): no invocation counter value repeats and no journaled token is lost.
"""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in ("lib", "firmware", os.path.join("host_tests", "mpy")):
    if os.path.join(ROOT, p) not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, p))

from nvmfake import FakeNvm  # noqa: E402
from powercut import Budget, PowerCut, count_writes, run_scenario  # noqa: E402
from tokenpad import store  # noqa: E402
from tokenpad.nvmlog import NvmLog  # noqa: E402
from udlms.errors import SecurityError  # noqa: E402


class FakeFs:
    """In-memory files; ``budget`` counts writes. Rename is atomic; a torn write keeps half."""

    def __init__(self, budget):
        self.files = {}
        self.budget = budget

    def open(self, path, mode="rb"):
        return _File(self, path, mode)

    def rename(self, a, b):
        if a not in self.files:
            raise OSError(2, "no such file")
        if self.budget.tick():
            raise PowerCut()
        self.files[b] = self.files.pop(a)

    def remove(self, p):
        self.files.pop(p, None)


class _File:
    def __init__(self, fs, path, mode):
        self.fs = fs
        self.path = path
        if "w" in mode:
            if fs.budget.tick():
                raise PowerCut()
            fs.files[path] = b""
        elif path not in fs.files:
            raise OSError(2, "no such file")
        self.pos = 0

    def read(self):
        return self.fs.files[self.path]

    def write(self, data):
        data = bytes(data)
        if self.fs.budget.tick():
            self.fs.files[self.path] += data[:len(data) // 2]
            raise PowerCut()
        self.fs.files[self.path] += data
        return len(data)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def file_factory(budget):
    fs = FakeFs(budget)
    return lambda: store.Store(store.FileMedium("/tokenpad.dat", os_module=fs, open_fn=fs.open))


NVMS = []


def nvm_factory(budget, erase_on_cut=False):
    """The CircuitPython store as open_store builds it: a log in the 4 KiB nvm."""
    nvm = FakeNvm(4096, budget, erase_on_cut)
    NVMS.append(nvm)
    return lambda: store.Store(NvmLog(nvm, 0, 4096))


def twoslot_factory(budget):
    nvm = FakeNvm(4096, budget)
    NVMS.append(nvm)
    return lambda: store.Store(store.TwoSlot(store.NvmSlot(nvm, 0, 2048),
                                             store.NvmSlot(nvm, 2048, 2048)))


def _writes(factory):
    b = Budget()
    run_scenario(factory(b))
    return b.count


FILE_WRITES = _writes(file_factory)
NVM_WRITES = _writes(nvm_factory)


def test_clean_runs_use_writes():
    assert FILE_WRITES > 20 and NVM_WRITES > 8
    assert count_writes(nvm_factory) == NVM_WRITES


@pytest.mark.parametrize("n", range(1, FILE_WRITES + 1))
def test_file_cut_once(n):
    boots, values = run_scenario(file_factory(Budget(cut_at=n)))
    assert boots == 2


@pytest.mark.parametrize("n", range(1, NVM_WRITES + 1))
def test_nvm_cut_once(n):
    """A cut at every write of a run: the counter never repeats; journal entries survive
    every cut except one inside the rare full-sector rewrite (the log is full), which
    wipes the region (counter then unknown or blank, re-read from the meter)."""
    f = nvm_factory(Budget(cut_at=n))
    nvm = NVMS[-1]
    boots, values = run_scenario(f, wiped=lambda: nvm.wipes)
    assert boots == 2


def test_nvm_log_appends_without_erasing():
    b = Budget()
    f = nvm_factory(b)
    nvm = NVMS[-1]
    run_scenario(f)
    # one scenario saves ~20 records: the region is rewritten (erased) only when full
    assert b.count > 20 and nvm.rewrites <= 2, (b.count, nvm.rewrites)
    wiping = sum(1 for n in range(1, b.count + 1) if _wipes(n))
    assert wiping <= 3 * (nvm.rewrites + 1), wiping  # erase + the record's pages, per rewrite


def _wipes(n):
    f = nvm_factory(Budget(cut_at=n))
    nvm = NVMS[-1]
    run_scenario(f, wiped=lambda: nvm.wipes)
    return nvm.wipes


def test_twoslot_on_nvm_rewrites_the_sector_every_time():
    """Why the nvm store is a log: two slots in one RP2040 sector make every save an
    erase of both (a cut in most of each save's window loses both)."""
    b = Budget()
    f = twoslot_factory(b)
    nvm = NVMS[-1]
    run_scenario(f)
    assert nvm.rewrites >= 10


@pytest.mark.parametrize("every", [4, 5, 7, 11])
def test_file_cut_repeatedly(every):
    boots, _ = run_scenario(file_factory(Budget(cut_at=every, every=every)))
    assert boots > 3


@pytest.mark.parametrize("every", [2, 3, 5])
def test_nvm_cut_repeatedly(every):
    f = nvm_factory(Budget(cut_at=every, every=every))
    nvm = NVMS[-1]
    boots, _ = run_scenario(f, wiped=lambda: nvm.wipes)
    assert boots > 3


@pytest.mark.parametrize("n", range(1, 12))
def test_nvm_sector_erase_fails_closed(n):
    """RP2040 nvm erases its whole sector on a write: a cut there loses both slots. The
    counter must then be unknown (refuse, resync), never reset to something reused."""
    run_scenario(nvm_factory(Budget(cut_at=n), erase_on_cut=True), lose_journal_ok=True)


def test_missing_or_corrupt_refuses():
    b = Budget()
    nvm = FakeNvm(4096, b)
    s = store.Store(store.TwoSlot(store.NvmSlot(nvm, 0, 2048), store.NvmSlot(nvm, 2048, 2048)))
    assert not s.known and "resync" in s.problem
    e = pytest.raises(SecurityError, s.next).value
    assert e.kind == "counter-unavailable"
    s.resync(41)
    assert s.next() == 42
    nvm.mem[20] ^= 0xFF  # corrupt both copies
    nvm.mem[2048 + 20] ^= 0xFF
    s2 = store.Store(store.TwoSlot(store.NvmSlot(nvm, 0, 2048), store.NvmSlot(nvm, 2048, 2048)))
    assert not s2.known and "corrupt" in s2.problem
    assert pytest.raises(SecurityError, s2.next).value.kind == "counter-unavailable"


def test_reserve_ahead_resumes_at_ceiling(tmp_path):
    path = str(tmp_path / "tp.dat")
    s = store.Store(store.FileMedium(path))
    s.resync(99)
    got = [s.next() for _ in range(5)]
    assert got == [100, 101, 102, 103, 104]
    assert s.ceiling == 100 + store.Store.STEP
    s2 = store.Store(store.FileMedium(path))  # reboot: resume at the ceiling
    assert s2.next() == 100 + store.Store.STEP
    assert not os.path.exists(path + ".tmp")


def test_journal_pending_kept_and_trimmed(tmp_path):
    s = store.Store(store.FileMedium(str(tmp_path / "tp.dat")))
    first = s.add("17813034313191558529")
    for i in range(12):
        j = s.add("%020d" % i)
        s.set(j, "accepted")
    assert s.get(first)[2] == "pending"
    assert len([e for e in s.journal if e[2] != "pending"]) == store.Store.KEEP
    s2 = store.Store(store.FileMedium(str(tmp_path / "tp.dat")))
    assert [e[0] for e in s2.boot_pending] == [first]
    assert not s2.known  # journal works without a counter; sending would still refuse


def test_torn_tmp_file_is_ignored(tmp_path):
    path = str(tmp_path / "tp.dat")
    s = store.Store(store.FileMedium(path))
    s.resync(7)
    with open(path + ".tmp", "wb") as f:
        f.write(b"TPS1garbage")
    s2 = store.Store(store.FileMedium(path))
    assert s2.known and s2.value == 8


def test_reserve_before_a_session_keeps_writes_out_of_it(tmp_path):
    """verdict.reserve (run before a session opens: the token's preparation, the counter
    read from the meter) persists enough headroom that the session's own next() calls
    never write (nor load tokenpad.verdict on a board) while its frames go on."""
    from tokenpad import verdict

    path = str(tmp_path / "tp.dat")
    s = store.Store(store.FileMedium(path))
    verdict.reserve(s)  # unknown counter: nothing to reserve, nothing written
    assert not os.path.exists(path)
    s.resync(99)  # ceiling 100: no headroom
    verdict.reserve(s)
    assert s.ceiling == 100 + store.Store.STEP
    saves = []
    real = s.medium.save
    s.medium.save = lambda payload: (saves.append(1), real(payload))
    assert [s.next() for _ in range(16)] == list(range(100, 116))
    assert saves == []  # the session's values were on the medium already
    verdict.reserve(s)  # 16 left: enough, no write
    assert saves == []
    s.next()
    verdict.reserve(s)  # 15 left: reserved ahead again, persisted before use
    assert saves == [1] and s.ceiling == 117 + store.Store.STEP
    assert store.Store(store.FileMedium(path)).next() == 117 + store.Store.STEP  # reboot
