"""Fakes for the tokenpad tests (MicroPython lane and CPython): a fake session library,
pins, UARTs (one bridged to the meter simulator over TCP, one unplugged) and a simulator
starter, a display recording every screen and scripted key events (test doubles, not
part of the device build). Kept apart from test_app.py so each file compiles in a small heap."""

import os

from tokenpad import uart
from tokenpad.display import Display


def _root():
    f = globals().get("__file__") or "host_tests/mpy/tpfakes.py"
    parts = f.replace("\\", "/").split("/")
    return "/".join(parts[:-3]) or "."


ROOT = _root()


class Result:
    def __init__(self, accepted, message, code=None, name=None, kind=None, action=0):
        self.accepted = accepted
        self.message = message
        self.status_code = code
        self.status_name = name
        self.kind = kind or ("accepted" if accepted else "refused")
        self.action_result = action


class FakeLib:
    Settings = None  # FakeSettings, below
    """Stands in for udlms.client.session. ``mode``: accept, refuse, type12, noanswer, lost, or
    ``want:FORM`` (type-unmatched (12) to every other token form, then ``then``: accept,
    refuse, other (action-result 250) or lost). ``lose_at`` N: no answer to the Nth enter."""

    def __init__(self, mode="accept", then="accept", lose_at=None):
        self.mode = mode
        self.then = then
        self.lose_at = lose_at
        self.sent = []
        self.forms = []  # the encoding of every enter request
        self.meter_ic = 500
        self.counter_reads = 0  # read_frame_counter calls (public client)
        lib = self

        class Session:
            def __init__(self, stream, settings_, counter=None, trace=None):
                self.settings = settings_
                self.counter = counter
                self.trace = trace
                self.closed = False

            def open(self):
                from udlms.errors import NoAnswer

                if lib.mode == "noanswer":
                    raise NoAnswer("the meter did not answer SNRM after 2 tries", "no-answer")
                if self.trace:
                    self.trace("TX", b"\x7e")
                    self.trace("RX", b"\x7e")
                self.counter.next()  # the AARQ's invocation counter

            def close(self):
                self.closed = True

            def get(self, class_id, obis, attr):
                from udlms.errors import ServiceError

                raise ServiceError("meter says object-undefined (4)", "data-access-result", 4)

        self.Session = Session

    def enter_token(self, sess, digits, encoding):
        from udlms.errors import NoAnswer

        sess.counter.next()
        self.sent.append(digits)
        self.forms.append(encoding)
        if self.mode == "lost" or len(self.forms) == self.lose_at:
            raise NoAnswer("no answer to the action request", "no-answer")
        if self.mode == "refuse":
            return Result(False, "token refused: already used, expired or out of order", 6,
                          "validation-failure")
        if self.mode.startswith("want:"):
            if encoding != self.mode[5:]:
                return Result(False, "meter says type-unmatched (12): check token encoding",
                              kind="type-unmatched", action=12)
            if self.then == "lost":
                raise NoAnswer("no answer to the action request", "no-answer")
            if self.then == "other":
                return Result(False, "meter says other-reason (250): check the token",
                              kind="other-reason", action=250)
            if self.then == "refuse":
                return Result(False, "token refused: already used, expired or out of order",
                              6, "validation-failure")
            return Result(True, "token accepted and applied", 3, "execution-ok")
        if self.mode == "type12":
            return Result(False, "meter says type-unmatched (12): check token encoding",
                          kind="type-unmatched", action=12)
        return Result(True, "token accepted and applied", 3, "execution-ok")

    def read_token_status(self, sess):
        return 3, None

    def read_frame_counter(self, stream, settings_):
        self.counter_reads += 1
        return self.meter_ic


class FakePin:
    OUT = 1
    IN = 0
    PULL_UP = 2

    def __init__(self, n=0, mode=None, pull=None, value=None, log=None):
        self.n = n
        self.v = 1 if value is None else value
        self.log = log

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v
        if self.log is not None:
            self.log.append(v)


class FakeUart:
    def __init__(self, de_log):
        self.de_log = de_log
        self.out = b""
        self.rx = [b"\x7e\xa0"]

    def write(self, b):
        self.de_log.append("w")
        self.out += bytes(b)

    def flush(self):
        pass

    def txdone(self):
        return True

    def readinto(self, buf):
        if not self.rx:
            return None
        d = self.rx.pop(0)
        buf[:len(d)] = d
        return len(d)


_sim = {}


def _getenv(k):
    return os.getenv(k) if hasattr(os, "getenv") else os.environ.get(k)


