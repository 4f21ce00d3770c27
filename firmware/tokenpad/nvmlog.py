"""The CircuitPython store medium: a log of records in ``microcontroller.nvm``.

Its own module so that boards with a filesystem store never load it. The record framing
(:mod:`tokenpad.media`) is loaded to read or write a record, as ``store.FileMedium`` does,
and the app forgets it after (issue 26: the Feather holds no framing code while it waits
for keys).
"""


class NvmLog:
    """Records appended into the erased (0xFF) part of ``buf[offset:offset+size]``
    (``microcontroller.nvm``); the newest that verifies wins.

    CircuitPython on RP2040 programs an nvm write without erasing when the bytes written
    over are all 0xFF, and otherwise erases and rewrites the whole 4 KiB sector. Appending
    keeps every ordinary save a page program: a cut tears only the record being written
    and the one before it stays. Only when the region is full is it rewritten with the
    newest record alone (one erase); a cut in that window loses the region (the counter
    then reads unknown or blank, never older, and is re-read from the meter)."""

    def __init__(self, buf, offset, size):
        if offset < 0 or size < 64 or offset + size > len(buf):
            raise ValueError("nvm region %d+%d does not fit in %d bytes" % (offset, size,
                                                                             len(buf)))
        self.buf = buf
        self.offset = offset
        self.size = size
        self.seq = 0
        self.end = 0  # first byte after the last written one

    def describe(self):
        return "nvm[%d:%d] log" % (self.offset, self.offset + self.size)

    def load(self):
        from tokenpad import media as m

        data = bytes(self.buf[self.offset:self.offset + self.size])
        self.end = len(data.rstrip(b"\xff"))
        best = None
        i = data.find(m.MAGIC)
        while 0 <= i < self.end:
            r = m.unpack(data[i:])
            if r is not None and (best is None or m._newer(r[0], best[0])):
                best = r
            i = data.find(m.MAGIC, i + 1)
        if best is None:
            if self.end and not m._blank(data):
                raise m.CorruptError("no record in %s verifies" % self.describe())
            self.end = 0
            return None
        self.seq = best[0]
        return best[1]

    def save(self, payload):
        from tokenpad.media import pack

        rec = pack(self.seq + 1, payload)
        if len(rec) > self.size:
            raise OSError("record of %d bytes does not fit the %d-byte nvm region"
                          % (len(rec), self.size))
        pos = (self.end + 3) & ~3
        if pos + len(rec) <= self.size:
            self.buf[self.offset + pos:self.offset + pos + len(rec)] = rec  # program only
            self.end = pos + len(rec)
        else:  # full: one erase, the newest record alone at the start
            self.buf[self.offset:self.offset + self.size] = rec + b"\xff" * (self.size
                                                                             - len(rec))
            self.end = len(rec)
        self.seq += 1
