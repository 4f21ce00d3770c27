"""The tokenpad application: key entry, delivery, outcome; an asyncio loop around it.

Keys: digits are echoed in groups of four (``1781 3034 3131 9155 8529``); ``*`` deletes the
last digit, a long press (>= 0.8 s) or a double press (< 0.4 s apart) clears; ``#`` sends.
The resend button ("R") resends the last pending token, otherwise it asks the meter for
its token_status and settles the journal.

Encoding ``auto`` (the default): the form remembered for this meter goes first, and on
type-unmatched (12) only the next form, in the same association (``udlms.client.token_auto``,
loaded only then); the journal note names each attempt (``ascii:12 bcd:accepted``), the
form that worked is remembered in the store and said once: ``ACCEPTED (meter wants BCD;
remembered)``.

Delivery: validate locally -> journal as pending -> CONNECTING -> AUTH -> SENDING ->
outcome (ACCEPTED, REJECTED: ..., or ``udlms.results.explain`` for failures) -> journal
accepted/refused/unknown. A failure before the token was sent leaves it pending.
Invocation counter (Green Book 9.2.7.3): every action that talks to the meter (``#``,
``tp.enter``, the resend button, the check) on a board whose store never held a counter
(*missing*: a fresh board) first reads the meter's frame counter with the public client, as
the CLI does, and says so (``COUNTER: reading meter``); a stored record that fails its check
(*corrupt*) fails closed: ``COUNTER: invocation counter corrupt: run tp.resync()``.
"""

from udlms.errors import TokenError

_LONG_MS = 800
_DOUBLE_MS = 400
_REFUSED = ("refused", "format-failure", "authentication-failure", "validation-failure",
            "execution-failure")


def _diff(a, b):
    from udlms.port import ticks_diff

    return ticks_diff(a, b)


class _Udlms:
    """The library names the app uses, each module imported when first asked for:
    session (Session, Settings), token (enter_token, read_token_status), resync."""

    def __getattr__(self, name):
        if name in ("Session", "Settings"):
            from udlms.client import session as m
        elif name == "read_frame_counter":
            from udlms.client import resync as m
        else:
            from udlms.client import token as m
        return getattr(m, name)


