"""GET with data blocks (IEC 62056-5-3 / Green Book §9.4, get-request-next): a value longer
than one APDU, followed block by block. Imported by :meth:`udlms.client.session.Session.get`
only when a meter answers with a first block, so a session that meets none (a board's token
path) never holds it in a board's heap (issue 26)."""

from udlms.errors import ApduError


def follow(session, r):
    """The A-XDR bytes of a value whose first data block is the parsed get-response ``r``:
    each block acknowledged by get-request-next ``C0 02 iid bbbbbbbb`` until the last."""
    buf = bytearray()
    while True:
        number, last = r.block
        buf += r.data
        if last:
            return bytes(buf)
        if len(buf) > 8 * (session.max_pdu or 1024):
            raise ApduError("block transfer larger than expected", "too-long")
        # get-request-next ``C0 02 iid bbbbbbbb``, acknowledging block ``number``
        r = session.request(bytes((0xC0, 2, session.settings.invoke & 0xFF))
                            + number.to_bytes(4, "big"), "get")
        if r.block is None or r.block[0] != number + 1:
            raise ApduError("block number out of sequence", "unexpected")
