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


def restore(st):
    """A :class:`tokenpad.store.Store`'s fields from its medium's record (its constructor;
    here, not in the store, so that a board holds this code only while it boots, issue
    26): no record is *missing*, a record that fails its check or does not parse is
    *corrupt* (``damaged``, fail closed until ``tp.resync()``)."""
    import json

    st.problem = None
    st.forms = []  # [[context, form], ...] (encoding auto)
    st.fcs = []  # [[context, obis], ...] where each meter's frame counter answered
    st._next = None
    st._ceiling = None
    st.journal = []
    st._id = 1
    st.damaged = False  # a record exists but does not verify: refuse until tp.resync()
    try:
        payload = st.medium.load()
    except (CorruptError, OSError) as e:
        payload = None
        st.damaged = True
        st.problem = "invocation counter corrupt (%s): run tp.resync()" % e
    if payload is not None:
        try:
            d = json.loads(payload)
            c = d.get("c")
            st._ceiling = st._next = int(c) if c is not None else None
            st.journal = [list(e) for e in d.get("j", [])]
            st._id = int(d.get("n", 1))
            st.forms = [[str(e[0]), str(e[1])] for e in d.get("e", ())]
            st.fcs = d.get("f") or []
        except (ValueError, TypeError, AttributeError, KeyError):
            st.forms = []
            st._next = st._ceiling = None
            st.journal = []
            st.damaged = True
            st.problem = "invocation counter corrupt (bad record): run tp.resync()"
    if st._next is None and st.problem is None:
        st.problem = ("invocation counter missing: read from the meter at first use "
                      "(tp.resync())")
    st.boot_pending = st.unresolved()
