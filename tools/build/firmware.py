"""``make firmware BOARD=RPI_PICO``: a MicroPython firmware with udlms and tokenpad frozen in.

Builds from the MicroPython source tarball in ../shared/firmware/micropython/ (or
``MICROPY_SRC=`` a tarball or an unpacked tree with the rp2 submodules) with
``FROZEN_MANIFEST=firmware/manifest.py``: the code then runs from flash and the heap is left
for the session. Debian's arm toolchain (gcc-arm-none-eabi, libnewlib-arm-none-eabi, cmake)
is installed with apt-get on first use when missing (as root). picotool is built from the
tarball too (pico-sdk 2.x needs it for the .uf2 and would otherwise clone it).

Output: build/firmware/<BOARD>/firmware.uf2 (the board lane runs on it when it exists:
``BOARD_FIRMWARE_FROZEN``). Only the rp2 port is built here.
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "firmware", "micropython")
WORK = os.path.join(ROOT, "build", "firmware")
APT = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "build-essential", "cmake")


def sh(cmd, **kw):
    print("+ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, **kw)
    if r.returncode:
        raise SystemExit("firmware: failed (%d): %s" % (r.returncode, " ".join(cmd)))


def toolchain():
    if shutil.which("arm-none-eabi-gcc") and shutil.which("cmake"):
        return
    if os.geteuid() != 0:
        raise SystemExit("firmware: the arm toolchain is missing: sudo apt-get install %s"
                         % " ".join(APT))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    sh(["apt-get", "update", "-qq"], env=env)
    sh(["apt-get", "install", "-y", "-qq"] + list(APT), env=env)


def source(src):
    """An unpacked tree with ports/rp2 and (if in the tarball) picotool-*."""
    if src and os.path.isdir(src):
        return src, None
    tar = src or (sorted(glob.glob(os.path.join(SHARED, "micropython-*-rp2-src.tar.gz")))
                  or [None])[-1]
    if not tar or not os.path.exists(tar):
        raise SystemExit("firmware: no MicroPython source: set MICROPY_SRC= (tarball or tree)"
                         " or provide ../shared/firmware/micropython/")
    dest = os.path.join(WORK, "src")
    stamp = os.path.join(dest, ".unpacked-" + os.path.basename(tar))
    if not os.path.exists(stamp):
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        sh(["tar", "xzf", tar, "-C", dest])
        open(stamp, "w").close()
    tree = sorted(glob.glob(os.path.join(dest, "micropython-*")))
    pico = sorted(glob.glob(os.path.join(dest, "picotool-*")))
    if not tree:
        raise SystemExit("firmware: %s holds no micropython-*/ tree" % tar)
    return tree[-1], (pico[-1] if pico else None)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--board", default="RPI_PICO")
    ap.add_argument("--src", default=os.environ.get("MICROPY_SRC"))
    ap.add_argument("-j", default=str(os.cpu_count() or 2))
    a = ap.parse_args(argv)
    board = {"rpi_pico": "RPI_PICO"}.get(a.board, a.board)
    if board != "RPI_PICO":
        raise SystemExit("firmware: only BOARD=RPI_PICO is built here (got %s)" % a.board)
    toolchain()
    tree, pico = source(a.src)
    env = dict(os.environ)
    if pico:
        inst = os.path.join(WORK, "picotool-install")
        if not os.path.isdir(os.path.join(inst, "lib", "cmake", "picotool")):
            pb = os.path.join(WORK, "picotool-build")
            sh(["cmake", "-S", pico, "-B", pb,
                "-DPICO_SDK_PATH=" + os.path.join(tree, "lib", "pico-sdk"),
                "-DCMAKE_INSTALL_PREFIX=" + inst, "-DPICOTOOL_NO_LIBUSB=1"])
            sh(["cmake", "--build", pb, "-j", a.j])
            sh(["cmake", "--install", pb])
        env["CMAKE_ARGS"] = "-Dpicotool_DIR=" + os.path.join(inst, "lib", "cmake", "picotool")
    sh(["make", "-C", os.path.join(tree, "mpy-cross"), "-j", a.j], env=env)
    build = "build-tokenpad"
    sh(["make", "-C", os.path.join(tree, "ports", "rp2"), "BOARD=" + board, "BUILD=" + build,
        "FROZEN_MANIFEST=" + os.path.join(ROOT, "firmware", "manifest.py"), "-j", a.j],
       env=env)
    uf2 = os.path.join(tree, "ports", "rp2", build, "firmware.uf2")
    out = os.path.join(WORK, board, "firmware.uf2")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    shutil.copy(uf2, out)
    print("firmware: %s (%d bytes), udlms and tokenpad frozen in"
          % (os.path.relpath(out, ROOT), os.path.getsize(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
