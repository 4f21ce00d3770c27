"""Host invocation-counter store (CPython only; boards use tokenpad's power-safe store).

Security suite 0 (Green Book §9.2.7) builds the GCM nonce as client system title ‖ IC
under the block cipher key EK: a counter must never repeat for one (EK, title) pair,
whatever port, proxy or meter it went through. The store therefore keeps one counter per
*security context*, :func:`context_key` (a fingerprint of EK, never the key itself, and
the client system title), not per port string.

Every change is read-reserve-write under an exclusive lock (``fcntl.flock``, or
``msvcrt.locking`` where there is no fcntl) on ``<file>.lock``; the file is written to a
unique temporary name, fsync'ed and renamed over the old one. Files are created 0600.
Values are checked when read: ``0 <= next <= 2^32`` (2^32: every counter used).

File format 2::

    {"format": 2,
     "contexts": {"ek:1f2e...|title:4D4D4D0000000001": {"next": 130, "meter": 66}},
     "meters": {"<meter key>": {"<name>": <value>, ...}}}

Other top-level keys are entries of the old port-keyed format (``"<title hex>|<port>|
<logical>/<physical>": N``): they are kept, checked, and a context seen for the first
time starts above the largest old entry of the same system title (migration).

API: ``store = CounterStore(path)``; ``store.peek(ctx)``, ``store.reserve(ctx, n)``,
``store.advance(ctx, value)``, ``store.remember_meter(ctx, meter_value)``,
``store.counter(ctx)`` (an object with ``next()`` for :class:`udlms.crypto.security.Security`),
``store.remember(meter, name, value)`` / ``store.recall(meter, name)`` for per-meter
facts (see :func:`meter_key`).
"""

import json
import os
import time

from udlms.errors import ConfigError, SecurityError

IC_LIMIT = 1 << 32  # counters are 0 .. 2^32 - 1
STEP = 64  # reserved ahead per write
SESSION_MIN = 16  # a session is not started with fewer counters left than this
FORMAT = 2
_RESERVED = ("format", "contexts", "meters")


def context_key(ek, system_title):
    """The security context a counter belongs to: EK (as a fingerprint) and our title."""
    import hashlib

    if not ek or not system_title:
        raise ConfigError("a security context needs the key EK and the system title",
                          "config")
    fp = hashlib.sha256(b"udlms invocation counter context\0" + bytes(ek)).hexdigest()[:16]
    return "ek:%s|title:%s" % (fp, bytes(system_title).hex().upper())


def meter_key(ctx, server_title=None, server_logical=None, server_physical=None):
    """A key for facts about one meter (e.g. its token encoding) inside a context: the
    meter's system title when known (from the AARE), else its HDLC address."""
    if server_title:
        return "%s|meter:%s" % (ctx, bytes(server_title).hex().upper())
    return "%s|address:%s/%s" % (ctx, server_logical, server_physical)


def exhausted_error(where):
    return SecurityError("invocation counter exhausted %s: every value up to 4294967295 is "
                         "used under this key; the keys (EK/AK) must be changed" % where,
                         "counter-exhausted")


def _is_count(v, top=IC_LIMIT):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= top


