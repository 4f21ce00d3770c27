"""A port string to a byte stream (PC side): ``tcp://HOST:PORT`` (HDLC over TCP, as
simulators and gateways use), ``udp://HOST:PORT`` (IEC 62056-47 wrapper only), anything else
a serial device or pty path. The one place that knows every transport; boards open their
UART through :mod:`udlms.link.uart`."""

from udlms.errors import ConfigError
from udlms.link.transport import TcpStream


def _host_port(url, scheme):
    """``scheme`` ``HOST:PORT`` (an IPv6 host in brackets) -> (host, port)."""
    host, _, port = url[len(scheme):].rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError("port must look like %sHOST:PORT, not %s" % (scheme, url), "config")
    return host.strip("[]"), int(port)


def open_stream(url, baud=9600, timeout_ms=3000):
    """``tcp://HOST:PORT`` -> TcpStream, ``udp://HOST:PORT`` -> UdpStream (wrapper only);
    anything else is a serial device or pty path (SerialStream)."""
    if url.startswith("tcp://"):
        host, port = _host_port(url, "tcp://")
        return TcpStream(host, port, timeout_ms)
    if url.startswith("udp://"):
        from udlms.link.transport_udp import UdpStream

        host, port = _host_port(url, "udp://")
        return UdpStream(host, port, timeout_ms)
    from udlms.host.transport_serial import SerialStream

    return SerialStream(url, baud)
