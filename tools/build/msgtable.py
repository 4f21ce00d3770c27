"""Move the library's error messages out of the device build into ``udlms/messages.txt``.

On MicroPython every string constant of a loaded module is an object in the heap: a
header block and its text (on the x64 unix port 32-byte blocks, so a 60-character
message costs 128 bytes), whether or not the error ever happens. The session path holds
~160 such messages. The device build (``build_mpy``, the MicroPython lane, the bench)
compiles a copy of ``lib/udlms`` in which the message argument of every error is replaced
by its byte offset in ``messages.txt``:

    raise LinkError("frame of %d bytes exceeds ..." % n, "too-long")
    ->  raise LinkError((1234, n), "too-long")

``DlmsError.message`` (lib/udlms/errors.py) reads the line back and formats it when the
message is shown, so ``str(e)`` on the device is the same text as on CPython. Only the
first argument of calls to the error classes of ``errors.py`` and of the helpers in
``HELPERS`` is touched; kinds, codes and every other string stay. The replacement keeps
each line where it was (tracebacks on the device name the source line), and the
CPython sources and tests are unchanged. The record tables of ``TABLES`` (the words for
result codes, the standard's names, the fields apdu's errors name) go to the same file, a
line each; the device copy keeps the offset and ``udlms.cosem.names._text`` reads a table
when a code is to be explained. The other words of the ``WORDS`` modules (off the session
path) are lines there too, read by ``_msg(offset)``; and the device copy imports ``const`` only
where MicroPython's compiler does not fold it (``unconst``).

    python -m tools.build.msgtable OUT_DIR      # write OUT_DIR/udlms/*.py and messages.txt
"""

import ast
import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.path.join(ROOT, "lib", "udlms")
MESSAGES = "messages.txt"
# functions that take a message as their first argument and build a DlmsError of it
HELPERS = ("_error", "_bad")


