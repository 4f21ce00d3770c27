"""The host counter store (lib/udlms/host/counters.py, issue 18 points 1, 5, 8, 10): keyed by
security context, locked read-reserve-write across processes, unique temporary names,
values checked, 0600 files, the old port-keyed format migrated."""

import json
import os
import subprocess
import sys

import pytest

from udlms.host import counters
from udlms.errors import ConfigError, SecurityError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
EK2 = bytes.fromhex("100102030405060708090A0B0C0D0E0F")
TITLE = bytes.fromhex("4D4D4D0000000001")


def test_context_is_key_and_title_not_port_and_never_the_key_itself():
    a = counters.context_key(EK, TITLE)
    assert a == counters.context_key(bytearray(EK), TITLE)
    assert a != counters.context_key(EK2, TITLE)
    assert a != counters.context_key(EK, bytes.fromhex("4D4D4D0000000002"))
    assert EK.hex() not in a.lower() and "4D4D4D0000000001" in a
    with pytest.raises(ConfigError):
        counters.context_key(None, TITLE)


def test_reserve_advance_remember_and_per_meter_facts(tmp_path):
    path = str(tmp_path / "sub" / "counters.json")
    st = counters.CounterStore(path)
    ctx = counters.context_key(EK, TITLE)
    assert st.peek(ctx) is None
    with pytest.raises(SecurityError) as e:
        st.reserve(ctx)
    assert e.value.kind == "counter-unavailable"
    assert st.remember_meter(ctx, 99) == 100
    assert st.reserve(ctx, 10) == (100, 110)
    assert st.reserve(ctx, 10) == (110, 120)
    assert st.advance(ctx, 50) == 120  # never backwards
    assert st.advance(ctx, 500) == 500
    assert st.remember_meter(ctx, 10) == 500
    c = st.counter(ctx, step=4)
    assert [c.next() for _ in range(9)] == list(range(500, 509))
    assert st.peek(ctx) == 512
    mk = counters.meter_key(ctx, server_title=b"MMM\x00\x00\xbcaN")
    assert st.recall(mk, "encoding") is None
    st.remember(mk, "encoding", "bcd")
    assert counters.CounterStore(path).recall(mk, "encoding") == "bcd"
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(path + ".lock").st_mode & 0o777 == 0o600
    assert [f for f in os.listdir(tmp_path / "sub") if f.endswith(".tmp")] == []


@pytest.mark.parametrize("content, words", [
    ("null", "not hold a JSON object"), ("[]", "not hold a JSON object"),
    ('{"k": "abc"}', "'k'"), ("-5", "not hold a JSON object"), ('{"k": -5}', "-5"),
    ('{"k": 4294967297}', "4294967297"), ("{", "not valid JSON"), ("", "empty"),
    ('{"format": 2, "contexts": {"x": {"next": true}}}', "'x'"),
    ('{"format": 2, "contexts": []}', "not an object"),
])
def test_bad_counter_files_are_named_errors(tmp_path, content, words):
    path = tmp_path / "c.json"
    path.write_text(content)
    st = counters.CounterStore(str(path))
    with pytest.raises(ConfigError) as e:
        st.reserve(counters.context_key(EK, TITLE))
    assert e.value.kind == "counter-file" and words in e.value.message
    assert str(path) in e.value.message
    aside = st.rebuild()  # `udlms resync` moves it aside and starts again
    assert aside and os.path.exists(aside) and not path.exists()


def test_directory_as_counter_file(tmp_path):
    st = counters.CounterStore(str(tmp_path))
    with pytest.raises(ConfigError) as e:
        st.peek("x")
    assert "is a directory" in e.value.message


