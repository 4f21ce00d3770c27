"""Bytes after a value (issue 24, case 5): a meter whose GET answers carry bytes after the
A-XDR value (one answered 18 after the clock's date-time). ``udlms decode`` flags them,
the client keeps the value and says so with ``-v`` (and ``trailing_bytes`` in --json), and
a token still goes in (its token_status read keeps its value too). Against the simulator
with ``--trailing-bytes``."""

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host_tests"))

from udlms.host.sim import meter as meter_sim  # noqa: E402
from clirun import EK, AK, TITLE, TOKEN, run  # noqa: E402

from udlms.client import session, token  # noqa: E402
from udlms.cosem import axdr  # noqa: E402
from udlms.crypto.security import MemoryCounter  # noqa: E402
from udlms.host import ports  # noqa: E402
from udlms.host.decode import main as decode  # noqa: E402

CLOCK = "0.0.1.0.0.255:8:2"
EXTRA = bytes((0xA0 + i) & 0xFF for i in range(18)).hex().upper()  # what the sim appends


@pytest.fixture
def sim(tmp_path):
    servers = []

    def start(**kw):
        meter = meter_sim.Meter(**kw)
        srv = meter_sim.TcpServer(meter, 0).start()
        servers.append(srv)
        url = "tcp://127.0.0.1:%d" % srv.port
        return meter, url, ["--port", url, "--ek", EK, "--ak", AK, "--system-title", TITLE,
                            "--counter-file", str(tmp_path / "counters.json"), "--timeout",
                            "1"]

    yield start
    for s in servers:
        s.stop()


def test_library_keeps_the_value_and_the_token_goes_in(sim):
    meter, url, _ = sim(trailing_bytes=18)
    s = session.Settings(ek=bytes.fromhex(EK), ak=bytes.fromhex(AK),
                         system_title=bytes.fromhex(TITLE), status_poll_ms=10)
    lines = []
    stream = ports.open_stream(url)
    try:
        with session.Session(stream, s, MemoryCounter(100),
                             trace=lambda d, f: lines.append("%s: %s" % (d, bytes(f).hex()))
                             ) as sess:
            raw = sess.get(8, "0.0.1.0.0.255", 2)
            value, end = axdr.decode(raw)
            assert len(value) == 12 and raw[end:].hex().upper() == EXTRA
            r = token.enter_token(sess, TOKEN.replace(" ", ""))
    finally:
        stream.close()
    assert r.accepted and r.status_code == 3, r
    assert meter.state.accepted == [TOKEN.replace(" ", "")]
    objs = list(decode.decode_text("\n".join(lines), ek=EK, ak=AK, client_title=TITLE))
    flagged = [w for o in objs for w in o["warnings"] if "18 bytes after the value" in w]
    assert len(flagged) >= 2, [o["text"] for o in objs]  # the clock and token_status


def test_cli_get_keeps_the_value_and_says_so_with_v(sim):
    _, _, conn = sim(trailing_bytes=18)
    code, out = run(["get", CLOCK] + conn)
    assert code == 0 and "bytes after" not in out, out
    value = out.strip()
    code, out = run(["get", CLOCK, "-v"] + conn)
    assert code == 0, out
    assert "note: the meter sent 18 bytes after the value (%s): kept the value" % EXTRA in out
    assert "warning: 18 bytes after the value" in out  # the decoded exchange says it too
    assert out.strip().splitlines()[-1][:10] == value[:10]  # the same date, kept
    code, out = run(["get", CLOCK, "--json"] + conn)
    obj = json.loads(out)
    assert code == 0 and obj["trailing_bytes"] == EXTRA and obj["ok"] is True, obj


def test_cli_get_without_trailing_bytes_says_nothing(sim):
    _, _, conn = sim()
    code, out = run(["get", CLOCK, "-v"] + conn)
    assert code == 0 and "bytes after" not in out, out
    code, out = run(["get", CLOCK, "--json"] + conn)
    assert "trailing_bytes" not in json.loads(out)


def test_decode_flags_bytes_after_a_value(tmp_path):
    f = tmp_path / "clock.txt"
    f.write_text("TX: C0 01 C1 00 08 00 00 01 00 00 FF 02 00\n"
                 "RX: C4 01 C1 00 09 0C 07 EA 0C 07 01 0C 00 00 FF 80 00 00 " + EXTRA + "\n")
    code, out = run(["decode", str(f)])
    assert code == 0, out
    assert "value: octet-string 2026-12-07 12:00:00" in out, out
    assert "warning: 18 bytes after the value (%s)" % EXTRA in out, out
    code, out = run(["decode", str(f), "--json"])
    objs = [json.loads(x) for x in out.splitlines() if x.strip()] if not out.lstrip().startswith(
        "[") else json.loads(out)
    text = json.dumps(objs)
    assert "18 bytes after the value" in text and '"data_trailing": 18' in text
