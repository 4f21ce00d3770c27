"""PASS/FAIL lines of the board lanes (lane.py, esp32_lane.py): each check printed as it
comes and kept in the lane's results list, failures with their exception, never raised."""

import time


def make(prefix, width, results):
    """(result, check) for one lane: ``result(name, ok, detail)`` records and prints a line;
    ``check(name, fn, *a)`` runs ``fn(*a)`` and records PASS with its detail and time, or FAIL
    with the exception."""

    def result(name, ok, detail=""):
        results.append((name, ok, detail))
        print("  %s %-*s %s%s" % (prefix, width, name, "PASS" if ok else "FAIL",
                                  (": " + detail) if detail else ""), flush=True)
        return ok

    def check(name, fn, *a):
        t0 = time.time()
        try:
            detail = fn(*a) or ""
            return result(name, True, "%s (%.0fs)" % (detail, time.time() - t0))
        except Exception as e:  # noqa: BLE001 - every failure is reported, then counted
            result(name, False, "%s: %s" % (type(e).__name__, str(e)[-1500:]))
            return False

    return result, check
