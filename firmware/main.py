"""tokenpad main program (MicroPython main.py; CircuitPython's code.py, as deployed).

Builds the app from /board.json and /config.json and runs its loop: the plain polling loop
(``App.loop``) on every runtime; nothing else runs beside it, so asyncio would only add its
loop and task objects (issue 26; ``App.run`` stays for an app that shares the board).
Ctrl-C stops it; then ``import tokenpad as tp`` gives the REPL helpers (tp.enter,
tp.status, ...).
"""

import sys


def start():
    try:
        import tokenpad
    except ImportError as e:
        print("tokenpad: not installed (%s): run make deploy" % (e,))
        return None
    try:
        app = tokenpad.use(tokenpad.build(with_inputs=True))
        tokenpad.idle()  # issue 26: the code that built the app leaves the heap
    except Exception as e:  # noqa: BLE001 - explain, then leave the REPL usable
        print("tokenpad: cannot start: %s" % (e,))
        return None
    try:
        app.loop()
    except KeyboardInterrupt:
        print("tokenpad stopped: import tokenpad as tp; tp.status()")
    except Exception as e:  # noqa: BLE001
        print("tokenpad crashed: %s" % (e,))
        if hasattr(sys, "print_exception"):
            sys.print_exception(e)
    return app


start()
