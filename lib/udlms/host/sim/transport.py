"""How the simulated meter is reached: TCP and pty servers, IEC 62056-21 mode E sign-on,
the IEC 62056-47 wrapper over TCP and UDP."""

import os
import select
import socket
import threading
import time

from udlms.host.sim.hdlc import ApduServer


# --- transports ------------------------------------------------------------------------------


class _Server:
    """What every front end shares: ``serve_forever`` runs in a daemon thread; ``stop``
    ends it and closes the listening socket, if the front end has one."""

    sock = None

    def start(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.running = False
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass


class TcpServer(_Server):
    """HDLC frames over TCP, one thread per connection."""

    def __init__(self, meter, port=0, host="127.0.0.1", baud=None):
        self.meter = meter
        self.baud = baud
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.running = True

    def serve_forever(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def write(b):
            if self.baud:
                time.sleep(len(b) * 10 / self.baud)
            try:
                conn.sendall(b)
            except OSError:
                pass

        srv = self.connection(write)
        with conn:
            while self.running:
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data or srv.feed(data) is False:  # False: not our protocol
                    return

    def connection(self, write):
        """The per-connection protocol handler (HDLC here)."""
        return self.meter.connection(write)


class PtyServer(_Server):
    """HDLC over a pseudo-terminal: clients open ``self.path`` like a serial port.

    With ``mode_e`` (a ModeE) the line first needs the IEC 62056-21 sign-on at 300 baud 7E1
    and then runs HDLC at the acknowledged baud 8N1; the line settings the client really
    set (termios of the pty) are checked on every read and recorded in ``mode_e.log``.
    """

    def __init__(self, meter, baud=None, link=None, mode_e=None):
        import pty
        import tty

        self.meter = meter
        self.baud = baud
        self.mode_e = mode_e
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        self.slave = slave
        self.path = os.ttyname(slave)
        if link:
            try:
                os.unlink(link)
            except OSError:
                pass
            os.symlink(self.path, link)
            self.path = link
        self.running = True

    def write(self, b):
        if self.baud:
            time.sleep(len(b) * 10 / self.baud)
        os.write(self.master, b)

    def line(self):
        """(baud, bits, parity) the client has set on the pty (termios)."""
        return line_settings(self.slave)

    def serve_forever(self):
        srv = self.meter.connection(self.write)
        front = None
        if self.mode_e is not None:
            front = self.mode_e
            front.attach(srv, self.write, self.line)
        while self.running:
            r, _, _ = select.select([self.master], [], [], 0.1)
            if not r:
                if front is not None:
                    front.idle()
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                time.sleep(0.05)
                continue
            if front is not None:
                front.feed(data)
            else:
                srv.feed(data)


def line_settings(fd):
    """(baud, bits, parity) of a tty from termios."""
    import termios

    attrs = termios.tcgetattr(fd)
    cflag, speed = attrs[2], attrs[5]
    baud = _SPEEDS.get(speed, speed)
    bits = {termios.CS5: 5, termios.CS6: 6, termios.CS7: 7, termios.CS8: 8}[
        cflag & termios.CSIZE]
    parity = "N"
    if cflag & termios.PARENB:
        parity = "O" if cflag & termios.PARODD else "E"
    return baud, bits, parity


def _speeds():
    try:
        import termios
    except ImportError:  # pragma: no cover
        return {}
    return {getattr(termios, "B%d" % b): b for b in (300, 600, 1200, 2400, 4800, 9600, 19200,
                                                     38400, 57600, 115200)
            if hasattr(termios, "B%d" % b)}


_SPEEDS = _speeds()
_BAUD_CHARS = "0123456"
_BAUDS = (300, 600, 1200, 2400, 4800, 9600, 19200)


class ModeE:
    """IEC 62056-21 mode E front end of the optical port (meter side).

    State "sign-on": the line is 300 baud 7E1; ``/?[address]!CR LF`` is answered with the
    identification ``/<manufacturer><Z><ident>`` (``\\2`` in it: HDLC available).
    ``ACK 2 Z 2 CR LF`` switches to state "hdlc" at Z's baud 8N1; DISC (or ``idle_s`` without
    a connection) returns to "sign-on". Bytes that arrive while the client's line settings
    differ from the expected ones are dropped, as a real UART would garble them, so a client
    that forgets to change over gets no answer (a Linux pty keeps only the baud rate: it
    refuses 7E1, so the character format is not checked). ``log`` records (event, baud,
    bits, parity).
    """

    def __init__(self, baud=9600, manufacturer="MMM", ident="\\2TOKENSIM", address="",
                 reaction_ms=20, idle_s=3.0):
        if baud not in _BAUDS:
            raise ValueError("mode E baud must be one of %s" % (_BAUDS,))
        self.baud = baud
        self.identification = ("/%s%s%s\r\n" % (manufacturer, _BAUD_CHARS[_BAUDS.index(baud)],
                                                ident)).encode()
        self.address = address
        self.reaction_ms = reaction_ms
        self.idle_s = idle_s
        self.log = []
        self.srv = self.write = self.line = None
        self.reset()

    def reset(self):
        self.state = "sign-on"
        self.expect = (300, 7, "E")
        self.buf = b""
        self.last = time.monotonic()

    def attach(self, srv, write, line):
        self.srv, self.write, self.line = srv, write, line

    def idle(self):
        if (self.state == "hdlc" and not self.srv.connected
                and time.monotonic() - self.last > self.idle_s):
            self.log.append(("idle-timeout",) + self.expect)
            self.srv.reset()
            self.reset()

    def feed(self, data):
        got = self.line()
        if got[0] != self.expect[0]:  # a Linux pty carries the baud but only 8N1
            self.log.append(("dropped %d bytes" % len(data),) + got)
            return
        self.last = time.monotonic()
        if self.state == "hdlc":
            self.log.append(("hdlc",) + got)
            was = self.srv.connected
            self.srv.feed(data)
            if was and not self.srv.connected:  # DISC: back to the sign-on state
                self.log.append(("disconnected",) + got)
                self.reset()
            return
        self.buf = (self.buf + bytes(b & 0x7F for b in data))[-128:]
        while b"\n" in self.buf:
            line, _, self.buf = self.buf.partition(b"\n")
            self.message(line.rstrip(b"\r"), got)

    def message(self, line, got):
        i = line.find(b"/?")
        if i >= 0 and line.endswith(b"!"):
            addr = line[i + 2:-1].decode("ascii", "replace")
            if addr and self.address and addr != self.address:
                self.log.append(("sign-on for another address",) + got)
                return
            self.log.append(("sign-on",) + got)
            time.sleep(self.reaction_ms / 1000)
            self.write(self.identification)
            return
        i = line.find(b"\x06")
        if i >= 0 and len(line) >= i + 4:
            v, z, y = line[i + 1:i + 4].decode("ascii", "replace")
            if v == "2" and y == "2" and z in _BAUD_CHARS:
                baud = _BAUDS[_BAUD_CHARS.index(z)]
                if baud <= self.baud:
                    self.state = "hdlc"
                    self.expect = (baud, 8, "N")
                    self.srv.reset()
                    self.log.append(("ack %s" % z,) + got)
                    self.log.append(("switch",) + self.expect)
                    return
            self.log.append(("ack refused %r" % line[i:],) + got)
            return
        self.log.append(("ignored %r" % line[:20],) + got)


class WrapperConnection(ApduServer):
    """IEC 62056-47 wrapper, server side, for one TCP connection: header 00 01 · source
    wPort · destination wPort · length, then the APDU. The destination must be the meter's
    logical device; the source wPort is the client SAP."""

    def __init__(self, meter, write):
        self.meter = meter
        self.write = write
        self.buf = b""
        self.assoc = None
        self.client = None

    def log(self, d, b):
        if self.meter.o.log:
            print("%s %s" % (d, bytes(b).hex(" ").upper()), flush=True)

    def feed_datagram(self, data):
        """UDP: a datagram is one whole wrapper frame; never join it to an earlier rest."""
        self.buf = b""
        return self.feed(data)

    def feed(self, data):
        """Returns False when the peer does not speak the wrapper (close the connection)."""
        self.buf += bytes(data)
        while len(self.buf) >= 8:
            ver = int.from_bytes(self.buf[0:2], "big")
            src = int.from_bytes(self.buf[2:4], "big")
            dst = int.from_bytes(self.buf[4:6], "big")
            n = int.from_bytes(self.buf[6:8], "big")
            if ver != 1:
                return False
            if len(self.buf) < 8 + n:
                return True
            self.log("SIM RX", self.buf[:8 + n])
            apdu, self.buf = self.buf[8:8 + n], self.buf[8 + n:]
            if dst != self.meter.o.server_logical:
                continue  # no such logical device: a real meter stays silent
            with self.meter.state.lock:
                if src != self.client:
                    self.client = src
                    self.assoc = None
                resp = self.apdu(apdu) if apdu else b"\xD8\x02\x02"
            out = (b"\x00\x01" + dst.to_bytes(2, "big") + src.to_bytes(2, "big")
                   + len(resp).to_bytes(2, "big") + resp)
            if self.meter.state.silent:
                continue
            self.log("SIM TX", out)
            self.write(out)
        return True


class WrapperServer(TcpServer):
    """The meter over the IEC 62056-47 wrapper on TCP (port 4059 on real meters)."""

    def connection(self, write):
        return WrapperConnection(self.meter, write)


class UdpWrapperServer(_Server):
    """The meter over the IEC 62056-47 wrapper on UDP: one datagram, one wrapper frame;
    one association per client address and port."""

    def __init__(self, meter, port=0, host="127.0.0.1"):
        self.meter = meter
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        self.peers = {}
        self.running = True

    def serve_forever(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            srv = self.peers.get(peer)
            if srv is None:
                def write(b, peer=peer):
                    try:
                        self.sock.sendto(b, peer)
                    except OSError:
                        pass

                srv = self.peers[peer] = WrapperConnection(self.meter, write)
            srv.feed_datagram(data)
