"""The meter's invocation (frame) counter, read with the public client (SAP 16, no
security) from a security setup's counter object 0.0.43.1.x.255 (Green Book §9.2.7.2.4),
so a client that lost its own counter can move past the meter's.

Meters publish it in different places: the configured object is tried first, then
``0.0.43.1.<client SAP>.255``, ``0.0.43.1.0.255`` and ``0.0.43.1.1.255``, each once, in
one public association (:func:`candidates`, :func:`find_frame_counter`)."""

from udlms.errors import ApduError, DlmsError, SecurityError
from udlms.client.session import Session, Settings
from udlms.port import const

# _FULL: 0 in the device build (tools/build/msgtable.py): a board reads the counter with
# find_frame_counter (tokenpad.verdict); read_frame_counter is the PC's
_FULL = const(1)


def candidates(settings, first=None):
    """The OBIS codes (text) to try, in order, without repeats: ``first`` (the one that
    answered last time), the configured object, then the usual places."""
    out = []
    for o in (first, settings.frame_counter, "0.0.43.1.%d.255" % settings.client,
              "0.0.43.1.0.255", "0.0.43.1.1.255"):
        if o and o not in out:
            out.append(o)
    return out


def _public(s):
    """``s``'s link and xDLMS settings for the public client (SAP 16, no security); the
    rest (window, inter-character time-out, keys) are the defaults."""
    p = Settings(client=16, mechanism=0)
    for k in ("server_logical server_physical address_size max_info_tx max_info_rx timeout_ms "
              "retries conformance max_pdu invoke transport").split():
        setattr(p, k, getattr(s, k))
    return p


def _int(data):
    """The integer an A-XDR Data value holds (IEC 62056-6-2 Data: double-long (5),
    double-long-unsigned (6), bcd (13), integer (15), long (16), unsigned (17),
    long-unsigned (18), long64 (20), long64-unsigned (21), enum (22)), as
    :func:`udlms.cosem.axdr.decode` reads it; None for any other type it knows (a string or
    structure cut short is "not an integer" here, malformed there). A board reads the
    counter with this instead of loading axdr (its code and ~30 names, issue 26). An
    integer cut short or an unknown type: ApduError "malformed"."""
    t = data[0] if data else 7  # nothing, or a tag axdr does not know: malformed
    n = b"\0\0\0\0\0\4\4\0\0\0\0\0\0\1\0\1\2\1\2\0\x08\x08\1"[t] if t < 23 else 0
    if not n and (t < 28 and t not in (7, 8, 11, 14) or t == 255):
        return None
    if not n or len(data) <= n:
        raise ApduError("data of type %d cut short at byte %d" % (t, len(data)), "malformed")
    v = int.from_bytes(bytes(data[1:n + 1]), "big")
    if t in (5, 15, 16, 20) and v >= 1 << (8 * n - 1):
        v -= 1 << (8 * n)
    return v


def find_frame_counter(stream, settings, first=None, trace=None):
    """Read the meter's frame counter with the public client (SAP 16, no security),
    trying :func:`candidates` in turn. Returns ``(value, obis text)``; the caller moves
    its own counter past ``value`` and may remember the OBIS code for next time. When no
    object answers with an integer: SecurityError kind "counter-unavailable" naming every
    object tried and what each answered."""
    if _FULL:  # the PC decodes any A-XDR Data; a board only the integers (_int)
        from udlms.cosem import axdr

    tried = []
    sess = Session(stream, _public(settings), trace=trace).open()
    try:
        for obis in candidates(settings, first):
            try:
                if _FULL:
                    value, _ = axdr.decode(sess.get(1, obis, 2))
                else:
                    value = _int(sess.get(1, obis, 2))
            except DlmsError as e:
                if e.kind not in ("data-access-result", "exception",
                                  "confirmed-service-error", "malformed"):
                    raise  # the link failed: no point asking the next object
                value = e.kind  # what it answered, short: e.g. "object-undefined (4)"
                if value == "data-access-result" and e.code is not None:
                    from udlms import results

                    value = "%s (%d)" % (results.data_access_result(e.code)[0], e.code)
                tried.append("%s: %s" % (obis, value))
                continue
            if isinstance(value, int) and not isinstance(value, bool):
                return value, obis
            tried.append("%s: not an integer" % obis)
    finally:
        sess.close()
    raise SecurityError("could not read the meter's frame counter (tried %s): set "
                        "frame_counter to the meter's object" % "; ".join(tried),
                        "counter-unavailable")


if _FULL:
    def read_frame_counter(stream, settings, obis=None, trace=None):
        """The meter's frame counter as an integer: ``obis`` alone when given, else
        :func:`find_frame_counter` over the usual places."""
        if obis is None:
            return find_frame_counter(stream, settings, trace=trace)[0]
        from udlms.cosem import axdr

        sess = Session(stream, _public(settings), trace=trace).open()
        try:
            value, _ = axdr.decode(sess.get(1, obis, 2))
        finally:
            sess.close()
        if not isinstance(value, int) or isinstance(value, bool):
            raise ApduError("frame counter object does not hold an integer", "unexpected")
        return value


def stale(e):
    """True when the meter refused our AARQ over its invocation counter: an
    exception-response invocation-counter-error (kind "counter-stale", ``e.code`` the
    counter it expects or None), or an AARE saying it could not decipher the AARQ (which
    cannot tell a stale counter from wrong keys). One resync and a second try may help;
    an exception-response deciphering-error (wrong keys) is not stale."""
    from udlms.errors import AssociationError

    if isinstance(e, SecurityError):
        return e.kind == "counter-stale"
    return (isinstance(e, AssociationError) and e.kind == "association-rejected"
            and "decipher" in e.message)
