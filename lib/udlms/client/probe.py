"""Find how a meter wants to be reached, for a technician who does not know its settings.

Tries the common combinations with the public client (SAP 16, no security): IEC 62056-21
mode E sign-on, then direct HDLC at the usual baud rates (serial ports only), each with
server address sizes 1, 2 and 4 (IEC 62056-46 clause 8.4.2.2); over TCP, HDLC frames and
then the IEC 62056-47 wrapper. An SNRM answered by UA means the address is right. Then
reads the logical device name (0.0.42.0.0.255) and the frame counter (0.0.43.1.1.255, else
0.0.43.1.0.255: meters publish it in either; ``Found.frame_counter_obis`` says where).
It never sends a token and never uses keys.
"""

from udlms.link import hdlc
from udlms.errors import DlmsError, LinkError, NoAnswer
from udlms.port import const

# _FULL: 0 in the device build (tools/build/msgtable.py): a board probes over HDLC (its
# REPL's tp.probe); the IEC 62056-47 wrapper probe is the PC's (udlms probe over TCP)
_FULL = const(1)

_PUBLIC = const(16)  # the public client's SAP
if _FULL:  # the defaults by name (the PC's CLI)
    BAUDS = (9600, 19200, 115200)
    SIZES = (1, 2, 4)
    PHYSICALS = (17, 16, 1)  # lower (physical) addresses seen most on meters
    PUBLIC = _PUBLIC
# the logical device name is 0.0.42.0.0.255; the frame counter 0.0.43.1.1.255 (the usual
# place), else 0.0.43.1.0.255 (as resync.candidates for client 1)


class Found:
    """What answered: ``mode`` ("mode-e", "hdlc" or "wrapper"), ``baud`` (None over TCP),
    ``address_size``, ``server_logical``, ``server_physical``, ``ident`` (mode E
    identification or None), ``link`` (connected, for ``identify``); after ``identify``:
    ``ldn`` and ``frame_counter`` (None when unreadable), ``frame_counter_obis`` (the
    object that answered) and ``frame_counter_tried`` (the objects tried)."""

    def __init__(self, mode, baud, size, logical, physical, link, ident=None):
        self.mode = mode
        self.baud = baud
        self.address_size = size
        self.server_logical = logical
        self.server_physical = physical
        self.link = link
        self.ident = ident
        self.ldn = None
        self.frame_counter = None
        self.frame_counter_obis = None
        self.frame_counter_tried = ()

    def settings(self):
        """The connection settings found, as profile keys."""
        d = {"server_logical": self.server_logical}
        if self.address_size is not None:
            d["address_size"] = self.address_size
        if self.server_physical is not None:
            d["server_physical"] = self.server_physical
        if self.baud:
            d["baud"] = self.baud
        if self.mode == "mode-e":
            d["mode_e"] = True
        if _FULL and self.mode == "wrapper":  # (probe_wrapper's, PC build)
            d["transport"] = "wrapper"
        if self.frame_counter_obis not in (None, "0.0.43.1.1.255"):
            d["frame_counter"] = self.frame_counter_obis
        return d

    def __repr__(self):
        return "Found(%s, baud=%s, server %s/%s size %s)" % (
            self.mode, self.baud, self.server_logical, self.server_physical, self.address_size)


def _say(report, text):
    if report is not None:
        report(text)


def try_hdlc(stream, size, physical, logical=1, timeout_ms=300, trace=None):
    """SNRM with the public client; the connected Link, or None on silence.
    DM (refused) and a lost connection raise LinkError."""
    link = hdlc.Link(stream, client_sap=_PUBLIC, server_logical=logical,
                     server_physical=physical, address_size=size, timeout_ms=timeout_ms,
                     retries=0, trace=trace)
    try:
        link.connect()
    except NoAnswer:
        return None
    return link


def _scan(stream, mode, baud, pairs, logical, timeout_ms, report, trace, ident=None):
    for size, ph in pairs:
        where = "server %d%s, address size %d" % (logical, "" if ph is None else "/%d" % ph,
                                                   size)
        try:
            link = try_hdlc(stream, size, ph, logical, timeout_ms, trace)
        except LinkError as e:
            if e.kind == "link-lost":
                raise
            _say(report, "  %s %s: %s" % (mode, where, e.message))
            continue
        if link is None:
            _say(report, "  %s %s: no answer" % (mode, where))
            continue
        _say(report, "  %s %s: ANSWERED (UA)" % (mode, where))
        return Found("mode-e" if mode.startswith("mode E") else "hdlc", baud, size, logical,
                     ph, link, ident)
    return None


