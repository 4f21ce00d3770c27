"""Packaging: build_mpy into a temporary directory, deploy --dry-run for every board,
package.json in step with lib/udlms, everything under firmware/ compiles with mpy-cross."""

import glob
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from tools.build import mpy as build_mpy  # noqa: E402

PY = sys.executable
BOARDS = sorted(os.path.basename(b)[:-5] for b in glob.glob(os.path.join(ROOT, "boards", "*.json")))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    r = subprocess.run([PY, "-m", "tools.build.mpy", "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


@pytest.mark.parametrize("target", ["esp32", "rp2040"])
def test_mpy_targets(built, target):
    d = built / target
    mods = build_mpy.device_modules()
    for m in mods:
        f = d / "lib" / "udlms" / (m[:-3] + ".mpy")
        assert f.exists(), f
        head = f.read_bytes()[:2]
        assert head == b"M\x06", (f, head)  # MicroPython .mpy v6
    for m in glob.glob(os.path.join(ROOT, "firmware", "tokenpad", "*.py")):
        assert (d / "lib" / "tokenpad" / (os.path.basename(m)[:-3] + ".mpy")).exists()
    assert (d / "main.py").exists() and (d / "boot.py").exists()
    assert not (d / "lib" / "udlms" / "host").exists()
    # the error texts are in messages.txt, not in the code (tools/build/msgtable.py)
    text = (d / "lib" / "udlms" / "messages.txt").read_text()
    assert "client SAP %d out of range 0..127\n" in text
    assert b"out of range 0..127" not in (d / "lib" / "udlms" / "link" / "hdlc.mpy").read_bytes()


def test_circuitpython_target(built):
    d = built / "circuitpython"
    assert not (d / "lib" / "udlms" / "crypto" / "ghash_viper.py").exists()
    assert not (d / "lib" / "udlms" / "crypto" / "ghash_viper.mpy").exists()
    assert (d / "main.py").exists() and (d / "boot.py").exists()  # entry points stay .py
    if build_mpy.find_cp_mpy_cross() is None:  # no CircuitPython mpy-cross here: sources
        assert (d / "lib" / "udlms" / "link" / "hdlc.py").exists()
        assert not list(d.rglob("*.mpy"))
        return
    for m in build_mpy.device_modules():
        if m in build_mpy.NO_CIRCUITPYTHON:
            continue
        f = d / "lib" / "udlms" / (m[:-3] + ".mpy")
        assert f.read_bytes()[:2] == b"C\x06", f  # CircuitPython .mpy v6 (MicroPython's: M)
    assert not list((d / "lib").rglob("*.py"))


def test_circuitpython_mpy_cross_from_the_environment(tmp_path):
    env = dict(os.environ, CIRCUITPY_MPY_CROSS=str(tmp_path / "missing"))
    r = subprocess.run([PY, "-m", "tools.build.mpy", "--target",
                        "circuitpython", "--out", str(tmp_path)],
                       capture_output=True, text=True, cwd=ROOT, env=env)
    assert r.returncode != 0 and "CIRCUITPY_MPY_CROSS" in r.stdout + r.stderr


@pytest.mark.parametrize("board", BOARDS)
def test_deploy_dry_run(board, tmp_path):
    r = subprocess.run([PY, "-m", "tools.build.deploy", "--board", board,
                        "--port", "/dev/ttyACM0", "--dry-run", "--build-dir", str(tmp_path)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "dry run" in r.stdout
    assert "board.json" in r.stdout and "config.json" in r.stdout
    if "feather" in board:
        assert "code.py" in r.stdout
    else:
        assert "mpremote connect /dev/ttyACM0 fs cp" in r.stdout


def test_deploy_rejects_unknown_board(tmp_path):
    r = subprocess.run([PY, "-m", "tools.build.deploy", "--board", "nope",
                        "--dry-run", "--build-dir", str(tmp_path)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode != 0 and "no board file" in r.stderr


@pytest.mark.parametrize("args,says", [
    ([], "BOARD= is missing"),
    (["BOARD=rpi_pico"], "PORT= is missing"),
])
def test_make_deploy_without_board_or_port_says_what_to_type(args, says):
    r = subprocess.run(["make", "-s", "deploy"] + args, capture_output=True, text=True,
                       cwd=ROOT)
    assert r.returncode != 0
    assert says in r.stderr, r.stderr
    assert "make deploy BOARD=rpi_pico PORT=/dev/ttyACM0" in r.stderr
    assert "usage:" not in r.stderr  # not an argparse error


def test_package_json_lists_device_modules():
    with open(os.path.join(ROOT, "package.json")) as f:
        pkg = json.load(f)
    assert pkg == build_mpy.package_json(), \
        "package.json is stale: run make mpy (or python -m tools.build.mpy --package-json)"
    for _dest, src in pkg["urls"]:
        assert os.path.exists(os.path.join(ROOT, src)), src


def test_firmware_compiles_for_both_arches(tmp_path):
    tool = build_mpy.find_mpy_cross()
    files = glob.glob(os.path.join(ROOT, "firmware", "**", "*.py"), recursive=True)
    assert len(files) >= 10
    for f in files:
        for arch in ("xtensawin", "armv6m"):
            r = subprocess.run([tool, "-march=" + arch, "-o", str(tmp_path / "x.mpy"), f],
                               capture_output=True, text=True)
            assert r.returncode == 0, (f, r.stderr)


@pytest.mark.parametrize("target", ["esp32", "rp2040"])
def test_romfs_image_holds_lib(built, target):
    # the image is what `mpremote romfs deploy` writes: its tree is lib/udlms, lib/tokenpad
    from tools.build import romfs

    d = built / target
    img = (d / build_mpy.ROMFS_IMAGE).read_bytes()
    assert img == romfs.image(str(d), only=("lib",))
    assert img[:3] == b"\xd2\xcd\x31" and len(img) % 2 == 0
    for name in (b"lib", b"udlms", b"tokenpad", b"session.mpy", b"app.mpy", b"messages.txt"):
        assert name in img
    assert b"main.py" not in img and b"cli.mpy" not in img


def test_deploy_romfs_plan(tmp_path):
    r = subprocess.run([PY, "-m", "tools.build.deploy", "--board", "rpi_pico",
                        "--port", "/dev/ttyACM0", "--dry-run", "--romfs", "--build-dir",
                        str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "romfs deploy" in r.stdout and "tokenpad.romfs" in r.stdout
    assert ":lib/udlms" not in r.stdout
