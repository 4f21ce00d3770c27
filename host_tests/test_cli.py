"""The host CLI end to end against the simulated meter, over TCP and over a pty
(issue 5 'Done when'): accepted, reused, wrong encoding, wrong key, bad token, no answer."""

import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from udlms.host.sim import meter as meter_sim  # noqa: E402
from clirun import EK, AK, TOKEN, TOKEN2, run  # noqa: E402, F401

from udlms.host.cli import main as cli  # noqa: E402


@pytest.fixture
def tcp(tmp_path):
    meter = meter_sim.Meter()
    srv = meter_sim.TcpServer(meter, 0).start()
    conn = ["--port", "tcp://127.0.0.1:%d" % srv.port, "--ek", EK, "--ak", AK,
            "--system-title", "4D4D4D0000000001", "--counter-file",
            str(tmp_path / "counters.json"), "--timeout", "1"]
    yield meter, conn
    srv.stop()


@pytest.fixture
def pty(tmp_path):
    meter = meter_sim.Meter()
    srv = meter_sim.PtyServer(meter).start()
    conn = ["--port", srv.path, "--ek", EK, "--ak", AK, "--system-title", "4D4D4D0000000001",
            "--counter-file", str(tmp_path / "counters.json"), "--timeout", "1"]
    yield meter, conn
    srv.stop()


@pytest.mark.parametrize("link", ["tcp", "pty"])
def test_accept_then_reuse_then_wrong_encoding(link, request):
    meter, conn = request.getfixturevalue(link)
    code, out = run(["enter-token", TOKEN] + conn)
    assert code == 0, out
    assert out.startswith("ACCEPTED") and "token_status 3" in out
    code, out = run(["enter-token", TOKEN] + conn)
    assert code == 1 and out.startswith("REJECTED") and "already used" in out
    code, out = run(["enter-token", TOKEN2, "--encoding", "bcd"] + conn)
    assert code == 1 and "type-unmatched (12)" in out and "encoding" in out
    assert meter.state.accepted == [TOKEN.replace(" ", "")]


def test_wrong_key_is_an_authentication_failure(tcp):
    meter, conn = tcp
    bad = list(conn)
    bad[bad.index("--ak") + 1] = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDE00"
    code, out = run(["enter-token", TOKEN] + bad)
    assert code == 4, out
    assert out.startswith("AUTH FAILED") and "key" in out.lower()
    assert meter.state.accepted == []


def test_bad_tokens_refused_before_anything_is_sent(tmp_path):
    # nothing listens on this port: a link attempt would give exit 3, not 2
    conn = ["--port", "tcp://127.0.0.1:9", "--ek", EK, "--ak", AK, "--system-title",
            "4D4D4D0000000001", "--invocation-counter", "5"]
    code, out = run(["enter-token", "1781 3034 3131 9155 852"] + conn)
    assert code == 2 and "found 19" in out
    code, out = run(["enter-token", "99999999999999999999"] + conn)
    assert code == 2 and out.startswith("BAD TOKEN")
    code, out = run(["enter-token", "1781 3034 3131 9155 85x9"] + conn)
    assert code == 2


def test_no_answer_from_a_silent_line(tmp_path):
    import pty as ptymod

    master, slave = ptymod.openpty()
    path = os.ttyname(slave)
    code, out = run(["enter-token", TOKEN, "--port", path, "--ek", EK, "--ak", AK,
                     "--system-title", "4D4D4D0000000001", "--invocation-counter", "1",
                     "--timeout", "0.2", "--retries", "1"])
    os.close(master)
    os.close(slave)
    assert code == 3 and out.startswith("NO ANSWER")


def test_json_and_trace(tcp, tmp_path):
    meter, conn = tcp
    trace = tmp_path / "t.txt"
    code, out = run(["enter-token", TOKEN, "--json", "--trace", str(trace)] + conn)
    assert code == 0
    obj = json.loads(out.splitlines()[-1])
    assert obj["accepted"] is True and obj["status_code"] == 3
    assert obj["token"] == TOKEN
    lines = trace.read_text().splitlines()
    assert lines[0].startswith("TX: 7E A0") and all(x[:4] in ("TX: ", "RX: ") for x in lines)