def sim_url():
    if "url" in _sim:
        return _sim["url"]
    url = _getenv("SIM_URL")
    if not url:
        url, _sim["pidfile"] = start_sim()
    _sim["url"] = url
    return url


def start_sim(args="", tag=""):
    """udlms.host.sim --tcp 0 ARGS in the background -> (url, pidfile) (simproc's)."""
    import simproc

    return simproc.start_sim(args, tag)


def stop_sim(pidf=None):
    pidf = pidf or _sim.get("pidfile")
    if pidf:
        pid = _read(pidf).strip()
        if pid.isdigit():
            os.system("kill %s" % pid)  # the simulator this script started, by its id


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def _read(p):
    try:
        with open(p) as f:
            return f.read()
    except OSError:
        return ""


def _sleep(s):
    import time

    time.sleep(s)


class SocketUart:
    """A machine.UART stand-in whose wire is a TCP connection to the simulator."""

    def __init__(self, url):
        import socket

        host, port = url[6:].split(":")
        ai = socket.getaddrinfo(host, int(port))[0][-1]
        self.s = socket.socket()
        self.s.connect(ai)
        self.s.setblocking(False)

    def write(self, b):
        b = bytes(b)
        while b:
            try:
                n = self.s.send(b)
            except OSError:
                n = 0
            b = b[n or 0:]
        return None

    def flush(self):
        pass

    def readinto(self, buf):
        try:
            if hasattr(self.s, "readinto"):
                return self.s.readinto(buf)
            return self.s.recv_into(buf)
        except OSError:  # EAGAIN: nothing yet
            return None

    def close(self):
        self.s.close()


class BridgedStream(uart.UartStream):
    def close(self):
        self.uart.close()


class DeadUart:
    """An unplugged probe: writes vanish, nothing ever comes back."""

    def write(self, b):
        return len(b)

    def readinto(self, buf):
        return None




class FakeSettings:
    """What the app passes to a session: the config's values as attributes."""

    def __init__(self, **kw):
        for k in kw:
            setattr(self, k, kw[k])


FakeLib.Settings = FakeSettings


class FakeDisplay(Display):
    """Records every screen in ``frames`` (tuples of lines); ``seen(text)`` searches them."""

    def __init__(self, cols=21, rows=8):
        super().__init__()
        self.cols = cols
        self.rows = rows
        self.frames = []

    def _draw(self):
        self.frames.append(tuple(self.lines))

    def seen(self, text):
        for f in self.frames:
            for ln in f:
                if text in ln:
                    return True
        return False

    def last(self):
        return self.frames[-1] if self.frames else ()


class FakeKeypad:
    """A tokenpad.keypad event source, scripted. ``type(text)``: digits, ``*``, ``#``,
    ``A``-``D`` are short presses; ``!`` is a long press of ``*`` (clear); ``^`` a double
    press of ``*`` (clear); ``R`` the resend button; spaces are ignored."""

    def __init__(self):
        self.events = []
        self.t = 1000

    def press(self, key, hold=60, gap=150):
        self.events.append((key, True, self.t))
        self.events.append((key, False, self.t + hold))
        self.t += hold + gap

    def type(self, text):
        for ch in text:
            if ch == " ":
                continue
            if ch == "!":
                self.press("*", hold=1200)
            elif ch == "^":
                self.press("*", gap=40)
                self.press("*")
            else:
                self.press(ch)
        return self

    def poll(self):
        return self.events.pop(0) if self.events else None


def ram_store(mem=None):
    """A tokenpad Store on two 1 KB slots of RAM (``mem``: 2048 bytes, kept across "power
    cycles" by passing it again) -> (store, mem)."""
    from tokenpad import store

    mem = mem if mem is not None else bytearray(b"\xff" * 2048)
    return store.Store(store.TwoSlot(store.NvmSlot(mem, 0, 1024),
                                     store.NvmSlot(mem, 1024, 1024))), mem


def app(url, st, conf, on_open=None):
    """The real tokenpad App and library over TCP to the simulator at ``url`` (a bridged
    fake UART), a fake 21x8 display, no keypad; ``on_open()`` runs as each link opens."""
    from tokenpad import app as tapp
    from tokenpad import settings

    def open_stream():
        if on_open is not None:
            on_open()
        return BridgedStream(SocketUart(url), FakePin(), 1, 9600)

    return tapp.App(settings.Config(conf), st, FakeDisplay(cols=21, rows=8), [], open_stream)
