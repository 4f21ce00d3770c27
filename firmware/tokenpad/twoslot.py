"""Two checksummed copies of the store's record, written alternately (``tokenpad.media``'s
record framing): for media where a write can tear (FAT files, a region of nvm); the newest
copy that verifies wins. Slots: ``NvmSlot(buf, offset, size)`` and ``FileSlot(path)``.

Its own module: a board whose store is one littlefs file (``FileMedium``) never loads it
(issue 26); ``tokenpad.store.TwoSlot`` and the others name these classes. The record
framing is loaded to read or write a record (as ``store.FileMedium`` does), so the app can
forget it while it waits for keys.
"""


class NvmSlot:
    """A region of a bytearray-like non-volatile buffer (``microcontroller.nvm``).

    The whole record goes in one slice assignment (one erase/write cycle on CircuitPython)."""

    def __init__(self, buf, offset, size):
        # the smallest slot: the framing's header (10) and check (4), 16 bytes of payload
        if offset < 0 or size < 30 or offset + size > len(buf):
            raise ValueError("nvm slot %d+%d does not fit in %d bytes" % (offset, size,
                                                                           len(buf)))
        self.buf = buf
        self.offset = offset
        self.size = size

    def describe(self):
        return "nvm[%d:%d]" % (self.offset, self.offset + self.size)

    def read(self):
        return bytes(self.buf[self.offset:self.offset + self.size])

    def write(self, rec):
        if len(rec) > self.size:
            raise OSError("record of %d bytes does not fit the %d-byte slot" % (len(rec),
                                                                              self.size))
        self.buf[self.offset:self.offset + len(rec)] = rec


class FileSlot:
    """A slot that is a plain file, overwritten in place (FAT: may tear, hence two)."""

    def __init__(self, path, open_fn=None):
        self.path = path
        self.open = open_fn or open

    def describe(self):
        return "file %s" % self.path

    def read(self):
        try:
            with self.open(self.path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def write(self, rec):
        f = self.open(self.path, "wb")
        try:
            f.write(rec)
        finally:
            f.close()


class TwoSlot:
    """Two checksummed copies written alternately; the newest that verifies wins."""

    def __init__(self, slot_a, slot_b):
        self.slots = (slot_a, slot_b)
        self.seq = 0
        self.active = 1  # so the first save goes to slot 0

    def describe(self):
        return "two slots: %s, %s" % (self.slots[0].describe(), self.slots[1].describe())

    def load(self):
        from tokenpad import media as m

        best = None
        written = False
        for i in (0, 1):
            data = self.slots[i].read()
            if not m._blank(data):
                written = True
            r = m.unpack(data)
            if r is not None and (best is None or m._newer(r[0], best[1])):
                best = (i, r[0], r[1])
        if best is None:
            if written:
                raise m.CorruptError("neither copy of the record verifies")
            return None
        self.active, self.seq = best[0], best[1]
        return best[2]

    def save(self, payload):
        from tokenpad.media import pack

        target = 1 - self.active
        self.slots[target].write(pack(self.seq + 1, payload))
        self.active = target
        self.seq += 1