def probe(stream, serial=True, bauds=(9600, 19200, 115200), sizes=(1, 2, 4),
          physicals=(17, 16, 1), logical=1, mode_e=True, direct=True, timeout_ms=300,
          iec_address="", report=None, trace=None):
    """Try the combinations in turn; the first that answers -> Found, else None.

    ``sizes`` x ``physicals``: the server address sizes and lower (physical) addresses to
    try (size 1 has no physical part, size 2 none above 0x7F); the defaults are those seen
    most on meters. ``report(text)`` gets one line per attempt. ``serial=False`` (TCP)
    skips mode E and baud changes. The stream needs ``configure()`` for mode E and baud
    changes."""
    pairs = []  # (size, physical) in the order tried
    for size in sizes:
        for ph in (None,) if size == 1 else physicals:
            if size != 2 or ph <= 0x7F:
                pairs.append((size, ph))
    if serial and mode_e:
        from udlms.link import iec21

        try:
            ident = iec21.sign_on(stream, address=iec_address, trace=trace)
        except DlmsError as e:
            _say(report, "  mode E sign-on: %s" % e.message)
        else:
            _say(report, "  mode E sign-on: %s %r, %d baud" % (ident.manufacturer, ident.ident,
                                                               ident.baud))
            f = _scan(stream, "mode E %d baud," % ident.baud, ident.baud, pairs, logical,
                      timeout_ms, report, trace, ident)
            if f is not None:
                return f
    if not direct:
        return None
    if not serial:
        return _scan(stream, "HDLC", None, pairs, logical, timeout_ms, report, trace)
    for baud in bauds:
        try:
            stream.configure(baud, 8, "N")
        except DlmsError as e:
            _say(report, "  HDLC %d baud: %s" % (baud, e.message))
            continue
        f = _scan(stream, "HDLC %d baud," % baud, baud, pairs, logical, timeout_ms, report,
                  trace)
        if f is not None:
            return f
    return None


if _FULL:  # (a board calls probe() and identify() only)
    def probe_wrapper(stream, logical=1, timeout_ms=1000, report=None, trace=None):
        """IEC 62056-47: an AARQ from the public client; Found when an AARE comes back."""
        from udlms.client import session

        s = session.Settings(client=_PUBLIC, server_logical=logical, mechanism=0,
                             transport="wrapper", timeout_ms=timeout_ms)
        sess = session.Session(stream, s, trace=trace)
        try:
            sess.open()
        except DlmsError as e:
            _say(report, "  wrapper, server wPort %d: %s" % (logical, e.message))
            return None
        _say(report, "  wrapper, server wPort %d: ANSWERED (AARE)" % logical)
        f = Found("wrapper", None, None, logical, None, sess.link)
        f._session = sess
        return f


def identify(stream, found, timeout_ms=2000, trace=None,
             frame_counters=("0.0.43.1.1.255", "0.0.43.1.0.255")):
    """Read the logical device name and the frame counter with the public client over the
    link the probe left connected; fills ``found.ldn`` / ``found.frame_counter`` (the
    first of ``frame_counters`` that answers, named in ``found.frame_counter_obis``).
    Always releases and disconnects."""
    from udlms.cosem import axdr
    from udlms.client import session

    sess = None
    if _FULL:  # probe_wrapper's association, still open
        sess = getattr(found, "_session", None)
    if sess is None:
        s = session.Settings(client=_PUBLIC, server_logical=found.server_logical,
                             server_physical=found.server_physical,
                             address_size=found.address_size or 2, mechanism=0,
                             timeout_ms=timeout_ms)
        found.link.timeout_ms = timeout_ms
        found.link.retries = 1
        sess = session.Session(stream, s, trace=trace, link=found.link)
        sess.open()  # SNRM again (resets the link) and AARQ
    try:
        found.frame_counter_tried = tuple(frame_counters)
        for i, obis in enumerate(("0.0.42.0.0.255",) + found.frame_counter_tried):
            if i and found.frame_counter is not None:  # i: a frame counter (0: the LDN)
                break
            try:
                value, _ = axdr.decode(sess.get(1, obis, 2))
            except DlmsError as e:
                if e.kind not in ("data-access-result", "exception", "confirmed-service-error"):
                    raise
                continue
            if isinstance(value, (bytes, bytearray)):
                try:
                    value = bytes(value).decode()
                except (UnicodeError, ValueError):
                    value = bytes(value)
            if not i:
                found.ldn = value
            elif isinstance(value, int) and not isinstance(value, bool):
                found.frame_counter_obis = obis
                found.frame_counter = value
    finally:
        sess.close()
    return found
