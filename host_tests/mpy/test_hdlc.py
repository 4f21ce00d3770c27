"""MicroPython lane: HDLC frames (spec.md §4f vectors), the receiver and the link, with a
scripted peer. Also runs under CPython."""

import binascii
import gc

from mpytest import eq, main, raises, test

from udlms import hdlc
from udlms.errors import LinkError, NoAnswer


def h(s):
    return binascii.unhexlify(s.replace(" ", ""))


def hx(b):
    return binascii.hexlify(bytes(b)).decode().upper()


S = hdlc.server_address(1, 17)
C = hdlc.client_address(1)
UA = h("7EA01F03022373C371818012050180060180070400000001080400000001533B7E")
DM = h("7EA0080302231F355C7E")


@test
def crc_and_frames():
    eq(hdlc.fcs16(b"123456789"), 0x906E)
    eq(hx(hdlc.frame(S, C, hdlc.SNRM)), "7EA008022303933E747E")
    eq(hx(hdlc.frame(C, S, hdlc.UA, hdlc.ua_info(128, 128, 1, 1))), hx(UA))
    eq(hx(hdlc.frame(S, C, hdlc.DISC)), "7EA0080223035332B27E")
    eq(hx(hdlc.frame(S, hdlc.client_address(16), hdlc.SNRM, hdlc.snrm_info(256, 256))),
       "7EA0150223219389AC818008050201000602010056967E")
    eq(hdlc.server_address(1, 17, 4), h("00020023"))
    eq(hdlc.parse_params(h("818012050180060180070400000001080400000001")), (128, 128, 1, 1))


@test
def receiver_resyncs_byte_by_byte():
    r = hdlc.Receiver(128)
    got = []
    bad = bytearray(UA)
    bad[20] ^= 1
    data = b"\x00\x11" + bytes(bad) + UA + DM
    for i in range(len(data)):
        r.feed(data[i:i + 1])
        f = r.next()
        while f is not None:
            got.append(f.control)
            f = r.next()
    eq(got, [hdlc.UA, hdlc.DM])
    eq(r.errors.get("bad-fcs"), 1)


def _alloc_per_frame(info_len):
    fr = hdlc.frame(C, S, hdlc.i_control(0, 0), bytes(info_len))
    r = hdlc.Receiver(128)
    chunk = fr * 4
    r.feed(chunk)
    while r.next() is not None:
        pass
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for _ in range(10):
            r.feed(chunk)
            while r.next() is not None:
                pass
        return (gc.mem_alloc() - before) // 40
    finally:
        gc.enable()


@test
def receiver_allocates_per_frame_not_per_byte():
    if not hasattr(gc, "mem_alloc"):  # CPython
        return
    small = _alloc_per_frame(4)
    big = _alloc_per_frame(120)
    print("bytes allocated per received frame: %d (4-byte info), %d (120-byte info)"
          % (small, big))
    if big > small:
        raise AssertionError("allocation grows with frame size: %d > %d" % (big, small))


class Peer:
    """Answers each client frame from a script (list of (expected_control, reply bytes))."""

    def __init__(self, script):
        self.script = list(script)
        self.rx = bytearray()
        self.seen = []

    def write(self, b):
        r = hdlc.Receiver(256)
        r.feed(bytes(b))
        f = r.next()
        self.seen.append(f.control)
        if self.script:
            want, reply = self.script.pop(0)
            if want is not None and f.control != want:
                raise AssertionError("peer expected %02X, got %02X" % (want, f.control))
            if reply:
                self.rx += reply

    def readinto(self, buf):
        n = min(len(buf), len(self.rx))
        buf[:n] = self.rx[:n]
        self.rx = self.rx[n:]
        return n


def _i(ns, nr, info, seg=False):
    return hdlc.frame(C, S, hdlc.i_control(ns, nr), info, seg)


@test
def link_session_with_segmented_answer():
    ans = b"\xe6\xe7\x00" + bytes(range(200))
    peer = Peer([
        (hdlc.SNRM, UA),
        (hdlc.i_control(0, 0), _i(0, 1, ans[:128], True)),
        (hdlc.rr_control(1), _i(1, 1, ans[128:])),
        (hdlc.DISC, h("7EA008030223735FF57E")),
    ])
    link = hdlc.Link(peer, server_physical=17, timeout_ms=50)
    link.connect()
    apdu = link.request(b"\xc0\x01\xc1")
    eq(bytes(apdu), bytes(range(200)))
    eq(link.disconnect(), True)


@test
def link_no_answer_and_refusal():
    link = hdlc.Link(Peer([]), server_physical=17, timeout_ms=10, retries=1)
    e = raises(NoAnswer, link.connect)
    eq(e.kind, "no-answer")
    link = hdlc.Link(Peer([(hdlc.SNRM, DM)]), server_physical=17, timeout_ms=10)
    e = raises(LinkError, link.connect)
    eq(e.kind, "link-refused")


main()