class CounterStore:
    """Invocation counters in one JSON file, safe across processes (see the module)."""

    def __init__(self, path, lock_timeout=20.0):
        self.path = path
        self.lock_timeout = lock_timeout
        self.migrated = None  # set when a context started from an old port-keyed entry

    # -- file access --------------------------------------------------------------------
    def _bad(self, what):
        return ConfigError("counter file %s %s: fix or remove it, then run `udlms resync` "
                           "to read the meter's frame counter (nothing was sent)"
                           % (self.path, what), "counter-file")

    def _dir(self):
        d = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(d, 0o700, exist_ok=True)
        except OSError as e:
            raise ConfigError("cannot create the directory of counter file %s: %s"
                              % (self.path, e.strerror or e), "counter-file")
        if os.path.isdir(self.path):
            raise ConfigError("counter file %s is a directory: give a file path" % self.path,
                              "counter-file")
        return d

    def _lock(self):
        d = self._dir()
        del d
        try:
            fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise ConfigError("cannot open the lock file %s.lock: %s"
                              % (self.path, e.strerror or e), "counter-file")
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                _lock_fd(fd)
                return fd
            except BlockingIOError:
                pass
            except OSError as e:
                if e.errno not in (11, 13, 35, 36):  # EAGAIN/EACCES/EDEADLK(win)
                    os.close(fd)
                    raise
            if time.monotonic() > deadline:
                os.close(fd)
                raise ConfigError("counter file %s is locked by another process for more "
                                  "than %ds: is another udlms stuck?"
                                  % (self.path, self.lock_timeout), "counter-locked")
            time.sleep(0.01)

    @staticmethod
    def _unlock(fd):
        try:
            _unlock_fd(fd)
        finally:
            os.close(fd)

    def _read(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return {"format": FORMAT, "contexts": {}, "meters": {}}
        except IsADirectoryError:
            raise ConfigError("counter file %s is a directory: give a file path" % self.path,
                              "counter-file")
        except (OSError, UnicodeDecodeError) as e:
            raise self._bad("cannot be read (%s)" % (getattr(e, "strerror", None) or e))
        if not text.strip():
            raise self._bad("is empty")
        try:
            data = json.loads(text)
        except ValueError:
            raise self._bad("is not valid JSON")
        return self._check(data)

    def _check(self, data):
        if not isinstance(data, dict):
            raise self._bad("does not hold a JSON object (found %s)" % type(data).__name__)
        if data.get("format", FORMAT) != FORMAT:
            raise self._bad("has format %r, this udlms reads format %d"
                            % (data.get("format"), FORMAT))
        ctxs = data.setdefault("contexts", {})
        meters = data.setdefault("meters", {})
        data["format"] = FORMAT
        if not isinstance(ctxs, dict) or not isinstance(meters, dict):
            raise self._bad("has a 'contexts' or 'meters' that is not an object")
        for k, e in ctxs.items():
            if not isinstance(e, dict) or not _is_count(e.get("next")):
                raise self._bad("entry %r holds %r, not {\"next\": 0..4294967296}"
                                % (k, e if not isinstance(e, dict) else e.get("next")))
        for k, v in data.items():
            if k not in _RESERVED and not _is_count(v):
                raise self._bad("entry %r holds %r, not a counter 0..4294967295"
                                % (k, json.dumps(v)[:40]))
        return data

    def _write(self, data):
        import tempfile

        d = self._dir()
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(self.path) + ".", suffix=".tmp",
                                   dir=d)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            tmp = None
            try:
                dfd = os.open(d, os.O_RDONLY)
            except OSError:
                return
            try:
                os.fsync(dfd)
            except OSError:
                pass
            finally:
                os.close(dfd)
        except OSError as e:
            raise ConfigError("cannot write counter file %s: %s" % (self.path,
                              e.strerror or e), "counter-file")
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def _update(self, fn):
        """Run ``fn(data) -> (result, changed)`` under the lock; write when changed."""
        fd = self._lock()
        try:
            data = self._read()
            result, changed = fn(data)
            if changed:
                self._write(data)
            return result
        finally:
            self._unlock(fd)

    def rebuild(self):
        """Move an unreadable file aside (``<file>.corrupt-<time>``) and start a new one;
        returns the name it was moved to, or None when it was fine."""
        fd = self._lock()
        try:
            try:
                self._read()
                return None
            except ConfigError as e:
                if e.kind != "counter-file" or not os.path.isfile(self.path):
                    raise
            aside = "%s.corrupt-%s" % (self.path, time.strftime("%Y%m%dT%H%M%S"))
            os.replace(self.path, aside)
            return aside
        finally:
            self._unlock(fd)

    # -- contexts ----------------------------------------------------------------------
    def _start(self, data, ctx):
        """The context's next value, or the migrated floor from old entries, or None."""
        e = data["contexts"].get(ctx)
        if e is not None:
            return e["next"]
        title = ctx.rpartition("title:")[2].lower()
        old = [v for k, v in data.items() if k not in _RESERVED
               and k.split("|", 1)[0].lower() == title]
        if old:
            self.migrated = max(old)
            return max(old)
        return None

    def peek(self, ctx):
        """The next unused counter of ``ctx`` (None: never synchronised with a meter)."""
        return self._update(lambda data: (self._start(data, ctx), False))

    def reserve(self, ctx, n=STEP):
        """Reserve ``n`` counters; returns ``(first, end)``: first .. end - 1 are ours."""

        def fn(data):
            start = self._start(data, ctx)
            if start is None:
                raise SecurityError("no invocation counter stored for this key and system "
                                    "title: run `udlms resync`", "counter-unavailable")
            left = IC_LIMIT - start
            if left < SESSION_MIN:
                raise exhausted_error("(%d left)" % max(left, 0))
            end = start + min(n, left)
            data["contexts"][ctx] = dict(data["contexts"].get(ctx, {}), next=end)
            return (start, end), True

        return self._update(fn)

    def advance(self, ctx, value):
        """Never hand out a counter below ``value`` again; returns the context's next."""
        if not _is_count(value):
            raise ConfigError("invocation counter %r is outside 0..4294967295" % (value,),
                              "config")

        def fn(data):
            start = self._start(data, ctx)
            if start is not None and start >= value and ctx in data["contexts"]:
                return start, False
            nxt = max(start or 0, value)
            data["contexts"][ctx] = dict(data["contexts"].get(ctx, {}), next=nxt)
            return nxt, True

        return self._update(fn)

    def remember_meter(self, ctx, meter_value):
        """The meter's frame counter was read: our next counter goes past it. Raises the
        exhaustion error when the meter is at the last value."""
        if not _is_count(meter_value, IC_LIMIT - 1):
            raise SecurityError("the meter's frame counter %r is not a 32-bit counter"
                                % (meter_value,), "counter-unavailable")
        if meter_value + 1 > IC_LIMIT - SESSION_MIN:
            raise exhausted_error("(the meter's frame counter is %d)" % meter_value)
        nxt = self.advance(ctx, meter_value + 1)

        def fn(data):
            data["contexts"][ctx]["meter"] = meter_value
            return None, True

        self._update(fn)
        return nxt

    def counter(self, ctx, step=STEP):
        """A counter object for one session (``next()`` never returns a used value)."""
        return StoreCounter(self, ctx, step)

    # -- per-meter facts ----------------------------------------------------------------
    def remember(self, meter, name, value):
        """Keep a JSON-able fact about a meter (e.g. the token encoding it wants)."""

        def fn(data):
            entry = data["meters"].setdefault(meter, {})
            if entry.get(name) == value:
                return None, False
            entry[name] = value
            return None, True

        self._update(fn)

    def recall(self, meter, name, default=None):
        return self._update(lambda data: (data["meters"].get(meter, {}).get(name, default),
                                          False))


class StoreCounter:
    """Counters for one session from a :class:`CounterStore` block: ``next()`` reserves a
    new block (under the lock) when the current one is used up."""

    def __init__(self, store, ctx, step=STEP):
        self.store = store
        self.ctx = ctx
        self.step = step
        self._next, self._end = store.reserve(ctx, step)
        self.first = self._next
        self.used = []  # every value handed out (for the output and tests)

    known = True

    @property
    def value(self):
        return self._next

    def next(self):
        if self._next >= self._end:
            if self._end >= IC_LIMIT:
                raise exhausted_error("during the session")
            self._next, self._end = self.store.reserve(self.ctx, self.step)
        v = self._next
        self._next += 1
        self.used.append(v)
        return v


try:
    import fcntl

    def _lock_fd(fd):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock_fd(fd):
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # Windows: msvcrt; MicroPython (no module here): no second process
    try:
        import msvcrt
    except ImportError:
        msvcrt = None

    def _lock_fd(fd):
        if msvcrt is not None:
            os.lseek(fd, 0, 0)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock_fd(fd):
        if msvcrt is not None:
            os.lseek(fd, 0, 0)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