class App:
    """``cfg`` a config.Config, ``store`` a store.Store, ``display`` a display.Display,
    ``inputs`` key sources (keypad.*), ``open_stream()`` returns the meter port stream.
    ``lib`` provides Session, Settings, enter_token, read_token_status and
    read_frame_counter (default: :class:`_Udlms`, the library; tests inject a fake)."""

    def __init__(self, cfg, store, display, inputs=(), open_stream=None, lib=None):
        self.cfg = cfg
        self.store = store
        self.display = display
        self.inputs = list(inputs)
        self.open_stream = open_stream
        self._lib = lib
        self.entry = ""
        self.star_down = None
        self.star_last = None
        self.phase = None
        self.outcome = None  # (label, message) of the last action
        self.running = False

    @property
    def lib(self):
        if self._lib is None:
            self._lib = _Udlms()
        return self._lib

    def _settings(self):
        return self.cfg.settings(getattr(self.lib, "Settings", None))

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
        if "0" <= key <= "9":
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
    def _trace(self, direction, frame):
        if direction == "RX" and self.phase == "CONNECTING":
            self.phase = "AUTH"
            self.display.show("AUTH")

    def enter(self, text, jid=None, encoding=None):
        """Validate, journal, deliver one token; returns (label, message). ``encoding``
        overrides the config's for this token (one of udlms.client.token.ENCODINGS or "auto")."""
        from udlms import results
        from udlms.client import token, token_info

        try:
            digits = token.parse(text)
        except TokenError as e:
            return self.say("BAD TOKEN", e.message)
        if not self.cfg.ok:
            return self.say("SETTINGS", "; ".join(self.cfg.errors))
        if encoding is not None and encoding not in token.ENCODINGS and encoding != "auto":
            return self.say("SETTINGS", "encoding: must be one of %s or auto, got %s: not "
                            "sent" % (", ".join(token.ENCODINGS), encoding))
        if jid is None:
            try:
                jid = self.store.add(digits)
            except Exception as e:  # noqa: BLE001 - never send what we could not journal
                return self.say("STORE", "cannot journal the token (%s): not sent" % (e,))
        settings = self._settings()
        if encoding is not None:
            settings.encoding = encoding
        auto = settings.encoding == "auto"
        lib = self.lib
        self.phase = "CONNECTING"
        self.display.show("CONNECTING", token_info.format(digits))
        sent = False
        stream = sess = fail = None
        try:
            stream = self.open_stream()
            self._counter_if_missing(stream, settings)
            sess = lib.Session(stream, settings, self.store, trace=self._trace)
            sess.open()
            self.phase = "SENDING"
            self.display.show("SENDING", token_info.format(digits))
            sent = True
            if auto:
                r = self._enter_auto(sess, digits, jid)
            else:
                r = lib.enter_token(sess, digits, settings.encoding)
        except Exception as e:  # noqa: BLE001 - every failure becomes a plain outcome
            note = getattr(e, "kind", None) or "error"
            if auto and getattr(sess, "attempts", None):
                from udlms.client.token_auto import journal_note

                note = journal_note(sess.attempts) + " " + note
            self._settle(jid, "unknown" if sent else "pending", note)
            text = results.explain(e)
            i = text.find(": ")
            fail = (text,) if i < 0 else (text[:i], text[i + 2:])
        finally:
            self.phase = None
            if sess is not None:
                sess.close()
            if stream is not None and hasattr(stream, "close"):
                stream.close()
        if fail is not None:  # shown once the link is released: keys work again from here
            return self.say(*fail)
        if auto:
            return self._auto_outcome(jid, r)
        if r.accepted:
            self._settle(jid, "accepted", r.status_name or "")
            return self.say("ACCEPTED", r.message)
        if r.kind == "unknown":
            self._settle(jid, "unknown", r.status_name or "")
            return self.say("UNKNOWN", r.message)
        self._settle(jid, "refused", r.status_name or r.kind)
        return self.say("REJECTED", r.message)

    def _needs_counter(self):
        return self.cfg["mode"] == "hls-gmac" and not self.store.known

    def _counter_missing(self):
        """No counter because the store never held one (not because one is corrupt)."""
        return self._needs_counter() and getattr(self.store, "missing", False)

    def _counter_if_missing(self, stream, settings):
        """Every action that talks to the meter calls this first: a missing counter is read
        from the meter; a corrupt one is left to fail closed in the session (store.next)."""
        if self._counter_missing():
            self._counter_from_meter(stream, settings)

    def _counter_from_meter(self, stream, settings):
        """No counter stored yet: read the meter's frame counter (public client, no keys)
        and move ours past it before the first association, as the CLI does."""
        self.display.show("COUNTER", "reading meter (first use)")
        value = self.lib.read_frame_counter(stream, settings)
        new = self.store.resync(value)
        self.display.show("COUNTER", "from meter: %d" % new)
        if self.phase is not None:  # a token: back to its own phases
            self.phase = "CONNECTING"
        return new

    def _settle(self, jid, state, note):
        try:
            e = self.store.get(jid)
            if e is not None and (e[2] != state or e[3] != note):
                self.store.set(jid, state, note)
        except Exception:  # noqa: BLE001 - the outcome is shown even if the flash is full
            pass

    def _enter_auto(self, sess, digits, jid):
        """Encoding auto: the remembered form first, the next on type-unmatched only."""
        from udlms.client import token_auto, token_info

        def note(form, result):
            if result == 12:  # journaled before the next form goes out
                self._settle(jid, "pending", token_auto.journal_note(sess.attempts))
            elif len(sess.attempts) > 1:
                self.display.show("SENDING", "%s as %s" % (token_info.format(digits), form))

        return token_auto.enter(sess, digits, self.store.form(self.cfg.context()), note,
                                self.lib.enter_token)

    def _auto_outcome(self, jid, r):
        """Settle and say the outcome of encoding auto; remember the form the meter took
        (said once: ``ACCEPTED (meter wants BCD; remembered)``)."""
        from udlms.client import token_auto

        suffix, message = token_auto.verdict(r)
        if r.accepted:
            try:
                self.store.remember(self.cfg.context(), r.encoding)
            except Exception as e:  # noqa: BLE001 - the token is in; say what was lost
                suffix = " (meter wants %s; not remembered: %s)" % (r.encoding.upper(), e)
        label = "ACCEPTED" if r.accepted else "UNKNOWN" if r.kind == "unknown" else "REJECTED"
        self._settle(jid, "refused" if label == "REJECTED" else label.lower(),
                     token_auto.journal_note(r.attempts))
        return self.say(label + suffix, message)

    def resend(self):
        """Resend the newest pending token; if none, check the meter's token_status."""
        pend = self.store.pending()
        if pend:
            e = pend[-1]
            return self.enter(e[1], e[0])
        return self.confirm()

    def _session(self):
        """(stream, Session) for an action that is not a token (the check); a missing
        counter is read from the meter first, as for a token."""
        lib = self.lib
        settings = self._settings()
        stream = self.open_stream()
        try:
            self._counter_if_missing(stream, settings)
        except BaseException:
            if hasattr(stream, "close"):
                stream.close()
            raise
        return stream, lib.Session(stream, settings, self.store)

    def confirm(self):
        """Read the meter's last token and token_status; settle matching journal entries."""
        from tokenpad import meter

        return meter.confirm(self)

    def resync(self):
        """Read the meter's frame counter (public client) and move our counter past it."""
        from tokenpad import meter

        return meter.resync(self)

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

    def _turn(self, tick, until):
        """One pass of the loop: poll the keys, act, let the display page. True to stop."""
        self.step()
        if tick is not None:
            tick()
        return until is not None and until()

    def loop(self, poll_ms=10, until=None):
        """The same loop without asyncio (CircuitPython has none built in): poll keys, act,
        sleep. Forever, or until ``until()`` is true."""
        from udlms.port import sleep_ms

        self.running = True
        self.boot()
        tick = getattr(self.display, "tick", None)
        while self.running and not self._turn(tick, until):
            sleep_ms(poll_ms)
        self.running = False

    async def run(self, poll_ms=10, until=None):
        """Forever (or until ``until()`` is true): poll keys, act, yield to other tasks."""
        try:
            import asyncio
        except ImportError:  # pragma: no cover - very old MicroPython
            import uasyncio as asyncio
        self.running = True
        self.boot()
        tick = getattr(self.display, "tick", None)
        while self.running and not self._turn(tick, until):
            await asyncio.sleep(poll_ms / 1000)
        self.running = False
