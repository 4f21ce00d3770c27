"""The tokenpad application: key entry, delivery, outcome; a polling loop around it.

Keys: digits are echoed in groups of four (``1781 3034 3131 9155 8529``); ``*`` deletes the
last digit, a long press (>= 0.8 s) or a double press (< 0.4 s apart) clears; ``#`` sends.
The resend button ("R") resends the last pending token, otherwise it asks the meter for
its token_status and settles the journal.

Encoding ``auto`` (the default): the form remembered for this meter goes first, and on
"not this form" only (type-unmatched (12), object-class-inconsistent (9), or 12 with
token_status format-failure) the next form, in the same association (``udlms.client.token_auto``,
loaded only then); the journal note names each attempt (``ascii:12 bcd:accepted``), the
form that worked is remembered in the store and said once: ``ACCEPTED (meter wants BCD;
remembered)``.

Delivery (:mod:`tokenpad.deliver`, loaded for it): validate locally -> journal as
pending -> CONNECTING -> AUTH -> SENDING -> outcome (ACCEPTED, REJECTED: ..., or
``udlms.results.explain`` for failures) -> journal accepted/refused/unknown. A failure
before the token was sent leaves it pending.
Invocation counter (Green Book 9.2.7.3): every action that talks to the meter (``#``,
``tp.enter``, the resend button, the check) on a board whose store never held a counter
(*missing*: a fresh board) first reads the meter's frame counter with the public client, as
the CLI does, and says so (``COUNTER: reading meter``); a stored record that fails its check
(*corrupt*) fails closed: ``COUNTER: invocation counter corrupt: run tp.resync()``.
A meter that refuses the AARQ over the invocation counter (udlms.client.resync.stale) gets
one more association after the store moved up to the counter it names or past its frame
counter (``tokenpad.verdict``, loaded only then); nothing was sent, so nothing goes twice.
"""

from udlms.port import const

# const(): folded into the code, no global names for them (issue 26)
_LONG_MS = const(800)
_DOUBLE_MS = const(400)


def _diff(a, b):
    from udlms.port import ticks_diff

    return ticks_diff(a, b)


def _lean(f):
    """An action that loads the session path: what it imported from udlms (and the meter
    checks) is forgotten when it ends, so the app waits for keys at its idle heap (issue 26;
    MicroPython and CircuitPython, see udlms.port.forget_since)."""

    def action(*a, **k):
        from udlms.port import forget_since, loaded

        before = loaded()
        try:
            return f(*a, **k)
        finally:
            # the meter port (tokenpad.uart) leaves with the action too, its buffers released
            # (UartStream.release); the next action opens it again
            u = a[0].uart
            if hasattr(u, "release"):
                u.release()
            a[0].uart = None
            forget_since(before, ("udlms.", "tokenpad.meter", "tokenpad.deliver",
                                  "tokenpad.verdict", "tokenpad.media", "tokenpad.uart"))

    return action


