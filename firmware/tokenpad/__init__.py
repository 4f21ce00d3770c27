"""tokenpad: deliver STS tokens to a meter from a keypad, a button or the REPL.

    >>> import tokenpad as tp
    >>> tp.enter("1781 3034 3131 9155 8529")
    ACCEPTED: token accepted and applied

``tp.enter``, ``tp.status``, ``tp.history``, ``tp.resync``, ``tp.config``,
``tp.selftest``, ``tp.resend`` (and ``tp.current``) live in ``tokenpad.repl``, loaded for
each call and forgotten after it (issue 26: a REPL call leaves no code behind), so importing
one submodule (e.g. ``tokenpad.store``) stays small. ``tp.build`` (``tokenpad.board.build``)
and ``tp.use`` are here: main.py's start loads no REPL code.
"""

_app = None  # the app the REPL helpers use (tokenpad.repl.use/current)


def build(*a, **k):
    """An App from /board.json and /config.json: :func:`tokenpad.board.build`."""
    from tokenpad import board

    return board.build(*a, **k)


def use(app):
    """Make ``app`` the one the REPL helpers use; returns it."""
    global _app
    _app = app
    return app


def idle():
    """main.py, once the app is built: forget what only building it needed
    (``tokenpad.repl``, ``tokenpad.board``, the error classes ``board`` raises with, the
    record framing the store read its record with), so the app waits for keys holding
    what waiting needs (issue 26); ``tp.status()`` and the other helpers load
    ``tokenpad.repl`` again."""
    from udlms.port import forget

    # the record framing (tokenpad.media): every medium loads it again to read or write one
    for name in ("tokenpad.repl", "tokenpad.board", "udlms.errors", "tokenpad.verdict",
                 "tokenpad.media"):
        forget(name)


def __getattr__(name):
    import sys

    if name.startswith("__"):
        raise AttributeError(name)
    # a submodule first (MicroPython's ``from tokenpad import store`` asks here before it
    # imports it), else one of the REPL helpers in tokenpad.repl (loaded on first use)
    try:
        __import__("tokenpad." + name)
        return sys.modules["tokenpad." + name]
    except ImportError as e:
        if "tokenpad." + name in sys.modules or name not in str(e):
            raise  # the submodule exists and failed: say why
    __import__("tokenpad.repl")
    f = getattr(sys.modules["tokenpad.repl"], name)
    if not callable(f):
        return f

    def helper(*a, **k):
        from udlms.port import forget

        try:
            __import__("tokenpad.repl")
            return getattr(sys.modules["tokenpad.repl"], name)(*a, **k)
        finally:
            forget("tokenpad.repl")

    return helper
