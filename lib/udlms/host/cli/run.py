"""Links and sessions for the udlms command: the port opened from its string, the counter
store's context, one resync-and-retry on a deciphering-error of the AARQ (``Run``)."""

from udlms.host.cli.base import _Guard, _Tracer
from udlms.host.cli.settings import _session_settings, _settings_dict
from udlms.host.journal import _counter_path


# -- links and sessions -----------------------------------------------------------------
def _open(d):
    from udlms.host import ports

    timeout_ms = int(d.get("timeout", 3) * 1000)
    stream = _Guard(ports.open_stream(d["port"], int(d.get("baud") or 9600), timeout_ms))
    try:
        if d.get("echo"):
            from udlms.link.uart import EchoDrop

            stream = EchoDrop(stream)
        if d.get("mode_e"):
            from udlms.link import iec21

            iec21.sign_on(stream, address=d.get("iec_address") or "",
                          max_baud=int(d["baud"]) if d.get("baud") else None)
    except BaseException:
        stream.close()
        raise
    return stream


def _close(x):
    if x is not None:
        try:
            x.close()
        except Exception:  # noqa: BLE001 - teardown never hides the result
            pass


def _deciphering_refusal(e):
    """The meter refused our AARQ over a stale invocation counter (or, from an AARE,
    perhaps wrong keys): :func:`udlms.client.resync.stale`."""
    from udlms.client import resync

    return resync.stale(e)


class Run:
    """One command's connection: settings, trace, counter store and what was said."""

    def __init__(self, d, s, out, tracer):
        from udlms.host import counters

        self.d = d
        self.s = s
        self.out = out
        self.tracer = tracer
        self.notes = []
        self.store = self.ctx = None
        self.counter = None
        if s.mechanism == 5:
            self.store = counters.CounterStore(_counter_path(d))
            self.ctx = counters.context_key(s.ek, s.system_title)

    def note(self, text):
        self.notes.append(text)
        self.out.verbose_line("note: " + text)

    def release_note(self, sess):
        """A release the meter refused (or that failed): the DISC ended the association;
        said with -v only, the verdict stands (issue 24)."""
        if sess is not None and sess.release_note:
            self.out.verbose_line("note: " + sess.release_note)
            sess.release_note = None

    def check_store(self):
        """Read and check the counter file now (a bad file is exit 2, nothing sent)."""
        if self.store is not None:
            self.store.peek(self.ctx)

    def meter_key(self, ctx=None):
        """Where facts about this meter live in the counter store: the security context
        and the meter's HDLC address."""
        from udlms.host import counters

        return counters.meter_key(ctx or self.ctx, None, self.s.server_logical,
                                  self.s.server_physical)

    def resync(self, why):
        """Read the meter's frame counter with the public client (the object that answered
        last time first, then the usual places); move ours past it and remember where."""
        from udlms.client import resync

        first = self.store.recall(self.meter_key(), "frame_counter")
        stream = _open(self.d)
        try:
            value, obis = resync.find_frame_counter(stream, self.s, first, trace=self.tracer)
        finally:
            _close(stream)
        nxt = self.store.remember_meter(self.ctx, value)
        self.frame_counter_obis = obis
        try:  # only a hint for next time: a full disk does not stop the token
            self.store.remember(self.meter_key(), "frame_counter", obis)
        except Exception as e:  # noqa: BLE001
            self.note("where the frame counter answered was not remembered: %s" % (e,))
        self.note("%s: the meter's frame counter is %d (at %s), our next invocation counter %d"
                  % (why, value, obis, nxt))
        return value, nxt

    def new_counter(self):
        from udlms.crypto.security import MemoryCounter

        if self.store is None:
            return None
        if "invocation_counter" in self.d:
            n = self.d["invocation_counter"]
            nxt = self.store.peek(self.ctx)
            if nxt is not None and n < nxt:
                self.note("invocation counter %d is below the stored %d for this key and "
                          "system title: the meter may refuse it" % (n, nxt))
            # keep the store past every value this session may use
            self.store.advance(self.ctx, min(n + 64, 1 << 32))
            return MemoryCounter(n)
        if self.store.peek(self.ctx) is None:
            self.resync("first contact with this key and system title")
            if self.store.migrated is not None:
                self.note("old port-keyed counter entry migrated (%d)" % self.store.migrated)
        return self.store.counter(self.ctx)

    def settle_counter(self, counter):
        from udlms.crypto.security import MemoryCounter

        if isinstance(counter, MemoryCounter) and self.store is not None:
            try:
                self.store.advance(self.ctx, min(counter.value, 1 << 32))
            except Exception:  # noqa: BLE001 - reported on the next run
                pass

    def session(self, work):
        """Open a session, run ``work(sess)``; on a deciphering-error of our AARQ (stale
        counter) resynchronise through the public client and try once more, saying so."""
        from udlms.client import session

        for attempt in (1, 2):
            counter = self.new_counter()
            stream = sess = None
            try:
                stream = _open(self.d)
                self.sess = sess = session.Session(stream, self.s, counter, trace=self.tracer)
                sess.open()
                try:
                    return work(sess)
                finally:
                    sess.close()
                    self.release_note(sess)
            except Exception as e:  # noqa: BLE001 - named here or by the caller
                if (attempt == 1 and self.store is not None and _deciphering_refusal(e)
                        and "invocation_counter" not in self.d
                        and not (sess is not None and sess.token_sent)):
                    _close(stream)
                    stream = None
                    ic = counter.first if hasattr(counter, "first") else None
                    if e.kind == "counter-stale" and e.code:  # the meter named it
                        nxt = self.store.remember_meter(self.ctx, e.code - 1)
                        self.note("the meter refused our invocation counter %s "
                                  "(exception-response invocation-counter-error) and "
                                  "expects %d: trying once more from invocation counter %d"
                                  % (ic, e.code, nxt))
                        continue
                    self.note("the meter could not decipher our AARQ (invocation counter %s): "
                              "resynchronising from its frame counter and trying once more"
                              % ic)
                    self.resync("resync")
                    continue
                self.release_note(sess)
                if attempt == 2 and _deciphering_refusal(e):
                    e.args = (e.message + "; it was still refused after the invocation "
                              "counter was resynchronised: check EK/AK and the system title",)
                raise
            finally:
                self.settle_counter(counter)
                _close(stream)


def _conn_settings(args, cmd, out):
    d = _settings_dict(args, cmd)
    s = _session_settings(d, cmd)
    tracer = _Tracer(d.get("trace"))
    return d, s, Run(d, s, out, tracer)


def _interrupt_guard():
    """After the first Ctrl-C: ignore more while the journal is settled."""
    import signal

    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):  # not the main thread
        pass
