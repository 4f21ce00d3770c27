"""An emulated ESP32 for the ``esp32`` board lane: Espressif's QEMU fork (``-M esp32``) running
the official MicroPython ESP32_GENERIC image the user supplies. Nothing of either is kept here.

    ESP32_QEMU=/path/to/qemu-system-xtensa   Espressif's fork (upstream QEMU has no esp32 machine)
    ESP32_ROM_DIR=/path/with/esp32-v3-rom.bin  the ROM files that fork ships (its pc-bios/)
    ESP32_FIRMWARE=/path/to/ESP32_GENERIC-<date>-v<version>.bin   the .bin users flash at 0x1000
                                              (or a whole 4 MB flash image)

Wiring, as boards/esp32_devkitc.json has it: UART0 (the REPL) on a pty, UART2 (GPIO17/16, the
meter port) to a TCP relay in front of the simulator, udlms.host.sim (the relay can go
silent: a meter that does not answer), the flash a 4 MB file (littlefs on the ``vfs``
partition, found from the partition table at 0x8000). QEMU models no GPIO inputs (every
pin reads low), so the lane's board file uses the console key hook (docs/BOARDS.md,
keypad ``console``).
"""

import os
import select
import signal
import socket
import struct
import subprocess
import threading
import time

from tools.board import board

FLASH_SIZE = 4 * 1024 * 1024
APP_OFFSET = 0x1000  # where the ESP32_GENERIC .bin goes (bootloader, partition table, app)
PARTITION_TABLE = 0x8000
ROM = "esp32-v3-rom.bin"


class BoardError(Exception):
    pass


def setup(env=os.environ):
    """(qemu, rom_dir, firmware) from the environment, or a string saying what is missing."""
    qemu, rom, fw = env.get("ESP32_QEMU"), env.get("ESP32_ROM_DIR"), env.get("ESP32_FIRMWARE")
    if not qemu and not fw:
        return None
    missing = [n for n, v in (("ESP32_QEMU", qemu), ("ESP32_ROM_DIR", rom),
                              ("ESP32_FIRMWARE", fw)) if not v]
    if missing:
        return "%s not set" % ", ".join(missing)
    if not os.access(qemu, os.X_OK):
        return "ESP32_QEMU=%s: not an executable" % qemu
    if not os.path.exists(os.path.join(rom, ROM)):
        return "ESP32_ROM_DIR=%s: no %s there (Espressif's QEMU ships it in pc-bios/)" % (rom, ROM)
    if not os.path.isfile(fw):
        return "ESP32_FIRMWARE=%s: no such file" % fw
    return qemu, rom, fw


def flash_image(fw_path):
    """A 4 MB flash image: the file itself when it is one, else 0xFF with it at 0x1000."""
    with open(fw_path, "rb") as f:
        data = f.read()
    if len(data) == FLASH_SIZE:
        return bytearray(data)
    if data[:1] != b"\xe9" or len(data) > FLASH_SIZE - APP_OFFSET:
        raise BoardError("ESP32_FIRMWARE=%s: neither a 4 MB flash image nor an ESP32 image "
                         "(first byte 0xE9) to place at 0x1000" % fw_path)
    img = bytearray(b"\xff" * FLASH_SIZE)
    img[APP_OFFSET:APP_OFFSET + len(data)] = data
    return img


def partitions(img):
    """[(label, type, subtype, offset, size)] from the ESP-IDF partition table at 0x8000
    (32-byte entries, magic 0xAA50; an MD5 entry 0xEBEB or erased flash ends it)."""
    out = []
    for i in range(PARTITION_TABLE, PARTITION_TABLE + 0xC00, 32):
        e = bytes(img[i:i + 32])
        if e[:2] != b"\xaa\x50":
            break
        ptype, sub, off, size = struct.unpack_from("<BBII", e, 2)
        out.append((e[12:28].rstrip(b"\0").decode(), ptype, sub, off, size))
    return out


def vfs_partition(img):
    """(offset, size) of the ``vfs`` data partition MicroPython mounts as its filesystem."""
    for label, ptype, _sub, off, size in partitions(img):
        if label == "vfs" and ptype == 1:
            return off, size
    raise BoardError("no vfs partition in the firmware's partition table: %s" % partitions(img))


def lfs_image(size, files):
    """A littlefs image of ``size`` bytes (the vfs partition) holding {"/path": bytes}."""
    return board.image(files, size)


def lfs_files(img):
    """{path: bytes} of every file in a littlefs image."""
    return board.read_files(img)


class Relay:
    """UART2's far end: QEMU connects here; bytes go to and from the meter simulator at
    ``target`` ("tcp://host:port"), or nowhere while ``silent`` (a meter that never answers)."""

    def __init__(self, target):
        self.target = target
        self.silent = False
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.stop = False
        self.tx = self.rx = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        host, port = self.target[len("tcp://"):].rsplit(":", 1)
        meter = socket.create_connection((host, int(port)))
        while not self.stop:
            try:
                guest, _ = self.srv.accept()
            except OSError:
                return
            while not self.stop:
                r, _, _ = select.select([guest, meter], [], [], 0.2)
                if guest in r:
                    d = guest.recv(4096)
                    if not d:
                        break  # QEMU gone (killed: a power cut); wait for the next one
                    if not self.silent:
                        self.tx += len(d)
                        meter.sendall(d)
                if meter in r:
                    d = meter.recv(4096)
                    if not d:
                        return
                    if not self.silent:
                        self.rx += len(d)
                        guest.sendall(d)
            guest.close()

    def close(self):
        self.stop = True
        self.srv.close()


