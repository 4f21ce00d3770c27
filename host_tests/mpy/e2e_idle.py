"""MicroPython lane: idle means idle (issue 26). tokenpad built as main.py builds it (fake
keypad and display, a RAM store, the real library over TCP to the simulator, udlms.host.sim) waits
for a key holding only what waiting needs; ``#`` imports the session path, and after the
session it is forgotten: the heap held after a session equals the idle heap within 2 KB.

Measured in a child micropython (same heap) with gc.collect() + gc.mem_alloc(): idle (app
built and booted), peak (at every stream write and every read that brought bytes) and held
after; the growth of the qstr pools (``micropython.qstr_info``) between idle and after is
the names the session path interned, which MicroPython never frees. Asserts that all the
rest returns (held after <= idle + qstr growth + 2 KB) and prints whether the issue's full
target (held after <= idle + 2 KB) is met.
"""

# lane-heap: 224k
import gc
import sys

from mpytest import eq, main, test

MICROPYTHON = sys.implementation.name == "micropython"
SLACK = 2048  # issue 26: held after a session <= idle + 2 KB

_m = {"peak": 0}


def used():
    gc.collect()
    return gc.mem_alloc() if MICROPYTHON else 0


def mark():
    n = used()
    if n > _m["peak"]:
        _m["peak"] = n


class _Marked:
    """The app's stream, marking the heap at every write and every read that brought bytes."""

    def __init__(self, s):
        self.s = s

    def write(self, b):
        mark()
        return self.s.write(b)

    def readinto(self, buf):
        n = self.s.readinto(buf)
        if n:
            mark()
        return n

    def close(self):
        self.s.close()


def _build():
    from tokenpad import app as tapp
    from tokenpad import settings, store

    import tpfakes

    mem = bytearray(b"\xff" * 2048)
    st = store.Store(store.TwoSlot(store.NvmSlot(mem, 0, 1024), store.NvmSlot(mem, 1024, 1024)))
    st.resync(5000)
    from udlms.port import forget

    forget("tokenpad.verdict")  # the store's write leaves, as tokenpad.idle() has it on a board
    cfg = settings.Config({"ek": "000102030405060708090A0B0C0D0E0F",
                           "ak": "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF",
                           "system_title": "4D4D4D0000000003", "server_physical": 17,
                           "timeout_ms": 2000, "retries": 1, "encoding": "ascii"})
    kp = tpfakes.FakeKeypad()
    url = tpfakes.sim_url()

    def open_stream():
        return _Marked(tpfakes.BridgedStream(tpfakes.SocketUart(url), tpfakes.FakePin(), 1,
                                             9600))

    class Screen(tpfakes.FakeDisplay):
        # keeps the last screen only: a recording display would grow with every key
        def _draw(self):
            self.frames = [tuple(self.lines)]

    a = tapp.App(cfg, st, Screen(cols=21, rows=8), [kp], open_stream)
    a.boot()
    return a, kp


_S = {}


def measure():
    """The child: idle, one session, a second; prints the heap figures and the qstr pools
    (micropython.qstr_info) at idle and after, one line each, for the parent to check."""
    import micropython

    a, kp = _build()
    a.step()  # one idle pass of the loop
    idle = used()
    micropython.qstr_info()
    idle_mods = sorted(k for k in sys.modules if k.startswith(("udlms", "tokenpad")))
    _m["peak"] = idle
    kp.type("1781 3034 3131 9155 8529 #")
    out = a.step()
    print("verdict 1: %s" % (out,))
    held = used()
    kp.type("1781 3034 3131 9155 8529 #")  # a second session: refused, nothing more held
    out = a.step()
    print("verdict 2: %s" % (out,))
    held2 = used()
    micropython.qstr_info()
    after_mods = sorted(k for k in sys.modules if k.startswith(("udlms", "tokenpad")))
    print("heap: idle %d peak %d held-after %d held-after-second %d (bytes, gc.mem_alloc)"
          % (idle, _m["peak"], held, held2))
    print("idle modules: " + " ".join(idle_mods))
    print("after modules: " + " ".join(after_mods))


def _child():
    """Run measure() in a child micropython with this heap and parse what it printed."""
    import os

    log = "/tmp/tokenpad_e2e_idle_%d.log" % (id(_S) & 0xFFFFFF)
    heap = gc.mem_free() + gc.mem_alloc()
    rc = os.system("%s -X heapsize=%d -m e2e_idle child > %s 2>&1" % (
        sys.executable or ".venv/bin/micropython", heap, log))
    with open(log) as f:
        text = f.read()
    os.remove(log)
    if rc:
        raise AssertionError("child failed: " + text[-1500:])
    pools = []
    for line in text.splitlines():
        if line.startswith("qstr pool:"):
            pools.append(int(line.split("n_total_bytes=")[1]))
        elif line.startswith("heap: "):
            w = line.split()
            _S.update(idle=int(w[2]), peak=int(w[4]), held=int(w[6]), held2=int(w[8]))
            print(line)
        elif line.startswith(("idle modules:", "after modules:", "verdict")):
            _S[line.split(":")[0]] = line.split(": ", 1)[1].split()
            print(line)
    _S["names"] = pools[1] - pools[0]


@test
def idle_then_session_then_idle_again():
    _child()
    eq(_S["verdict 1"][0], "('ACCEPTED',", "first session")
    eq(_S["verdict 2"][0], "('REJECTED',", "second session")
    idle, held, held2 = _S["idle"], _S["held"], _S["held2"]
    grown = held - idle
    rest = grown - _S["names"]
    print("held after - idle = %d bytes: %d the qstr pools grew by (names interned by the "
          "session path: MicroPython never frees them), %d the rest"
          % (grown, _S["names"], rest))
    print("issue 26 target, held after <= idle + %d: %s" % (SLACK, "met" if grown <= SLACK
                                                           else "NOT met"))
    assert _S["peak"] > idle + 16384, "the session must load its code: peak %d" % _S["peak"]
    # everything but the interned names leaves with the session
    assert rest <= SLACK, "held after %d > idle %d + names %d + %d" % (
        held, idle, _S["names"], SLACK)
    # and a second session holds nothing more
    assert held2 <= held + SLACK, "second session: held %d > %d + %d" % (held2, held, SLACK)


@test
def idle_loads_no_session_code():
    for m in ("udlms.client.session", "udlms.link.hdlc", "udlms.crypto.security",
              "udlms.client.token", "udlms.cosem.apdu", "udlms.results", "tokenpad.deliver",
              "tokenpad.verdict"):
        assert m not in _S["idle modules"], m + " loaded while idle"
        assert m not in _S["after modules"], m + " still loaded after the session"


if not MICROPYTHON:
    print("e2e_idle: measures MicroPython's heap; nothing to run on %s"
          % sys.implementation.name)
    print("0 passed, 0 failed")
elif sys.argv[-1] == "child":
    try:
        measure()
    finally:
        import tpfakes

        if "pidfile" in tpfakes._sim:
            tpfakes.stop_sim()
else:
    main()
