"""``udlms enter-token`` with encoding auto (issue 20) against the simulated meter: a meter
wanting each form is found in one run and remembered per meter in the counter store (the
next token goes in one attempt), said once in the text and in --json; every attempt is
journaled; a fixed --encoding keeps the single attempt; refusals and a lost answer end
the sequence."""

import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from udlms.host.sim import meter as meter_sim  # noqa: E402
from clirun import EK, AK, TITLE, TOKEN, TOKEN2, run  # noqa: E402, F401

from udlms.host import counters, token_auto_host  # noqa: E402
from udlms.client import session, token_auto  # noqa: E402

TOKEN3 = "5972 8710 7425 6394 8820"


@pytest.fixture
def meters(tmp_path):
    """start(**sim options) -> (meter, connection flags); one counter file and journal."""
    servers = []

    def start(pty=False, **kw):
        meter = meter_sim.Meter(**kw)
        srv = (meter_sim.PtyServer(meter) if pty else meter_sim.TcpServer(meter, 0)).start()
        servers.append(srv)
        port = srv.path if pty else "tcp://127.0.0.1:%d" % srv.port
        return meter, ["--port", port, "--ek", EK, "--ak", AK, "--system-title", TITLE,
                       "--counter-file", str(tmp_path / "counters.json"), "--journal",
                       str(tmp_path / "journal.jsonl"), "--timeout", "1"]

    yield start
    for s in servers:
        s.stop()


def journal(tmp_path):
    return [json.loads(x) for x in (tmp_path / "journal.jsonl").read_text().splitlines()]


def remembered(tmp_path, meter):
    s = session.Settings(ek=EK, ak=AK, system_title=TITLE)
    return token_auto_host.recall(str(tmp_path / "counters.json"), s, meter.o.system_title)


@pytest.mark.parametrize("want", token_auto.ORDER)
def test_each_form_found_remembered_and_used_first_next_time(meters, tmp_path, want):
    meter, conn = meters(encoding=want)
    code, out = run(["enter-token", TOKEN] + conn)
    assert code == 0, out
    if want == "ascii":
        assert out.startswith("ACCEPTED: token accepted and applied"), out
    else:
        assert out.startswith("ACCEPTED (meter wants %s; remembered): " % want.upper()), out
    assert meter.state.enter_calls == token_auto.ORDER.index(want) + 1
    assert remembered(tmp_path, meter) == want
    code, out = run(["enter-token", TOKEN2, "--json"] + conn)
    obj = json.loads(out)
    assert code == 0 and obj["accepted"] is True, out
    assert obj["encoding"] == want and obj["learned"] is False
    assert obj["attempts"] == [{"encoding": want, "result": "accepted"}]
    assert meter.state.enter_calls == token_auto.ORDER.index(want) + 2  # one attempt
    assert meter.state.accepted == [TOKEN.replace(" ", ""), TOKEN2.replace(" ", "")]


def test_json_says_learned_and_the_journal_every_attempt(meters, tmp_path):
    meter, conn = meters(encoding="bcd")
    code, out = run(["enter-token", TOKEN, "--json"] + conn)
    obj = json.loads(out)
    assert code == 0 and obj["encoding"] == "bcd" and obj["learned"] is True, obj
    assert [a["result"] for a in obj["attempts"]] == ["type-unmatched", "type-unmatched",
                                                      "accepted"]
    lines = journal(tmp_path)
    assert [(x["state"], x.get("encoding"), x.get("result")) for x in lines] == [
        ("pending", None, None), ("pending", "ascii", "type-unmatched"),
        ("pending", "digits", "type-unmatched"), ("accepted", "bcd", None)]
    assert lines[-1]["learned"] is True and len(lines[-1]["attempts"]) == 3


def test_memory_is_per_meter(meters, tmp_path):
    bcd, conn_bcd = meters(encoding="bcd")
    hexm, conn_hex = meters(encoding="hex", system_title="4D4D4D0000BC6150")
    assert run(["enter-token", TOKEN] + conn_bcd)[0] == 0
    code, out = run(["enter-token", TOKEN] + conn_hex)  # another meter: its own search
    assert code == 0 and "(meter wants HEX; remembered)" in out, out
    assert remembered(tmp_path, bcd) == "bcd" and remembered(tmp_path, hexm) == "hex"
    code, out = run(["enter-token", TOKEN2] + conn_bcd)
    assert code == 0 and out.startswith("ACCEPTED: ") and bcd.state.enter_calls == 4


