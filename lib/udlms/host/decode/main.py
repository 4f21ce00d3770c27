"""Trace decoder behind ``udlms decode`` (IEC 62056-46 frame format type 3, Green Book §9).

Reads a trace as field loggers print it: one frame per line, an optional timestamp and
direction prefix (``TX:``/``RX:``, ``[TX]``, ``->``/``<-``, ``>``/``<``, ``send``/``recv``),
bytes as hex separated by spaces (leading zeros may be dropped: ``7E A0 7 3 21 93``) or one
continuous hex string; several frames may share a line. A line holds an HDLC frame
(starts with the 7E flag), an IEC 62056-47 wrapper frame (8-byte header, version 0x0001:
:mod:`udlms.host.decode.wrapper`) or a bare APDU. Each frame becomes one plain dict (see
:func:`decode_text`); segmented I-frames are reassembled per direction before the APDU is
explained (:mod:`udlms.host.decode.apdu`). Bad input never raises: it gives an object whose
``error`` names the cause. Host tool first, but imports on MicroPython too.
"""

from udlms.errors import FrameError
from udlms.host.decode.base import _new_obj, _request_tag  # noqa: F401


_LLC = {b"\xe6\xe6\x00": "TX", b"\xe6\xe7\x00": "RX"}


def _hx(b):
    return "".join("%02X" % x for x in bytes(b))


def _spaced(b):
    return " ".join("%02X" % x for x in bytes(b))


