"""IEC 62056-21 mode E sign-on: the optical-port opening that leads to HDLC.

Sequence (IEC 62056-21 clause 6.3, flow of mode E, and the DLMS UA item "enhanced
identification character"): at 300 baud 7E1 the client sends ``/?[address]!CR LF``; the
meter answers ``/XXXZ<ident>CR LF`` (XXX manufacturer, Z baud character, ``\\2`` in the
identification = HDLC binary mode available); the client acknowledges with
``ACK 2 Z 2 CR LF`` (protocol control '2' = HDLC procedure, mode control '2' = binary);
both sides change to the baud rate of Z at 8N1 and HDLC (IEC 62056-46) starts.

Times (clause 6.3.14): the meter's reaction time tr is 200..1500 ms (20 ms when the third
manufacturer letter is lower case); characters of a message follow within ta = 1500 ms.

The stream must have ``configure(baud, bits, parity)`` (parity "N", "E" or "O") besides
``write``/``readinto``; ``flush()`` (wait until sent) is used when present.
"""

from udlms.errors import LinkError, NoAnswer
from udlms.port import const, sleep_ms, ticks_diff, ticks_ms

# _FULL: 0 in the device build (tools/build/msgtable.py): repr, option select (PC only)
_FULL = const(1)
_ACK = const(0x06)
# Baud characters of modes C and E ('0'..'6'); '7'..'9' are reserved
BAUDS = (300, 600, 1200, 2400, 4800, 9600, 19200)
_MODE_B = "ABCDEF"  # mode B: A=600 ... F=19200 (no option select, so no HDLC)

_REACTION_MAX_MS = const(1500)  # tr upper bound
_CHAR_GAP_MS = const(1500)  # ta
_MAX_LINE = const(64)


if _FULL:  # (tools and tests; sign_on works the characters out inline)
    def baud_for(z):
        """Baud rate of a mode C/E baud character '0'..'6' (int or str); None when unknown."""
        c = z if isinstance(z, int) else ord(z)
        if 0x30 <= c <= 0x36:
            return BAUDS[c - 0x30]
        return None

    def baud_char(baud):
        """The mode C/E baud character for a baud rate ('5' for 9600)."""
        for i, b in enumerate(BAUDS):
            if b == baud:
                return chr(0x30 + i)
        raise LinkError("%d baud has no IEC 62056-21 baud character" % baud, "baud")

    def ack_message(z, protocol="2", mode="2"):
        """Acknowledgement/option select ``ACK V Z Y CR LF`` (clause 6.3.3); V=2 Y=2 is
        HDLC."""
        if isinstance(z, int):
            z = chr(z)
        return bytes((_ACK, ord(protocol), ord(z), ord(mode), 0x0D, 0x0A))


def sign_on_message(address=""):
    """``/?!\\r\\n`` or ``/?<address>!\\r\\n`` (request message, clause 6.3.1)."""
    if isinstance(address, (bytes, bytearray)):
        address = bytes(address).decode()
    if len(address) > 32:
        raise LinkError("device address longer than 32 characters", "config")
    return ("/?" + address + "!\r\n").encode()


class Identification:
    """A parsed identification message: ``manufacturer`` (3 chars), ``baud_char``,
    ``baud`` (None for mode A/B characters), ``ident`` (text after Z, escapes kept),
    ``mode_e`` (the ident carries ``\\2``), ``fast`` (20 ms reaction time allowed)."""

    def __init__(self, manufacturer, z, ident):
        self.manufacturer = manufacturer
        self.baud_char = z
        self.baud = BAUDS[ord(z) - 0x30] if "0" <= z <= "6" else None  # mode C/E characters
        self.ident = ident
        self.mode_e = "\\2" in ident
        self.fast = manufacturer[2:3].islower() if manufacturer else False

    if _FULL:
        def __repr__(self):
            return "Identification(%s, %s baud, %r%s)" % (
                self.manufacturer, self.baud, self.ident, ", mode E" if self.mode_e else "")


def parse_identification(line):
    """``/XXXZ<ident>`` (CR LF optional) -> Identification; LinkError kinds
    "bad-identification" (not an identification) or "baud" (mode A/B or reserved Z)."""
    if not isinstance(line, str):
        try:
            line = bytes(line).decode()
        except (UnicodeError, ValueError):
            line = "?"  # 8-bit garbage: a 7E1 line read at the wrong setting
    line = line.rstrip("\r\n")
    if len(line) < 5 or line[0] != "/":
        raise LinkError("meter answered %r, not an identification /XXXZ...: wrong port, "
                        "or not an IEC 62056-21 meter" % line[:24], "bad-identification")
    man = line[1:4]
    z = line[4]
    for ch in man:
        if not ("A" <= ch <= "Z" or "a" <= ch <= "z"):
            raise LinkError("identification %r has no 3-letter manufacturer" % line[:24],
                            "bad-identification")
    ident = Identification(man, z, line[5:])
    if ident.baud is None:
        if z in _MODE_B:
            raise LinkError("meter announces mode B (baud character %s): it has no HDLC "
                            "mode E" % z, "baud")
        raise LinkError("identification has baud character %r, not 0..6: mode E needs one"
                        % z, "baud")
    return ident