def test_counter_file_resync_and_never_repeats(tcp, tmp_path):
    meter, conn = tcp
    code, out = run(["resync"] + conn)
    assert code == 0 and "next invocation counter" in out
    for t in (TOKEN, TOKEN2):
        assert run(["enter-token", t] + conn)[0] == 0
    # a stale explicit counter is refused by the meter, with a counter message
    code, out = run(["enter-token", "1234 5678 9012 3456 7890", "--invocation-counter", "0"]
                    + conn)
    assert code == 4, out
    # the file-backed counter keeps working after that
    assert run(["enter-token", "1234 5678 9012 3456 7890"] + conn)[0] == 0


def test_get_with_public_and_management_client(tcp):
    meter, conn = tcp
    code, out = run(["get", "0.0.43.1.1.255:1:2", "--client", "16", "--port", conn[1]])
    assert code == 0 and out.strip().isdigit()
    code, out = run(["get", "0.0.19.40.0.255:115:6"] + conn)
    assert code == 0 and out.startswith("{")
    code, out = run(["get", "0.0.19.40.0.255:115:6", "--client", "16", "--port", conn[1]])
    assert code == 1 and "read-write-denied" in out


def test_journal_records_every_token_before_and_after(tcp, tmp_path):
    meter, conn = tcp
    journal = tmp_path / "journal.jsonl"
    conn = conn + ["--journal", str(journal)]
    assert run(["enter-token", TOKEN] + conn)[0] == 0
    assert run(["enter-token", TOKEN] + conn)[0] == 1
    lines = [json.loads(x) for x in journal.read_text().splitlines()]
    assert [x["state"] for x in lines] == ["pending", "accepted", "pending", "refused"]
    assert lines[0]["token"] == TOKEN.replace(" ", "")


def test_journal_marks_unknown_when_the_line_dies_after_the_enter(tmp_path):
    meter = meter_sim.Meter()
    srv = meter_sim.TcpServer(meter, 0).start()
    orig_enter, orig_send = meter_sim.Association.enter, meter_sim.HdlcServer.send
    dead = []

    def enter_then_die(self, data):
        dead.append(1)  # the meter takes the token, then the line goes dead
        return orig_enter(self, data)

    def send(self, *a, **kw):
        if not dead:
            orig_send(self, *a, **kw)

    meter_sim.Association.enter = enter_then_die
    meter_sim.HdlcServer.send = send
    journal = tmp_path / "j.jsonl"
    try:
        code, out = run(["enter-token", TOKEN, "--port", "tcp://127.0.0.1:%d" % srv.port,
                         "--ek", EK, "--ak", AK, "--system-title", "4D4D4D0000000001",
                         "--invocation-counter", "1", "--timeout", "0.2", "--retries", "1",
                         "--journal", str(journal)])
    finally:
        meter_sim.Association.enter, meter_sim.HdlcServer.send = orig_enter, orig_send
        srv.stop()
    states = [json.loads(x)["state"] for x in journal.read_text().splitlines()]
    assert states == ["pending", "unknown"]
    assert code == 5 and "token_status" in out  # issue 18 point 3: unknown, not 3


def test_token_validated_but_not_executed_is_unknown(tcp, monkeypatch):
    """token_status 0..2 (checks passed, not yet executed) is not 'accepted': exit 5."""
    meter, conn = tcp
    orig = meter_sim.Association.enter

    def enter_validated_only(self, data):
        res = orig(self, data)
        self.meter.state.token_status = (2, (8, b"\x00"))  # validation OK, no execution yet
        return res

    monkeypatch.setattr(meter_sim.Association, "enter", enter_validated_only)
    code, out = run(["enter-token", TOKEN, "--json"] + conn)
    obj = json.loads(out.splitlines()[-1])
    assert code == 5 and obj["accepted"] is False and obj["status_code"] == 2
    assert "token_status" in obj["message"]


def test_physical_address_from_serial_number():
    """--serial-number N: physical address N % 10000 + 1000 with 4-byte addresses."""
    assert cli.physical_from_serial(12345678) == 6678
    meter = meter_sim.Meter(address_size=4, server_physical=6678)
    srv = meter_sim.TcpServer(meter, 0).start()
    try:
        code, out = run(["get", "0.0.43.1.1.255:1:2", "--client", "16", "--serial-number",
                         "12345678", "--port", "tcp://127.0.0.1:%d" % srv.port])
    finally:
        srv.stop()
    assert code == 0 and out.strip().isdigit()
