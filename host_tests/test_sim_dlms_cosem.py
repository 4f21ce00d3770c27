"""The meter simulator driven by a second independent client: dlms-cosem 21.3.2 (the last
MIT release; optional peer, skipped when not installed) completes whole token sessions over
HDLC-over-TCP with HLS-GMAC, sending every xDLMS APDU as general-glo-ciphering (DB).
The frames are recorded (tools/golden/dlms_cosem_client.py) and printed (``pytest -s``)."""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

dlms_cosem = pytest.importorskip("dlms_cosem")

from udlms.host.sim import meter as meter_sim  # noqa: E402
from tools.golden.dlms_cosem_client import DlmsCosemSession, apdu, control  # noqa: E402

EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
TITLE = bytes.fromhex("4D4D4D0000000001")
METER_TITLE = bytes.fromhex("4D4D4D0000BC614E")
TOKEN = b"17813034313191558529"


@pytest.fixture
def sim():
    meter = meter_sim.Meter(stoc="00112233445566778899AABBCCDDEEFF")
    srv = meter_sim.TcpServer(meter, 0).start()
    yield meter, srv.port
    srv.stop()


def _session(port, ic, connect=True, **kw):
    s = DlmsCosemSession("127.0.0.1", port, ek=EK, ak=AK, system_title=TITLE, ctos=b"K56iVagY",
                         invocation_counter=ic, timeout=3.0, **kw)
    if connect:
        s.connect()
    return s


def _apdus(frames, direction):
    """(tag, bytes after the LLC) of each I-frame in one direction."""
    return [apdu(f) for d, f in frames
            if d == direction and control(f) is not None and control(f) & 1 == 0]


def test_dlms_cosem_token_session_accepted_then_reused(sim):
    meter, port = sim
    s = _session(port, 0)
    assert s.enter(TOKEN) is None  # action-result success, no return data
    assert s.read_status() == (3, b"\x00")  # token execution result OK
    s.close()
    print("\n".join(s.trace_lines()))
    assert meter.state.accepted == [TOKEN.decode()]

    # SNRM without parameters, AARQ, HLS action, enter, GET, RLRQ, DISC
    assert [control(f) for d, f in s.frames if d == "TX"] == [
        0x93, 0x10, 0x32, 0x54, 0x76, 0x98, 0x53]
    assert len(s.frames[0][1]) == 10  # SNRM has no information field
    req, resp = _apdus(s.frames, "TX"), _apdus(s.frames, "RX")
    assert req[0][0] == 0x60 and resp[0][0] == 0x61  # AARQ / AARE
    # every xDLMS request: general-glo-ciphering with the client's title, SC 30, IC 1, 2, 3
    for i, a in enumerate(req[1:4], 1):
        assert a[:10] == b"\xDB\x08" + TITLE
        assert a[11:16] == b"\x30" + i.to_bytes(4, "big")
    # answered in kind: general-glo-ciphering with the meter's title
    for a in resp[1:4]:
        assert a[:10] == b"\xDB\x08" + METER_TITLE
    # RLRQ carries a glo-ciphered InitiateRequest (IC 4), RLRE a ciphered InitiateResponse
    assert req[4][0] == 0x62 and b"\xBE\x23\x04\x21\x21\x1F\x30\x00\x00\x00\x04" in req[4]
    assert resp[4][0] == 0x63
    # dlms-cosem 21.3.2 cannot parse the information-less UA that answers DISC
    assert s.disc_ua_unparsed
    # the simulator checks a ciphered RLRQ (issue 24): deciphered, a fresh counter
    assert meter.state.last_client_ic[1] == 4 and meter.state.releases == ["ciphered ic 4"]

    # a second session with a later counter: the same token is refused (validation failure)
    s = _session(port, 100)
    assert s.enter(TOKEN) is None
    assert s.read_status() == (6, b"\x40")
    s.close()
    print("\n".join(s.trace_lines()))
    assert meter.state.accepted == [TOKEN.decode()]
    assert meter.state.enters[TOKEN.decode()] == 2


def test_dlms_cosem_wrong_encoding_is_type_unmatched(sim):
    from dlms_cosem.clients.dlms_client import ActionError

    _, port = sim
    s = _session(port, 0)
    with pytest.raises(ActionError, match="TYPE_UNMATCHED"):
        s.enter(bytes.fromhex("17813034313191558529"))  # BCD to an ASCII meter
    s.close()


def test_dlms_cosem_replayed_counter_is_refused(sim):
    from dlms_cosem.exceptions import DlmsClientException

    _, port = sim
    _session(port, 5).close()
    s = _session(port, 5, connect=False)
    s.c.connect()
    with pytest.raises(DlmsClientException, match="REJECTED_PERMANENT"):
        s.c.associate()  # the same counter again: the meter refuses the association
    s.line.close()


def test_general_glo_needs_general_protection_negotiated(sim):
    """Without the general-protection conformance bit in the AARQ the meter does not
    negotiate it and refuses general-glo APDUs (exception-response), as before."""
    from dlms_cosem.exceptions import LocalDlmsProtocolError

    _, port = sim
    s = _session(port, 0, connect=False)
    s.c.dlms_connection.conformance.general_protection = False
    s.c.connect()
    with pytest.raises(LocalDlmsProtocolError, match="ExceptionResponse"):
        s.c.associate()
    s.line.close()
    assert _apdus(s.frames, "RX")[-1] == b"\xD8\x01\x02"


def test_dlms_cosem_segmented_responses():
    """A meter with a 48-byte max information field segments the AARE, the HLS answer and
    the enter answer; dlms-cosem asks for each next segment with RR. It does not read the
    UA's limits: its own I-frames stay up to 128 bytes of information (the AARQ has 90)."""
    meter = meter_sim.Meter(max_info=48, stoc="00112233445566778899AABBCCDDEEFF")
    srv = meter_sim.TcpServer(meter, 0).start()
    try:
        s = _session(srv.port, 0)
        assert s.enter(TOKEN) is None
        assert s.read_status() == (3, b"\x00")
        s.close()
    finally:
        srv.stop()
    print("\n".join(s.trace_lines()))
    rx_segmented = [f for d, f in s.frames if d == "RX" and f[1] & 0x08]
    rr = [f for d, f in s.frames if d == "TX" and control(f) & 0x0F == 0x01]
    assert len(rx_segmented) == len(rr) >= 3
    assert max(len(f) for d, f in s.frames if d == "TX") > 48 + 12