def _drain(stream, buf):
    """Discard what is waiting (noise from the probe settling, a late echo)."""
    for _ in range(16):
        if not stream.readinto(buf):
            return


def read_line(stream, buf, first_ms, gap_ms=_CHAR_GAP_MS):
    """Read one line ending in LF into ``buf``; returns the byte count (0 if nothing came
    within first_ms). Each byte is masked to 7 bits (a 7E1 line read as 8 bits)."""
    n = 0
    one = memoryview(buf)
    t0 = ticks_ms()
    last = t0
    while True:
        k = stream.readinto(one[n:n + 1]) if n < len(buf) else 0
        now = ticks_ms()
        if k:
            buf[n] &= 0x7F
            n += 1
            last = now
            if buf[n - 1] == 0x0A:
                return n
            if n >= len(buf):
                raise LinkError("identification longer than %d characters" % len(buf),
                                "bad-identification")
            continue
        if n == 0 and ticks_diff(now, t0) >= first_ms:
            return 0
        if n and ticks_diff(now, last) >= gap_ms:
            raise LinkError("identification cut off after %d characters (more than %d ms "
                            "between characters)" % (n, gap_ms), "bad-identification")
        sleep_ms(2)


def sign_on(stream, address="", max_baud=None, timeout_ms=None, switch_ms=300, settle_ms=100,
            require_mode_e=False, trace=None):
    """Run the mode E opening on ``stream`` and leave it at the new baud, 8N1.

    ``max_baud`` caps the baud we acknowledge (a slower Z than announced is allowed);
    ``switch_ms`` is the pause after the acknowledgement left before changing over (at least
    the 200 ms minimum reaction time); ``settle_ms`` the pause after it. Returns the
    Identification with ``.baud`` set to the rate now in use. Raises NoAnswer
    ("no-identification") or LinkError ("bad-identification", "baud", "mode-e").
    """
    if not hasattr(stream, "configure"):
        raise LinkError("this port cannot change baud rate and parity: mode E needs a "
                        "serial port", "config")
    buf = bytearray(_MAX_LINE)
    stream.configure(300, 7, "E")
    _drain(stream, buf)
    req = sign_on_message(address)
    stream.write(req)
    if trace:
        trace("TX", req)
    # the request takes 33 ms a character at 300 baud before the meter's tr starts
    first = timeout_ms if timeout_ms is not None else len(req) * 34 + _REACTION_MAX_MS + 200
    line = None
    for _ in range(3):  # an optical head may echo our own request first
        n = read_line(stream, buf, first)
        if not n:
            break
        if bytes(buf[:n]) == req:
            continue
        line = bytes(buf[:n])
        break
    if line is None:
        raise NoAnswer("no identification from the meter at 300 baud 7E1: check the optical "
                       "head (position, cable) or try direct HDLC", "no-identification")
    if trace:
        trace("RX", line)
    ident = parse_identification(line)
    if require_mode_e and not ident.mode_e:
        raise LinkError("meter %s does not announce HDLC mode E (no \\2 in %r)"
                        % (ident.manufacturer, ident.ident), "mode-e")
    baud = ident.baud
    if max_baud and baud > max_baud:
        baud = max(b for b in BAUDS if b <= max_baud)
    # ACK 2 Z 2 CR LF: protocol control 2 (HDLC), Z the baud's character, mode control 2
    ack = bytes((_ACK, 0x32, 0x30 + BAUDS.index(baud), 0x32, 0x0D, 0x0A))
    stream.write(ack)
    if trace:
        trace("TX", ack)
    flush = getattr(stream, "flush", None)
    if flush is not None:
        flush()  # returns once the ACK has left
    else:  # the ACK leaves at 300 baud: 6 characters, 200 ms, before the pause counts
        switch_ms += 6 * 34
    sleep_ms(switch_ms)
    stream.configure(baud, 8, "N")
    if settle_ms:
        sleep_ms(settle_ms)
    _drain(stream, buf)
    ident.baud = baud
    return ident
