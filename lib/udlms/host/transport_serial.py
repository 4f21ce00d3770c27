"""A serial port or pty on the host through pyserial (opened by
``udlms.host.ports.open_stream``); boards use :mod:`udlms.link.uart` instead."""

from udlms.errors import ConfigError, LinkError, NoAnswer
from udlms.link.transport import _POLL_S


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
        try:
            self.ser.write(bytes(b))
        except Exception as e:  # noqa: BLE001 - SerialException, OSError, termios.error
            raise LinkError("the serial line failed while sending (%s): was the adapter "
                            "unplugged or the other side closed?" % (e,), "link-lost")

    def readinto(self, buf):
        try:
            return self.ser.readinto(buf) or 0
        except Exception as e:  # noqa: BLE001 - SerialException, OSError (EIO on a pty)
            raise LinkError("the serial line failed (%s): was the adapter unplugged or the "
                            "other side closed?" % (e,), "link-lost")

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
