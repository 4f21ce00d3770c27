"""A seeded, fault-injecting line between the udlms client and a meter (tests and soak only).

The line is two one-way ``Pipe``s. Every write that enters a pipe (one HDLC frame, as the
client's Link and the simulator each write whole frames) may, from the seed:

* ``corrupt``   flip one bit of one byte (per write) / ``byte_corrupt`` (per byte)
* ``loss``      drop one byte (per write) / ``byte_loss`` (per byte)
* ``cut``       cut the write off at a random point (the rest never arrives)
* ``dup``       arrive twice
* ``delay``     arrive late by up to ``delay_max_ms`` (the line keeps its byte order)
* ``inject``    have 1..``inject_max`` garbage bytes (sometimes flags) in front of it
* ``outage``    start a dead spell of up to ``outage_ms`` (everything written is lost)

Two ways to use it, neither needs threads:

* in memory: ``FaultLink(clock)`` with ``attach(peer)`` where ``peer`` has ``feed(data)``
  (udlms.host.sim.HdlcServer built with ``link.peer_write`` as its write function); the
  client uses ``link`` as its stream (``write``/``readinto``). Time is the ``clock``'s
  (``SimClock`` gives simulated milliseconds, installed into udlms.link.hdlc/udlms.client.session).
* around a real stream: ``StreamFaults(stream)`` wraps e.g. a TcpStream; real time.

Pure Python with its own xorshift generator: the same seed gives the same faults on CPython
and MicroPython.
"""

_MASK32 = 0xFFFFFFFF


class Rng:
    """xorshift32: small, deterministic on every Python."""

    def __init__(self, seed=1):
        self.s = (seed * 2654435761 + 0x9E3779B9) & _MASK32 or 1

    def u32(self):
        x = self.s
        x ^= (x << 13) & _MASK32
        x ^= x >> 17
        x ^= (x << 5) & _MASK32
        self.s = x
        return x

    def below(self, n):
        return self.u32() % n if n > 0 else 0

    def chance(self, p):
        return p > 0 and self.u32() < p * 4294967296.0

    def bytes(self, n):
        return bytes(self.u32() & 255 for _ in range(n))


class SimClock:
    """Simulated milliseconds. ``install()`` points udlms.link.hdlc / udlms.client.session at it;
    ``uninstall()`` restores the real clock."""

    def __init__(self, start=1000):
        self.now = start
        self._saved = []
        self.on_sleep = None

    def ticks_ms(self):
        return self.now

    @staticmethod
    def ticks_diff(a, b):
        return a - b

    def sleep_ms(self, ms):
        self.now += max(1, int(ms))
        if self.on_sleep is not None:
            self.on_sleep()

    def advance(self, ms):
        self.sleep_ms(ms)

    def install(self, *modules):
        if not modules:
            from udlms.link import hdlc
            from udlms.client import session

            modules = (hdlc, session)
        for m in modules:
            for name in ("ticks_ms", "ticks_diff", "sleep_ms"):
                if hasattr(m, name):
                    self._saved.append((m, name, getattr(m, name)))
                    setattr(m, name, getattr(self, name))
        return self

    def uninstall(self):
        while self._saved:
            m, name, v = self._saved.pop()
            setattr(m, name, v)

    def __enter__(self):
        return self.install()

    def __exit__(self, *exc):
        self.uninstall()


class RealClock:
    def ticks_ms(self):
        from udlms.port import ticks_ms

        return ticks_ms()


class Faults:
    """Fault rates (probabilities 0..1) and sizes; see the module docstring."""

    NAMES = ("corrupt", "loss", "byte_corrupt", "byte_loss", "cut", "dup", "delay",
             "inject", "outage")

    def __init__(self, **kw):
        for n in self.NAMES:
            setattr(self, n, kw.pop(n, 0.0))
        self.delay_max_ms = kw.pop("delay_max_ms", 400)
        self.latency_ms = kw.pop("latency_ms", 2)
        self.inject_max = kw.pop("inject_max", 8)
        self.outage_ms = kw.pop("outage_ms", 1000)
        if kw:
            raise ValueError("unknown fault setting(s): %s" % ", ".join(sorted(kw)))

    def __repr__(self):
        parts = ["%s=%g" % (n, getattr(self, n)) for n in self.NAMES if getattr(self, n)]
        return "Faults(%s)" % ", ".join(parts)


