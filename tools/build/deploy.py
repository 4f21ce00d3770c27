"""``make deploy BOARD=rpi_pico PORT=/dev/ttyACM0 [DRY=1]``: put tokenpad on a board.

MicroPython boards (esp32_devkitc, rpi_pico): builds the board's .mpy set (tools/build/mpy.py)
and copies it with mpremote: lib/udlms, lib/tokenpad, main.py, boot.py, the board file as
/board.json and the meter settings as /config.json, then resets the board.
CircuitPython boards (feather_rp2040): PORT is the mounted CIRCUITPY drive (e.g.
/media/$USER/CIRCUITPY); the .py files are copied there (main.py as code.py).

``--romfs`` (MicroPython >= 1.25 firmware with a romfs partition) deploys lib/ as one ROMFS
image with ``mpremote romfs deploy`` instead: the code then runs in place from flash and
the heap is left for the session (see README, Memory).
``--dry-run`` validates the board and config files, prints the plan and exits 0 without
touching any device. The config defaults to firmware/config.json, else the example.
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "firmware"))
sys.path.insert(0, os.path.join(ROOT, "lib"))

from tools.build import mpy as build_mpy  # noqa: E402

def board_target(b, name):
    if b["runtime"] == "circuitpython":
        return "circuitpython"
    return "esp32" if "esp32" in name else "rp2040"


def load_board(name):
    from tokenpad import board as tb

    path = name if name.endswith(".json") else os.path.join(ROOT, "boards", name + ".json")
    if not os.path.exists(path):
        have = sorted(f[:-5] for f in os.listdir(os.path.join(ROOT, "boards"))
                      if f.endswith(".json"))
        raise SystemExit("deploy: no board file %s (boards: %s)" % (path, ", ".join(have)))
    return tb.load(path), path


def pick_config(arg):
    if arg:
        return arg
    for name in ("config.json", "config.example.json"):
        p = os.path.join(ROOT, "firmware", name)
        if os.path.exists(p):
            return p
    return None


def check_config(path):
    from tokenpad import settings as tc

    c = tc.load(path)
    for e in c.errors:
        print("deploy: warning: %s: %s (the device will refuse to send)" % (path, e))
    if path.endswith("config.example.json"):
        print("deploy: note: using the example settings (simulator keys); put your meter's "
              "in firmware/config.json")
    return c.ok


def plan_micropython(port, build_dir, target, board_path, config_path, romfs=False):
    """The mpremote commands, as argument lists. ``romfs``: lib/ goes into the board's romfs
    partition as one image (runs in place from flash) instead of files on its filesystem."""
    base = ["mpremote", "connect", port]
    src = os.path.join(build_dir, target)
    if romfs:
        cmds = [base + ["romfs", "deploy", os.path.join(src, build_mpy.ROMFS_IMAGE)]]
    else:
        cmds = [base + ["fs", "mkdir", ":lib"]]
    for pkg in () if romfs else ("udlms", "tokenpad"):
        for sub, files in _tree(os.path.join(src, "lib"), pkg):  # udlms/link/, ... too
            cmds.append(base + ["fs", "mkdir", ":lib/" + sub])
            for f in files:
                cmds.append(base + ["fs", "cp", os.path.join(src, "lib", sub, f),
                                    ":lib/%s/%s" % (sub, f)])
    for f in ("boot.py", "main.py"):
        cmds.append(base + ["fs", "cp", os.path.join(src, f), ":" + f])
    cmds.append(base + ["fs", "cp", board_path, ":board.json"])
    if config_path:
        cmds.append(base + ["fs", "cp", config_path, ":config.json"])
    cmds.append(base + ["reset"])
    return cmds


def _tree(lib, pkg):
    """[(folder under lib/, [its files])] for a package and its subpackages (udlms/link/,
    udlms/cosem/, ...), parents first; nothing when ``make mpy`` did not build it."""
    out = []
    top = os.path.join(lib, pkg)
    for d, dirs, files in os.walk(top):
        dirs.sort()
        rel = os.path.relpath(d, lib).replace(os.sep, "/")
        out.append((rel, sorted(f for f in files)))
    return out


def plan_circuitpython(drive, build_dir, board_path, config_path):
    """(source, destination) copies onto the CIRCUITPY drive."""
    src = os.path.join(build_dir, "circuitpython")
    ops = []
    for pkg in ("udlms", "tokenpad"):
        for sub, files in _tree(os.path.join(src, "lib"), pkg):
            for f in files:
                ops.append((os.path.join(src, "lib", sub, f),
                            os.path.join(drive, "lib", *(sub.split("/") + [f]))))
    ops.append((os.path.join(src, "boot.py"), os.path.join(drive, "boot.py")))
    ops.append((os.path.join(src, "main.py"), os.path.join(drive, "code.py")))
    ops.append((board_path, os.path.join(drive, "board.json")))
    if config_path:
        ops.append((config_path, os.path.join(drive, "config.json")))
    return ops


def missing_message(board, port):
    """What to type when BOARD= or PORT= was left out (instead of an argparse error)."""
    have = sorted(f[:-5] for f in os.listdir(os.path.join(ROOT, "boards"))
                  if f.endswith(".json"))
    lines = ["deploy: " + ("which board? BOARD= is missing" if not board else
                           "where is the board? PORT= is missing")]
    if not board:
        lines.append("  BOARD= one of: %s (files in boards/; or a path to your own .json)"
                     % ", ".join(have))
    if not port:
        lines.append("  PORT=  the board's USB serial port: /dev/ttyACM0 (Linux), "
                     "/dev/cu.usbmodem1101 (macOS), COM3 (Windows); "
                     "`.venv/bin/mpremote devs` lists them. CircuitPython: the mounted "
                     "CIRCUITPY drive, e.g. /media/$USER/CIRCUITPY")
    lines.append("  e.g.   make deploy BOARD=rpi_pico PORT=/dev/ttyACM0")
    lines.append("         make deploy BOARD=rpi_pico DRY=1     (check the files, print the "
                 "plan, no board needed)")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="deploy", description=__doc__.split("\n")[0])
    p.add_argument("--board", help="a name from boards/ or a .json path")
    p.add_argument("--port", nargs="?", default=None, const=None,
                   help="serial port (MicroPython) or mounted CIRCUITPY path (CircuitPython)")
    p.add_argument("--config", help="meter settings (default firmware/config.json)")
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    p.add_argument("--dry-run", action="store_true", help="print the plan, touch nothing")
    p.add_argument("--romfs", action="store_true",
                   help="MicroPython >= 1.25 with a romfs partition: lib/ as a ROMFS image "
                        "(code runs from flash, the heap stays for data)")
    a = p.parse_args(argv)
    if not a.board:
        raise SystemExit(missing_message(a.board, a.port))
    from udlms.errors import ConfigError

    try:
        b, board_path = load_board(a.board)
    except ConfigError as e:
        raise SystemExit("deploy: %s" % e.message)
    if not a.port and not a.dry_run and b["runtime"] != "circuitpython":
        raise SystemExit(missing_message(a.board, a.port))
    name = os.path.basename(board_path)[:-5]
    target = board_target(b, name)
    config_path = pick_config(a.config)
    if config_path:
        check_config(config_path)
    else:
        print("deploy: warning: no config.json: the device will refuse to send until one "
              "is copied")
    files = build_mpy.build(target, a.build_dir)
    print("deploy: board %s (%s), %d files built for %s" % (name, b["name"], len(files),
                                                             target))
    port = a.port
    if b["runtime"] == "circuitpython":
        drive = port or "/media/%s/CIRCUITPY" % os.environ.get("USER", "user")
        ops = plan_circuitpython(drive, a.build_dir, board_path, config_path)
        for s, d in ops:
            print("  copy %s -> %s" % (os.path.relpath(s, ROOT), d))
        if a.dry_run:
            print("deploy: dry run, %d copies planned onto %s" % (len(ops), drive))
            return 0
        if not os.path.isdir(drive):
            raise SystemExit("deploy: %s is not a mounted CIRCUITPY drive: pass PORT=<mount "
                             "path>" % drive)
        for s, d in ops:
            os.makedirs(os.path.dirname(d), exist_ok=True)
            shutil.copyfile(s, d)
            stale = {".mpy": ".py", ".py": ".mpy"}.get(os.path.splitext(d)[1])
            if stale and "/lib/" in d.replace(os.sep, "/"):
                old = os.path.splitext(d)[0] + stale  # an earlier deploy's other form
                if os.path.exists(old):
                    os.remove(old)
        print("deploy: done; the board restarts when the drive is written")
        return 0
    if a.romfs and b["runtime"] == "circuitpython":
        raise SystemExit("deploy: --romfs is for MicroPython boards")
    cmds = plan_micropython(port or "auto", a.build_dir, target, board_path, config_path,
                            a.romfs)
    for c in cmds:
        print("  " + " ".join(shlex.quote(x) for x in c))
    if a.dry_run:
        print("deploy: dry run, %d mpremote commands planned" % len(cmds))
        return 0
    tool = os.path.join(ROOT, ".venv", "bin", "mpremote")
    tool = tool if os.path.exists(tool) else "mpremote"
    if a.romfs:
        r = subprocess.run([tool, "connect", port or "auto", "romfs", "query"],
                           capture_output=True, text=True)
        text = (r.stdout + r.stderr).strip()
        if r.returncode or "Partition" not in text:
            raise SystemExit(
                "deploy: no ROMFS partition to write (`mpremote romfs query` says: %s). "
                "It needs mpremote >= 1.25 and a firmware built with a romfs partition; the "
                "official MicroPython builds (v1.28.0 RPI_PICO, ESP32_GENERIC) have none: "
                "deploy without ROMFS=1 (the .mpy files go on the filesystem)."
                % (text[-200:] or "nothing"))
    rest = []
    for c in cmds:
        if c[3:5] != ["fs", "mkdir"]:
            rest += (["+"] if rest else []) + c[3:]
            continue
        r = subprocess.run([tool] + c[1:], capture_output=True, text=True)
        if r.returncode and "EEXIST" not in (r.stdout + r.stderr):
            raise SystemExit("deploy: failed: %s\n%s%s" % (" ".join(c), r.stdout, r.stderr))
    r = subprocess.run([tool, "connect", port or "auto"] + rest)  # one connection for copies
    if r.returncode:
        raise SystemExit("deploy: mpremote failed (exit %d)" % r.returncode)
    print("deploy: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
