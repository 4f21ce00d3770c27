"""Missing vs corrupt invocation counter in tokenpad (issue 27; Green Book 9.2.7.3), on
CPython: every action that talks to the meter (``#``, ``tp.enter``, the resend button, the
check) reads the meter's frame counter itself when the store never held a counter, and
fails closed with "invocation counter corrupt: run tp.resync()" when a stored record fails
its check. The same cases run in the MicroPython lane (host_tests/mpy/test_app.py)."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in ("lib", "firmware", os.path.join("host_tests", "mpy"), "host_tests"):
    if os.path.join(ROOT, p) not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, p))

import app_cases  # noqa: E402
from tokenpad import store  # noqa: E402
from udlms.errors import SecurityError  # noqa: E402

CASES = ("fresh_board_reads_the_meter_counter_at_the_first_token",
         "fresh_board_check_button_reads_the_meter_counter",
         "fresh_board_resend_button_reads_the_meter_counter",
         "fresh_board_repl_enter_and_status_read_the_meter_counter",
         "corrupt_counter_fails_closed_in_every_action",
         "damaged_store_refuses_until_resync")


@pytest.mark.parametrize("name", CASES)
def test_app_action(name, capsys):
    getattr(app_cases, name)()


def test_status_says_missing_or_corrupt(capsys):
    import tokenpad as tp

    a, _, _ = app_cases.make_app(resync=False)
    tp.use(a)
    tp.status()
    tp.selftest()
    out = capsys.readouterr().out
    assert "counter: MISSING - invocation counter missing" in out, out
    assert "counter missing: read from the meter at first use" in out, out
    a, _, _ = app_cases.make_app(st=app_cases._torn_store())
    tp.use(a)
    tp.status()
    out = capsys.readouterr().out
    assert "counter: CORRUPT - invocation counter corrupt" in out, out


def test_store_next_names_the_state():
    fresh, mem = app_cases.ram_store()
    e = pytest.raises(SecurityError, fresh.next).value
    assert e.kind == "counter-unavailable" and "missing" in e.message, e.message
    assert "corrupt" not in e.message
    torn = app_cases._torn_store()
    e = pytest.raises(SecurityError, torn.next).value
    assert e.message == "invocation counter corrupt: run tp.resync()", e.message
    assert torn.damaged and not torn.missing and fresh.missing and not fresh.damaged
    assert isinstance(torn, store.Store)


def test_session_counter_is_the_stores():
    """tokenpad.deliver hands the session the store itself: it gives the values it has
    reserved itself and asks its write (tokenpad.verdict, forgotten at once on a board)
    only to reserve more: the refusals, the values in order, and a reserve on the medium
    before any value above it is used."""
    import inspect

    from tokenpad import deliver

    assert "app.store, trace=trace" in inspect.getsource(deliver.enter)
    fresh, _ = app_cases.ram_store()
    e = pytest.raises(SecurityError, fresh.next).value
    assert e.kind == "counter-unavailable" and "missing" in e.message, e.message
    torn = app_cases._torn_store()
    e = pytest.raises(SecurityError, torn.next).value
    assert e.message == "invocation counter corrupt: run tp.resync()", e.message
    a, _ = app_cases.ram_store()
    b, _ = app_cases.ram_store()
    a.resync(1000)
    b.resync(1000)
    saves = []
    a.medium.save = (lambda f: lambda p: saves.append(a._next) or f(p))(a.medium.save)
    got = [a.next() for _ in range(3 * a.step + 5)]
    assert got == list(range(1001, 1001 + 3 * a.step + 5))
    assert got == [b.next() for _ in range(3 * a.step + 5)]
    assert saves == [1001, 1001 + a.step, 1001 + 2 * a.step, 1001 + 3 * a.step]
    assert a.ceiling == b.ceiling and a.value == b.value
