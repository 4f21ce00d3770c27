"""Byte streams the HDLC link runs over: TCP (simulators, gateways) here, UDP in
:mod:`udlms.link.transport_udp`, host serial ports in :mod:`udlms.host.transport_serial`;
``udlms.host.ports.open_stream(url)`` picks one from a port string.

A stream has ``write(b)``, ``readinto(buf) -> int`` (0 when nothing arrived within a short
poll interval) and ``close()``. Boards wrap their UART the same way (firmware port layer).
"""

from udlms.errors import LinkError, NoAnswer
from udlms.port import const

# _FULL: 0 in the device build (tools/build/msgtable.py): there only MicroPython's way
_FULL = const(1)
_POLL_S = 0.02


class TcpStream:
    """HDLC frames over TCP (``tcp://HOST:PORT``), as meter simulators and RS-485 gateways use."""

    def __init__(self, host, port, timeout_ms=3000):
        import socket

        self.sock = self.poll = None
        try:
            ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
            s = socket.socket(ai[0], socket.SOCK_STREAM)
            s.settimeout(timeout_ms / 1000)
            s.connect(ai[-1])
        except OSError as e:
            raise NoAnswer("cannot connect to %s:%d (%s): is the meter/simulator running?"
                           % (host, port, e), "no-answer")
        # MicroPython's readinto() waits to fill the whole buffer and, on a timeout, drops
        # the count of what it did read: run non-blocking there and poll instead.
        if _FULL and hasattr(s, "recv_into"):
            s.settimeout(_POLL_S)
        else:
            import select

            s.settimeout(0)
            self.poll = select.poll()
            self.poll.register(s, select.POLLIN)
        self.sock = s

    def write(self, data):
        try:
            if _FULL and self.poll is None:
                self.sock.sendall(data)
                return
            mv = memoryview(data)
            while len(mv):
                n = self.sock.write(mv)
                if n:
                    mv = mv[n:]
        except OSError as e:
            raise LinkError("connection lost while sending (%s)" % e, "link-lost")

    def readinto(self, buf):
        try:
            if _FULL and self.poll is None:
                n = self.sock.recv_into(buf)
            else:
                # data waiting? ``ipoll`` reuses its result tuple: no allocation per poll
                for _ in self.poll.ipoll(20):  # _POLL_S in ms
                    break
                else:
                    return 0
                n = self.sock.readinto(buf)
                if n is None:
                    return 0
        except OSError as e:  # timeout (socket.timeout is an OSError) or reset
            if _is_timeout(e):
                return 0
            raise LinkError("connection lost (%s)" % e, "link-lost")
        if n == 0:
            raise LinkError("the other side closed the connection", "link-lost")
        return n or 0

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None


def _is_timeout(e):
    """A socket timeout: errno EAGAIN or ETIMEDOUT (MicroPython), socket.timeout (CPython)."""
    if _FULL and type(e).__name__ in ("timeout", "TimeoutError"):
        return True
    return (e.args[0] if e.args else None) in (11, 110, 116, "timed out")
