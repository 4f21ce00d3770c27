"""The library's layout (issue 17): one folder a layer, imports only going down the data flow
UART -> HDLC -> APDU -> security -> session -> token, no import cycles (lazy imports
included), host code apart, and no file over ~400 lines in lib/. Read from the sources with
ast, so a new import that breaks the rule fails here, not on a board."""

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "lib")
# rank of each layer: a module may import its own layer or lower ones only
RANK = {"errors": 0, "port": 0, "link": 1, "cosem": 2, "crypto": 3, "results": 4,
        "client": 5, "host": 6, "__main__": 7}


def _modules():
    mods = {}
    for d, _, files in os.walk(os.path.join(LIB, "udlms")):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(d, f)
                name = os.path.relpath(path, LIB)[:-3].replace(os.sep, ".")
                mods[name[:-9] if name.endswith(".__init__") else name] = path
    return mods


def _imports(path, mods):
    """Every udlms module ``path`` imports, at the top or inside a function."""
    out = set()
    for n in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(n, ast.Import):
            out |= {a.name for a in n.names if a.name in mods}
        elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
            for a in n.names:
                full = n.module + "." + a.name
                if full in mods:
                    out.add(full)
                elif n.module in mods and not mods[n.module].endswith("__init__.py"):
                    out.add(n.module)
    return out


def _layer(name):
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


def test_imports_only_go_down():
    mods = _modules()
    up = []
    for m, path in mods.items():
        here = _layer(m)
        if here is None:  # the package itself: udlms/__init__ registers the host back-ends
            continue
        for t in _imports(path, mods):
            there = _layer(t)
            if there is not None and RANK[there] > RANK[here]:
                up.append("%s imports %s" % (m, t))
    assert not up, up


def test_no_import_cycles():
    mods = _modules()
    graph = {m: _imports(p, mods) - {m} for m, p in mods.items()}
    seen, stack, cycles = {}, [], []

    def visit(v):  # depth-first search; a grey node met again closes a cycle
        seen[v] = "grey"
        stack.append(v)
        for w in sorted(graph[v]):
            if seen.get(w) == "grey":
                cycles.append(stack[stack.index(w):] + [w])
            elif w not in seen:
                visit(w)
        stack.pop()
        seen[v] = "black"

    for v in sorted(graph):
        if v not in seen:
            visit(v)
    assert not cycles, cycles


def test_host_code_is_a_folder_boards_never_get():
    from tools.build import mpy as build_mpy

    device = build_mpy.device_modules()
    assert device and not [m for m in device if m.startswith("host/")]
    for m, path in _modules().items():
        if _layer(m) not in ("host", "__main__", None):
            text = open(path, encoding="utf-8").read()
            for word in ("argparse", "serial", "cryptography"):
                assert "import %s" % word not in text, (m, word)


def test_no_file_over_400_lines():
    long = []
    for base in ("lib", "firmware"):
        for d, _, files in os.walk(os.path.join(ROOT, base)):
            for f in files:
                if f.endswith(".py"):
                    p = os.path.join(d, f)
                    n = sum(1 for _ in open(p, encoding="utf-8"))
                    if n > 420:  # "about 400"
                        long.append((os.path.relpath(p, ROOT), n))
    assert not long, long
