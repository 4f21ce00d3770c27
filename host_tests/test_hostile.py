"""Hostile meters: each trick is refused with a named error and the session ends cleanly.

A scripted meter is udlms.host.sim with one method overridden per case, reached in memory
through tools/qa/faultlink.FaultLink (no faults) on simulated time."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in ("lib",):
    if os.path.join(ROOT, _p) not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, _p))

from tools.qa import faultlink  # noqa: E402
from udlms.host.sim import meter as meter_sim  # noqa: E402

from udlms.link import hdlc  # noqa: E402
from udlms.client import session  # noqa: E402
from udlms.client import token as tok  # noqa: E402
from udlms.errors import ApduError, LinkError, NoAnswer, SecurityError  # noqa: E402
from udlms.crypto.security import MemoryCounter  # noqa: E402

TOKEN = "12345678901234567890"


@pytest.fixture
def clock():
    c = faultlink.SimClock().install()
    yield c
    c.uninstall()


class Server(meter_sim.HdlcServer):
    assoc_cls = meter_sim.Association

    def apdu(self, req):
        if req and req[0] == 0x60:
            self.assoc = self.assoc_cls(self.meter, self.client)
            return self.assoc.aarq(req)
        return meter_sim.HdlcServer.apdu(self, req)


def rig(clock, server_cls=Server, assoc_cls=None, meter_kw=None, **kw):
    meter = meter_sim.Meter(**(meter_kw or {}))
    link = faultlink.FaultLink(clock)
    srv = server_cls(meter, link.peer_write)
    if assoc_cls is not None:
        srv.assoc_cls = assoc_cls
    link.attach(srv)
    s = dict(ek="000102030405060708090A0B0C0D0E0F", ak="D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF",
             system_title="4D4D4D0000000001", timeout_ms=100, retries=1)
    s.update(kw)
    sess = session.Session(link, session.Settings(**s), MemoryCounter(1))
    return sess, meter, srv


def ends_cleanly(sess, clock):
    t0 = clock.now
    sess.close()  # must not raise
    assert not sess.link.connected
    assert clock.now - t0 < 2000


class Armed(meter_sim.Association):
    """Behaves until ``armed`` (set once the association is authenticated)."""

    def xdlms(self, req):
        armed = self.authenticated
        resp = meter_sim.Association.xdlms(self, req)
        return self.trick(resp) if armed else resp

    def trick(self, resp):
        return resp


def test_sanity_clean_session(clock):
    sess, meter, _ = rig(clock)
    sess.open()
    r = tok.enter_token(sess, TOKEN)
    assert r.kind == "accepted" and meter.state.accepted == [TOKEN]
    ends_cleanly(sess, clock)


def test_forged_ciphered_response_bad_tag(clock):
    class Forged(Armed):
        def trick(self, resp):
            b = bytearray(resp)
            b[-1] ^= 0x01  # last byte of the GMAC tag
            return bytes(b)

    sess, _, _ = rig(clock, assoc_cls=Forged)
    sess.open()
    with pytest.raises(SecurityError) as e:
        sess.get(tok.CLASS_ID, "0.0.19.40.0.255", tok.TOKEN_STATUS)
    assert e.value.kind == "auth-tag"
    ends_cleanly(sess, clock)


def test_forged_ciphertext_bad_tag(clock):
    class Flipped(Armed):
        def trick(self, resp):
            b = bytearray(resp)
            b[8] ^= 0x80  # inside the ciphertext
            return bytes(b)

    sess, _, _ = rig(clock, assoc_cls=Flipped)
    sess.open()
    with pytest.raises(SecurityError) as e:
        sess.get(tok.CLASS_ID, "0.0.19.40.0.255", tok.TOKEN_STATUS)
    assert e.value.kind == "auth-tag"


def test_replayed_ciphered_response(clock):
    class Replay(Armed):
        last = None

        def trick(self, resp):
            if self.last is None:
                self.last = resp
                return resp
            return self.last  # the same meter IC again

    sess, _, _ = rig(clock, assoc_cls=Replay)
    sess.open()
    sess.get(tok.CLASS_ID, "0.0.19.40.0.255", tok.TOKEN_STATUS)
    with pytest.raises(SecurityError) as e:
        sess.get(tok.CLASS_ID, "0.0.19.40.0.255", tok.TOKEN_STATUS)
    assert e.value.kind == "replay"
    ends_cleanly(sess, clock)


def test_aare_accepts_but_meter_proof_does_not_verify(clock):
    class BadProof(meter_sim.Association):
        def hls(self, data):
            res, ret = meter_sim.Association.hls(self, data)
            if ret is not None:
                b = bytearray(ret)
                b[-1] ^= 0x55
                ret = bytes(b)
            return res, ret

    sess, meter, _ = rig(clock, assoc_cls=BadProof)
    with pytest.raises(SecurityError) as e:
        sess.open()
    assert e.value.kind == "meter-proof"
    assert not sess.link.connected and meter.state.enters == {}


def test_aare_accepts_with_proof_for_another_challenge(clock):
    class WrongChallenge(meter_sim.Association):
        def hls(self, data):
            self.ctos = b"not the client's challenge"
            return meter_sim.Association.hls(self, data)

    sess, _, _ = rig(clock, assoc_cls=WrongChallenge)
    with pytest.raises(SecurityError) as e:
        sess.open()
    assert e.value.kind == "meter-proof"


def test_invoke_id_mismatch(clock):
    class OtherInvoke(meter_sim.Association):
        def service(self, req):
            resp = meter_sim.Association.service(self, req)
            if getattr(self, "armed", False) and resp[0] in (0xC4, 0xC5, 0xC7):
                resp = resp[:2] + bytes([resp[2] ^ 0x03]) + resp[3:]
            return resp

    sess, _, srv = rig(clock, assoc_cls=OtherInvoke)
    sess.open()
    srv.assoc.armed = True
    with pytest.raises(ApduError) as e:
        sess.get(tok.CLASS_ID, "0.0.19.40.0.255", tok.TOKEN_STATUS)
    assert e.value.kind == "invoke-id"
    ends_cleanly(sess, clock)


def test_oversized_get_blocks(clock):
    class Huge(meter_sim.Association):
        def get(self, cid, obis, attr):
            if cid == 115 and attr == 4:
                return meter_sim.octets(b"x" * 20000)
            return meter_sim.Association.get(self, cid, obis, attr)

    sess, _, _ = rig(clock, assoc_cls=Huge)
    sess.open()
    with pytest.raises(ApduError) as e:
        sess.get(tok.CLASS_ID, "0.0.19.40.0.255", 4)
    assert e.value.kind == "too-long"
    ends_cleanly(sess, clock)


def test_endless_get_blocks(clock):
    class Endless(meter_sim.Association):
        def next_block(self, invoke, acked):
            n = acked + 1
            return (bytes([0xC4, 2, invoke, 0]) + n.to_bytes(4, "big") + b"\x00\x81\xc8"
                    + bytes(200))

        def get(self, cid, obis, attr):
            if cid == 115 and attr == 4:
                self.pending_blocks = True
                return b"\x09\x82\x01\x00" + bytes(2000)
            return meter_sim.Association.get(self, cid, obis, attr)

    sess, _, _ = rig(clock, assoc_cls=Endless)
    sess.open()
    with pytest.raises(ApduError) as e:
        sess.get(tok.CLASS_ID, "0.0.19.40.0.255", 4)
    assert e.value.kind == "too-long"
    ends_cleanly(sess, clock)


def test_apdu_longer_than_the_receive_buffer(clock):
    class OneBigBlock(meter_sim.Association):
        def get(self, cid, obis, attr):
            if cid == 115 and attr == 4:
                return meter_sim.octets(b"y" * 3000)  # client max_pdu 512 -> blocks
            return meter_sim.Association.get(self, cid, obis, attr)

        def first_block(self, invoke, data):
            self.pending_blocks = [data]  # one block, far over the client's max PDU
            return self.next_block(invoke, 0)

    sess, _, _ = rig(clock, assoc_cls=OneBigBlock)
    sess.open()
    with pytest.raises(LinkError) as e:
        sess.get(tok.CLASS_ID, "0.0.19.40.0.255", 4)
    assert e.value.kind == "too-long"
    ends_cleanly(sess, clock)


@pytest.mark.parametrize("control,kind", [(hdlc.DM, "link-lost"), (hdlc.FRMR, "frame-rejected")])
def test_dm_or_frmr_mid_session(clock, control, kind):
    class Dropping(Server):
        drop = False

        def frame(self, fr):
            if self.drop and not fr.control & 1:  # an I-frame once armed
                self.send(control)
                return
            Server.frame(self, fr)

    sess, meter, srv = rig(clock, server_cls=Dropping)
    sess.open()
    srv.drop = True
    with pytest.raises(LinkError) as e:
        tok.enter_token(sess, TOKEN)
    assert e.value.kind == kind
    assert meter.state.enters == {}
    assert not sess.link.connected
    tx = sess.link.stats["tx"]
    ends_cleanly(sess, clock)
    assert sess.link.stats["tx"] == tx + 1  # only DISC: no RLRQ on a refused link


def test_meter_answering_for_another_address_is_ignored(clock):
    class Rogue(Server):
        def _drain(self):  # answers whatever address the client calls, with its own
            while True:
                fr = self.rx.next()
                if fr is None:
                    return
                self.frame(fr)

    sess, meter, _ = rig(clock, server_cls=Rogue, meter_kw={"server_physical": 18})
    with pytest.raises(NoAnswer) as e:
        sess.open()
    assert e.value.kind == "no-answer"
    assert not sess.link.connected


def test_other_station_on_the_line_does_not_disturb(clock):
    """Frames for another client or from another server are skipped; ours still arrive."""
    sess, meter, srv = rig(clock)
    orig = srv.write

    def noisy_write(b):
        other = hdlc.frame(hdlc.client_address(16), hdlc.server_address(1, 18), hdlc.UA)
        orig(other)
        orig(b)

    srv.write = noisy_write
    sess.open()
    assert tok.enter_token(sess, TOKEN).kind == "accepted"
    ends_cleanly(sess, clock)
