"""make bench, section "modules" (issue 26): per device module, its .mpy bytes, the names it
loads into the heap (qstrs not in the firmware) and the heap it takes when imported from a
filesystem, in the 32-bit WebAssembly port and in the x64 unix port.

Each module is imported after the modules it imports at its top level (one interpreter,
leaves first), so a module's figure is its own: its code, constants, names and globals.
Garbage is collected before and after each import (in the WebAssembly port: in runs of
their own, the only time that port frees garbage). The interned names live in qstr pools
that grow by doubling: a module whose import starts a new pool shows the pool's size too
(the sum over modules is exact)."""

import ast
import json
import os
import subprocess
from tools.bench.common import LANE, MICROPYTHON, ROOT, emit
from tools.build import mpy as build_mpy

ROWS = []  # (module, mpy bytes, names, name bytes, heap wasm32, heap x64) for the table


def mpy_names(path):
    """The names a .mpy (format 6) interns when loaded: its qstr table minus those the
    firmware already has (static qstrs) -> list of str."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:2] != b"M\x06":
        raise ValueError("%s: not a .mpy of format 6" % path)
    i = 4

    def vuint():
        nonlocal i
        n = 0
        while True:
            c = b[i]
            i += 1
            n = (n << 7) | (c & 0x7F)
            if not c & 0x80:
                return n

    n_qstr = vuint()
    vuint()  # objects
    out = []
    for _ in range(n_qstr):
        n = vuint()
        if n & 1:  # a static qstr: index only
            continue
        n >>= 1
        out.append(b[i:i + n].decode())
        i += n + 1
    return out


def device_order():
    """Device modules (udlms on boards, tokenpad) with each after its top-level imports."""
    srcs = {}
    for name in build_mpy.device_modules():
        mod = "udlms." + name[:-3].replace("/", ".")
        mod = mod[:-len(".__init__")] if mod.endswith(".__init__") else mod
        srcs[mod] = os.path.join(ROOT, "lib", "udlms", name)
    for f in sorted(os.listdir(os.path.join(ROOT, "firmware", "tokenpad"))):
        if f.endswith(".py"):
            mod = "tokenpad" if f == "__init__.py" else "tokenpad." + f[:-3]
            srcs[mod] = os.path.join(ROOT, "firmware", "tokenpad", f)
    deps = {}
    for mod, path in srcs.items():
        with open(path) as f:
            tree = ast.parse(f.read())
        d = set()
        body = list(tree.body)
        for node in body:  # top level only: imports inside functions load later
            if isinstance(node, (ast.Try, ast.If)):
                body.extend(node.body + getattr(node, "orelse", [])
                            + [x for h in getattr(node, "handlers", []) for x in h.body])
                continue
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [node.module + "." + a.name for a in node.names]
            d.update(n for n in names if n in srcs and n != mod)
        parts = mod.split(".")
        d.update(".".join(parts[:k]) for k in range(1, len(parts)))  # its packages
        deps[mod] = d
    order = []

    def visit(m):
        if m in order:
            return
        for d in sorted(deps[m]):
            visit(d)
        order.append(m)

    for m in sorted(srcs):
        visit(m)
    return order


def _script(mods, wasm):
    """A script importing ``mods`` in order, printing ``MOD name bytes`` for each."""
    sep = "\n# --- next run ---\n" if wasm else "\n"
    parts = ["import gc\nimport sys\nR = []\ngc.collect()\nB = [gc.mem_alloc()]"]
    for m in mods:
        parts.append("gc.collect()\nB[0] = gc.mem_alloc()\nimport %s" % m)
        parts.append("gc.collect()\nR.append(('%s', gc.mem_alloc() - B[0]))" % m)
    parts.append("for n, v in R:\n    print('MOD %s %d' % (n, v))")
    return sep.join(parts) + "\n"


def _parse(out):
    got = {}
    for line in out.splitlines():
        if line.startswith("MOD "):
            _, m, v = line.split()
            got[m] = int(v)
    return got


def heap_wasm(lib, mods):
    """Per-module heap in the WebAssembly port, .mpy files in its filesystem."""
    from tools.bench.wasm import WASM_DIR, WASM_WORK

    path = os.path.join(WASM_WORK, "modules.py")
    with open(path, "w") as f:
        f.write(_script(mods, True))
    p = subprocess.run(["node", os.path.join(WASM_DIR, "run.mjs"), "1048576", path, "--lib",
                        lib], capture_output=True, text=True, timeout=300)
    got = _parse(p.stdout)
    if p.returncode or len(got) != len(mods):
        raise RuntimeError("WebAssembly per-module imports failed: %s"
                           % (p.stdout + p.stderr)[-1500:])
    return got


def heap_unix(mods):
    """Per-module heap in the x64 unix port, .mpy files from build/mpy-lane."""
    env = dict(os.environ, MICROPYPATH=LANE)
    p = subprocess.run([MICROPYTHON, "-X", "heapsize=1m", "-c", _script(mods, False)],
                       capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    got = _parse(p.stdout)
    if p.returncode or len(got) != len(mods):
        raise RuntimeError("unix port per-module imports failed: %s"
                           % (p.stdout + p.stderr)[-1500:])
    return got


def _mpy_path(lib, mod):
    rel = mod.replace(".", "/")
    for p in (os.path.join(lib, rel + ".mpy"), os.path.join(lib, rel, "__init__.mpy")):
        if os.path.exists(p):
            return p
    return None


def bench_modules(session_mods):
    """Emit module_* figures per device module and the session path's and idle app's sums."""
    from tools.bench.wasm import wasm_build, wasm_ready

    why = wasm_ready()
    lib = None if why else wasm_build()[0]
    order = device_order()
    in_wasm = [m for m in order if lib and _mpy_path(lib, m)]  # no viper in WebAssembly
    wasm = heap_wasm(lib, in_wasm) if lib else {}
    unix = heap_unix(order)
    del ROWS[:]
    for m in order:
        path = _mpy_path(lib, m) if lib else None
        size = os.path.getsize(path) if path else None
        names = mpy_names(path) if path else []
        emit("module_heap_bytes", wasm.get(m), "B", module=m, impl="wasm32",
             mpy_bytes=size, names=len(names), name_bytes=sum(len(n) + 1 for n in names),
             session_path=m in session_mods,
             note=None if m in wasm else "not measured: " + (why or "viper: no WebAssembly"))
        emit("module_heap_bytes", unix.get(m), "B", module=m, impl="x64 unix")
        ROWS.append((m, size, len(names), wasm.get(m), unix.get(m)))
    return ROWS


def table():
    if not ROWS:
        return ""
    head = ("module", ".mpy bytes", "names", "heap, wasm32", "heap, x64 unix")
    rows = [head] + [tuple("-" if v is None else str(v) for v in r) for r in ROWS]
    w = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["| " + " | ".join(r[i].ljust(w[i]) for i in range(len(head))) + " |"
             for r in rows]
    lines.insert(1, "|" + "|".join("-" * (x + 2) for x in w) + "|")
    return "\n".join(lines)


if __name__ == "__main__":
    bench_modules(set())
    print(table())
    print(json.dumps(device_order()))