class Esp32:
    """One emulated ESP32 on a flash file; ``start()`` powers it up, ``kill()`` cuts the power."""

    def __init__(self, qemu, rom_dir, flash_path, uart2_port, log_path):
        self.qemu, self.rom_dir, self.flash = qemu, rom_dir, flash_path
        self.uart2_port = uart2_port
        self.log_path = log_path
        self.proc = self.fd = None
        self.pty = None
        self.rx = b""
        self.seen = b""  # everything printed since the last clear()

    def start(self, timeout=60):
        cmd = [self.qemu, "-machine", "esp32", "-display", "none", "-monitor", "none",
               "-L", self.rom_dir, "-drive", "file=%s,if=mtd,format=raw" % self.flash,
               "-serial", "pty", "-serial", "null",
               "-serial", "tcp:127.0.0.1:%d" % self.uart2_port,
               "-global", "driver=timer.esp32.timg,property=wdt_disable,value=true",
               "-nic", "none"]
        with open(self.log_path, "ab") as log:
            start = log.tell()  # this run's lines only: the log keeps every power-up
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        end = time.time() + timeout
        while self.pty is None:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                text = f.read().decode(errors="replace")
            for line in text.splitlines():
                if "char device redirected to " in line and "serial0" in line:
                    self.pty = line.split("redirected to ")[1].split()[0]
            if self.proc.poll() is not None:
                raise BoardError("QEMU exited (%d): %s" % (self.proc.returncode, text[-800:]))
            if time.time() > end:
                raise BoardError("QEMU gave no pty for UART0 in %d s: %s" % (timeout, text[-800:]))
            time.sleep(0.05)
        self.attach()
        return self

    def attach(self):
        """Open UART0's pty (raw) for the lane."""
        import tty

        self.fd = os.open(self.pty, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)

    def detach(self):
        """Let go of UART0's pty (mpremote opens it)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def kill(self):
        """Cut the power: SIGKILL, no flush, no shutdown."""
        self.detach()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None
        self.pty = None
        self.rx = b""

    close = kill

    # -- UART0: the REPL ----------------------------------------------------------------------
    def write(self, data, pace=0.0):
        data = data.encode() if isinstance(data, str) else data
        if not pace:
            os.write(self.fd, data)
            return
        for i in range(0, len(data), 32):  # the UART's RX FIFO is small: pace long input
            os.write(self.fd, data[i:i + 32])
            time.sleep(pace)

    def _fill(self, wait):
        r, _, _ = select.select([self.fd], [], [], wait)
        if r:
            try:
                d = os.read(self.fd, 4096)
            except OSError:
                d = b""
            self.rx += d
            self.seen += d
            return bool(d)
        return False

    def read_until(self, marker, timeout=30):
        marker = marker.encode() if isinstance(marker, str) else marker
        end = time.time() + timeout
        while marker not in self.rx:
            left = end - time.time()
            if left <= 0:
                raise BoardError("esp32: timeout waiting for %r; got %r" % (marker,
                                                                            self.rx[-400:]))
            if self.proc.poll() is not None:
                raise BoardError("esp32: QEMU exited; last output %r" % self.rx[-400:])
            self._fill(min(left, 0.2))
        i = self.rx.index(marker) + len(marker)
        out, self.rx = self.rx[:i], self.rx[i:]
        return out

    def clear(self):
        while self._fill(0):
            pass
        self.rx = self.seen = b""

    def wait_text(self, text, timeout=300, upto=b""):
        """Wait until ``text`` (then ``upto`` after it: the rest of its screen line) was
        printed since the last clear(); returns all of it."""
        t = text.encode()
        end = time.time() + timeout
        while t not in self.seen or upto not in self.seen[self.seen.index(t):]:
            left = end - time.time()
            if left <= 0:
                raise BoardError("esp32: no %r in %d s; got %r" % (text, timeout,
                                                                  self.seen[-600:]))
            if self.proc.poll() is not None:
                raise BoardError("esp32: QEMU exited; last output %r" % self.seen[-400:])
            self._fill(min(left, 0.2))
        self.rx = b""
        return self.seen.decode(errors="replace")

    def wait_repl(self, timeout=60):
        """Interrupt whatever runs (main.py) and wait for the friendly prompt."""
        end = time.time() + timeout
        while True:  # Ctrl-C again until the prompt: one sent during the ROM boot is lost
            self.write(b"\r\x03\x03\r\n")
            try:
                return self.read_until(b">>> ", min(3, max(0.1, end - time.time())))
            except BoardError:
                if time.time() > end:
                    raise

    def exec(self, code, timeout=120):
        """Run ``code`` through the raw REPL; its output; raises on an exception there."""
        self.write(b"\r\x03\x03")
        time.sleep(0.1)
        while self._fill(0.1):
            pass
        self.rx = b""
        self.write(b"\x01")
        self.read_until(b"raw REPL; CTRL-B to exit\r\n>", timeout)
        self.write(code.encode() + b"\x04", pace=0.01)
        self.read_until(b"OK", timeout)
        out = self.read_until(b"\x04", timeout)[:-1]
        err = self.read_until(b"\x04", timeout)[:-1]
        self.read_until(b">", timeout)
        self.write(b"\x02")
        self.read_until(b">>> ", timeout)
        if err:
            raise BoardError("esp32: exception on the board:\n%s%s"
                             % (out.decode(errors="replace"), err.decode(errors="replace")))
        return out.decode(errors="replace")

    def keys(self, text, gap=0.05):
        """Type on the console key hook (main.py running): one key character at a time."""
        for ch in text:
            self.write(ch)
            time.sleep(gap)
