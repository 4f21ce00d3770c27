"""Encoding auto's memory in the tokenpad store (issue 20) under power cuts: the form a
meter accepted is written in the same record as the counter and the journal, so a cut at
any write leaves the old form or the new one, never a lost or mixed one, and the counter
and the journal keep their guarantees (the media and the cut model of
test_firmware_store.py: files with atomic rename, and nvm)."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in ("lib", "firmware", os.path.join("host_tests", "mpy"), "host_tests"):
    if os.path.join(ROOT, p) not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, p))

from powercut import Budget, PowerCut  # noqa: E402
from test_firmware_store import file_factory, nvm_factory  # noqa: E402

T1 = "17813034313191558529"
OPS = (("resync", 1000), ("remember", ("m1", "bcd")), ("add", T1), ("next", None),
       ("set", "accepted"), ("remember", ("m1", "digits")), ("remember", ("m2", "hex")),
       ("remember", ("m1", "digits")), ("next", None))


def scenario(make):
    """Run OPS, rebooting after each cut and retrying the op; check after every boot."""
    store = make()
    done, inflight = {}, {}
    used, jid, boots, i = [], None, 1, 0
    while i < len(OPS):
        name, arg = OPS[i]
        try:
            if name == "resync":
                store.resync(arg)
            elif name == "remember":
                inflight[arg[0]] = arg[1]
                store.remember(*arg)
                done[arg[0]] = arg[1]
                inflight.pop(arg[0])
            elif name == "add":
                jid = store.add(arg)
            elif name == "next":
                used.append(store.next())
            elif name == "set":
                store.set(jid, arg)
            i += 1
        except PowerCut:
            boots += 1
            assert boots < 50
            store = make()
            for m in ("m1", "m2"):
                ok = [done.get(m)] + ([inflight[m]] if m in inflight else [])
                got = store.form(m)
                assert got in ok, (m, got, done, inflight)
            if i > 0:  # resync returned: the counter is never lost, never repeats
                assert store.known and (not used or store.value > used[-1]), store.problem
            if jid is not None:
                assert store.get(jid) is not None
    assert store.form("m1") == "digits" and store.form("m2") == "hex"
    assert len(used) == len(set(used))
    return boots


def _writes(factory):
    b = Budget()
    scenario(factory(b))
    return b.count


@pytest.mark.parametrize("factory", [file_factory, nvm_factory], ids=["file", "nvm"])
def test_remembered_form_survives_a_cut_at_every_write(factory):
    total = _writes(factory)
    assert total >= 5
    for n in range(1, total + 1):
        assert scenario(factory(Budget(cut_at=n))) == 2


def test_a_form_already_remembered_is_not_written_again():
    b = Budget()
    store = file_factory(b)()
    store.resync(10)
    assert store.remember("m1", "bcd") is True
    n = b.count
    assert store.remember("m1", "bcd") is False and b.count == n
    for i in range(6):  # the last FORMS meters are kept
        store.remember("x%d" % i, "hex")
    assert len(store.forms) == store.FORMS and store.form("m1") is None
