"""The emulated Adafruit Feather RP2040 running CircuitPython (the shared runner, run.mjs).

Same runner and ``Board`` API as the Pico (board.py); what differs for CircuitPython:
- the firmware programs its flash itself through the SSI: the runner gets the SPI-flash
  model (``--flash-model spiflash.mjs``: a 2 MiB chip, the QSPI SS pad reading high so the
  boot does not wait on BOOTSEL);
- the CIRCUITPY drive is a FAT volume at flash 0x100000 (1 MiB on this chip), built by
  tools/build/fatimg.py from what ``make deploy BOARD=feather_rp2040`` copies (``drive_files``);
  ``microcontroller.nvm`` is the 4 KiB sector just below it (0xFF000);
- pins are the Feather's: keypad D5 D6 D9 D10 / D11 D12 D24 D25, resend A0, write-enable
  A1, the display on SDA/SCL (I2C1) with pull-ups, the meter on TX/RX (UART0).

    with Feather(drive_image(drive_files())) as b:
        b.wait_repl()
        print(b.exec("import gc; print(gc.mem_free())"))
"""

import json
import os
import re
import sys

from tools.board import board as _board  # the shared runner's host side
from tools.build import fatimg

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


BoardError = _board.BoardError
NoFirmware = _board.NoFirmware
FLASH_SIZE = 2 * 1024 * 1024  # the runner's chip (a real Feather has 8 MiB)
FS_OFFSET = 0x100000  # CIRCUITPY_CIRCUITPY_DRIVE_START_ADDR: 1020 KiB firmware + 4 KiB nvm
FS_SIZE = FLASH_SIZE - FS_OFFSET
NVM_OFFSET = 0xFF000  # CIRCUITPY_INTERNAL_NVM_START_ADDR - XIP base
NVM_SIZE = 4096
# board.X -> GPIO on the Feather RP2040 (read from the firmware's own board module)
GPIO = {"TX": 0, "RX": 1, "SDA": 2, "SCL": 3, "D4": 6, "D5": 7, "D6": 8, "D9": 9, "D10": 10,
        "D11": 11, "D12": 12, "D13": 13, "D24": 24, "D25": 25, "A0": 26, "A1": 27, "A2": 28,
        "A3": 29}
# the Feather RP2040 RFM's build of CircuitPython (same Feather pins by name; D4-D6 are
# GPIO4-6 there, read from its board module with microcontroller.pin)
GPIO_BY_BUILD = {"adafruit_feather_rp2040_rfm": dict(GPIO, D4=4, D5=5, D6=6)}


def board_id(uf2):
    """CircuitPython's board id (``_build``) from the image, e.g. adafruit_feather_rp2040."""
    with open(uf2, "rb") as f:
        data = f.read()
    flash = b"".join(data[o + 32:o + 32 + 256] for o in range(0, len(data) - 511, 512))
    found = re.findall(rb"Board ID:([a-z0-9_]+)", flash) or re.findall(
        rb"(adafruit_feather_rp2040[a-z0-9_]*)", flash)
    return found[0].decode() if found else None


def gpio_map(uf2):
    return GPIO_BY_BUILD.get(board_id(uf2), GPIO)


def firmware(env=os.environ):
    """CircuitPython's Feather RP2040 .uf2 from CIRCUITPYTHON_FIRMWARE= (circuitpython.org);
    NoFirmware when unset, a BoardError naming the path when it is missing."""
    return _board.user_firmware("CIRCUITPYTHON_FIRMWARE",
                                "adafruit-circuitpython-adafruit_feather_rp2040-en_US.uf2", env)


def board_file(name="feather_rp2040"):
    with open(os.path.join(ROOT, "boards", name + ".json")) as f:
        return json.load(f)


