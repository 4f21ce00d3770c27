"""The record framing of the tokenpad store (see store.py), shared by its media.

Record: ``"TPS1" | seq u32 | len u16 | payload | sha256(header+payload)[:4]``.

Media:
- ``tokenpad.store.FileMedium(path)``: write ``path + ".tmp"`` then rename over ``path`` in
  the same directory (atomic on littlefs and on the host's POSIX filesystems); it loads this
  module to read or write a record, and the app forgets it after (issue 26: a board with a
  littlefs store holds no framing code while it waits for keys).
- ``tokenpad.nvmlog.NvmLog``: records appended into the erased part of CircuitPython's
  ``microcontroller.nvm`` (its own module: only CircuitPython boards load it).
- ``TwoSlot(slot_a, slot_b)``: two checksummed copies written alternately, for media where a
  write can tear (FAT files); the newest valid copy wins.
  Slots: ``NvmSlot(buf, offset, size)`` and ``FileSlot(path)``. These three live in
  :mod:`tokenpad.twoslot` (``store.TwoSlot`` names them, loaded on first use): a board with
  a littlefs file store never holds their code (issue 26).
"""

from udlms.port import sha256

MAGIC = b"TPS1"
_HDR = 10  # magic 4, seq 4, length 2
_CHK = 4


class CorruptError(Exception):
    """Data is present on the medium but no copy of the record verifies."""


def pack(seq, payload):
    """Frame a payload: header, payload, 4 bytes of SHA-256 over both."""
    head = MAGIC + (seq & 0xFFFFFFFF).to_bytes(4, "big") + len(payload).to_bytes(2, "big")
    h = sha256(head)
    h.update(payload)
    return head + payload + h.digest()[:_CHK]


def unpack(data):
    """-> (seq, payload) if the framed record verifies, else None."""
    if data is None or len(data) < _HDR + _CHK or bytes(data[:4]) != MAGIC:
        return None
    n = int.from_bytes(bytes(data[8:10]), "big")
    if len(data) < _HDR + n + _CHK:
        return None
    head = bytes(data[:_HDR])
    payload = bytes(data[_HDR:_HDR + n])
    h = sha256(head)
    h.update(payload)
    if h.digest()[:_CHK] != bytes(data[_HDR + n:_HDR + n + _CHK]):
        return None
    return int.from_bytes(bytes(data[4:8]), "big"), payload


def _blank(data):
    """True for never-written storage (erased flash 0xFF, zeroed RAM, empty file)."""
    if not data:
        return True
    head = bytes(data[:_HDR])
    return head == b"\xff" * len(head) or head == b"\x00" * len(head)


def _newer(a, b):
    """Sequence comparison modulo 2^32."""
    return ((a - b) & 0xFFFFFFFF) < 0x80000000 and a != b

