"""MicroPython lane: HDLC frames (spec.md §4f vectors), the receiver and the link, with a
scripted peer. Also runs under CPython."""

import binascii
import gc

from mpytest import eq, main, raises, test

import hdlcaux as aux
from udlms import link as hdlc_frame  # the frame codec
from udlms.link import hdlc
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
    eq(hdlc_frame.fcs16(b"123456789"), 0x906E)
    eq(hx(aux.frame(S, C, aux.SNRM)), "7EA008022303933E747E")
    eq(hx(aux.frame(C, S, aux.UA, aux.ua_info(128, 128, 1, 1))), hx(UA))
    eq(hx(aux.frame(S, C, aux.DISC)), "7EA0080223035332B27E")
    eq(hx(aux.frame(S, hdlc.client_address(16), aux.SNRM, hdlc.snrm_info(256, 256))),
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
        aux.feed(r, data[i:i + 1])
        f = r.next()
        while f is not None:
            got.append(f.control)
            f = r.next()
    eq(got, [aux.UA, aux.DM])
    if hasattr(r, "errors"):  # the device build does not count bad frames
        eq(r.errors.get("bad-fcs"), 1)


class Blob:
    """A stream over prebuilt bytes whose readinto allocates nothing (like a UART)."""

    def __init__(self, data, repeat=1):
        self.data = data
        self.pos = 0
        self.left = repeat * len(data)

    def readinto(self, buf):
        d = self.data
        n = len(buf)
        if n > self.left:
            n = self.left
        p = self.pos
        size = len(d)
        for i in range(n):
            buf[i] = d[p]
            p += 1
            if p == size:
                p = 0
        self.pos = p
        self.left -= n
        return n

    def write(self, b):
        pass


def _frames(count):
    out = bytearray()
    for k in range(count):
        out += aux.frame(C, S, aux.i_control(k & 7, 0), bytes((k + i) & 0xFF
                                                               for i in range(120)))
    return bytes(out)


@test
def receiving_1000_frames_allocates_nothing_after_the_first():
    if not hasattr(gc, "mem_alloc"):  # CPython: nothing to measure
        return
    data = _frames(8)  # 8 different frames, served 125 times over: 1000 frames
    for how in ("receiver", "link"):
        stream = Blob(data, 125)
        if how == "receiver":
            r = hdlc.Receiver(128)

            def get(r=r, stream=stream):
                f = r.next()
                while f is None:
                    r.fill(stream)
                    f = r.next()
                return f
        else:
            link = hdlc.Link(stream, server_physical=17, timeout_ms=1000)

            def get(link=link):
                return link.wait(1000)
        got = 0
        f = get()  # the first frame
        got += 1
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            while got < 1000:
                f = get()
                if f is None or f.j - f.i != 120:
                    raise AssertionError("frame %d lost" % got)
                got += 1
            used = gc.mem_alloc() - before
        finally:
            gc.enable()
        print("%s: %d bytes allocated receiving frames 2..1000" % (how, used))
        eq(used, 0, how)


class Peer:
    """Answers each client frame from a script (list of (expected_control, reply bytes))."""

    def __init__(self, script):
        self.script = list(script)
        self.rx = bytearray()
        self.seen = []

    def write(self, b):
        r = hdlc.Receiver(256)
        aux.feed(r, bytes(b))
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
    return aux.frame(C, S, aux.i_control(ns, nr), info, seg)


@test
def link_session_with_segmented_answer():
    ans = b"\xe6\xe7\x00" + bytes(range(200))
    peer = Peer([
        (aux.SNRM, UA),
        (aux.i_control(0, 0), _i(0, 1, ans[:128], True)),
        (aux.rr_control(1), _i(1, 1, ans[128:])),
        (aux.DISC, h("7EA008030223735FF57E")),
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
    link = hdlc.Link(Peer([(aux.SNRM, DM)]), server_physical=17, timeout_ms=10)
    e = raises(LinkError, link.connect)
    eq(e.kind, "link-refused")



@test
def messages_read_back():
    """In the lane's build the texts live in udlms/messages.txt (tools/build/msgtable.py): the
    error carries (offset, args) and shows the same words as the source."""
    import sys

    e = raises(LinkError, hdlc.client_address, 200)
    eq(str(e), "client SAP 200 out of range 0..127")
    eq(e.message, str(e))
    eq(repr(e), "LinkError: client SAP 200 out of range 0..127")
    eq(e.kind, "config")
    if sys.implementation.name == "micropython":
        eq(type(e.args[0]), tuple)  # moved out of the heap, not inline
    e = raises(LinkError, hdlc.encode_frame, bytearray(4), C + S, aux.SNRM)
    eq(str(e), "frame buffer too small")

main()
