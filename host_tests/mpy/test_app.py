"""MicroPython lane: the tokenpad app with a fake keypad and display.

Part 1 injects a fake session library (tpfakes.FakeLib, no protocol): key entry, echo in
groups of four, backspace/clear, the journal states, resend, counter and settings
refusals, the asyncio loop, the REPL helpers, the UART wrapper's RS-485 direction pin and
the MicroPython matrix scanner.

Part 2 (end to end) bridges the app's UART to udlms.host.sim over TCP (the real udlms
session) and types tokens on the fake keypad: ACCEPTED, REJECTED (token used; wrong
encoding) and, with an unplugged probe, NO ANSWER. $SIM_URL is used when set, else the
simulator is started here.

Heap: tokenpad + udlms compiled from source need about 200 KB of heap (a board runs them
frozen, see firmware/manifest.py). In a smaller heap (the lane's 64 KB) this script runs
itself again in a child ``micropython -X heapsize=CHILD_HEAP`` and relays its results; the
child prints the peak heap it used.
"""

import gc
import os
import sys

CHILD_HEAP = "320k"
MICROPYTHON = sys.implementation.name == "micropython"
CHILD = len(getattr(sys, "argv", ())) > 1 and sys.argv[-1] == "child"


def _delegate():
    """In a small heap: run this script in a child with CHILD_HEAP and relay its output."""
    me = __file__ if "__file__" in globals() else "host_tests/mpy/test_app.py"
    log = "/tmp/tokenpad_test_app_%d.log" % (id(gc) & 0xFFFFFF)
    print("heap %d bytes: running in a child micropython -X heapsize=%s"
          % (gc.mem_free() + gc.mem_alloc(), CHILD_HEAP))
    rc = os.system("%s -X heapsize=%s %s child > %s 2>&1"
                   % (sys.executable or ".venv/bin/micropython", CHILD_HEAP, me, log))
    try:
        with open(log) as f:
            text = f.read()
    except OSError:
        text = ""
    sys.stdout.write(text)
    if rc != 0 and " passed, " not in text:
        print("0 passed, 1 failed")
    sys.exit(1 if rc else 0)


if MICROPYTHON and not CHILD and gc.mem_free() + gc.mem_alloc() < 200 * 1024:
    _delegate()

if MICROPYTHON and not CHILD and gc.mem_free() + gc.mem_alloc() < 200 * 1024:
    _delegate()
else:
    import app_cases

    app_cases.run()
