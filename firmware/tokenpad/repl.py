"""The REPL helpers behind ``import tokenpad as tp`` (stop the main loop with Ctrl-C)::

    >>> import tokenpad as tp
    >>> tp.enter("1781 3034 3131 9155 8529")
    ACCEPTED: token accepted and applied
    >>> tp.status(); tp.history(); tp.resync(); tp.config(); tp.selftest()

Each call prints a short answer. The app is built on first use from ``/board.json`` and
``/config.json`` (``tp.use(app)`` installs another one, e.g. in tests). The settings
module is ``tokenpad.settings`` (a submodule named ``config`` would replace ``tp.config``).
"""

def build(board_path=None, config_path=None, with_inputs=False):
    """An App from the board and config files (:func:`tokenpad.board.build`; board.json and
    config.json unless named)."""
    from tokenpad import board

    return board.build(board_path or "board.json", config_path or "config.json", with_inputs)


def use(a):
    import tokenpad

    tokenpad._app = a  # kept by the package: this module may be forgotten (idle)
    return a


def current():
    """The app the REPL helpers use (built on first call)."""
    import tokenpad

    if tokenpad._app is None:
        tokenpad._app = build()
        tokenpad.idle()  # as main.py: the code that built it leaves the heap (issue 26)
    return tokenpad._app


def _print(out):
    label, msg = out
    print("%s: %s" % (label, msg) if msg else label)


def enter(text, encoding=None):
    """Deliver a token typed at the REPL, e.g. tp.enter("1781 3034 3131 9155 8529");
    ``encoding="bcd"`` (or "auto", ...) overrides config.json for this token."""
    _print(current().enter(text, encoding=encoding))


def resend():
    """Resend the newest pending token, or check the meter's token_status."""
    _print(current().resend())


def status(meter=False):
    """Settings, counter and pending tokens; with meter=True also the meter's token_status."""
    from udlms.client import token_info
    from udlms.port import forget

    a = current()
    ctx = None
    if a.cfg.ok:  # (Config.context() loads tokenpad.verdict: not held after the helper)
        ctx = a.cfg.context()
        forget("tokenpad.verdict")
    print("settings: %s" % ("OK" if a.cfg.ok else "%d problem(s), tp.config()"
                                                     % len(a.cfg.errors)))
    st = a.store
    if st.known:
        print("counter: next %d (reserved up to %d)" % (st.value, st.ceiling))
    elif getattr(st, "missing", False):
        print("counter: MISSING - %s" % st.problem)
    else:
        print("counter: CORRUPT - %s" % st.problem)
    for e in getattr(st, "fcs", ()):  # tokenpad.verdict.frame_counter
        if a.cfg.ok and e[0] == ctx:
            print("meter's frame counter: at %s (found there last)" % e[1])
    if a.cfg.ok and a.cfg["encoding"] == "auto":
        form = st.form(ctx)
        print("encoding: auto, %s" % ("this meter wants %s (remembered)" % form if form
                                      else "nothing remembered yet (ascii first)"))
    pend = st.unresolved()
    if not pend:
        print("tokens: none pending")
    for e in pend:
        print("%s: %s (tp.resend() or the R button)" % (e[2].upper(), token_info.format(e[1])))
    if meter:
        _print(a.confirm())


def history():
    """The token journal, newest last."""
    from udlms.client import token_info

    j = current().store.journal
    if not j:
        print("no tokens yet")
    for e in j:
        print("#%d %s %s%s" % (e[0], token_info.format(e[1]), e[2].upper(),
                               " (%s)" % e[3] if e[3] else ""))


def resync():
    """Read the meter's frame counter (public client) and move our counter past it."""
    _print(current().resync())


def probe():
    """Find how the meter answers (mode E or direct HDLC, baud, address size) with the
    public client, then read its logical device name and frame counter. Never sends a
    token. Prints one line per attempt and the settings to put in config.json."""
    return _aside("probe")


def config():
    """The settings in use (keys hidden) and any problem with them."""
    a = current()
    for ln in a.cfg.masked():
        print(ln)
    if a.cfg.ok:
        print("OK: settings valid")
    for e in a.cfg.errors:
        print("BAD: " + e)


def selftest():
    """Store, AES backend and the meter port; one line each, then PASS or FAIL."""
    return _aside("selftest")


def _aside(name):
    """:mod:`tokenpad.repl_probe`'s ``name`` for the current app, loaded for the call only:
    a board that never probes never holds its code nor interns its names (issue 26)."""
    from udlms.port import forget

    from tokenpad import repl_probe

    try:
        return getattr(repl_probe, name)(current())
    finally:
        forget("tokenpad.repl_probe")
        forget("tokenpad.verdict")  # (Config.settings() for the probe's session)
