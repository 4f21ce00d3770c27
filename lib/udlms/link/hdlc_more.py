"""The HDLC link's less travelled paths (IEC 62056-46 clause 6.4): a meter's DM or FRMR, and an
APDU sent in more than one I-frame (segments, each acknowledged by RR). Imported by
:class:`udlms.link.hdlc.Link` only when one happens, so a session that needs neither never
holds it in a board's heap (issue 26)."""

from udlms.errors import LinkError, NoAnswer
from udlms.port import const, ticks_diff, ticks_ms

_FRMR = const(0x87)


def refused(link, c):
    """Raise for the DM or FRMR (``c``, the control without the P/F bit) the meter answered:
    a refusal before ``connect`` ends, else the link is lost (after FRMR only SNRM/DISC,
    clause 6.4.4.4.3)."""
    was = link.connected
    link.connected = False
    if c == _FRMR:
        if was:
            raise LinkError("meter rejected our frame (FRMR)", "frame-rejected")
        raise LinkError("meter rejected our frame (FRMR): check the server address and frame "
                        "sizes", "frame-rejected")
    if was:
        raise LinkError("meter dropped the link (DM): it timed out or was reset", "link-lost")
    raise LinkError("meter refused the connection (DM): it is busy with another client or the "
                    "server address is wrong", "link-refused")


def send(link, mv, p, lim):
    """Send the rest of the APDU ``mv`` from byte ``p`` (the first segment is out, the
    segmentation bit set) in I-frames of up to ``max_info_tx`` bytes, each waiting for the RR
    of the one before (clause 6.4.4.2); ``lim`` ms for each wait (Link.request)."""
    n = len(mv)
    while p < n:
        link.tries = 0
        t0 = ticks_ms()
        while True:
            f = link.read()
            if f is None:
                raise NoAnswer("meter stopped answering while we sent a segmented APDU",
                               "no-answer")
            c = f.control
            if c & 0x0F == 0x01 and c >> 5 == link.vs:  # RR for this segment
                break
            if ticks_diff(ticks_ms(), t0) > lim:
                raise LinkError("meter does not acknowledge our segments (expected RR "
                                "N(R)=%d): link out of step" % link.vs, "sequence")
        k = min(link.max_info_tx, n - p)
        p += k
        link.write((link.vr << 5) | 0x10 | (link.vs << 1), mv[p - k:p], p < n)  # I, P bit set
        link.vs = (link.vs + 1) & 7
