"""50-session soak through the fault-injecting line (tools/qa/soak.py; `make soak` runs 1000):
no token entered twice, no invocation counter reused, the journal matches the meter."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from tools.qa import soak  # noqa: E402


def _check(r):
    assert r["entered_twice"] == 0, r["twice_list"]
    assert r["counters_reused"] == 0, r["reused_list"]
    assert r["journal_mismatches"] == 0, r["mismatch_list"]
    assert r["unnamed"] == [], r["unnamed"]
    assert r["unresolved"] == 0
    assert r["accepted"] + r["refused"] == r["tokens"]


def test_soak_50_sessions():
    r = soak.Soak(seed=7).run(50)
    _check(r)
    assert r["tokens"] == 50
    assert r["faults"].get("corrupt") and r["faults"].get("delay")


def test_soak_harsh_line_exercises_unknown_outcomes():
    # a much worse line: sessions die after the enter went out, and get resolved by reading
    s = soak.Soak(seed=3, corrupt=0.05, loss=0.05, outage=0.02, cut=0.03, dup=0.03,
                  inject=0.03, delay=0.1)
    r = s.run(40)
    _check(r)
    assert sum(r["errors"].values()) > 0
    assert r["unknown_seen"] + r["resent_after_check"] > 0


def test_same_seed_same_run():
    a = soak.Soak(seed=11).run(5)
    b = soak.Soak(seed=11).run(5)
    assert a["faults"] == b["faults"] and a["errors"] == b["errors"]
