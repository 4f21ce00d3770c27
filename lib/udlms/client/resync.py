"""The meter's invocation (frame) counter, read with the public client (SAP 16, no
security) from the security setup's counter object 0.0.43.1.x.255 (Green Book §9.2.7.2.4),
so a client that lost its own counter can move past the meter's."""

from udlms.errors import ApduError
from udlms.client.session import Session, Settings


def read_frame_counter(stream, settings, obis=None, trace=None):
    """Read the meter's invocation/frame counter with the public client (SAP 16, no security).

    Returns the integer value; the caller moves its own counter past it.
    """
    from udlms.cosem import axdr

    s = settings
    pub = Settings(client=16, server_logical=s.server_logical, server_physical=s.server_physical,
                   address_size=s.address_size, mechanism=0, max_info_tx=s.max_info_tx,
                   max_info_rx=s.max_info_rx, timeout_ms=s.timeout_ms, retries=s.retries,
                   conformance=s.conformance, max_pdu=s.max_pdu, invoke=s.invoke,
                   transport=s.transport)
    sess = Session(stream, pub, trace=trace)
    with sess:
        value, _ = axdr.decode(sess.get(1, obis or s.frame_counter, 2))
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApduError("frame counter object does not hold an integer", "unexpected")
    return value
