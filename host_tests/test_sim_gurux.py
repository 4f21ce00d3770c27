"""The meter simulator proven by an independent client: the unmodified gurux-dlms client
(PyPI gurux-dlms, used as a peer over TCP) completes whole token sessions against it."""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

gurux_dlms = pytest.importorskip("gurux_dlms")

from udlms.host.sim import meter as meter_sim  # noqa: E402
from tools.golden.gurux_client import GuruxSession  # noqa: E402

EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
TITLE = bytes.fromhex("4D4D4D0000000001")
TOKEN = b"17813034313191558529"


@pytest.fixture
def sim():
    meter = meter_sim.Meter()
    srv = meter_sim.TcpServer(meter, 0).start()
    yield meter, srv.port
    srv.stop()


def _session(port, ic, **kw):
    g = GuruxSession("127.0.0.1", port, ek=EK, ak=AK, system_title=TITLE, ctos=b"K56iVagY",
                     invocation_counter=ic, **kw)
    g.connect()
    return g


def test_gurux_client_token_session_accepted_then_reused(sim):
    meter, port = sim
    g = _session(port, 0)
    reply = g.enter(TOKEN)
    assert reply.error == 0
    gw = g.read_status()
    assert int(gw.statusCode) == 3  # token execution result OK
    g.close()
    assert meter.state.accepted == [TOKEN.decode()]
    # frames seen by gurux: SNRM/UA, AARQ/AARE, HLS action, enter, get status, RLRQ, DISC
    tx = [f for d, f in g.frames if d == "TX"]
    assert tx[0][6] == 0x93 and tx[-1][6] == 0x53

    # a second session with a later counter: the same token is refused (validation failure)
    g = _session(port, 100)
    assert g.enter(TOKEN).error == 0
    assert int(g.read_status().statusCode) == 6
    g.close()
    assert meter.state.accepted == [TOKEN.decode()]


def test_gurux_client_wrong_encoding_is_type_unmatched(sim):
    _, port = sim
    g = _session(port, 0)
    reply = g.enter(bytes.fromhex("17813034313191558529"))  # BCD to an ASCII meter
    assert reply.error == 12  # action-result type-unmatched
    g.close()


def test_gurux_client_replayed_counter_is_refused(sim):
    _, port = sim
    g = _session(port, 5)
    g.close()
    with pytest.raises(gurux_dlms.GXDLMSException, match="rejected"):
        _session(port, 5)  # the same counter again: the meter refuses the association


def test_gurux_public_client_reads_frame_counter(sim):
    _, port = sim
    g = _session(port, 41)
    g.close()
    p = GuruxSession("127.0.0.1", port, client=16)
    p.connect()
    value = p.read_data("0.0.43.1.1.255")
    p.close()
    assert value >= 43  # AARQ 41, f(StoC) 42, HLS action 43 (+ release)
