"""The ``esp32`` board lane: tokenpad on an emulated ESP32 (Espressif's QEMU fork, ``-M esp32``)
running the official MicroPython ESP32_GENERIC image, both supplied by the user (none of it
is in this repository; see tools/board/esp32board.py):

    ESP32_QEMU=.../qemu-system-xtensa ESP32_ROM_DIR=.../pc-bios \\
    ESP32_FIRMWARE=.../ESP32_GENERIC-20240602-v1.23.0.bin .venv/bin/python -m tools.board.esp32_lane

Without them it prints one line, ``esp32: not run: ...``, and counts nothing.

Checks (each PASS or FAIL):
  boot        the bare image boots to its REPL; free heap; cryptolib AES (FIPS-197 C.1);
              viper (xtensawin)
  deploy      ``--deploy image`` (default): the files ``make deploy BOARD=... CONFIG=...``
              copies (tools/build/deploy.py's plan over ``make mpy``'s esp32 build) put in a
              littlefs
              image of the firmware's ``vfs`` partition, made on the host (littlefs-python):
              deploying over the emulated UART takes minutes. ``--deploy mpremote``: the real
              ``make deploy`` with mpremote over UART0's pty, then the files read back
              byte for byte from the flash.
  keypad_*    main.py on a fresh board, keys typed on the console key hook (QEMU models no
              GPIO inputs): the first token reads the meter's frame counter first and is
              ACCEPTED by the simulator (udlms.host.sim); the same token again is REJECTED with the
              meter's reason; a silent meter gives NO ANSWER and the resend key (R) delivers
              the pending token once it answers
  repl        tp.status(), tp.history(), tp.resync(), tp.enter() at the REPL
  memory      free heap at boot, resident with the app at READY, held after the sessions
  powercut_*  QEMU killed (SIGKILL) right after a seeded count of writes to the flash file
              while the board hands out invocation counters and journals tokens on its
              littlefs (tokenpad.store on /tokenpad.dat); after each reboot: the store
              verifies, no invocation counter is handed out twice, the last journaled
              token is there (``--cuts N``, default 2: each reboot takes minutes)
Figures: build/esp32-lane/figures.json (board_esp32_*).

From tools/run_tests.py: ``esp32_lane.run_lane()`` returns (passed, failed), or None when
not run (the line above is printed).
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time

from tools.board import checks
from tools.board import esp32board as E

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

OUT = os.path.join(ROOT, "build", "esp32-lane")  # make mpy writes build/esp32
NOT_RUN = ("esp32: not run: no emulator/firmware; ESP32_QEMU=... ESP32_ROM_DIR=... "
           "ESP32_FIRMWARE=... runs it")
TOKENS = ("17813034313191558529", "05718854590197211241", "36934458151706424932",
          "57010216407402158470")
RESULTS = []
FIGURES = {}


result, check = checks.make("esp32", 26, RESULTS)


def lane_files():
    """The lane's board file (esp32_devkitc with the console key hook and display: QEMU has
    no GPIO inputs and no SSD1306) and settings (the simulator's keys, a short timeout)."""
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(ROOT, "boards", "esp32_devkitc.json")) as f:
        b = json.load(f)
    b.update(name="ESP32 DevKitC in QEMU (console key hook)", resend=None,
             keypad={"type": "console"}, display={"type": "console"})
    board_path = os.path.join(OUT, "esp32_qemu.json")
    with open(board_path, "w") as f:
        json.dump(b, f, indent=1)
    with open(os.path.join(ROOT, "firmware", "config.example.json")) as f:
        c = json.load(f)
    c.update(timeout_ms=3000, retries=1)
    cfg_path = os.path.join(OUT, "config.json")
    with open(cfg_path, "w") as f:
        json.dump(c, f, indent=1)
    return board_path, cfg_path


def deploy_files(board_path, cfg_path):
    """{"/path": bytes}: what ``make deploy BOARD=<board_path> CONFIG=<cfg_path>`` copies."""
    from tools.build import deploy
    from tools.build import mpy as build_mpy

    b, _ = deploy.load_board(board_path)
    target = deploy.board_target(b, os.path.basename(board_path)[:-5])
    assert target == "esp32", target
    build_dir = os.path.join(OUT, "mpy")
    build_mpy.build(target, build_dir)
    files = {}
    for c in deploy.plan_micropython("emulated", build_dir, target, board_path, cfg_path):
        if c[3:5] == ["fs", "cp"]:
            with open(c[5], "rb") as f:
                files["/" + c[6].lstrip(":")] = f.read()
    return files


