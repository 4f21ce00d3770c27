"""IEC 62056-21 mode E: identification parsing, and sign-on -> HDLC -> token entry over a
pty against the simulator's mode E front end, with the baud change checked on the line."""

import os
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "lib"))

from udlms.host.sim import meter as meter_sim  # noqa: E402
from test_golden_session import udlms  # noqa: E402

from udlms.host import transport_serial  # noqa: E402
from udlms.link import iec21  # noqa: E402
from udlms.client import session  # noqa: E402
from udlms.errors import LinkError, NoAnswer  # noqa: E402

KEYS = ["--ek", "000102030405060708090A0B0C0D0E0F", "--ak", "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF",
        "--system-title", "4D4D4D0000000001", "--invocation-counter", "100"]


def test_identification_parsing():
    i = iec21.parse_identification(b"/ISk5\\2MT382-1000\r\n")
    assert (i.manufacturer, i.baud_char, i.baud, i.mode_e, i.fast) == ("ISk", "5", 9600,
                                                                        True, True)
    assert i.ident == "\\2MT382-1000"
    assert iec21.parse_identification("/LGZ6ZMD\r\n").baud == 19200
    assert not iec21.parse_identification("/LGZ4ZMD").mode_e
    assert iec21.ack_message("5") == b"\x06252\r\n"
    assert iec21.sign_on_message() == b"/?!\r\n"
    assert iec21.sign_on_message("12345678") == b"/?12345678!\r\n"
    assert [iec21.baud_for(c) for c in "0123456"] == [300, 600, 1200, 2400, 4800, 9600, 19200]
    assert iec21.baud_char(19200) == "6"


@pytest.mark.parametrize("line, kind", [(b"garbage\r\n", "bad-identification"),
                                        (b"/12A5xx\r\n", "bad-identification"),
                                        (b"/ABCE\\2x\r\n", "baud"),
                                        (b"/ABC9x\r\n", "baud")])
def test_bad_identifications(line, kind):
    with pytest.raises(LinkError) as e:
        iec21.parse_identification(line)
    assert e.value.kind == kind


class Silent:
    def __init__(self):
        self.settings = []

    def configure(self, baud, bits=8, parity="N"):
        self.settings.append((baud, bits, parity))

    def write(self, b):
        pass

    def readinto(self, buf):
        return 0


def test_silent_meter_is_no_identification():
    s = Silent()
    t = time.time()
    with pytest.raises(NoAnswer) as e:
        iec21.sign_on(s, timeout_ms=200)
    assert e.value.kind == "no-identification"
    assert s.settings == [(300, 7, "E")]
    assert time.time() - t < 2


@pytest.fixture
def mode_e():
    front = meter_sim.ModeE(9600)
    meter = meter_sim.Meter()
    srv = meter_sim.PtyServer(meter, mode_e=front).start()
    yield srv, meter, front
    srv.stop()


def test_sign_on_switches_the_line_then_hdlc(mode_e):
    srv, meter, front = mode_e
    st = transport_serial.SerialStream(srv.path, 9600)
    try:
        trace = []
        ident = iec21.sign_on(st, trace=lambda d, b: trace.append((d, bytes(b))))
        assert ident.baud == 9600 and ident.mode_e and ident.manufacturer == "MMM"
        assert trace[0] == ("TX", b"/?!\r\n")
        assert trace[-1] == ("TX", b"\x06252\r\n")
        assert st.ser.baudrate == 9600
        assert srv.line()[0] == 9600  # what the client really set on the pty (termios)
        with session.Session(st, session.Settings(client=16, mechanism=0)) as sess:
            assert b"UDLMSSIM" in sess.get(1, "0.0.42.0.0.255", 2)
    finally:
        st.close()
    events = [e[0] for e in front.log]
    assert events[0] == "sign-on" and front.log[0][1] == 300
    assert ("switch", 9600, 8, "N") in front.log
    assert all(e[1] == 9600 for e in front.log if e[0] == "hdlc")
    assert not [e for e in events if e.startswith("dropped")]
    assert events[-1] == "disconnected"  # DISC sends the port back to sign-on


def test_token_entry_over_mode_e_cli(mode_e, tmp_path):
    srv, meter, front = mode_e
    r = udlms(["enter-token", "1781 3034 3131 9155 8529", "--port", srv.path, "--mode-e",
               "--journal", str(tmp_path / "j"), "--counter-file", str(tmp_path / "c")] + KEYS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ACCEPTED")
    assert meter.state.accepted == ["17813034313191558529"]
    assert ("switch", 9600, 8, "N") in front.log
    assert sum(1 for e in front.log if e[0] == "sign-on") == 1


def test_without_sign_on_the_meter_stays_silent(mode_e, tmp_path):
    srv, meter, front = mode_e
    r = udlms(["enter-token", "17813034313191558529", "--port", srv.path, "--timeout", "0.3",
               "--retries", "0", "--journal", str(tmp_path / "j")] + KEYS)
    assert r.returncode == 3, r.stdout + r.stderr
    assert r.stdout.startswith("NO ANSWER")
    assert any(e[0].startswith("dropped") and e[1] == 9600 for e in front.log)
    assert meter.state.accepted == []


def test_baud_cap_acknowledges_a_lower_rate(tmp_path):
    front = meter_sim.ModeE(19200)
    meter = meter_sim.Meter()
    srv = meter_sim.PtyServer(meter, mode_e=front).start()
    try:
        r = udlms(["get", "0.0.42.0.0.255:1:2", "--port", srv.path, "--mode-e", "--baud",
                   "9600", "--client", "16"])
    finally:
        srv.stop()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "UDLMSSIM" in r.stdout
    assert ("ack 5",) == front.log[1][:1] and ("switch", 9600, 8, "N") in front.log
