"""The host side of the emulated Raspberry Pi Pico (tools/board/run.mjs, rp2040js).

``Board`` boots a real firmware .uf2 (the official MicroPython RPI_PICO by default) with a
littlefs image, and gives tests the USB REPL (``exec`` over the raw REPL, ``repl_pty`` for
mpremote), the keypad (``keys``), the display (``display``), the meter port bridged to a
TCP simulator (``uart``), the RS-485 DE log (``de_log``), power cuts (``cut``, ``boot``)
and the flash image (``fs_files``). Every time is the emulated clock's.

    with Board(fs=image(files)) as b:
        b.wait_repl()
        print(b.exec("import gc; print(gc.mem_free())"))
"""

import json
import os
import queue
import select
import shutil
import socket
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FS_OFFSET = 0xA0000  # RPI_PICO: littlefs2 in the last 1408 KB of the 2 MB flash
FS_BLOCKS = 352
BLOCK = 4096


class BoardError(Exception):
    pass


def slack():
    """How much longer than on an idle machine a wall-clock wait may take: the emulator runs
    at the speed of the CPU it gets, so waits stretch with the host's load (1-minute load
    per core, at least 1) times BOARD_TIMEOUT_SCALE (default 1)."""
    try:
        load = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:
        load = 1.0
    return max(1.0, load) * float(os.environ.get("BOARD_TIMEOUT_SCALE", "1"))


class NoFirmware(BoardError):
    """No firmware given: the lane did not run (neither passed nor failed)."""


def user_firmware(var, what, env=os.environ):
    """The .uf2 the user gives in ``var``; NoFirmware when unset, BoardError (naming the
    path) when it is not a file. Nothing is looked for anywhere else."""
    uf2 = env.get(var)
    if not uf2:
        raise NoFirmware("no firmware; %s=path/to/%s runs it" % (var, what))
    if not os.path.isfile(uf2):
        raise BoardError("board: %s=%s: no such file" % (var, uf2))
    return uf2


def firmware(env=os.environ):
    """The MicroPython RPI_PICO .uf2 from PICO_FIRMWARE= (micropython.org's release, or a
    build of the user's). The boot ROM is ours (bootrom.mjs): no other file is needed."""
    return user_firmware("PICO_FIRMWARE", "RPI_PICO.uf2", env)


def ready():
    """None when node and rp2040js are usable (npm ci on first use), else why not."""
    if shutil.which("node") is None:
        return "node not found (install nodejs)"
    if not os.path.isdir(os.path.join(HERE, "node_modules", "rp2040js")):
        if shutil.which("npm") is None:
            return "npm not found"
        try:
            p = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                               cwd=HERE, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return "npm ci took over 300 s (registry unreachable?)"
        if p.returncode:
            return "npm ci failed: " + (p.stderr or p.stdout).strip()[-300:]
    return None


# -- littlefs images ----------------------------------------------------------------------------
def _lfs(image=None, blocks=FS_BLOCKS):
    import littlefs

    fs = littlefs.LittleFS(block_size=BLOCK, block_count=blocks, mount=False)
    if image is None:
        fs.format()
    else:
        fs.context.buffer[:] = image
    fs.mount()
    return fs


