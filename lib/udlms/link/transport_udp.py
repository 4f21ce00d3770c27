"""IEC 62056-47 wrapper frames over UDP: one datagram a frame (a stream for
:mod:`udlms.link.wrapper`; opened by ``udlms.host.ports.open_stream``)."""

from udlms.errors import LinkError, NoAnswer
from udlms.link.transport import _POLL_S, _is_timeout


class UdpStream:
    """IEC 62056-47 wrapper over UDP (``udp://HOST:PORT``, port 4059 on meters): each
    datagram carries one wrapper frame; ``readinto`` hands over one datagram at a time."""

    def __init__(self, host, port, timeout_ms=3000):
        import socket

        try:
            ai = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0]
            s = socket.socket(ai[0], socket.SOCK_DGRAM)
            s.connect(ai[-1])
        except OSError as e:
            raise NoAnswer("cannot reach %s:%d over UDP (%s)" % (host, port, e), "no-answer")
        s.settimeout(_POLL_S)
        self.sock = s
        self.pending = b""

    def write(self, b):
        try:
            self.sock.send(bytes(b))
        except OSError as e:
            raise LinkError("cannot send the datagram (%s)" % e, "link-lost")

    def readinto(self, buf):
        if not self.pending:
            try:
                self.pending = self.sock.recv(2048)
            except OSError as e:
                if _is_timeout(e):
                    return 0
                raise LinkError("UDP receive failed (%s): is the meter listening?" % e,
                                "link-lost")
        n = min(len(buf), len(self.pending))
        buf[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