class Decoder:
    """Stateful trace decoder: keys and system titles, AARQ/AARE facts (titles, challenges,
    dedicated key), pending requests by invoke-id and segment buffers per direction."""

    def explain(self, buf, direction, learn=True, depth=0):
        """One APDU explained with this trace's keys and state (``decode_apdu.explain``);
        the explainers of ciphered and block-transfer APDUs call it for what they unwrap."""
        from udlms.host.decode import apdu as decode_apdu

        return decode_apdu.explain(self, buf, direction, learn, depth)

    def __init__(self, ek=None, ak=None, client_title=None, server_title=None):
        self.ek = _key(ek)
        self.ak = _key(ak)
        self.client_title = _key(client_title)
        self.server_title = _key(server_title)
        self.trace_client_title = None
        self.trace_server_title = None
        self.ctos = None
        self.stoc = None
        self.dedicated_key = None
        self.pending = {}
        self.last_ic = {}
        self.segments = {}
        self.pairs = {}
        self.gbt = {}
        self.partial = None  # ("mbus"|"hdlc", [(bytes, line, direction), ...])
        self.last_line = 0

    # titles: those in the trace (AARQ/AARE) win over the flags
    def title(self, client):
        if client:
            return self.trace_client_title or self.client_title
        return self.trace_server_title or self.server_title

    def titles(self):
        """Every distinct system title known (trace first, then flags)."""
        out = []
        for t in (self.trace_client_title, self.trace_server_title, self.client_title,
                  self.server_title):
            if t is not None and t not in out:
                out.append(t)
        return out

    def feed(self, line, lineno=0):
        """Decode one input line -> list of frame objects (empty for blank lines)."""
        from udlms.host.decode.line import parse_line

        try:
            direction, data = parse_line(line)
        except FrameError as e:
            o = _new_obj(lineno, None)
            o["error"], o["error_kind"] = e.message, e.kind
            o["input"] = line.strip()[:200]
            o["text"] = "ERROR: %s" % e.message
            return [o]
        except Exception as e:  # noqa: BLE001 - never crash on input
            o = _new_obj(lineno, None)
            o["error"], o["error_kind"] = "cannot read this line: %s" % (e,), "bad-input"
            o["text"] = "ERROR: " + o["error"]
            return [o]
        if data is None:
            return []
        self.last_line = lineno
        try:
            from udlms.host.decode import hdlc as decode_hdlc

            if self.partial is not None:
                return self._continue(data, direction, lineno)
            return self._split(decode_hdlc, data, direction, lineno)
        except Exception as e:  # noqa: BLE001 - a decoder bug must not lose the trace
            o = _new_obj(lineno, direction)
            o["hex"] = _hx(data)
            o["error"], o["error_kind"] = "internal decoder error: %r" % (e,), "internal"
            o["text"] = "ERROR: " + o["error"]
            return [o]

    # -- a line's bytes -> frames ------------------------------------------------------
    def _continue(self, data, direction, lineno):
        """A frame (HDLC or M-Bus) cut at the end of an earlier line continues on this one
        (dumps print 16 bytes a line) unless the line starts a frame of its own, names
        another direction, or completes the frame with a wrong FCS/checksum; then the cut
        frame is reported as before and the lines held back are explained on their own."""
        from udlms.host.decode import hdlc as decode_hdlc, mbus as decode_mbus

        kind, pend = self.partial
        pdir = pend[0][2]
        starts = _find_frame(data, 0) == 0 or decode_mbus.is_long_frame_start(data)
        if not starts and (direction is None or direction == pdir):
            joined = b"".join(p[0] for p in pend) + bytes(data)
            if kind == "mbus":
                need = joined[1] + 6 if len(joined) > 1 else 6
            else:
                need = (((joined[1] & 7) << 8) | joined[2]) + 2 if len(joined) > 2 else 9
            if len(joined) < need:
                pend.append((bytes(data), lineno, direction))
                return []
            if kind == "mbus" and decode_mbus.plausible(joined):
                self.partial = None
                return decode_mbus.split(self, joined, pdir, pend[0][1])
            if kind == "hdlc" and decode_hdlc.fcs16(joined, 1, need - 3) == (
                    joined[need - 3] | joined[need - 2] << 8):
                self.partial = None
                return self._split(decode_hdlc, joined, pdir, pend[0][1])
        return self._flush() + self._split(decode_hdlc, data, direction, lineno)

    def _flush(self):
        """The held-back cut frame as its error object, then the held lines."""
        from udlms.host.decode import hdlc as decode_hdlc, mbus as decode_mbus

        if not self.partial:
            return []
        kind, pend = self.partial
        self.partial = None
        f, lineno, direction = pend[0]
        if kind == "mbus":
            objs = [decode_mbus.truncated(self, pend[0])]
        else:
            objs = [decode_hdlc.frame(self, f, direction, lineno, True)]
        for data, ln, d in pend[1:]:
            objs.extend(self._split(decode_hdlc, data, d, ln))
        return objs

    def _split(self, decode_hdlc, data, direction, lineno):
        n = len(data)
        objs = []
        if n >= 8 and data[0] == 0 and data[1] == 1:  # an IEC 62056-47 wrapper header
            from udlms.host.decode import wrapper as decode_wrapper

            return decode_wrapper.split(self, data, direction, lineno)
        if n and (data[0] == 0x68 and n >= 4 and data[3] == 0x68 and data[1] == data[2]
                  or data[0] == 0xE5 and n == 1
                  or data[0] == 0x10 and n == 5 and data[4] == 0x16):
            from udlms.host.decode import mbus as decode_mbus

            return decode_mbus.split(self, data, direction, lineno)
        start = _find_frame(data, 0)
        if start < 0:
            return [self._bare(data, direction, lineno)]
        noise = []
        if start > 0:
            noise.append("%d bytes of line noise before the frame skipped (%s)"
                         % (start, _spaced(data[:start][:16])))
        pos = start
        while pos < n:
            while pos + 1 < n and data[pos] == 0x7E and data[pos + 1] == 0x7E:
                pos += 1  # idle flags
            if pos + 1 >= n:
                break  # a lone closing flag
            nxt = _find_frame(data, pos)
            if nxt < 0:
                noise.append("%d trailing bytes are not a frame (%s)"
                             % (n - pos, _spaced(data[pos:pos + 16])))
                break
            if nxt > pos:
                noise.append("%d bytes of line noise between frames skipped" % (nxt - pos))
                pos = nxt
            length = ((data[pos + 1] & 7) << 8) | data[pos + 2] if pos + 2 < n else None
            end = n if length is None else pos + length + 2
            if length is not None and length < 7:
                o = decode_hdlc.frame(self, data[pos:min(end, n)], direction, lineno, True)
                objs.append(o)
                pos += 1
                continue
            if end > n:  # cut at the line end: may continue on the next line
                self.partial = ("hdlc", [(bytes(data[pos:n]), lineno, direction)])
                break
            objs.append(decode_hdlc.frame(self, data[pos:end], direction, lineno, False))
            pos = end
            if pos < n and data[pos] != 0x7E and data[end - 1] == 0x7E:
                pos = end - 1  # the closing flag is also the next opening flag
        if noise:
            if objs:
                objs[0]["warnings"].extend(noise)
                objs[0]["text"] = "\n".join(["  warning: " + w for w in noise]
                                            + [objs[0]["text"]])
            else:
                o = _new_obj(lineno, direction)
                o["hex"] = _hx(data)
                o["error"], o["error_kind"] = noise[0], "noise"
                o["text"] = "ERROR: " + noise[0]
                objs.append(o)
        return objs

    def _bare(self, data, direction, lineno):
        o = _new_obj(lineno, direction)
        o["hex"] = _hx(data)
        lines = []
        if direction:
            o["direction_from"] = "prefix"
        apdu = data
        if bytes(data[:3]) in _LLC:
            o["llc"] = _spaced(data[:3])
            if direction is None:
                o["direction"], o["direction_from"] = _LLC[bytes(data[:3])], "llc"
            apdu = data[3:]
        tag = apdu[0] if len(apdu) else None
        if tag == 0x7E and len(apdu) > 1:
            o["error"] = ("starts with the 7E flag but format byte %02X is not HDLC frame "
                          "format type 3 (A0..AF): corrupted frame" % apdu[1])
            o["error_kind"] = "bad-format"
            o["text"] = "line %d: ERROR: %s" % (lineno, o["error"])
            return o
        from udlms.host.decode import apdu as decode_apdu

        if tag is None or decode_apdu.known_tag(tag) is False:
            o["error"] = ("not an HDLC frame (no 7E flag) and not a known APDU%s: line noise "
                          "or not a DLMS trace" % ("" if tag is None else " (first byte %02X)"
                                                  % tag))
            o["error_kind"] = "not-dlms"
            if tag == 0 and len(apdu) >= 2:  # a wrapper header of another version, or cut
                o["error"] += ("; an IEC 62056-47 wrapper frame would start 00 01 (version 1) "
                               "and have at least its 8 header bytes")
            o["text"] = "line %d: ERROR: %s" % (lineno, o["error"])
            return o
        if o["direction"] is None:
            r = _request_tag(tag)
            if r is not None:
                o["direction"], o["direction_from"] = ("TX" if r else "RX"), "apdu"
        lines.append("line %d %s: APDU without HDLC, %d bytes" % (lineno, o["direction"] or "?",
                                                                  len(apdu)))
        self.apdu(o, apdu, lines)
        o["text"] = "\n".join(lines)
        return o

    # -- one HDLC frame ------------------------------------------------------------------
    def apdu(self, o, apdu, lines):
        if not len(apdu):
            return
        learn = o["error_kind"] != "bad-fcs"
        from udlms.host.decode import apdu as decode_apdu

        a, alines = decode_apdu.explain(self, apdu, o["direction"], learn)
        o["apdu"] = a
        for t in alines:
            lines.append("  " + t)
        while a is not None:
            for w in a.get("warnings") or ():
                if w not in o["warnings"]:
                    o["warnings"].append(w)
            if a.get("not_dlms") and "not_dlms" not in o:
                o["not_dlms"] = a["not_dlms"]
            if a.get("error") and not o["error"]:
                o["error"] = a["error"]
                o["error_kind"] = a.get("error_kind") or (
                    "auth-tag" if a.get("tag_ok") is False else "apdu")
            a = a.get("decrypted") or a.get("reassembled")

    def finish(self):
        """Objects for what the trace left unfinished: an M-Bus frame cut short, block
        transfers and segmented APDUs whose last part never came."""
        from udlms.host.decode import gbt as decode_gbt, mbus as decode_mbus

        try:
            out = self._flush()
        except Exception as e:  # noqa: BLE001 - a decoder bug must not lose the trace
            o = _new_obj(self.last_line, None)
            o["error"], o["error_kind"] = "internal decoder error: %r" % (e,), "internal"
            o["text"] = "ERROR: " + o["error"]
            out = [o]
        left = decode_gbt.pending(self) + decode_mbus.pending(self)
        for d, seg in self.segments.items():
            if not isinstance(d, tuple) and seg:
                left.append((d, "trace ends inside a segmented HDLC APDU: %d bytes collected, "
                             "the last segment never came" % len(seg)))
        for d, text in left:
            o = _new_obj(self.last_line, d)
            o["error"], o["error_kind"] = text, "incomplete"
            o["text"] = "end of trace: ERROR: " + text
            out.append(o)
        return out


