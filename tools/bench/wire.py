"""make bench, section 5: bytes, frames and time on the wire, ours and gurux-dlms's."""

import contextlib
import statistics
import sys
import time
from tools.bench.common import BAUD, CASE, SimStats, emit, load_case, start_sim
from tools.bench.cpu import _Sink, gurux_kwargs


# -- 5. wire ------------------------------------------------------------------------------------


class TimedStream:
    """Wraps a stream: counts bytes and frames, times turnaround (the moment a read brought
    bytes → the next write), and optionally throttles our writes to ``baud`` as a UART would."""

    def __init__(self, inner, baud=None):
        self.inner = inner
        self.baud = baud
        self.tx = self.rx = self.tx_frames = 0
        self.last_rx = None
        self.turn = []

    def write(self, b):
        t = time.perf_counter()
        if self.last_rx is not None:
            self.turn.append(t - self.last_rx)
            self.last_rx = None
        self.tx += len(b)
        self.tx_frames += 1
        if self.baud:
            time.sleep(len(b) * 10 / self.baud)
        self.inner.write(b)

    def readinto(self, buf):
        n = self.inner.readinto(buf)
        if n:
            self.last_rx = time.perf_counter()
            self.rx += n
        return n


def ours_tcp(case, baud=None):
    from udlms.crypto import security
    from udlms.client import session, token
    from udlms.link import transport

    stats = SimStats()
    srv = start_sim(case, baud=baud, stats=stats)
    frames = []
    c = case["client"]
    try:
        st = session.Settings(ek=c["ek"], ak=c["ak"], system_title=c["system_title"],
                              ctos=c["ctos"], server_logical=c["server_logical"],
                              server_physical=c["server_physical"],
                              address_size=c["address_size"], timeout_ms=5000)
        stream = transport.TcpStream("127.0.0.1", srv.port, 5000)
        w = TimedStream(stream, baud)
        t0 = time.perf_counter()
        sess = session.Session(w, st, security.MemoryCounter(c["invocation_counter"]),
                               trace=lambda d, f: frames.append((d, bytes(f))))
        sess.open()
        r = token.enter_token(sess, case["token"], "ascii")
        sess.close()
        dt = time.perf_counter() - t0
        stream.close()
    finally:
        srv.stop()
    return r, w, frames, dt, stats


def gurux_tcp(case, baud):
    from tools.golden import gurux_client

    class Throttled(gurux_client.GuruxSession):
        def _send(self, data):
            time.sleep(len(data) * 10 / baud)
            super()._send(data)

    stats = SimStats()
    srv = start_sim(case, baud=baud, stats=stats)
    try:
        with contextlib.redirect_stdout(_Sink()):
            t0 = time.perf_counter()
            g = Throttled("127.0.0.1", srv.port, **gurux_kwargs(case))
            g.connect()
            g.enter(case["token"].encode())
            g.read_status()
            g.close()
            dt = time.perf_counter() - t0
    finally:
        srv.stop()
    return dt, stats


def bench_wire(quick):
    case, tx, rx = load_case()
    g_tx = sum(len(f) for f in tx)
    g_rx = sum(len(f) for f in rx)
    r, w, frames, _, _ = ours_tcp(case)
    o_tx = sum(len(f) for d, f in frames if d == "TX")
    o_rx = sum(len(f) for d, f in frames if d == "RX")
    same = [f for d, f in frames if d == "TX"] == tx
    emit("wire_bytes_ours", o_tx + o_rx, "B", tx=o_tx, rx=o_rx, accepted=r.accepted,
         tx_equal_golden=same, source="our client against the simulator (CPython)")
    emit("wire_bytes_gurux", g_tx + g_rx, "B", tx=g_tx, rx=g_rx,
         source="host_tests/golden/session_gurux.json (%s)" % CASE)
    emit("wire_frames_ours", len(frames), "frames",
         tx=sum(1 for d, _ in frames if d == "TX"), rx=sum(1 for d, _ in frames if d == "RX"))
    emit("wire_frames_gurux", len(tx) + len(rx), "frames", tx=len(tx), rx=len(rx))
    emit("wire_bytes_ours_over_gurux", (o_tx + o_rx) / (g_tx + g_rx), "x")
    wire = (o_tx + o_rx) * 10 / BAUD
    emit("wire_time_9600_ms", wire * 1000, "ms", bytes=o_tx + o_rx, baud=BAUD,
         gurux_ms=round((g_tx + g_rx) * 10 / BAUD * 1000, 1), formula="bytes*10/9600")
    runs = []
    for _ in range(1 if quick else 3):
        r9, w9, _, dt, stats = ours_tcp(case, BAUD)
        runs.append((dt, stats.processing, w9))
    runs.sort(key=lambda x: x[0])
    dt, proc, w9 = runs[len(runs) // 2]
    emit("session_9600_ms", dt * 1000, "ms", runs=len(runs), accepted=r9.accepted,
         all_ms=[round(x[0] * 1000, 1) for x in runs], impl="CPython client",
         link="simulator TcpServer(baud=9600) for its frames, our writes throttled the same "
              "way (loopback TCP)")
    emit("sim_processing_ms", proc * 1000, "ms",
         note="simulator feed() time minus its write() time (throttle sleep + send)")
    emit("session_9600_over_wire_plus_sim", dt / (wire + proc), "x",
         wire_ms=round(wire * 1000, 1), sim_ms=round(proc * 1000, 1),
         rest_ms=round((dt - wire - proc) * 1000, 1))
    turn = [t * 1000 for _, _, w_ in runs for t in w_.turn]
    emit("turnaround_median_ms", statistics.median(turn), "ms", samples=len(turn),
         max_ms=round(max(turn), 3), impl="CPython %d.%d.%d" % sys.version_info[:3],
         note="last byte received -> first byte sent, during the 9600-baud sessions")
    gdt, gstats = gurux_tcp(case, BAUD)
    emit("session_9600_gurux_ms", gdt * 1000, "ms", sim_ms=round(gstats.processing * 1000, 1),
         note="gurux client (tools/golden/gurux_client.py), writes throttled the same way")
