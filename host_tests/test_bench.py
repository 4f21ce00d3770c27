"""Smoke test of ``make bench``: -m tools.bench --quick runs, prints one valid JSON object per
figure line with the expected names, and writes the same figures to its --out file. Values are
not checked (figures are measured, never asserted). The board sections (board_*, board_cp_*)
boot the emulated boards: the board lanes of ``make test`` run the same measurements
(tools/board/lane.py, cp_lane.py), so this test leaves them out."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="needs .venv/bin/micropython")
def test_bench_quick_emits_every_figure(tmp_path):
    from tools.bench import main as bench

    out = tmp_path / "bench.json"
    only = "cpu,mpy,micro,wasm,sizes,modules,wire"
    p = subprocess.run([sys.executable, "-m", "tools.bench", "--quick",
                        "--only", only, "--out", str(out)], cwd=ROOT, capture_output=True,
                       text=True, timeout=400)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    figures = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    for f in figures:
        assert set(f) >= {"name", "value", "unit"}, f
        assert isinstance(f["name"], str) and isinstance(f["unit"], str)
        assert f["value"] is None or isinstance(f["value"], (int, float)), f
    names = {f["name"] for f in figures}
    assert "bench_error" not in names, [f for f in figures if f["name"] == "bench_error"]
    want = {n for n in bench.NAMES if not n.startswith("board_")}
    assert names == want, (want - names, names - want)
    for name in ("cpu_ratio_gurux_over_ours", "mpy_heap_session_peak_bytes",
                 "mpy_min_heapsize_bytes", "wire_bytes_ours", "turnaround_median_ms"):
        assert next(f for f in figures if f["name"] == name)["value"] is not None, name
    saved = json.loads(out.read_text())
    assert saved["figures"] == figures
    assert saved["meta"]["command"].endswith("-m tools.bench --quick --only " + only)
    assert "| figure" in p.stdout  # the table


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="needs .venv/bin/micropython")
def test_bench_section_failure_is_reported_not_fatal(tmp_path, monkeypatch, capsys):
    """A section that fails or times out (a board waiting for >>> on a busy machine) goes
    into bench.json and the table; the rest is measured and bench exits 0."""
    from tools.bench import common as bench_common
    from tools.bench import main as bench

    def boom(quick):
        raise TimeoutError("no >>> within 30 s")

    monkeypatch.setattr(bench, "bench_wire", boom)
    for name in ("FIGURES", "ERRORS"):  # a fresh list, the same in both modules
        fresh = []
        monkeypatch.setattr(bench, name, fresh)
        monkeypatch.setattr(bench_common, name, fresh)
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--only", "wire,sizes", "--out", str(out)]) == 0
    figures = json.loads(out.read_text())["figures"]
    err = [f for f in figures if f["name"] == "bench_error"]
    assert [e["section"] for e in err] == ["wire"], err
    assert "no >>> within 30 s" in err[0]["error"]
    assert any(f["name"].startswith("size") or f["name"].endswith("_bytes") for f in figures
               if f["name"] != "bench_error")
    text = capsys.readouterr().out
    assert "section wire" in text and "ERROR: TimeoutError: no >>> within 30 s" in text
