"""tokenpad main program (MicroPython main.py; CircuitPython also runs main.py).

Builds the app from /board.json and /config.json and runs its asyncio loop. Ctrl-C stops
it; then ``import tokenpad as tp`` gives the REPL helpers (tp.enter, tp.status, ...).
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
    except Exception as e:  # noqa: BLE001 - explain, then leave the REPL usable
        print("tokenpad: cannot start: %s" % (e,))
        return None
    try:
        import asyncio
    except ImportError:
        import uasyncio as asyncio
    try:
        asyncio.run(app.run())
    except KeyboardInterrupt:
        print("tokenpad stopped: import tokenpad as tp; tp.status()")
    except Exception as e:  # noqa: BLE001
        print("tokenpad crashed: %s" % (e,))
        if hasattr(sys, "print_exception"):
            sys.print_exception(e)
    return app


start()