def drive_files(config=None, board="feather_rp2040", build_dir=None, extra=None):
    """What ``make deploy BOARD=feather_rp2040`` copies onto CIRCUITPY ({"path": bytes}),
    from tools/build/deploy.py's own plan. ``config``: a dict or a path (default: the example)."""
    from tools.build import deploy, mpy as build_mpy

    build_dir = build_dir or os.path.join(ROOT, "build", "board-cp")
    b, board_path = deploy.load_board(board)
    cfg_path = config if isinstance(config, str) else deploy.pick_config(None)
    build_mpy.build("circuitpython", build_dir)
    files = {}
    for src, dst in deploy.plan_circuitpython("", build_dir, board_path, cfg_path):
        with open(src, "rb") as f:
            files[dst.lstrip("/")] = f.read()
    if isinstance(config, dict):
        files["config.json"] = json.dumps(config).encode()
    files.update(extra or {})
    return files


def deploy_to_dir(drive, config_path=None, board="feather_rp2040", build_dir=None):
    """Run the real ``make deploy BOARD=feather_rp2040 PORT=<drive>`` (tools/build/deploy.py) into
    a directory standing for the mounted CIRCUITPY drive; returns its files."""
    import subprocess

    cmd = [sys.executable, "-m", "tools.build.deploy", "--board", board,
           "--port", drive, "--build-dir", build_dir or os.path.join(ROOT, "build",
                                                                      "board-cp")]
    if config_path:
        cmd += ["--config", config_path]
    os.makedirs(drive, exist_ok=True)
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if p.returncode:
        raise BoardError("deploy failed:\n" + p.stdout + p.stderr)
    return fatimg.from_dir(drive)


def drive_image(files):
    """The CIRCUITPY FAT volume holding ``files``."""
    return fatimg.build(files, FS_SIZE)


class Feather(_board.Board):
    """``Board`` for the Feather RP2040 on CircuitPython; ``fs`` is a CIRCUITPY image."""

    def __init__(self, fs=None, flash=None, uart0=None, uf2=None, extra=(), board="feather_rp2040"):
        b = board_file(board)
        uf2 = uf2 or firmware()
        GPIO = gpio_map(uf2)  # noqa: N806
        k = b["keypad"]
        keypad = "%s:%s" % (",".join(str(GPIO[p]) for p in k["rows"]),
                            ",".join(str(GPIO[p]) for p in k["cols"]))
        resend = GPIO[b["resend"]["pin"]]
        high = [GPIO[b["display"]["i2c"]["sda"]], GPIO[b["display"]["i2c"]["scl"]], resend]
        if b.get("write_enable"):
            high.append(GPIO[b["write_enable"]])
        self.write_enable = GPIO.get(b.get("write_enable"))
        super().__init__(fs=fs, flash=flash, uart0=uart0, uf2=uf2, de=None,
                         keypad=keypad, resend=resend,
                         flash_model=os.path.join(HERE, "spiflash.mjs"),
                         extra=["--fs-offset", str(FS_OFFSET),
                                "--high", ",".join(str(g) for g in high)] + list(extra))

    def wait_repl(self, timeout=60):
        """Stop code.py (Ctrl-C) and get the prompt: CircuitPython then says "Press any key
        to enter the REPL" and waits for one."""
        import select
        import time

        s = self.connect(timeout)
        self.write(b"\x03\x03")
        end = time.time() + timeout
        while True:
            if b">>> " in self.rx:
                return self.read_until(b">>> ", 1)
            if b"Press any key to enter the REPL" in self.rx:
                self.rx = b""
                self.write(b"\r")
                return self.read_until(b">>> ", max(1, end - time.time()))
            left = end - time.time()
            if left <= 0:
                raise BoardError("board: no CircuitPython prompt in %d s; got %r"
                                 % (timeout, self.rx[-300:]))
            r, _, _ = select.select([s], [], [], min(left, 0.5))
            if r:
                d = s.recv(4096)
                if not d:
                    raise BoardError("board: REPL connection closed")
                self.rx += d
            else:
                self.write(b"\x03")

    def boot(self, low=()):
        """Power on again from the retained flash; ``low``: GPIOs held low from reset."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.usb_up.clear()
        r = self.call("boot", low=list(low))
        self.cuts = []
        return r

    def fs_image(self):
        return self.flash_image()[FS_OFFSET:FS_OFFSET + FS_SIZE]

    def fs_files(self):
        return fatimg.read_tree(self.fs_image())

    def nvm(self):
        return self.flash_image()[NVM_OFFSET:NVM_OFFSET + NVM_SIZE]
