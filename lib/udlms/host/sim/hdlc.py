"""The simulated meter's HDLC side (IEC 62056-46): SNRM/UA, I-frames, segmentation both
ways, RR/RNR, DISC; ``ApduServer`` is what the HDLC and wrapper sides share."""

from udlms.host.sim.association import Association, fault
from udlms.host.sim.data import MeterState, Options
from udlms.link import hdlc


# --- the meter and its HDLC side ---------------------------------------------------------------


class Meter:
    def __init__(self, options=None, **kw):
        self.o = options or Options(**kw)
        self.state = MeterState(self.o)
        self.address = hdlc.server_address(self.o.server_logical, self.o.server_physical,
                                           self.o.address_size)

    def connection(self, write):
        return HdlcServer(self, write)


class ApduServer:
    """Dispatch of one APDU to the connection's association (HDLC and wrapper share it).
    Needs ``self.meter``, ``self.client`` and ``self.assoc``."""

    def apdu(self, req):
        tag = req[0] if req else 0
        if tag == 0x60:
            self.assoc = Association(self.meter, self.client)
            if self.client == 1:
                fault(self.meter, "aarq")
            return self.assoc.aarq(req)
        if tag == 0x62:
            if self.assoc is None:
                return b"\x63\x03\x80\x01\x00"
            r = self.assoc.release(req)
            if not self.assoc.release_refused:  # a refused release leaves it to the DISC
                self.assoc = None
            return r
        if self.assoc is None or not (self.assoc.authenticated or self.assoc.ciphered):
            return b"\xD8\x01\x01"  # state-error service-not-allowed, no association
        return self.assoc.xdlms(req)


class HdlcServer(ApduServer):
    """HDLC secondary station for one connection (IEC 62056-46 §6.4, normal response mode)."""

    def __init__(self, meter, write):
        self.meter = meter
        self.write = write
        self.rx = hdlc.Receiver(2048)
        self.reset()

    def reset(self):
        self.connected = False
        self.vs = self.vr = 0
        self.assoc = None
        self.client = None
        self.segments = bytearray()
        self.out = []  # pending response segments
        self.last = None
        self.max_tx = self.max_rx = 128
        self.window = 1

    def log(self, d, b):
        if self.meter.o.log:
            print("%s %s" % (d, bytes(b).hex(" ").upper()), flush=True)

    def send(self, control, info=b"", segmented=False):
        f = hdlc.frame(hdlc.client_address(self.client), self.meter.address, control, info,
                       segmented)
        self.last = f
        if self.meter.state.silent:
            return
        self.log("SIM TX", f)
        self.write(f)

    def feed(self, data):
        data = memoryview(bytes(data))
        while len(data):
            n = self.rx.feed(data)
            data = data[n:]
            self._drain()

    def _drain(self):
        while True:
            fr = self.rx.next()
            if fr is None:
                return
            self.log("SIM RX", fr.raw)
            if bytes(fr.dst) != self.meter.address:
                continue
            with self.meter.state.lock:
                self.frame(fr)

    def frame(self, fr):
        st = self.meter.state
        if st.silent == "until-snrm" and fr.control & 0xEF == 0x83:
            st.silent = False  # --lose-enter: the next connection is answered
        if st.silent:  # a test fault: the meter answers nothing more
            return
        src = bytes(fr.src)
        client = src[0] >> 1
        c = fr.control
        if c & 0xEF == 0x83:  # SNRM
            self.reset()
            self.client = client
            mtx, mrx, wtx, wrx = hdlc.parse_params(bytes(fr.info)) if len(fr.info) else (
                128, 128, 1, 1)
            o = self.meter.o
            # client's tx is our rx and vice versa
            self.max_tx = min(mrx, o.max_info)
            self.max_rx = min(mtx, o.max_info)
            self.window = 1
            self.connected = True
            info = hdlc.ua_info(self.max_tx, self.max_rx, 1, 1)
            self.send(hdlc.UA, info)
            return
        if self.client is None:
            self.client = client
        if c & 0xEF == 0x43:  # DISC
            was = self.connected
            self.reset()
            self.client = client
            self.send(hdlc.UA if was else hdlc.DM)
            return
        if not self.connected or client != self.client:
            self.client = client
            self.send(hdlc.DM)
            return
        if c & 0x01 == 0:  # I-frame
            ns = (c >> 1) & 7
            nr = (c >> 5) & 7
            if ns != self.vr:
                # a repeat of the frame we already took: answer again, do not re-run it
                if self.last is not None:
                    self.log("SIM TX", self.last)
                    self.write(self.last)
                return
            self.vr = (self.vr + 1) & 7
            del nr
            self.segments += fr.info
            if fr.segmented:
                self.send(hdlc.rr_control(self.vr))
                return
            apdu = bytes(self.segments)
            self.segments = bytearray()
            if apdu[:3] in (b"\xE6\xE6\x00",):
                apdu = apdu[3:]
            resp = self.apdu(apdu)
            self.queue(b"\xE6\xE7\x00" + resp)
            return
        if c & 0x0F == 0x01:  # RR
            if self.out:
                self.next_segment()
            elif self.last is not None:
                self.write(self.last)
            return
        self.send(hdlc.FRMR, b"")

    def queue(self, info):
        n = self.max_tx
        self.out = [info[i:i + n] for i in range(0, len(info), n)]
        self.next_segment()

    def next_segment(self):
        part = self.out.pop(0)
        control = hdlc.i_control(self.vs, self.vr)
        self.vs = (self.vs + 1) & 7
        self.send(control, part, segmented=bool(self.out))