class Lane:
    def __init__(self, qemu, rom, fw, sim_url):
        self.qemu, self.rom, self.fw = qemu, rom, fw
        self.relay = E.Relay(sim_url)
        self.flash = os.path.join(OUT, "flash.bin")
        self.log = os.path.join(OUT, "qemu.log")
        self.board = None
        self.img = E.flash_image(fw)
        self.vfs = E.vfs_partition(self.img)

    def write_flash(self, vfs_image=None):
        img = bytearray(self.img)
        off, size = self.vfs
        if vfs_image is not None:
            img[off:off + size] = vfs_image
        with open(self.flash, "wb") as f:
            f.write(img)

    def vfs_image(self):
        off, size = self.vfs
        with open(self.flash, "rb") as f:
            f.seek(off)
            return f.read(size)

    def power_on(self):
        self.board = E.Esp32(self.qemu, self.rom, self.flash, self.relay.port, self.log)
        return self.board.start()

    def power_off(self):
        if self.board is not None:
            self.board.kill()
            self.board = None

    def close(self):
        self.power_off()
        self.relay.close()


# -- checks ---------------------------------------------------------------------------------
def check_boot(lane):
    lane.write_flash()  # the bare image: the firmware formats its vfs partition itself
    b = lane.power_on()
    t0 = time.time()
    banner = b.wait_repl(120).decode(errors="replace")
    FIGURES["board_esp32_boot_s"] = round(time.time() - t0, 1)
    out = b.exec("import gc, sys\ngc.collect()\nprint(gc.mem_free(), gc.mem_alloc())\n"
                 "print(sys.implementation._machine, sys.version)\n"
                 "import cryptolib\n"
                 "k = bytes(range(16))\n"
                 "print(cryptolib.aes(k, 1).encrypt(bytes(range(0, 256, 17))).hex())\n"
                 "@micropython.viper\n"
                 "def vx(a: int, b: int) -> int:\n"
                 "    return a ^ b\n"
                 "print(vx(0x55, 0xF0))\n")
    lane.power_off()
    lines = out.split("\r\n")
    free, alloc = (int(x) for x in lines[0].split())
    FIGURES["board_esp32_heap_free_boot"] = free
    FIGURES["board_esp32_firmware"] = lines[1]
    assert "ESP32" in lines[1] or "ESP32" in banner, (lines[1], banner[-200:])
    assert lines[2] == "69c4e0d86a7b0430d8cdb78070b4c55a", lines[2]  # FIPS-197 C.1
    assert lines[3] == str(0x55 ^ 0xF0), lines[3]
    return "%s; %d bytes free after boot; cryptolib AES and viper OK" % (lines[1], free)