class Pipe:
    """One direction of the line: faults applied on ``put``, bytes released by ``take``."""

    def __init__(self, rng, faults, name=""):
        self.rng = rng
        self.f = faults
        self.name = name
        self.queue = []  # [due_ms, bytearray]
        self.last_due = 0
        self.dead_until = -1
        self.enabled = True
        self.stats = {}

    def _count(self, kind, n=1):
        self.stats[kind] = self.stats.get(kind, 0) + n

    def put(self, data, now):
        data = bytearray(data)
        self._count("writes")
        if not self.enabled:
            self._push(data, now + self.f.latency_ms)
            return
        r = self.rng
        f = self.f
        if now < self.dead_until:
            self._count("lost-in-outage")
            return
        if r.chance(f.outage):
            self.dead_until = now + 1 + r.below(max(1, f.outage_ms))
            self._count("outage")
            return
        if f.byte_corrupt or f.byte_loss:
            out = bytearray()
            for b in data:
                if r.chance(f.byte_loss):
                    self._count("byte-lost")
                    continue
                if r.chance(f.byte_corrupt):
                    b ^= 1 << r.below(8)
                    self._count("byte-flipped")
                out.append(b)
            data = out
        if data and r.chance(f.corrupt):
            data[r.below(len(data))] ^= 1 << r.below(8)
            self._count("corrupt")
        if data and r.chance(f.loss):
            del data[r.below(len(data))]
            self._count("loss")
        if len(data) > 1 and r.chance(f.cut):
            data = data[:1 + r.below(len(data) - 1)]
            self._count("cut")
        delay = f.latency_ms
        if r.chance(f.delay):
            delay += r.below(f.delay_max_ms + 1)
            self._count("delay")
        due = now + delay
        if r.chance(f.inject):
            junk = bytearray(r.bytes(1 + r.below(max(1, f.inject_max))))
            if r.chance(0.3):
                junk[r.below(len(junk))] = 0x7E
            self._push(junk, due)
            self._count("inject")
        self._push(data, due)
        if r.chance(f.dup):
            self._push(bytearray(data), due + f.latency_ms)
            self._count("dup")

    def _push(self, data, due):
        if due < self.last_due:
            due = self.last_due  # a serial line keeps its order: late frames hold up the rest
        self.last_due = due
        if data:
            self.queue.append([due, data])

    def next_due(self):
        return self.queue[0][0] if self.queue else None

    def take(self, now, limit=None):
        """Bytes due by ``now`` (at most ``limit``), as a bytearray (maybe empty)."""
        out = bytearray()
        q = self.queue
        while q and q[0][0] <= now and (limit is None or len(out) < limit):
            due, data = q[0]
            room = len(data) if limit is None else min(len(data), limit - len(out))
            out += data[:room]
            if room == len(data):
                q.pop(0)
            else:
                q[0][1] = data[room:]
        return out

    def take_chunk(self, now):
        """The next due write as it was written (due, bytes) or None."""
        if self.queue and self.queue[0][0] <= now:
            return self.queue.pop(0)
        return None

    def clear(self):
        n = sum(len(d) for _, d in self.queue)
        self.queue = []
        return n


class FaultLink:
    """In-memory line: the client's stream on one side, ``peer.feed`` on the other."""

    def __init__(self, clock=None, seed=1, faults=None, peer_inter_char_ms=None):
        self.clock = clock or RealClock()
        self.faults = faults or Faults()
        self.rng = Rng(seed)
        self.up = Pipe(self.rng, self.faults, "client->meter")
        self.down = Pipe(self.rng, self.faults, "meter->client")
        self.peer = None
        self.peer_inter_char_ms = peer_inter_char_ms
        self._t = None  # time of the write being delivered to the peer
        self._peer_last = None

    def attach(self, peer):
        self.peer = peer
        return self

    def set_enabled(self, on):
        self.up.enabled = self.down.enabled = on

    @property
    def stats(self):
        d = {}
        for p in (self.up, self.down):
            for k, v in p.stats.items():
                d[k] = d.get(k, 0) + v
        return d

    def now(self):
        return self.clock.ticks_ms()

    # -- the client side ---------------------------------------------------------------
    def write(self, b):
        self.pump()
        self.up.put(b, self.now())
        self.pump()
        return len(b)

    def readinto(self, buf):
        self.pump()
        data = self.down.take(self.now(), len(buf))
        n = len(data)
        if n:
            buf[:n] = data
        return n

    def drain(self):
        """Throw away what is on its way to the client (a UART flush between sessions)."""
        self.pump()
        return self.down.clear()

    # -- the meter side ------------------------------------------------------------------
    def peer_write(self, b):
        t = self._t if self._t is not None else self.now()
        self.down.put(b, t)

    def pump(self):
        """Deliver to the peer every write that has arrived by now."""
        now = self.now()
        while True:
            item = self.up.take_chunk(now)
            if item is None:
                return
            due, data = item
            if self.peer is None:
                continue
            gap = self.peer_inter_char_ms
            rx = getattr(self.peer, "rx", None)
            if (gap is not None and rx is not None and self._peer_last is not None
                    and due - self._peer_last > gap):
                rx.drop_partial()  # the meter's own inter-character timeout
            self._peer_last = due
            self._t = due
            try:
                self.peer.feed(bytes(data))
            finally:
                self._t = None


class StreamFaults:
    """Faults around a real stream (``write``/``readinto``), in real time."""

    def __init__(self, stream, seed=1, faults=None, clock=None, chunk=256):
        self.stream = stream
        self.clock = clock or RealClock()
        self.faults = faults or Faults()
        self.rng = Rng(seed)
        self.up = Pipe(self.rng, self.faults, "client->meter")
        self.down = Pipe(self.rng, self.faults, "meter->client")
        self.tmp = bytearray(chunk)

    def _flush(self):
        now = self.clock.ticks_ms()
        while True:
            item = self.up.take_chunk(now)
            if item is None:
                return
            self.stream.write(bytes(item[1]))

    def write(self, b):
        self.up.put(b, self.clock.ticks_ms())
        self._flush()
        return len(b)

    def readinto(self, buf):
        self._flush()
        n = self.stream.readinto(self.tmp)
        now = self.clock.ticks_ms()
        if n:
            self.down.put(self.tmp[:n], now)
        data = self.down.take(now, len(buf))
        k = len(data)
        if k:
            buf[:k] = data
        return k

    def close(self):
        c = getattr(self.stream, "close", None)
        if c:
            c()