def test_stale_memory_searches_again_on_the_same_association(meters, tmp_path):
    meter, conn = meters(encoding="bcd")
    assert run(["enter-token", TOKEN] + conn)[0] == 0
    meter.o.encoding = "digits"  # the meter's firmware changed its mind
    code, out = run(["enter-token", TOKEN2, "--json"] + conn)
    obj = json.loads(out)
    assert code == 0 and obj["learned"] is True and obj["encoding"] == "digits"
    assert [a["encoding"] for a in obj["attempts"]] == ["bcd", "ascii", "digits"]
    assert remembered(tmp_path, meter) == "digits"


def test_fixed_encoding_keeps_one_attempt(meters, tmp_path):
    meter, conn = meters(encoding="bcd")
    code, out = run(["enter-token", TOKEN, "--encoding", "ascii"] + conn)
    assert code == 1 and "type-unmatched (12)" in out and "encoding" in out, out
    assert meter.state.enter_calls == 1 and remembered(tmp_path, meter) is None
    code, out = run(["enter-token", TOKEN, "--encoding", "bcd", "--json"] + conn)
    obj = json.loads(out)
    assert code == 0 and obj["encoding"] == "bcd" and obj["learned"] is False
    assert "attempts" not in obj and remembered(tmp_path, meter) is None
    assert journal(tmp_path)[-1]["encoding"] == "bcd"


def test_profile_encoding_auto_and_a_meter_taking_every_form(meters, tmp_path):
    meter, conn = meters(encoding="any")
    prof = tmp_path / "meter.json"
    prof.write_text(json.dumps({"encoding": "auto"}))
    code, out = run(["enter-token", TOKEN, "--profile", str(prof), "--json"] + conn)
    obj = json.loads(out)
    assert code == 0 and obj["attempts"] == [{"encoding": "ascii", "result": "accepted"}]
    assert obj["learned"] is False and meter.state.enter_calls == 1


def test_used_token_ends_the_search(meters, tmp_path):
    meter, conn = meters(encoding="bcd")
    meter.state.accepted.append(TOKEN3.replace(" ", ""))  # used before
    code, out = run(["enter-token", TOKEN3, "--json"] + conn)
    obj = json.loads(out)
    assert code == 1 and obj["status_code"] == 6 and obj["learned"] is False, obj
    assert [a["encoding"] for a in obj["attempts"]] == ["ascii", "digits", "bcd"]
    assert meter.state.enter_calls == 3 and journal(tmp_path)[-1]["state"] == "refused"


def test_other_action_result_ends_the_search(meters, tmp_path, monkeypatch):
    meter, conn = meters(encoding="hex")
    calls = []

    def enter(self, data):
        calls.append(1)
        return 12 if len(calls) == 1 else 250

    monkeypatch.setattr(meter_sim.Association, "enter", enter)
    code, out = run(["enter-token", TOKEN, "--json"] + conn)
    obj = json.loads(out)
    assert code == 1 and obj["action_result"] == 250 and len(calls) == 2, obj
    assert [a["encoding"] for a in obj["attempts"]] == ["ascii", "digits"]
    assert remembered(tmp_path, meter) is None


def test_lost_answer_mid_sequence_is_unknown(meters, tmp_path):
    meter, conn = meters(encoding="bcd", lose_enter=2)
    code, out = run(["enter-token", TOKEN, "--json", "--retries", "1", "--timeout", "0.3"]
                    + conn)
    obj = json.loads(out)
    assert code == 5 and obj["accepted"] is False and obj["verdict"] == "UNKNOWN", out
    assert obj["journal"] == "unknown" and obj["encoding"] == "digits"
    assert obj["attempts"] == [{"encoding": "ascii", "result": "type-unmatched"},
                               {"encoding": "digits", "result": "unknown"}]
    assert meter.state.enter_calls == 2 and meter.state.accepted == []  # no third form
    last = journal(tmp_path)[-1]
    assert last["state"] == "unknown" and last["encoding"] == "digits"
    assert remembered(tmp_path, meter) is None