def check_deploy_image(lane, files):
    off, size = lane.vfs
    img = E.lfs_image(size, files)
    lane.write_flash(img)
    got = E.lfs_files(lane.vfs_image())
    assert got == files, sorted(set(got) ^ set(files))
    return "%d files (%d bytes) in a littlefs image of vfs at 0x%x (%d KB)" % (
        len(files), sum(len(v) for v in files.values()), off, size // 1024)


def check_deploy_mpremote(lane, files, board_path, cfg_path):
    lane.write_flash()
    b = lane.power_on()
    b.wait_repl(120)
    b.detach()
    t0 = time.time()
    p = subprocess.run(["make", "deploy", "BOARD=" + board_path, "PORT=" + b.pty,
                        "CONFIG=" + cfg_path], cwd=ROOT, capture_output=True, text=True,
                       timeout=1800)
    FIGURES["board_esp32_deploy_mpremote_s"] = round(time.time() - t0)
    assert p.returncode == 0, (p.stdout + p.stderr)[-1500:]
    lane.power_off()
    got = E.lfs_files(lane.vfs_image())
    for path, data in files.items():
        assert got.get(path) == data, "%s differs on the board" % path
    return "make deploy over UART0's pty: %d files byte-equal, %ds" % (
        len(files), FIGURES["board_esp32_deploy_mpremote_s"])


def boot_app(lane, timeout=300):
    """Power on (main.py runs the app); wait for its first screen."""
    b = lane.power_on()
    b.clear()
    t0 = time.time()
    text = b.wait_text("[ READY", timeout, upto=b" ]")
    return b, text, time.time() - t0


def check_idle(lane):
    b, text, dt = boot_app(lane)
    FIGURES["board_esp32_app_ready_s"] = round(dt, 1)
    assert "counter read from meter first" in text, text[-500:]
    b.wait_repl(60)
    out = b.exec("import gc\ngc.collect()\nprint(gc.mem_alloc(), gc.mem_free())\n")
    alloc, free = (int(x) for x in out.split())
    FIGURES["board_esp32_resident_idle"] = alloc
    b.clear()
    b.write(b"import main\r")  # main.py again, its modules already loaded: the app runs
    b.wait_text("[ READY", 300)
    return "READY in %.0fs (fresh board: counter read from meter first); app idle: %d bytes " \
           "resident, %d free" % (dt, alloc, free)


def _screens(text):
    return [m for m in re.findall(r"\[ ([^\]]*) \]", text)]


def check_first_token(lane):
    b = lane.board
    b.clear()
    t0 = time.time()
    b.keys(TOKENS[0] + "#")
    text = b.wait_text("ACCEPTED", 600, upto=b" ]")
    FIGURES["board_esp32_first_session_s"] = round(time.time() - t0, 1)
    s = _screens(text)
    assert any("reading meter" in x for x in s), s
    assert any("from meter:" in x for x in s), s
    assert not any("run tp.resync" in x for x in s), s
    return " -> ".join(s[-5:])


def check_refused(lane):
    b = lane.board
    b.clear()
    t0 = time.time()
    b.keys(TOKENS[0] + "#")
    text = b.wait_text("REJECTED", 600, upto=b" ]")
    FIGURES["board_esp32_session_s"] = round(time.time() - t0, 1)
    s = [x for x in _screens(text) if "REJECTED" in x]
    assert any("already used" in x for x in s), s
    return s[-1]


def check_silent(lane):
    b = lane.board
    lane.relay.silent = True
    try:
        b.clear()
        b.keys(TOKENS[1] + "#")
        text = b.wait_text("NO ANSWER", 600, upto=b" ]")
    finally:
        lane.relay.silent = False
    na = [x for x in _screens(text) if "NO ANSWER" in x][-1]
    b.clear()
    b.keys("R")  # the resend key: the pending token goes now
    text = b.wait_text("ACCEPTED", 600, upto=b" ]")
    s = _screens(text)
    assert any("1241" in x for x in s), s  # TOKENS[1] shown while sending
    return "%s; then R: %s" % (na, s[-1])


def check_repl(lane):
    b = lane.board
    b.wait_repl(60)
    out = b.exec("import tokenpad as tp\ntp.status()\ntp.history()\ntp.resync()\n"
                 "tp.enter('%s')\n" % TOKENS[2], timeout=900)
    lines = out.strip().splitlines()
    assert any(ln.startswith("counter: next") for ln in lines), out
    assert any(ln.startswith("#1 1781 3034 3131 9155 8529 REFUSED") for ln in lines) or any(
        ln.startswith("#1 1781 3034 3131 9155 8529 ACCEPTED") for ln in lines), out
    assert any(ln.startswith("RESYNCED") for ln in lines), out
    assert lines[-1].startswith("ACCEPTED"), out
    return " / ".join(ln.strip() for ln in out.strip().splitlines()[-3:])


def check_memory_after(lane):
    b = lane.board
    out = b.exec("import gc\ngc.collect()\nprint(gc.mem_alloc(), gc.mem_free())\n")
    alloc, free = (int(x) for x in out.split())
    FIGURES["board_esp32_resident_after_session"] = alloc
    FIGURES["board_esp32_free_after_session"] = free
    return "after the sessions: %d bytes held, %d free" % (alloc, free)


OPEN_STORE = ("from tokenpad import store\n"
              "st = store.Store(store.FileMedium('/tokenpad.dat'))\n")
CUT_LOOP = OPEN_STORE + """
T = %r
for i in range(%d):
    v = st.next()
    print('IC', v)
    j = st.add(T[i %% len(T)])
    print('J', j)
    st.set(j, 'accepted', 'cut-test')
    print('S', j)
"""


def cut_once(lane, rng, n):
    """Start the store loop, kill QEMU after ``n`` writes to the flash file; reboot; check."""
    b = lane.board
    b.wait_repl(60)
    b.write(b"\r\x03\x03")
    time.sleep(0.1)
    b.clear()
    b.write(b"\x01")
    b.read_until(b"raw REPL; CTRL-B to exit\r\n>", 60)
    b.write((CUT_LOOP % (TOKENS, 400)).encode() + b"\x04", pace=0.01)
    b.read_until(b"OK", 60)
    m0 = os.stat(lane.flash).st_mtime_ns
    writes = 0
    end = time.time() + 600
    while writes < n and time.time() < end:
        b._fill(0.002)
        m = os.stat(lane.flash).st_mtime_ns
        if m != m0:
            writes += 1
            m0 = m
    time.sleep(rng.random() * 0.05)
    printed = b.seen.decode(errors="replace")
    lane.power_off()  # the power cut
    assert writes >= n, "only %d flash writes seen in 600 s" % writes
    ics = [int(x) for x in re.findall(r"IC (\d+)", printed)]
    added = [int(x) for x in re.findall(r"J (\d+)", printed)]
    settled = [int(x) for x in re.findall(r"S (\d+)", printed)]
    b = lane.power_on()
    b.wait_repl(120)  # stop main.py at once: the store alone is read back
    out = b.exec(OPEN_STORE + "print(st.known, st.damaged, st.value)\n"
                 "print([(e[0], e[2]) for e in st.journal])\n")
    first, second = out.strip().splitlines()[:2]
    known, damaged, value = first.split()
    journal = dict(eval(second))  # noqa: S307 - our own printout: [(id, state), ...]
    assert known == "True" and damaged == "False", first
    if ics:
        assert int(value) > max(ics), "counter %s after a cut, %d was handed out" % (value,
                                                                                  max(ics))
    if added:
        assert added[-1] in journal, "token %d journaled, gone after the cut" % added[-1]
    if settled and settled[-1] in journal:
        assert journal[settled[-1]] == "accepted", (settled[-1], journal)
    return "cut after %d flash writes: %d counters and %d tokens before; after reboot next " \
           "counter %s, journal %s" % (writes, len(ics), len(added), value,
                                       sorted(journal.items())[-3:])


def run(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deploy", choices=("image", "mpremote"), default="image")
    ap.add_argument("--cuts", type=int, default=2, help="power cuts (seeded)")
    ap.add_argument("--seed", type=int, default=27)
    ap.add_argument("--figures", default=os.path.join(OUT, "figures.json"))
    a = ap.parse_args(argv)
    s = E.setup()
    if not isinstance(s, tuple):
        print(NOT_RUN if s is None else "esp32: not run: %s; ESP32_QEMU=... ESP32_ROM_DIR=... "
              "ESP32_FIRMWARE=... runs it" % s)
        return None
    del RESULTS[:]
    FIGURES.clear()
    from tools.common import start_sim

    board_path, cfg_path = lane_files()
    sim, url = start_sim()
    lane = None
    try:
        lane = Lane(*s, sim_url=url)
        if not check("boot", check_boot, lane):
            return _done(a)
        files = deploy_files(board_path, cfg_path)
        if a.deploy == "mpremote":
            ok = check("deploy (make deploy)", check_deploy_mpremote, lane, files, board_path,
                       cfg_path)
        else:
            ok = check("deploy (littlefs image)", check_deploy_image, lane, files)
        if not ok or not check("memory: app idle", check_idle, lane):
            return _done(a)
        check("keypad first token", check_first_token, lane)
        check("keypad same token refused", check_refused, lane)
        check("keypad NO ANSWER, R resends", check_silent, lane)
        check("repl helpers", check_repl, lane)
        check("memory: after sessions", check_memory_after, lane)
        rng = random.Random(a.seed)
        for i in range(a.cuts):
            check("powercut %d" % (i + 1), cut_once, lane, rng, rng.randint(1, 24))
    finally:
        if lane is not None:
            lane.close()
        sim.terminate()
        sim.wait(5)
    return _done(a)


def _done(a):
    os.makedirs(os.path.dirname(a.figures), exist_ok=True)
    with open(a.figures, "w") as f:
        json.dump(FIGURES, f, indent=1, sort_keys=True)
    passed = sum(1 for r in RESULTS if r[1])
    failed = len(RESULTS) - passed
    print("esp32: %d passed, %d failed" % (passed, failed))
    return passed, failed


def run_lane(argv=()):
    """For tools/run_tests.py: (passed, failed), or None when the lane cannot run here."""
    return run(list(argv))


if __name__ == "__main__":
    r = run()
    sys.exit(0 if r is None or r[1] == 0 else 1)
