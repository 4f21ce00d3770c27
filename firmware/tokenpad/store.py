"""Power-safe store: the invocation counter (reserve-ahead) and the token journal.

One small record holds both: ``{"c": ceiling, "n": next id, "j": [[id, digits, state,
note], ...], "e": [[context, form], ...]}`` as JSON, framed as ``"TPS1" | seq u32 | len u16
| payload | sha256[:4]``.

Invocation counter (Green Book 9.2.7.3: never reuse an IC with the same key): a ceiling is
persisted *before* any value below it is handed out; at boot we resume at the ceiling, so
a power cut skips at most ``step`` values and never repeats one. No record, or no valid
record, means the counter is unknown: ``next()`` raises ``SecurityError`` kind
"counter-unavailable" until ``resync()`` sets it from the meter's frame counter. The two
differ: no record is *missing* (``missing``: the app reads the meter's frame counter itself),
a record that fails its check is *corrupt* (``damaged``: fail closed until ``tp.resync()``).

Journal: each token is appended as ``pending`` before anything is sent and moved to
``accepted``/``refused``/``unknown`` afterwards. Pending entries are never trimmed.

Token forms (encoding ``auto``, issue 20): the form each meter accepted, under the
fingerprint of its security context (``settings.Config.context()``), the last ``FORMS``
meters; written in the same record, so a power cut keeps the old memory or the new one.

Frame-counter objects (issue 24): where each meter published its frame counter
(``"f": [[context, obis], ...]``, the last ``FORMS`` meters), tried first at the next resync;
read and written by ``tokenpad.verdict.frame_counter`` (loaded only then).

Media: ``FileMedium`` (write-then-rename: littlefs, host; the record framing it loads
to read or write is tokenpad/media.py) and
``tokenpad.nvmlog.NvmLog`` (records appended in erased nvm: CircuitPython) and ``TwoSlot`` of
``NvmSlot``/``FileSlot`` (two checksummed copies: FAT files).
"""

class FileMedium:
    """One file replaced atomically: write ``<path>.tmp``, close, rename (same directory).
    The record framing (:mod:`tokenpad.media`) is loaded to read or write one."""

    def __init__(self, path, os_module=None, open_fn=None):
        if os_module is None:
            import os as os_module
        self.os = os_module
        self.open = open_fn or open
        self.path = path
        self.tmp = path + ".tmp"
        self.seq = 0

    def describe(self):
        return "file %s (write-then-rename)" % self.path

    def load(self):
        from tokenpad.media import CorruptError, _blank, unpack

        try:
            with self.open(self.path, "rb") as f:
                data = f.read()
        except OSError:
            return None
        r = unpack(data)
        if r is None:
            if _blank(data):
                return None
            raise CorruptError("%s fails its checksum" % self.path)
        self.seq = r[0]
        return r[1]

    def save(self, payload):
        from tokenpad.media import pack

        rec = pack(self.seq + 1, payload)
        f = self.open(self.tmp, "wb")
        try:
            f.write(rec)
            if hasattr(f, "flush"):
                f.flush()
            fsync = getattr(self.os, "fsync", None)
            if fsync is not None and hasattr(f, "fileno"):
                fsync(f.fileno())
        finally:
            f.close()
        self.os.rename(self.tmp, self.path)  # littlefs/POSIX: replaces atomically
        self.seq += 1


# -- the store ----------------------------------------------------------------------------

def _w(name):
    """A Store method whose body is :mod:`tokenpad.verdict`'s ``name``."""

    def write(self, *a, **k):
        from tokenpad import verdict

        return getattr(verdict, name)(self, *a, **k)

    return write


class Store:
    """Invocation counter with reserve-ahead plus the token journal, on one medium.

    ``next()`` makes it usable wherever ``security.MemoryCounter`` is."""

    STEP = 32
    KEEP = 8  # finished journal entries kept (pending ones are always kept)
    MAX_PENDING = 8
    FORMS = 4  # meters whose token form is remembered

    def __init__(self, medium, step=None):
        self.medium = medium
        self.step = step or self.STEP
        from tokenpad.media import restore

        restore(self)  # the fields, from the medium's record (tokenpad.media)

    # the writes (bodies in tokenpad.verdict, loaded by the action that writes and
    # forgotten with it, issue 26): resync(v) moves the counter past the meter's frame
    # counter v; remember(context, form) the form a meter accepted (True when news);
    # add(digits, note="") journals a token as pending, returns its id; set(entry_id, state,
    # note="") records its outcome; _save(ceiling, journal, next_id, forms=None) one record

    def next(self):
        """A never-used invocation counter value: one the medium already has reserved is
        handed out here; reserving more first (or refusing) is :mod:`tokenpad.verdict`'s,
        loaded only then and forgotten at once, with the record framing it wrote with, so
        neither is held while the session that asked goes on (issue 26)."""
        n = self._next
        if n is not None and n < self._ceiling:
            self._next = n + 1
            return n
        from udlms.port import forget_since, loaded

        n = loaded()
        try:
            from tokenpad import verdict

            return verdict.next_value(self)
        finally:
            verdict = None
            forget_since(n, ("tokenpad.verdict", "tokenpad.media"))

    resync = _w("resync")
    remember = _w("remember")
    add = _w("add")
    set = _w("settle")
    _save = _w("save")

    # -- invocation counter -------------------------------------------------------------
    @property
    def known(self):
        return self._next is not None

    @property
    def missing(self):
        """Never held a counter (a fresh board), unlike ``damaged`` (corrupt: fail closed)."""
        return self._next is None and not self.damaged

    @property
    def value(self):
        """The next value ``next()`` would return (None when unknown)."""
        return self._next

    @property
    def ceiling(self):
        return self._ceiling

    # -- token forms (encoding auto) ------------------------------------------------------
    def form(self, context):
        """The token form remembered for this meter's security context, or None."""
        for e in self.forms:
            if e[0] == context:
                return e[1]
        return None

    # -- token journal ----------------------------------------------------------------------
    def get(self, entry_id):
        for e in self.journal:
            if e[0] == entry_id:
                return e
        return None

    def pending(self):
        return [e for e in self.journal if e[2] == "pending"]

    def unresolved(self):
        """Entries whose outcome is not known: pending or unknown."""
        return [e for e in self.journal if e[2] in ("pending", "unknown")]

    def last(self):
        return self.journal[-1] if self.journal else None

    def describe(self):
        return self.medium.describe()


def __getattr__(name):
    """``TwoSlot``, ``NvmSlot``, ``FileSlot`` (:mod:`tokenpad.twoslot`) and the record
    framing (``MAGIC``, ``CorruptError``, ``pack``, ``unpack``: :mod:`tokenpad.media`),
    loaded on first use."""
    if name.startswith("__"):
        raise AttributeError(name)
    from tokenpad import media

    if hasattr(media, name):
        return getattr(media, name)
    from tokenpad import twoslot

    return getattr(twoslot, name)
