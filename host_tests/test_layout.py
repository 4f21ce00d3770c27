"""The layout (issues 17 and 25): the library is one folder a layer, imports only going down the
data flow UART -> HDLC -> APDU -> security -> session -> token, host code apart, no file over
~400 lines in lib/; no import cycle anywhere in lib/, firmware/ and tools/ (lazy imports
included); in tools/ and lib/udlms/host/ a folder says what its files do: no family of
modules named by a shared prefix. Read from the sources with ast, so a new import that
breaks the rule fails here, not on a board."""

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


def _tree_modules():
    """Every module of lib/, firmware/ and tools/ by its import name -> path (tools/ is run
    from the root as a package: ``python -m tools.bench``)."""
    mods = {}
    for base, sub in ((LIB, "udlms"), (os.path.join(ROOT, "firmware"), ""), (ROOT, "tools")):
        for d, dirs, files in os.walk(os.path.join(base, sub)):
            dirs[:] = [x for x in dirs if x not in ("node_modules", "__pycache__")]
            for f in files:
                if f.endswith(".py"):
                    path = os.path.join(d, f)
                    name = os.path.relpath(path, base)[:-3].replace(os.sep, ".")
                    mods[name[:-9] if name.endswith(".__init__") else name] = path
    return mods


def _imports(path, mods, name=None):
    """Every module of ``mods`` that ``path`` (module ``name``) imports, at the top or inside
    a function; relative imports are resolved against ``name``'s package."""
    out = set()
    for n in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(n, ast.Import):
            out |= {a.name for a in n.names if a.name in mods}
        elif isinstance(n, ast.ImportFrom) and (n.level or n.module):
            module = n.module
            if n.level:
                assert name, "relative import in %s: give its module name" % path
                pkg = name if path.endswith("__init__.py") else name.rpartition(".")[0]
                for _ in range(n.level - 1):
                    pkg = pkg.rpartition(".")[0]
                module = pkg + ("." + n.module if n.module else "")
            for a in n.names:
                full = module + "." + a.name
                if full in mods:
                    out.add(full)
                elif module in mods and not mods[module].endswith("__init__.py"):
                    out.add(module)
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
        for t in _imports(path, mods, m):
            there = _layer(t)
            if there is not None and RANK[there] > RANK[here]:
                up.append("%s imports %s" % (m, t))
    assert not up, up


def _cycles(mods):
    graph = {m: _imports(p, mods, m) - {m} for m, p in mods.items()}
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
    return cycles


def test_no_import_cycles():
    assert not _cycles(_modules())


def test_no_import_cycles_anywhere_in_the_tree():
    mods = _tree_modules()
    assert "tools.run_tests" in mods and "tools.bench.main" in mods and "tokenpad.app" in mods
    assert not _cycles(mods)


def test_the_cycle_check_sees_a_cycle_through_a_lazy_import(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("import b\n")
    b.write_text("def f():\n    from a import x\n")
    assert _cycles({"a": str(a), "b": str(b)}) == [["a", "b", "a"]]


def test_the_test_runner_imports_nothing_from_the_bench():
    mods = _tree_modules()
    seen, todo = set(), ["tools.run_tests"]
    while todo:  # everything the runner loads, directly or through what it imports
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += sorted(_imports(mods[m], mods, m))
    assert not [m for m in seen if m.startswith("tools.bench")], sorted(seen)


def _families(folder):
    """Modules of ``folder`` (recursively, one folder at a time) named by a shared prefix:
    two or more ``P_*.py``, or one named after its folder (``bench/bench_cpu.py``)."""
    out = []
    for d, dirs, files in os.walk(folder):
        dirs[:] = [x for x in dirs if x not in ("node_modules", "__pycache__")]
        names = [f[:-3] for f in files if f.endswith(".py") and not f.startswith("__")]
        by = {}
        for n in names:
            if "_" in n.strip("_"):
                by.setdefault(n.strip("_").split("_")[0], []).append(n)
        rel = os.path.relpath(d, ROOT)
        out += ["%s/: %s" % (rel, sorted(v)) for v in by.values() if len(v) > 1]
        out += ["%s/%s.py" % (rel, n) for n in names
                if n.startswith(os.path.basename(d) + "_")]
    return out


def test_no_family_of_modules_by_name_prefix():
    for folder in ("tools", os.path.join("lib", "udlms", "host")):
        assert not _families(os.path.join(ROOT, folder)), folder


def test_the_family_rule_sees_a_family(tmp_path):
    for f in ("bench_cpu.py", "bench_mpy.py", "demo.py"):
        (tmp_path / f).write_text("")
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "bench_wire.py").write_text("")
    got = _families(str(tmp_path))
    assert len(got) == 2 and "bench_cpu" in got[0] and got[1].endswith("bench/bench_wire.py")


def test_host_code_is_a_folder_boards_never_get():
    from tools.build import mpy as build_mpy

    device = build_mpy.device_modules()
    assert device and not [m for m in device if m.startswith("host/")]
    for m, path in _modules().items():
        if _layer(m) not in ("host", "__main__", None):
            text = open(path, encoding="utf-8").read()
            for word in ("argparse", "serial", "cryptography"):
                assert "import %s" % word not in text, (m, word)


def test_the_frozen_manifest_leaves_host_out():
    calls = []
    env = {"include": lambda *a, **k: None,
           "package": lambda name, files=None, base_path=".", opt=None:
               calls.append((name, files or [], base_path))}
    exec(compile(open(os.path.join(ROOT, "firmware", "manifest.py")).read(), "manifest.py",
                 "exec"), env)
    names = {c[0] for c in calls}
    assert {"udlms", "udlms/link", "udlms/client", "tokenpad"} <= names, names
    assert not [c for c in calls if "host" in c[0] or [f for f in c[1] if "host" in f
                                                       or "__main__" in f]], calls


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
