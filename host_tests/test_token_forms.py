"""A wrong token form refused in other words (issue 24, case 3), against the simulated
meter: a gateway that answers object-class-inconsistent (9) for a form it does not take,
one that answers type-unmatched (12) and sets token_status format-failure (4) for that
token, and one that stores any octet string leaving token_status format-ok (0). Encoding
auto goes on to the next form on the first two, in the library and in ``udlms
enter-token``; the third is an unknown outcome, never "accepted"."""

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host_tests"))

from udlms.host.sim import meter as meter_sim  # noqa: E402
from clirun import EK, AK, TITLE, TOKEN, run  # noqa: E402

from udlms.client import session, token, token_auto  # noqa: E402
from udlms.crypto.security import MemoryCounter  # noqa: E402
from udlms.host import ports  # noqa: E402

T = TOKEN.replace(" ", "")
WORD = {"object-class-inconsistent": 9, "format-failure": "12+format-failure"}


@pytest.fixture
def sim():
    servers = []

    def start(**kw):
        meter = meter_sim.Meter(**kw)
        srv = meter_sim.TcpServer(meter, 0).start()
        servers.append(srv)
        return meter, "tcp://127.0.0.1:%d" % srv.port

    yield start
    for s in servers:
        s.stop()


def deliver(url, encoding="auto", counter=None):
    s = session.Settings(ek=bytes.fromhex(EK), ak=bytes.fromhex(AK),
                         system_title=bytes.fromhex(TITLE), encoding=encoding,
                         timeout_ms=2000, status_polls=2, status_poll_ms=10)
    stream = ports.open_stream(url)
    try:
        with session.Session(stream, s, counter or MemoryCounter(100)) as sess:
            return token.enter_token(sess, T)
    finally:
        stream.close()


@pytest.mark.parametrize("how", sorted(WORD))
def test_library_goes_on_to_the_next_form(sim, how):
    meter, url = sim(encoding="bcd", wrong_form=how)
    r = deliver(url)
    assert r.accepted and r.encoding == "bcd" and r.learned, r
    assert r.attempts == [["ascii", WORD[how]], ["digits", WORD[how]], ["bcd", "accepted"]]
    assert meter.state.enter_calls == 3 and meter.state.accepted == [T]
    assert token_auto.verdict(r)[0] == " (meter wants BCD; remembered)"


@pytest.mark.parametrize("how", sorted(WORD))
def test_library_fixed_encoding_reports_the_meters_words(sim, how):
    meter, url = sim(encoding="bcd", wrong_form=how)
    r = deliver(url, "ascii")
    assert not r.accepted and r.action_result == (9 if how == "object-class-inconsistent"
                                                  else 12)
    if how == "format-failure":  # token_status speaks of this token: its words
        assert r.status_code == 4 and "token format is wrong" in r.message, r.message
    else:
        assert r.message == ("meter says object-class-inconsistent (9): the gateway does not "
                             "take the token in this form: check token encoding"), r.message
    assert meter.state.enter_calls == 1


@pytest.mark.parametrize("how", sorted(WORD))
def test_every_form_wrong_says_so_in_the_meters_words(sim, how):
    meter, url = sim(encoding="none", wrong_form=how)  # takes no form at all
    r = deliver(url)
    assert not r.accepted and [a[1] for a in r.attempts] == [WORD[how]] * 4
    msg = token_auto.verdict(r)[1]
    said = ("object-class-inconsistent (9)" if how == "object-class-inconsistent" else
            "type-unmatched (12) with token_status format-failure (4)")
    assert msg.startswith("meter says %s to every token form (ascii, digits, bcd, hex)"
                          % said), msg
    assert meter.state.enter_calls == 4 and meter.state.accepted == []


def test_other_verdicts_still_stop_the_search(sim):
    meter, url = sim(encoding="bcd", wrong_form="format-failure")
    counter = MemoryCounter(100)
    assert deliver(url, counter=counter).accepted
    r = deliver(url, counter=counter)  # the same token again: validation-failure
    assert not r.accepted and r.status_code == 6
    assert [a[1] for a in r.attempts][-1] == "validation-failure"


def test_a_gateway_storing_anything_is_unknown_not_accepted(sim):
    meter, url = sim(encoding="bcd", store_any_token=True)
    counter = MemoryCounter(100)
    r = deliver(url, counter=counter)
    assert not r.accepted and r.kind == "unknown" and r.status_code == 0, r
    assert r.attempts == [["ascii", "format-ok"]]  # stored: a verdict, no second form
    assert "format-ok" in r.message and "unknown" in r.message, r.message
    r = deliver(url, "bcd", counter)
    assert not r.accepted and r.kind == "unknown"
    assert meter.state.accepted == [] and meter.state.enter_calls == 2


@pytest.fixture
def conn(sim, tmp_path):
    def start(**kw):
        meter, url = sim(**kw)
        return meter, ["--port", url, "--ek", EK, "--ak", AK, "--system-title", TITLE,
                       "--counter-file", str(tmp_path / "counters.json"), "--journal",
                       str(tmp_path / "journal.jsonl"), "--timeout", "1"]
    return start


@pytest.mark.parametrize("how", sorted(WORD))
def test_cli_goes_on_and_journals_each_wrong_form(conn, tmp_path, how):
    meter, flags = conn(encoding="digits", wrong_form=how)
    code, out = run(["enter-token", TOKEN, "--json"] + flags)
    obj = json.loads(out)
    assert code == 0 and obj["accepted"] is True and obj["encoding"] == "digits", out
    word = ("object-class-inconsistent" if how == "object-class-inconsistent" else
            "type-unmatched+format-failure")
    assert obj["attempts"] == [{"encoding": "ascii", "result": word},
                               {"encoding": "digits", "result": "accepted"}]
    lines = [json.loads(x) for x in (tmp_path / "journal.jsonl").read_text().splitlines()]
    assert any(e.get("result") == word and e.get("encoding") == "ascii" for e in lines), lines
    assert meter.state.accepted == [T]


def test_cli_every_form_wrong(conn):
    meter, flags = conn(encoding="none", wrong_form="object-class-inconsistent")
    code, out = run(["enter-token", TOKEN] + flags)
    assert code == 1, out
    assert "object-class-inconsistent (9) to every token form" in out, out
    assert meter.state.enter_calls == 4


def test_cli_store_anything_is_unknown(conn):
    meter, flags = conn(store_any_token=True)
    code, out = run(["enter-token", TOKEN] + flags)
    assert out.startswith("UNKNOWN"), out
    assert "format-ok" in out and code != 0, (code, out)
