"""IEC 62056-47 wrapper transport: header bytes, and a whole token session against the
simulator's wrapper server (HLS-GMAC, security suite 0)."""

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "lib"))

from udlms.host.sim import meter as meter_sim  # noqa: E402
from test_golden_session import udlms  # noqa: E402
from test_iec21 import KEYS  # noqa: E402

from udlms.client import session, token  # noqa: E402
from udlms.host import ports  # noqa: E402
from udlms.link import wrapper  # noqa: E402
from udlms.errors import NoAnswer  # noqa: E402
from udlms.crypto.security import MemoryCounter  # noqa: E402


def test_header():
    assert wrapper.header(16, 1, 0x1F) == bytes.fromhex("0001 0010 0001 001F")
    assert wrapper.frame(1, 1, b"\x62\x00") == bytes.fromhex("0001 0001 0001 0002 6200")
    assert wrapper.parse_header(bytes.fromhex("0001 0001 0010 0105")) == (1, 1, 16, 0x105)


@pytest.fixture
def wsrv():
    meter = meter_sim.Meter()
    srv = meter_sim.WrapperServer(meter, 0).start()
    yield srv, meter
    srv.stop()


def test_token_session_over_the_wrapper(wsrv, tmp_path):
    srv, meter = wsrv
    trace = tmp_path / "t.txt"
    r = udlms(["enter-token", "17813034313191558529", "--port", "tcp://127.0.0.1:%d" % srv.port,
               "--wrapper", "--trace", str(trace), "--journal", str(tmp_path / "j")] + KEYS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ACCEPTED")
    assert meter.state.accepted == ["17813034313191558529"]
    lines = trace.read_text().splitlines()
    assert lines[0].startswith("TX: 00 01 00 01 00 01 ")  # version 1, client 1 -> server 1
    assert lines[1].startswith("RX: 00 01 00 01 00 01 ")
    assert " 60 " in lines[0][:40] and " 61 " in lines[1][:40]  # AARQ / AARE, no HDLC
    assert all(" 7E A0" not in x[:12] for x in lines)


def test_profile_selects_the_wrapper_and_resync_uses_it(wsrv, tmp_path):
    srv, meter = wsrv
    prof = tmp_path / "meter.json"
    prof.write_text(json.dumps({"port": "tcp://127.0.0.1:%d" % srv.port, "transport": "wrapper",
                                "ek": KEYS[1], "ak": KEYS[3], "system_title": KEYS[5]}))
    cf = str(tmp_path / "c.json")
    r = udlms(["resync", "--profile", str(prof), "--counter-file", cf])
    assert r.returncode == 0, r.stdout + r.stderr
    r = udlms(["enter-token", "17813034313191558529", "--profile", str(prof), "--counter-file",
               cf, "--journal", str(tmp_path / "j")])
    assert r.returncode == 0, r.stdout + r.stderr
    prof.write_text(json.dumps({"port": "tcp://127.0.0.1:%d" % srv.port, "wrapper": True,
                                "client": 16}))
    r = udlms(["get", "0.0.42.0.0.255:1:2", "--profile", str(prof)])
    assert r.returncode == 0 and "UDLMSSIM" in r.stdout, r.stdout + r.stderr


def test_library_session_and_wrong_logical_device(wsrv):
    srv, meter = wsrv
    st = ports.open_stream("tcp://127.0.0.1:%d" % srv.port)
    s = session.Settings(ek=KEYS[1], ak=KEYS[3], system_title=KEYS[5], transport="wrapper")
    try:
        with session.Session(st, s, MemoryCounter(500)) as sess:
            r = token.enter_token(sess, "17813034313191558529")
            assert r.accepted
            assert sess.link.stats["tx"] == sess.link.stats["rx"] == 4  # AARQ, HLS, enter, status
    finally:
        st.close()
    st = ports.open_stream("tcp://127.0.0.1:%d" % srv.port)
    s = session.Settings(client=16, mechanism=0, server_logical=5, transport="wrapper",
                         timeout_ms=300)
    try:
        with pytest.raises(NoAnswer):
            session.Session(st, s).open()
    finally:
        st.close()


def test_token_session_over_udp_wrapper(tmp_path):
    """IEC 62056-47 over UDP: one datagram per wrapper frame (udp:// selects the wrapper)."""
    from udlms.host.cli import main as cli

    meter = meter_sim.Meter()
    srv = meter_sim.UdpWrapperServer(meter, 0).start()
    args = ["--port", "udp://127.0.0.1:%d" % srv.port] + KEYS[:6] + [
        "--counter-file", str(tmp_path / "c.json"), "--timeout", "1"]
    try:
        codes = []
        for _ in range(2):
            try:
                cli.main(["enter-token", "1781 3034 3131 9155 8529"] + args)
            except SystemExit as e:
                codes.append(e.code)
    finally:
        srv.stop()
    assert codes == [0, 1]
    assert meter.state.accepted == ["17813034313191558529"]