def test_exhaustion_is_named(tmp_path):
    st = counters.CounterStore(str(tmp_path / "c.json"))
    ctx = counters.context_key(EK, TITLE)
    with pytest.raises(SecurityError) as e:
        st.remember_meter(ctx, 0xFFFFFFFF)
    assert e.value.kind == "counter-exhausted" and "keys" in e.value.message
    assert st.peek(ctx) is None  # 4294967296 was not stored
    st.advance(ctx, counters.IC_LIMIT - 20)
    c = st.counter(ctx, step=64)
    assert c.first == counters.IC_LIMIT - 20
    for _ in range(20):
        assert c.next() < counters.IC_LIMIT
    with pytest.raises(SecurityError) as e:
        c.next()
    assert e.value.kind == "counter-exhausted"
    with pytest.raises(SecurityError):
        st.reserve(ctx)
    with pytest.raises(ConfigError):
        st.advance(ctx, -5)


def test_old_port_keyed_file_is_migrated(tmp_path):
    path = tmp_path / "c.json"
    old = {"4d4d4d0000000001|/dev/ttyUSB0|1/17": 640,
           "4d4d4d0000000001|tcp://127.0.0.1:4061|1/17": 1280,
           "4d4d4d0000000009|/dev/ttyUSB0|1/17": 9999}
    path.write_text(json.dumps(old))
    st = counters.CounterStore(str(path))
    ctx = counters.context_key(EK, TITLE)
    assert st.reserve(ctx, 8) == (1280, 1288)
    assert st.migrated == 1280
    data = json.loads(path.read_text())
    assert data["contexts"][ctx]["next"] == 1288
    for k, v in old.items():  # kept as they were
        assert data[k] == v


_WORKER = r"""
import sys
sys.path.insert(0, sys.argv[1])
from udlms.host import counters
st = counters.CounterStore(sys.argv[2])
ctx = counters.context_key(bytes(16), bytes(7) + bytes((int(sys.argv[4]),)))
got = []
for _ in range(int(sys.argv[3])):
    c = st.counter(ctx, step=3)
    got += [c.next() for _ in range(5)]
print(" ".join(map(str, got)))
"""


def test_concurrent_processes_never_get_the_same_counter(tmp_path):
    """Eight processes, 40 sessions each, one file, two security contexts (two meters, as
    in the issue's crash): every value handed out in a context is unique."""
    path = str(tmp_path / "c.json")
    st = counters.CounterStore(path)
    for t in (0, 1):
        st.advance(counters.context_key(bytes(16), bytes(7) + bytes((t,))), 1)
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, os.path.join(ROOT, "lib"), path,
                               "40", str(i % 2)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(8)]
    seen = {0: [], 1: []}
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        seen[i % 2] += [int(x) for x in out.split()]
    for t in (0, 1):
        assert len(seen[t]) == 4 * 40 * 5
        assert len(set(seen[t])) == len(seen[t])
    assert [f for f in os.listdir(tmp_path) if f.endswith(".tmp")] == []
    assert json.loads(open(path).read())["format"] == 2


def test_msvcrt_lock_where_there_is_no_fcntl(tmp_path, monkeypatch):
    """Windows has no fcntl: the store locks one byte of the lock file with msvcrt (a fake
    here that records the calls; a separate copy of the module is loaded)."""
    import importlib.util
    import types

    calls = []
    fake = types.SimpleNamespace(LK_NBLCK=2, LK_UNLCK=0,
                                 locking=lambda fd, mode, n: calls.append((mode, n)))
    monkeypatch.setitem(sys.modules, "fcntl", None)  # import fcntl -> ImportError
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    spec = importlib.util.spec_from_file_location(
        "counters_win", os.path.join(ROOT, "lib", "udlms", "host", "counters.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    st = mod.CounterStore(str(tmp_path / "c.json"))
    ctx = mod.context_key(EK, TITLE)
    st.remember_meter(ctx, 5)
    assert st.reserve(ctx, 4) == (6, 10)
    assert calls and all(n == 1 for _, n in calls)
    assert [m for m, _ in calls].count(2) == [m for m, _ in calls].count(0)
