"""Byte streams the HDLC link runs over: TCP (simulators, gateways) and serial ports.

A stream has ``write(b)``, ``readinto(buf) -> int`` (0 when nothing arrived within a short
poll interval) and ``close()``. Boards wrap their UART the same way (firmware port layer).
"""

from udlms.errors import ConfigError, LinkError, NoAnswer

_POLL_S = 0.02


class TcpStream:
    """HDLC frames over TCP (``tcp://HOST:PORT``), as meter simulators and RS-485 gateways use."""

    def __init__(self, host, port, timeout_ms=3000):
        import socket

        self.sock = None
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
        self._mp = not hasattr(s, "recv_into")
        if self._mp:
            import select

            s.settimeout(0)
            self._poll = select.poll()
            self._poll.register(s, select.POLLIN)
        else:
            s.settimeout(_POLL_S)
        self.sock = s

    def write(self, b):
        try:
            if self._mp:
                self._write_all(b)
            else:
                self.sock.sendall(b)
        except OSError as e:
            raise LinkError("connection lost while sending (%s)" % e, "link-lost")

    def _ready(self):
        """Data waiting? ``ipoll`` reuses its result tuple: no allocation per poll."""
        for _ in self._poll.ipoll(int(_POLL_S * 1000)):
            return True
        return False

    def _write_all(self, b):
        mv = memoryview(b)
        while len(mv):
            n = self.sock.write(mv)
            if n:
                mv = mv[n:]

    def readinto(self, buf):
        try:
            if self._mp:
                if not self._ready():
                    return 0
                n = self.sock.readinto(buf)
                if n is None:
                    return 0
            else:
                n = self.sock.recv_into(buf)
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
    name = type(e).__name__
    if name in ("timeout", "TimeoutError"):
        return True
    code = e.args[0] if e.args else None
    return code in (11, 110, 116, "timed out")  # EAGAIN, ETIMEDOUT


class SerialStream:
    """A serial port or pty on the host (pyserial), 8N1 (IEC 62056-46 / -21 mode E)."""

    def __init__(self, path, baud=9600, parity="N"):
        try:
            import serial
        except ImportError:
            raise ConfigError("pyserial is not installed (pip install pyserial)", "config")
        try:
            self.ser = serial.Serial(path, baud, timeout=_POLL_S, parity=parity)
            self.baud = baud
        except (OSError, ValueError, serial.SerialException) as e:
            raise NoAnswer("cannot open %s: %s" % (path, e), "no-answer")

    def write(self, b):
        self.ser.write(bytes(b))

    def readinto(self, buf):
        return self.ser.readinto(buf) or 0

    def set_baud(self, baud):
        self.ser.baudrate = baud

    def flush(self):
        """Return once what was written has left (tcdrain)."""
        try:
            self.ser.flush()
        except Exception:  # noqa: BLE001 - some ptys refuse tcdrain; nothing is queued
            pass

    def configure(self, baud, bits=8, parity="N"):
        """Change baud rate and character format (IEC 62056-21 mode E: 300 7E1 -> 8N1)."""
        import serial

        if parity not in ("N", "E", "O") or bits not in (7, 8):
            raise ConfigError("serial format %d%s not supported" % (bits, parity), "config")
        try:
            self.ser.apply_settings({"baudrate": baud, "parity": parity,
                                     "bytesize": serial.SEVENBITS if bits == 7
                                     else serial.EIGHTBITS})
            self.nominal_format = None
        except Exception as e:  # noqa: BLE001 - termios.error is not an OSError
            if not self._is_pty():
                raise LinkError("cannot set %s to %d %d%s1: %s" % (self.ser.port, baud, bits,
                                                                   parity, e), "baud")
            # Linux ptys take any baud but only 8N1: the format is nominal there
            self.ser.apply_settings({"baudrate": baud, "parity": "N",
                                     "bytesize": serial.EIGHTBITS})
            self.nominal_format = (bits, parity)
        self.baud = baud

    def _is_pty(self):
        import os

        try:
            path = os.path.realpath(self.ser.port)
        except (TypeError, ValueError):
            return False
        return path.startswith("/dev/pts/") or path.startswith("/dev/tty") and "pty" in path

    def close(self):
        try:
            self.ser.close()
        except Exception:  # noqa: BLE001
            pass


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


def _host_port(url, scheme):
    host, _, port = url[len(scheme):].rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError("port must look like %sHOST:PORT, not %s" % (scheme, url), "config")
    return host.strip("[]"), int(port)


def open_stream(url, baud=9600, timeout_ms=3000):
    """``tcp://HOST:PORT`` -> TcpStream, ``udp://HOST:PORT`` -> UdpStream (wrapper only);
    anything else is a serial device or pty path."""
    if url.startswith("tcp://"):
        host, port = _host_port(url, "tcp://")
        return TcpStream(host, port, timeout_ms)
    if url.startswith("udp://"):
        host, port = _host_port(url, "udp://")
        return UdpStream(host, port, timeout_ms)
    return SerialStream(url, baud)
