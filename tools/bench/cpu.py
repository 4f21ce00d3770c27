"""make bench, section 1: CPU per token session on CPython, ours and gurux-dlms's, offline."""

import contextlib
import io
import statistics
import sys
import time
from tools.bench.common import CASE, emit, gurux_version, load_case


# -- 1. CPU per session, offline replay --------------------------------------------------------


class ReplayStream:
    """Our client's stream for the offline run: swallows TX, hands out the recorded RX frames
    in order (as much of the current one as fits)."""

    def __init__(self, frames, record=False):
        self.frames = frames
        self.i = 0
        self.pos = 0
        self.sent = [] if record else None

    def write(self, b):
        if self.sent is not None:
            self.sent.append(bytes(b))

    def readinto(self, buf):
        if self.i >= len(self.frames):
            return 0
        f = self.frames[self.i]
        n = min(len(buf), len(f) - self.pos)
        buf[:n] = f[self.pos:self.pos + n]
        self.pos += n
        if self.pos == len(f):
            self.i += 1
            self.pos = 0
        return n


def ours_offline(case, rx, record=False):
    from udlms.crypto import security
    from udlms.client import session, token

    c = case["client"]
    st = session.Settings(ek=c["ek"], ak=c["ak"], system_title=c["system_title"], ctos=c["ctos"],
                          server_logical=c["server_logical"],
                          server_physical=c["server_physical"], address_size=c["address_size"])
    stream = ReplayStream(rx, record)
    sess = session.Session(stream, st, security.MemoryCounter(c["invocation_counter"]))
    sess.open()
    r = token.enter_token(sess, case["token"], "ascii")
    sess.close()
    return r, stream.sent


class _NoSock:
    def close(self):
        pass


def _gurux_replay_class():
    from tools.golden import gurux_client

    class GuruxReplay(gurux_client.GuruxSession):
        """The golden generator's gurux session, with its socket replaced by the recording:
        gurux builds every request and parses every recorded frame with getData."""

        def __init__(self, rx, record=False, **kw):
            orig = gurux_client.socket.create_connection
            gurux_client.socket.create_connection = lambda *a, **k: _NoSock()
            try:
                super().__init__("replay", 0, **kw)
            finally:
                gurux_client.socket.create_connection = orig
            self._rx = iter(rx)
            self._record = record

        def _recv_frame(self):
            return next(self._rx)

        def _send(self, data):
            if self._record:
                self.frames.append(("TX", bytes(data)))

        def _read(self, reply):
            from gurux_dlms import GXByteBuffer, GXReplyData

            bb = GXByteBuffer()
            notify = GXReplyData()
            while True:
                bb.set(self._recv_frame())
                if self.c.getData(bb, reply, notify):
                    if not reply.isMoreData() or reply.isComplete():
                        return

    return GuruxReplay


def gurux_kwargs(case):
    c = case["client"]
    return dict(client=1, server_logical=c["server_logical"],
                server_physical=c["server_physical"], address_size=c["address_size"],
                ek=bytes.fromhex(c["ek"]), ak=bytes.fromhex(c["ak"]),
                system_title=bytes.fromhex(c["system_title"]), ctos=bytes.fromhex(c["ctos"]),
                invocation_counter=c["invocation_counter"], conformance=0x001E1D, max_pdu=512)


def gurux_offline(cls, case, rx, record=False):
    g = cls(rx, record, **gurux_kwargs(case))
    g.connect()
    g.enter(case["token"].encode())
    status = int(g.read_status().statusCode)
    g.close()
    return status, [f for d, f in g.frames if d == "TX"]


@contextlib.contextmanager
def pure_aes():
    from udlms.crypto import gcm  # the backend order lives there (aes.ORDER is a copy)

    saved = gcm.ORDER
    gcm.ORDER = ("pure",)
    try:
        yield
    finally:
        gcm.ORDER = saved


class _Sink(io.TextIOBase):
    def write(self, s):  # gurux prints "Encryption is applied." for every ciphered APDU
        return len(s)


def bench_cpu(quick):
    from udlms.crypto import aes, gcm, security

    case, tx, rx = load_case()
    cls = _gurux_replay_class()
    with contextlib.redirect_stdout(_Sink()):
        r, sent = ours_offline(case, rx, record=True)
        ours_ok = r.accepted and sent == tx
        with pure_aes():
            r2, sent2 = ours_offline(case, rx, record=True)
        ours_pure_ok = r2.accepted and sent2 == tx
        st, gsent = gurux_offline(cls, case, rx, record=True)
        gurux_ok = st == 3 and gsent == tx
        sec = security.Security(bytes(16), bytes(16), bytes(8), security.MemoryCounter(0))
        backend = sec.backend

        def ours():
            ours_offline(case, rx)

        def ours_pure():
            with pure_aes():
                ours_offline(case, rx)

        def gurux():
            gurux_offline(cls, case, rx)

        variants = [("ours", ours), ("ours_pure_aes", ours_pure), ("gurux", gurux)]
        # sessions per timed block: about 0.1 s each (1 in --quick)
        reps = {}
        for name, fn in variants:
            t0 = time.process_time()
            fn()
            dt = max(time.process_time() - t0, 1e-4)
            reps[name] = 1 if quick else max(1, min(200, int(0.1 / dt)))
        rounds = 2 if quick else 9
        samples = {name: [] for name, _ in variants}
        for i in range(rounds):
            order = variants if i % 2 == 0 else variants[::-1]
            for name, fn in order:
                k = reps[name]
                t0 = time.process_time_ns()
                for _ in range(k):
                    fn()
                samples[name].append((time.process_time_ns() - t0) / k / 1e6)
    med = {k: statistics.median(v) for k, v in samples.items()}
    common = dict(impl="CPython %d.%d.%d" % sys.version_info[:3], case=CASE, rounds=rounds,
                  clock="process_time", offline=True)
    emit("cpu_session_ours_ms", med["ours"], "ms", aes=backend,
         ghash="viper" if gcm.ACCEL else "pure", sessions_per_round=reps["ours"],
         frames_equal_golden=ours_ok, spread_ms=[round(min(samples["ours"]), 3),
                                                 round(max(samples["ours"]), 3)], **common)
    emit("cpu_session_ours_pure_aes_ms", med["ours_pure_aes"], "ms", aes="pure",
         sessions_per_round=reps["ours_pure_aes"], frames_equal_golden=ours_pure_ok,
         spread_ms=[round(min(samples["ours_pure_aes"]), 3),
                    round(max(samples["ours_pure_aes"]), 3)], **common)
    emit("cpu_session_gurux_ms", med["gurux"], "ms", gurux_dlms=gurux_version(),
         sessions_per_round=reps["gurux"], frames_equal_golden=gurux_ok,
         spread_ms=[round(min(samples["gurux"]), 3), round(max(samples["gurux"]), 3)],
         **common)
    ratios = [g / o for g, o in zip(samples["gurux"], samples["ours"])]
    emit("cpu_ratio_gurux_over_ours", med["gurux"] / med["ours"], "x",
         per_round_median=round(statistics.median(ratios), 2), aes=aes.new(bytes(16)).name,
         note="gurux seconds / our seconds for the same session (higher is better for us)")
    ratios = [g / o for g, o in zip(samples["gurux"], samples["ours_pure_aes"])]
    emit("cpu_ratio_gurux_over_ours_pure_aes", med["gurux"] / med["ours_pure_aes"], "x",
         per_round_median=round(statistics.median(ratios), 2), aes="pure",
         note="both clients in pure Python (gurux's AES is pure Python)")