def error_classes(path=None):
    """Names of DlmsError and its subclasses defined in errors.py (by a class statement or
    as ``Name = _kind("Name", Base, kind)``)."""
    with open(path or os.path.join(LIB, "errors.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    names = {"DlmsError"}
    grew = True
    while grew:
        grew = False
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                name, bases = node.name, node.bases
            elif (isinstance(node, ast.Assign) and len(node.targets) == 1
                  and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call)
                  and _callee(node.value.func) == "_kind"):
                name, bases = node.targets[0].id, node.value.args[1:2]
            else:
                continue
            if name not in names and any(isinstance(b, ast.Name) and b.id in names
                                         for b in bases):
                names.add(name)
                grew = True
    return names


class Table:
    """The messages, one per line (UTF-8), each found by its byte offset."""

    def __init__(self):
        self.data = bytearray()
        self.at = {}

    def add(self, text):
        if text not in self.at:
            self.at[text] = len(self.data)
            self.data += text.encode("utf-8") + b"\n"
        return self.at[text]

    @classmethod
    def read(cls, path):
        """The table of a messages.txt written by ``stage``."""
        t = cls()
        with open(path, "rb") as f:
            for line in f:
                if line == TABLES_MARK:  # the record tables follow (see stage)
                    break
                t.add(line[:-1].decode("utf-8"))
        return t

    def text(self, offset):
        end = self.data.index(b"\n", offset)
        return self.data[offset:end].decode("utf-8")


def _callee(func):
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _movable(node):
    """The message literal of ``node`` (a str constant, or the left side of ``str % x``)
    when it can live in messages.txt (one line), else None."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        node = node.left
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if "\n" not in node.value and "\r" not in node.value:
            return node.value
    return None


# modules whose module-level record tables (``_NAME = "...\n..."``, read only through
# ``udlms.cosem.names._text`` or ``errors._text``) go to messages.txt too, one line each (their
# records split by RS): the device copy keeps the line's offset instead of the text
TABLES = ("results.py", "cosem/names.py", "cosem/apdu.py", "client/token_status.py")
RS = "\x1e"
TABLES_MARK = b"\x00record tables\n"  # ends the file (Table.read stops there)


def _spanner(raw):
    """``span(node)``: the byte range of an ast node in ``raw`` (ast columns count bytes)."""
    starts = [0]
    for line in raw.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def span(node):
        return (starts[node.lineno - 1] + node.col_offset,
                starts[node.end_lineno - 1] + node.end_col_offset)

    return span


def _apply(raw, edits):
    """``raw`` with each (start, end, new bytes) edit made, the last first."""
    for a, b, new in sorted(edits, reverse=True):
        raw = raw[:a] + new + raw[b:]
    return raw.decode("utf-8")


def tables(source, table, base=0):
    """``source`` with each module-level str table (over 64 characters) replaced by
    ``base +`` the offset of its line in ``table`` (its records split by ``RS`` there, not by
    newlines), as ``_NAME = const(offset)``: MicroPython folds it, so the name is not stored
    in the .mpy; every line stays where it was."""
    raw = source.encode("utf-8")
    span = _spanner(raw)
    edits = []
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id.startswith("_") and node.targets[0].id.isupper()
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                and len(node.value.value) > 64):
            continue
        a, b = span(node)  # the whole statement: the name becomes a folded const
        at = table.add(node.value.value.replace("\n", RS))
        new = (b"%s = const(%d)" % (node.targets[0].id.encode(), base + at)
               + b"\n" * raw[a:b].count(b"\n"))
        edits.append((a, b, new))
    return _apply(raw, edits)


def strip(source, table, calls):
    """``source`` with the messages of the calls named in ``calls`` replaced by their
    offsets in ``table``; every other byte, and every line number, unchanged."""
    raw = source.encode("utf-8")
    span = _spanner(raw)
    edits = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and node.args and _callee(node.func) in calls):
            continue
        arg = node.args[0]
        text = _movable(arg)
        if text is None:
            continue
        at = table.add(text)
        a, b = span(arg)
        if isinstance(arg, ast.BinOp):
            ra, rb = span(arg.right)
            new = b"(%d, " % at + raw[ra:rb] + b")"
        else:
            new = b"%d" % at
        # the call's parentheses are open here: newlines keep later lines where they were
        new += b"\n" * (raw[a:b].count(b"\n") - new.count(b"\n"))
        edits.append((a, b, new))
    return _apply(raw, edits)


# modules off the session path whose other words (plain-language texts, format strings, names
# of fields and types: every str literal of WORDS_MIN characters or more in a function, not a
# docstring) go to messages.txt too: the device copy reads each when it is used, through
# ``errors._text`` bound to ``_msg`` by a line added at the end (lines keep their numbers)
WORDS = ("results.py", "cosem/obis.py", "cosem/axdr.py", "cosem/axdr_enc.py", "cosem/names.py",
         "client/probe.py", "client/resync.py", "client/token_status.py", "client/token_auto.py")
WORDS_MIN = 6  # shorter strings cost less in the .mpy (qstrs) than the call that reads them back
WORDS_IMPORT = "\nfrom udlms.errors import _text as _msg  # (tools/build/msgtable.py)\n"


def words(source, table, calls=()):
    """``source`` with each one-line str literal (``WORDS_MIN`` characters or more) in its
    functions replaced by ``_msg(offset)`` (its line in ``table``), docstrings, f-strings and
    the messages of the calls named in ``calls`` (:func:`strip` moves those) left alone, and
    the import of ``_msg`` added at the end. A literal that is also a name in the module (an
    attribute read with getattr) stays: that name is in the .mpy anyway."""
    raw = source.encode("utf-8")
    span = _spanner(raw)
    tree = ast.parse(source)
    keep = set()  # docstrings and the parts of f-strings
    names = set()
    for node in ast.walk(tree):
        for f in ("id", "attr", "arg", "name"):
            v = getattr(node, f, None)
            if isinstance(v, str):
                names.add(v)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)):
            keep.add(id(body[0].value))
        if isinstance(node, ast.JoinedStr):
            keep.update(id(n) for n in ast.walk(node))
        if isinstance(node, ast.Call) and node.args and _callee(node.func) in calls:
            arg = node.args[0]
            keep.add(id(arg.left if isinstance(arg, ast.BinOp) else arg))
    edits = []
    for f in ast.walk(tree):
        if not isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for stmt in f.body:
            for node in ast.walk(stmt):
                if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                        and id(node) not in keep and len(node.value) >= WORDS_MIN
                        and node.value not in names
                        and "\n" not in node.value and "\r" not in node.value):
                    keep.add(id(node))  # (a nested function's body is walked twice)
                    a, b = span(node)
                    new = b"_msg(%d" % table.add(node.value)
                    edits.append((a, b, new + b"\n" * raw[a:b].count(b"\n") + b")"))
    if not edits:
        return source
    return _apply(raw, edits).rstrip("\n") + WORDS_IMPORT


# compile-time switch of the device build: a module that says ``_FULL = const(1)`` gets
# ``const(0)`` in the device copy, so mpy-cross drops its ``if _FULL:`` blocks (generality
# the token path never uses: extra names, host-side helpers) while CPython keeps them
FULL_ON = "\n_FULL = const(1)"
FULL_OFF = "\n_FULL = const(0)"


def unconst(source):
    """``source`` without ``const`` in its ``from udlms.port import`` line when every use of
    it is a module-level ``NAME = const(...)``: MicroPython's compiler folds those whether or
    not the name is imported (CPython needs the import), so the device copy saves the import
    (the line stays, blank if nothing else was imported from the port)."""
    tree = ast.parse(source)
    folded = set()
    todo = list(tree.body)  # module-level statements, and those of its if/try blocks
    while todo:
        stmt = todo.pop()
        if isinstance(stmt, (ast.If, ast.Try)):
            todo += stmt.body + stmt.orelse + getattr(stmt, "finalbody", [])
            for h in getattr(stmt, "handlers", []):
                todo += h.body
        elif (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
              and isinstance(stmt.targets[0], ast.Name) and isinstance(stmt.value, ast.Call)
              and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == "const"):
            folded.add(id(stmt.value.func))
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "const"]
    imports = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "udlms.port"
               and any(a.name == "const" and a.asname is None for a in n.names)]
    if len(imports) != 1 or any(id(n) not in folded for n in uses):
        return source
    node = imports[0]
    rest = [a.name for a in node.names if a.name != "const"]
    if any(a.asname for a in node.names) or node.lineno != node.end_lineno:
        return source
    lines = source.splitlines(keepends=True)
    line = lines[node.lineno - 1]
    lines[node.lineno - 1] = (line[:node.col_offset] + "from udlms.port import "
                              + ", ".join(rest) + line[node.end_col_offset:] if rest else "\n")
    return "".join(lines)


def stage(dest, src=LIB):
    """Write the device copy of ``src`` (lib/udlms) to ``dest``: every .py with its
    messages moved, plus messages.txt. Returns the number of messages."""
    calls = set(error_classes(os.path.join(src, "errors.py"))) | set(HELPERS)
    table = Table()
    out = []
    # the PC-only host package last: the device modules' messages get the small offsets (a
    # literal below 8192 is one byte shorter in their bytecode)
    paths = glob.glob(os.path.join(src, "**", "*.py"), recursive=True)
    for path in sorted(paths, key=lambda p: (os.path.relpath(p, src).startswith("host"), p)):
        with open(path, encoding="utf-8") as f:
            rel = os.path.relpath(path, src)
            text = unconst(strip(f.read(), table, calls))
            if rel.replace(os.sep, "/") in WORDS:
                text = words(text, table, calls)
            out.append((rel, text))
    os.makedirs(dest, exist_ok=True)
    for rel, text in out:
        if rel.replace(os.sep, "/") in TABLES:
            text = tables(text, table)
        path = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(FULL_ON, FULL_OFF))
    with open(os.path.join(dest, MESSAGES), "wb") as f:
        f.write(table.data + TABLES_MARK)
    return len(table.at)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: msgtable.py OUT_DIR")
    dest = os.path.join(argv[0], "udlms")
    n = stage(dest)
    size = os.path.getsize(os.path.join(dest, MESSAGES))
    print("%s: %d messages, %d bytes" % (os.path.join(dest, MESSAGES), n, size))


if __name__ == "__main__":
    main()
