"""make bench, section 3: .mpy and .py sizes per device module."""

import concurrent.futures
import os
import shutil
import subprocess
import tempfile
from tools.bench.common import MPY_CROSS, ROOT, WORK, emit
from tools.build import mpy as build_mpy, msgtable


# -- 3. sizes ---------------------------------------------------------------------------------


def _mod_file(mod):
    """``udlms.link.hdlc`` -> ``link/hdlc.py``; a package -> its ``__init__.py``."""
    rel = mod.split(".", 1)[1].replace(".", "/") if "." in mod else ""
    if os.path.isdir(os.path.join(ROOT, "lib", "udlms", rel)):
        rel = (rel + "/" if rel else "") + "__init__"
    return rel + ".py"


def bench_sizes(session_mods):
    out_dir = tempfile.mkdtemp(prefix="bench-mpy-", dir=WORK)
    try:
        _sizes(out_dir, session_mods)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def _sizes(out_dir, session_mods):
    mods = build_mpy.device_modules()
    staged = os.path.join(out_dir, "staged")  # as boards get it: messages moved out
    msgtable.stage(staged)

    def compile_one(name, arch):
        src = os.path.join(staged, name)
        dst = os.path.join(out_dir, (arch or "bytecode") + "_" + name[:-3].replace("/", "_")
                           + ".mpy")
        cmd = [MPY_CROSS, build_mpy.OPT] + (["-march=" + arch] if arch else []) + [
            "-o", dst, "-s", build_mpy.source_name("udlms/" + name), src]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError("mpy-cross %s: %s" % (name, p.stderr.strip()))
        return os.path.getsize(dst)

    native = [m for m in mods if "@micropython.viper" in open(
        os.path.join(ROOT, "lib", "udlms", m)).read()]
    jobs = {}
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        for name in mods:
            for arch in (None, "xtensawin"):
                if arch is None and name in native:
                    continue  # viper code needs a target architecture
                jobs[(name, arch)] = ex.submit(compile_one, name, arch)
    totals = {None: 0, "xtensawin": 0}
    sess_total = 0
    py_total = 0
    sess_names = {_mod_file(m) for m in session_mods}
    sess_x = 0
    for name in mods:
        mod = build_mpy.source_name("udlms/" + name)
        for arch in (None, "xtensawin"):
            if (name, arch) not in jobs:
                continue
            n = jobs[(name, arch)].result()
            totals[arch] += n
            emit("mpy_module_bytes", n, "B", module=mod, target=arch or "bytecode")
            if name in sess_names:
                if arch is None:
                    sess_total += n
                else:
                    sess_x += n
        n = os.path.getsize(os.path.join(ROOT, "lib", "udlms", name))
        py_total += n
        emit("py_module_bytes", n, "B", module=mod)
    ver = subprocess.run([MPY_CROSS, "--version"], capture_output=True, text=True).stdout.strip()
    emit("mpy_total_bytes", totals[None], "B", modules=len(mods) - len(native),
         target="bytecode (no -march)", mpy_cross=ver, excluded_native=native,
         note="device modules (tools/build/mpy.py: no cli, __main__, decode*); viper modules "
              "only compile for an architecture (see the xtensawin lines)")
    emit("mpy_xtensawin_total_bytes", totals["xtensawin"], "B", modules=len(mods),
         target="xtensawin")
    emit("mpy_session_path_total_bytes", sess_total, "B", modules=sorted(session_mods),
         target="bytecode (no -march), viper modules excluded", xtensawin_total=sess_x)
    emit("py_total_bytes", py_total, "B", modules=len(mods))