def test_every_form_refused(meters, tmp_path, monkeypatch):
    meter, conn = meters()
    monkeypatch.setattr(meter_sim.Association, "enter", lambda self, data: 12)
    code, out = run(["enter-token", TOKEN] + conn)
    assert code == 1 and out.startswith("REJECTED: meter says type-unmatched (12) to every "
                                        "token form (ascii, digits, bcd, hex)"), out


def test_over_a_pty(meters, tmp_path):
    meter, conn = meters(pty=True, encoding="digits")
    code, out = run(["enter-token", TOKEN] + conn)
    assert code == 0 and out.startswith("ACCEPTED (meter wants DIGITS; remembered)"), out
    assert run(["enter-token", TOKEN2] + conn)[0] == 0 and meter.state.enter_calls == 3


def test_memory_lives_in_the_counter_store(meters, tmp_path):
    meter, conn = meters(encoding="hex")
    assert run(["enter-token", TOKEN] + conn)[0] == 0
    data = json.loads((tmp_path / "counters.json").read_text())
    ctx = counters.context_key(bytes.fromhex(EK), bytes.fromhex(TITLE))
    key = counters.meter_key(ctx, meter.o.system_title)
    assert data["meters"][key]["token_encoding"] == "hex"
    assert EK not in json.dumps(data)  # the key itself is never stored


def test_meter_failing_the_action_for_a_used_token(meters, tmp_path):
    """A meter that refuses with other-reason (250) and says why in token_status: the
    search ends there, with token_status's words."""
    meter, conn = meters(encoding="bcd", refusal="action")
    meter.state.accepted.append(TOKEN3.replace(" ", ""))
    code, out = run(["enter-token", TOKEN3, "--json"] + conn)
    obj = json.loads(out)
    assert code == 1 and obj["action_result"] == 250 and obj["status_code"] == 6, obj
    assert [a["encoding"] for a in obj["attempts"]] == ["ascii", "digits", "bcd"]
    assert "already used" in obj["message"]


def test_unknown_after_the_form_was_found_is_checked_in_that_form(meters, tmp_path):
    """The answer to the bcd attempt (the meter took the token) is lost: journal unknown
    with encoding bcd; the next run reads the gateway and finds the token in that form
    instead of entering it again."""
    meter, conn = meters(encoding="bcd", lose_enter=3)
    code, out = run(["enter-token", TOKEN, "--retries", "1", "--timeout", "0.3"] + conn)
    assert code == 5 and out.startswith("UNKNOWN"), out
    assert journal(tmp_path)[-1]["encoding"] == "bcd"
    assert meter.state.accepted == [TOKEN.replace(" ", "")]
    code, out = run(["enter-token", TOKEN, "--json"] + conn)
    obj = json.loads(out)
    assert code == 0 and obj["checked_first"] is True, obj
    assert meter.state.enter_calls == 3  # not entered again


def test_form_found_but_not_written_is_said(meters, tmp_path, monkeypatch):
    meter, conn = meters(encoding="digits")

    def full(self, meter, name, value):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(counters.CounterStore, "remember", full)
    code, out = run(["enter-token", TOKEN, "--json"] + conn)
    obj = json.loads(out)
    assert code == 0 and obj["encoding"] == "digits" and obj["learned"] is False, obj
    assert "No space left" in obj["remember_error"]
    code, out = run(["enter-token", TOKEN2] + conn)
    assert code == 0 and "(meter wants DIGITS; not remembered: " in out, out


@pytest.mark.parametrize("udp", [False, True])
def test_over_the_wrapper(tmp_path, udp):
    """IEC 62056-47 wrapper over TCP and UDP: the same search in one association."""
    meter = meter_sim.Meter(encoding="hex")
    srv = (meter_sim.UdpWrapperServer if udp else meter_sim.WrapperServer)(meter, 0).start()
    conn = ["--port", "%s://127.0.0.1:%d" % ("udp" if udp else "tcp", srv.port), "--wrapper",
            "--ek", EK, "--ak", AK, "--system-title", TITLE, "--counter-file",
            str(tmp_path / "c.json"), "--journal", str(tmp_path / "j.jsonl"), "--timeout", "1"]
    try:
        code, out = run(["enter-token", TOKEN] + conn)
        assert code == 0 and out.startswith("ACCEPTED (meter wants HEX; remembered)"), out
        assert run(["enter-token", TOKEN2] + conn)[0] == 0
    finally:
        srv.stop()
    assert meter.state.enter_calls == 5