def image(files, size=FS_BLOCKS * BLOCK):
    """A littlefs image of ``size`` bytes (default: the RPI_PICO filesystem; the ESP32 lane
    gives its vfs partition's) holding ``files`` {"/path": bytes}."""
    fs = _lfs(blocks=size // BLOCK)
    for path, data in sorted(files.items()):
        parts = [p for p in os.path.dirname(path).split("/") if p]
        for i in range(len(parts)):
            try:
                fs.mkdir("/" + "/".join(parts[:i + 1]))
            except Exception:  # noqa: BLE001 - exists
                pass
        with fs.open(path, "wb") as f:
            f.write(data)
    return bytes(fs.context.buffer)


def read_files(img):
    """{path: bytes} of every file in a littlefs image (as the firmware left it)."""
    fs = _lfs(bytearray(img), len(img) // BLOCK)
    out = {}
    for root, _dirs, names in fs.walk("/"):
        for n in names:
            p = root.rstrip("/") + "/" + n
            with fs.open(p, "rb") as f:
                out[p] = f.read()
    return out


def deploy_files(board="rpi_pico", config=None, build_dir=None):
    """The files ``make deploy BOARD=...`` copies (tools/build/deploy.py's plan, from ``make mpy``
    output), as {"/device/path": bytes}. ``config``: a dict or a path (default: the example)."""
    from tools.build import deploy, mpy as build_mpy

    b, board_path = deploy.load_board(board)
    target = deploy.board_target(b, os.path.basename(board_path)[:-5])
    build_dir = build_dir or os.path.join(ROOT, "build", "board")
    build_mpy.build(target, build_dir)
    cfg_path = config if isinstance(config, str) else deploy.pick_config(None)
    files = {}
    for c in deploy.plan_micropython("emulated", build_dir, target, board_path, cfg_path):
        if c[3:5] == ["fs", "cp"]:
            with open(c[5], "rb") as f:
                files["/" + c[6].lstrip(":")] = f.read()
    if isinstance(config, dict):
        files["/config.json"] = json.dumps(config).encode()
    return files


# -- the board ----------------------------------------------------------------------------------
class Board:
    def __init__(self, fs=None, flash=None, uart0=None, uart1=None, uf2=None, de=2,
                 keypad="6,7,8,9:10,11,12,13", resend=15, flash_model="rom", extra=()):
        why = ready()
        if why:
            raise BoardError("board: " + why)
        self.uf2 = firmware() if uf2 is None else uf2
        self.tmp = os.path.join(ROOT, "build", "board", "run-%d" % os.getpid())
        os.makedirs(self.tmp, exist_ok=True)
        cmd = ["node", os.path.join(HERE, "run.mjs"), "--uf2", self.uf2,
               "--de", "none" if de is None else str(de), "--keypad", keypad,
               "--resend", str(resend), "--flash-model", flash_model]
        if fs is not None:
            p = os.path.join(self.tmp, "fs.img")
            with open(p, "wb") as f:
                f.write(fs)
            cmd += ["--fs", p]
        if flash is not None:
            p = os.path.join(self.tmp, "flash.img")
            with open(p, "wb") as f:
                f.write(flash)
            cmd += ["--flash", p]
        for i, u in ((0, uart0), (1, uart1)):
            if u:
                cmd += ["--uart%d" % i, u]
        self.proc = subprocess.Popen(cmd + list(extra), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.events = queue.Queue()
        self.replies = {}
        self.cond = threading.Condition()
        self.next_id = 0
        self.cuts = []
        self.usb_up = threading.Event()
        self.ready = threading.Event()
        self.cdc_port = None
        self.sock = None
        self.rx = b""
        threading.Thread(target=self._reader, daemon=True).start()
        if not self.ready.wait(30):
            raise BoardError("board: runner did not start: " + self._stderr())
        self.started = time.time()

    # plumbing
    def _stderr(self):
        try:
            self.proc.kill()
            return self.proc.stderr.read()[-2000:]
        except Exception:  # noqa: BLE001
            return ""

    def _reader(self):
        for line in self.proc.stdout:
            try:
                m = json.loads(line)
            except ValueError:
                continue
            if "re" in m:
                with self.cond:
                    self.replies[m["re"]] = m
                    self.cond.notify_all()
            elif m.get("ev") == "ready":
                self.cdc_port = m["cdc"]
                self.ready.set()
            elif m.get("ev") == "usb":
                self.usb_up.set()
            elif m.get("ev") == "cut":
                self.cuts.append(m)
                self.events.put(m)
            else:
                self.events.put(m)
        with self.cond:
            self.cond.notify_all()

    def call(self, cmd, timeout=60, **kw):
        with self.cond:
            self.next_id += 1
            i = self.next_id
        kw.update(id=i, cmd=cmd)
        self.proc.stdin.write(json.dumps(kw) + "\n")
        self.proc.stdin.flush()
        end = time.time() + timeout * slack()
        with self.cond:
            while i not in self.replies:
                left = end - time.time()
                if left <= 0 or self.proc.poll() is not None:
                    raise BoardError("board: no answer to %s (%s)" % (cmd, self._stderr()
                                                                      if self.proc.poll()
                                                                      is not None else
                                                                      "timeout"))
                self.cond.wait(min(left, 0.5))
            r = self.replies.pop(i)
        if "error" in r:
            raise BoardError("board: %s: %s" % (cmd, r["error"]))
        return r

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(5)
            except Exception:  # noqa: BLE001
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    # USB REPL
    def connect(self, timeout=30):
        if not self.usb_up.wait(timeout * slack()):
            raise BoardError("board: the firmware did not bring up USB in %d s (no boot?)"
                             % timeout)
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.cdc_port))
            self.rx = b""
        return self.sock

    def write(self, data):
        self.connect().sendall(data.encode() if isinstance(data, str) else data)

    def read_until(self, marker, timeout=30):
        """Bytes from the REPL up to and including ``marker`` (emulated output)."""
        s = self.connect()
        end = time.time() + timeout * slack()
        marker = marker.encode() if isinstance(marker, str) else marker
        while marker not in self.rx:
            left = end - time.time()
            if left <= 0:
                raise BoardError("board: timeout waiting for %r; got %r" % (marker,
                                                                            self.rx[-300:]))
            r, _, _ = select.select([s], [], [], min(left, 0.2))
            if r:
                d = s.recv(4096)
                if not d:
                    raise BoardError("board: REPL connection closed")
                self.rx += d
        i = self.rx.index(marker) + len(marker)
        out, self.rx = self.rx[:i], self.rx[i:]
        return out

    def wait_repl(self, timeout=30):
        """Interrupt whatever runs (main.py) and wait for the friendly prompt."""
        self.connect(timeout)
        self.write(b"\r\x03\x03\r\n")
        return self.read_until(b">>> ", timeout)

    def output(self, timeout=0.5):
        """Whatever the REPL printed so far (and within ``timeout``)."""
        s = self.connect()
        end = time.time() + timeout
        while True:
            r, _, _ = select.select([s], [], [], max(0, end - time.time()))
            if not r:
                break
            d = s.recv(4096)
            if not d:
                break
            self.rx += d
        out, self.rx = self.rx, b""
        return out

    def exec(self, code, timeout=60):
        """Run ``code`` through the raw REPL; returns its output, raises on an exception."""
        self.write(b"\r\x03\x03")
        time.sleep(0.05)
        self.output(0.2)
        self.write(b"\x01")
        self.read_until(b"raw REPL; CTRL-B to exit\r\n>", timeout)
        self.write(code.encode() + b"\x04")
        self.read_until(b"OK", timeout)
        out = self.read_until(b"\x04", timeout)[:-1]
        err = self.read_until(b"\x04", timeout)[:-1]
        self.read_until(b">", timeout)
        self.write(b"\x02")  # back to the friendly REPL
        self.read_until(b">>> ", timeout)
        if err:
            raise BoardError("board: exception on the board:\n%s%s" % (out.decode(errors="replace"),
                                                                          err.decode(errors="replace")))
        return out.decode(errors="replace")

    def repl_pty(self):
        """A pty bridged to the USB REPL (for mpremote); returns its device path. The bridge
        runs until close()."""
        import pty

        master, slave = pty.openpty()
        import tty

        tty.setraw(slave)
        path = os.ttyname(slave)
        s = self.connect()
        stop = threading.Event()

        def pump():
            while not stop.is_set():
                try:
                    r, _, _ = select.select([master, s], [], [], 0.5)
                    if master in r:
                        d = os.read(master, 4096)
                        if not d:
                            break
                        s.sendall(d)
                    if s in r:
                        d = s.recv(4096)
                        if not d:
                            break
                        os.write(master, d)
                except OSError:
                    break

        th = threading.Thread(target=pump, daemon=True)
        th.start()
        self._pty = (master, slave, stop, th)
        return path

    def close_pty(self):
        """Stop the pty bridge; the REPL belongs to exec()/read_until() again."""
        master, slave, stop, th = self._pty
        stop.set()
        th.join(5)
        os.close(master)
        os.close(slave)
        self.rx = b""

    # devices
    def keys(self, text, hold=80, gap=80, timeout=300):
        """Press keys on the 4x4 keypad (``R``: the resend button) in emulated time; ``!`` is
        a long press of ``*``. Returns when the last key is released."""
        seq = []
        for ch in text:
            if ch == " ":
                continue
            if ch == "!":
                seq.append(["*", 1200, gap])
            else:
                seq.append([ch, hold, gap])
        r = self.call("keys", timeout=timeout, seq=seq)
        if r.get("unscanned"):  # said, so a lost key names its cause
            print("  board: %d key phase(s) of %r ended unscanned: the firmware did not scan "
                  "the keypad for 5 s of emulated time" % (r["unscanned"], text), flush=True)
        return r

    def display(self, clear=False):
        return self.call("display", clear=clear)

    def lcd(self):
        return [ln.rstrip() for ln in self.display()["lcd"]]

    def wait_lcd(self, text, timeout=60):
        """Wait until a screen shown since the last ``display(clear=True)`` has a line
        containing ``text``; returns that screen (lines, right spaces stripped)."""
        end = time.time() + timeout * slack()
        while True:
            d = self.display()
            for f in d["frames"]:
                lines = [ln.rstrip() for ln in f]
                if any(text in ln for ln in lines):
                    return lines
            if time.time() > end or self.proc.poll() is not None:
                raise BoardError("board: display never showed %r; screens: %s"
                                 % (text, [" | ".join(f) for f in d["frames"][-8:]]))
            time.sleep(0.2)

    def uart(self, n=0, target=None):
        """Bridge UART ``n`` to ``tcp://host:port``, or leave it unconnected (a silent meter)."""
        return self.call("uart", uart=n, target=target)

    def de_log(self, clear=False, n=0):
        return self.call("de", uart=n, clear=clear)

    def status(self):
        return self.call("status")

    def cut(self, op=None, frac=0.0, uart=False):
        """Cut the power now, or arm a cut at the ``op``-th flash operation from now (torn
        after ``frac`` of its bytes), or (``uart``) as the next byte starts on UART0."""
        if uart:
            return self.call("cut", uart=True)
        if op is None:
            return self.call("cut")
        return self.call("cut", op=op, frac=frac)

    def wait_cut(self, timeout=60):
        end = time.time() + timeout * slack()
        while not self.cuts:
            if time.time() > end:
                return None
            time.sleep(0.05)
        return self.cuts.pop(0)

    def boot(self):
        """Power on again from the retained flash image (a cut first if it is running)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.usb_up.clear()
        r = self.call("boot")
        self.cuts = []
        return r

    def flash_image(self):
        p = os.path.join(self.tmp, "save.img")
        self.call("save", path=p)
        with open(p, "rb") as f:
            return f.read()

    def fs_image(self):
        return self.flash_image()[FS_OFFSET:FS_OFFSET + FS_BLOCKS * BLOCK]

    def fs_files(self):
        return read_files(self.fs_image())


# -- pictures -----------------------------------------------------------------------------------
def png(path, width, height, pixel):
    """Write a greyscale PNG; ``pixel(x, y)`` -> 0..255."""
    import struct
    import zlib

    raw = b"".join(b"\x00" + bytes(pixel(x, y) for x in range(width)) for y in range(height))

    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0,
                                                              0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def oled_png(path, fb_hex, scale=4):
    """The SSD1306 128x64 framebuffer (page-major, LSB at the top) as a PNG."""
    fb = bytes.fromhex(fb_hex)

    def px(x, y):
        x //= scale
        y //= scale
        return 255 if fb[(y // 8) * 128 + x] >> (y % 8) & 1 else 0

    return png(path, 128 * scale, 64 * scale, px)


def learn_font(b):
    """The firmware's own 8x8 font (framebuf.text), learnt on the board: {char: 8 column
    bytes, LSB at the top}. Used to draw the LCD picture and to read the OLED back as text."""
    hexes = b.exec("import framebuf\nbuf = bytearray(760)\n"
                   "fb = framebuf.FrameBuffer(buf, 760, 8, framebuf.MONO_VLSB)\n"
                   "fb.text(''.join(chr(i) for i in range(32, 127)), 0, 0, 1)\n"
                   "print(buf.hex())\ndel buf, fb\n").strip()
    raw = bytes.fromhex(hexes)
    return {chr(32 + i): raw[i * 8:i * 8 + 8] for i in range(95)}


def oled_text(fb_hex, font, width=128, height=64):
    """Read the SSD1306 framebuffer back as lines of text (8x8 cells matched to ``font``)."""
    fb = bytes.fromhex(fb_hex)
    rev = {v: k for k, v in font.items()}
    lines = []
    for page in range(height // 8):
        row = ""
        for c in range(width // 8):
            cell = fb[page * width + c * 8:page * width + c * 8 + 8]
            row += rev.get(bytes(cell), "?")
        lines.append(row.rstrip())
    while lines and not lines[-1]:
        lines.pop()
    return lines


def lcd_png(path, lines, font, scale=3):
    """The HD44780 screen as a PNG (blue-grey cells, one per character; the glyphs are the
    firmware's 8x8 font, not the LCD's 5x8 ROM)."""
    cols = max(len(ln) for ln in lines)
    cw, ch = 9, 10
    w, h = cols * cw + 1, len(lines) * ch + 1

    def px(x, y):
        x //= scale
        y //= scale
        r, c = y // ch, x // cw
        dy, dx = y % ch - 1, x % cw - 1
        if r >= len(lines) or not (0 <= dy < 8 and 0 <= dx < 8):
            return 40
        g = font.get(lines[r][c] if c < len(lines[r]) else " ")
        if g is None:
            return 90
        return 235 if g[dx] >> dy & 1 else 90

    return png(path, w * scale, h * scale, px)