class App:
    """``cfg`` a config.Config, ``store`` a store.Store, ``display`` a display.Display,
    ``inputs`` key sources (keypad.*), ``open_stream()`` returns the meter port stream
    (default :meth:`port`: the board's UART).
    ``lib`` provides Session, Settings, enter_token, read_token_status and
    read_frame_counter (default: the module :mod:`tokenpad.deliver`, whose ``__getattr__``
    imports them from the library; tests inject a fake)."""

    def __init__(self, cfg, store, display, inputs=(), open_stream=None, lib=None):
        self.cfg = cfg
        self.store = store
        self.display = display
        self.inputs = list(inputs)
        self.open_stream = open_stream or self.port
        self.uart = None
        self._lib = lib
        self.entry = ""
        self.star_down = None
        self.star_last = None
        self.phase = None
        self.outcome = None  # (label, message) of the last action
        self.running = False

    def port(self):
        """The UART of ``self.board`` at ``self.baud`` (set by :func:`tokenpad.board.build`),
        opened by the first action that talks to the meter and released when it ends (see
        ``_lean``). A method of the app, not a closure of the code that built it: a closure
        would keep that module's code in the heap (issue 26)."""
        if self.uart is None:
            from tokenpad import uart

            self.uart = uart.open_uart(self.board, self.baud)
        return self.uart

    @property
    def lib(self):
        if self._lib is None:  # not kept: the delivery code leaves with the action
            from tokenpad import deliver

            return deliver
        return self._lib

    # -- screens ----------------------------------------------------------------------
    def say(self, label, message=""):
        self.outcome = (label, message)
        if message:
            self.display.show(label, message)
        else:
            self.display.show(label)
        return self.outcome

    def boot(self):
        """The first screen: problems first, then pending tokens, else ready."""
        if not self.cfg.ok:
            return self.say("SETTINGS", self.cfg.errors[0])
        if self._needs_counter():
            if self._counter_missing():  # fresh: read at the first token
                return self.say("READY", "type token, # sends; counter read from meter first")
            return self.say("COUNTER", self.store.problem or "run tp.resync()")
        pend = self.store.unresolved()
        if pend:
            from udlms.client import token_info

            e = pend[-1]
            return self.say("%d PENDING" % len(pend), "%s %s: R resends/checks"
                            % (token_info.format(e[1]), e[2]))
        return self.say("READY", "type token, # sends")

    def echo(self):
        """The digits typed so far in groups of four. Nothing is imported here: this runs
        while a key is down, and the keypad is polled by the same loop (a module loaded
        from flash at that moment can outlast the next key press)."""
        e = self.entry
        self.display.show(" ".join(e[i:i + 4] for i in range(0, len(e), 4)) if e else "_",
                          "%d/20  * del  # send" % len(e))

    # -- keys ---------------------------------------------------------------------------
    def handle(self, ev):
        """One key event -> None, or the outcome of an action it triggered."""
        key, pressed, t = ev
        if key == "*":
            if pressed:
                if self.star_last is not None and _diff(t, self.star_last) < _DOUBLE_MS:
                    self.entry = ""
                else:
                    self.entry = self.entry[:-1]
                self.star_last = t
                self.star_down = t
                self.echo()
            elif self.star_down is not None:
                if _diff(t, self.star_down) >= _LONG_MS:
                    self.entry = ""
                    self.echo()
                self.star_down = None
            return None
        if not pressed:
            return None
        if key.isdigit():  # no "0" and "9" constants: two names fewer at idle (issue 26)
            if len(self.entry) < 20:
                self.entry += key
            self.echo()
            return None
        if key == "#":
            if not self.entry:
                return self.boot()
            text = self.entry
            out = self.enter(text)
            if out[0] != "BAD TOKEN":
                self.entry = ""
            return out
        if key == "R":
            return self.resend()
        return None

    # -- actions ------------------------------------------------------------------------
    def _needs_counter(self):
        return self.cfg["mode"] == "hls-gmac" and not self.store.known

    def _counter_missing(self):
        """No counter because the store never held one (not because one is corrupt)."""
        return self._needs_counter() and getattr(self.store, "missing", False)

    @_lean
    def enter(self, text, jid=None, encoding=None):
        """Validate, journal, deliver one token; returns (label, message). ``encoding``
        overrides the config's for this token (one of udlms.client.token.ENCODINGS or "auto").
        The delivery code (:mod:`tokenpad.deliver`) is loaded for it and forgotten after."""
        from tokenpad import deliver

        return deliver.enter(self, text, jid, encoding)

    @_lean
    def resend(self):
        """Resend the newest pending token; if none, check the meter's token_status."""
        pend = self.store.pending()
        if pend:
            e = pend[-1]
            return self.enter(e[1], e[0])
        return self.confirm()

    @_lean
    def confirm(self):
        """Read the meter's last token and token_status; settle matching journal entries."""
        from tokenpad import meter

        return meter.confirm(self)

    @_lean
    def resync(self):
        """Read the meter's frame counter (public client) and move our counter past it."""
        from tokenpad import meter

        return meter.resync(self)

    @_lean
    def probe(self):
        """Is a meter answering on the port? HDLC SNRM/UA then DISC (no association)."""
        from tokenpad import meter

        return meter.probe(self)

    # -- the loop -------------------------------------------------------------------------
    def step(self):
        """Poll every input once; handle what came in. Returns the last outcome or None."""
        out = None
        for src in self.inputs:
            ev = src.poll()
            while ev is not None:
                r = self.handle(ev)
                if r is not None:
                    out = r
                ev = src.poll()
        return out

    def loop(self, poll_ms=10, until=None):
        """The loop main.py runs on every runtime (no asyncio: nothing else shares the board,
        issue 26): poll keys, act, sleep. Forever, or until ``until()`` is true."""
        from udlms.port import sleep_ms

        self.running = True
        self.boot()
        tick = getattr(self.display, "tick", None)
        while self.running:  # one pass: poll the keys, act, let the display page
            self.step()
            if tick is not None:
                tick()
            if until is not None and until():
                break
            sleep_ms(poll_ms)
        self.running = False

    def run(self, poll_ms=10, until=None):
        """A coroutine (:func:`tokenpad.tasks.run`): forever, or until ``until()`` is true,
        poll keys, act, yield to other tasks; for an app that shares the board. Its code
        is loaded only then: main.py runs :meth:`loop` (issue 26)."""
        from tokenpad import tasks

        return tasks.run(self, poll_ms, until)