def _key(k):
    if k is None or not len(k):
        return None
    if isinstance(k, str):
        return bytes.fromhex(k.replace(" ", ""))
    return bytes(k)


def _find_frame(data, pos):
    """Index of the next ``7E Ax`` frame start at or after ``pos``, or -1."""
    n = len(data)
    while pos < n - 1:
        if data[pos] == 0x7E and data[pos + 1] >> 4 == 0xA:
            return pos
        pos += 1
    return -1


def decode_text(text, ek=None, ak=None, client_title=None, server_title=None):
    """Decode a whole trace -> iterator of one dict per frame (or per bad line):
    ``line``, ``direction`` ("TX" client->server / "RX" server->client / None),
    ``direction_from``, ``hex``, ``hdlc`` (None for a bare APDU: ``format``, ``format_byte``,
    ``length``, ``segmented``, ``dst``/``src`` (``hex``, ``size``, ``role``, ``sap`` or
    ``upper``/``lower``, ``text``), ``control`` (``hex``, ``type``, ``ns``, ``nr``, ``pf``,
    ``text``), ``hcs_ok``, ``fcs_ok``, ``llc``, ``info_length``, ``params``), ``apdu`` (see
    :func:`udlms.host.decode.apdu.explain`), ``text``, ``error``, ``error_kind``, ``warnings``."""
    dec = Decoder(ek, ak, client_title, server_title)
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "replace") if not isinstance(text, str) else text
    lineno = 0
    for line in text.split("\n"):
        lineno += 1
        for o in dec.feed(line, lineno):
            yield o
    for o in dec.finish():
        yield o


def explain_text(text, ek=None, ak=None, client_title=None, server_title=None):
    """The same trace as readable lines (what ``udlms decode`` prints without --json)."""
    first = True
    for o in decode_text(text, ek, ak, client_title, server_title):
        if not first:
            yield ""
        first = False
        t = o["text"]
        if o["error"] and o["hdlc"] is None and o["apdu"] is None and not t.startswith("line"):
            t = "line %d: %s" % (o["line"], t)
        for ln in t.split("\n"):
            yield ln
