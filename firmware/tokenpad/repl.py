"""The REPL helpers behind ``import tokenpad as tp`` (stop the main loop with Ctrl-C)::

    >>> import tokenpad as tp
    >>> tp.enter("1781 3034 3131 9155 8529")
    ACCEPTED: token accepted and applied
    >>> tp.status(); tp.history(); tp.resync(); tp.config(); tp.selftest()

Each call prints a short answer. The app is built on first use from ``/board.json`` and
``/config.json`` (``tp.use(app)`` installs another one, e.g. in tests). The settings
module is ``tokenpad.settings`` (a submodule named ``config`` would replace ``tp.config``).
"""

BOARD = "board.json"
CONFIG = "config.json"


def build(board_path=None, config_path=None, with_inputs=False):
    """An App from the board and config files (:func:`tokenpad.board.build`)."""
    from tokenpad import board

    return board.build(board_path or BOARD, config_path or CONFIG, with_inputs)


def use(app_obj):
    import tokenpad

    tokenpad._app = app_obj  # kept by the package: this module may be forgotten (idle)
    return app_obj


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

    a = current()
    print("settings: %s" % ("OK" if a.cfg.ok else "%d problem(s), tp.config()"
                                                     % len(a.cfg.errors)))
    st = a.store
    if st.known:
        print("counter: next %d (reserved up to %d)" % (st.value, st.ceiling))
    elif getattr(st, "missing", False):
        print("counter: MISSING - %s" % st.problem)
    else:
        print("counter: CORRUPT - %s" % st.problem)
    for e in getattr(st, "fcs", ()):  # tokenpad.counter.frame_counter
        if a.cfg.ok and e[0] == a.cfg.context():
            print("meter's frame counter: at %s (found there last)" % e[1])
    if a.cfg.ok and a.cfg["encoding"] == "auto":
        form = st.form(a.cfg.context())
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
    from udlms.client import probe as _p
    from udlms.errors import DlmsError

    a = current()
    stream = a.open_stream()
    serial = hasattr(stream, "configure")  # a UART that can switch baud and parity
    try:
        found = _configured(a, stream, _p)
        if found is None:
            found = _p.probe(stream, serial=serial, mode_e=serial, report=print)
        if found is None:
            print("NOTHING ANSWERED: check the probe, its position and the wiring")
            return None
        try:
            _p.identify(stream, found, frame_counters=_frame_counters(a))
        except DlmsError as e:
            print("answered, but reading its name failed: %s" % e.message)
        print("FOUND: %r; name %s, frame counter %s" % (
            found, found.ldn, "%s at %s" % (found.frame_counter, found.frame_counter_obis)
            if found.frame_counter is not None else "not readable (tried %s)"
            % ", ".join(found.frame_counter_tried)))
        print("config.json: %s" % (found.settings(),))
        return found
    finally:
        if hasattr(stream, "close"):
            stream.close()


def _frame_counters(a):
    """Where to look for the frame counter: config.json's object, the client's, then the
    usual places (udlms.client.resync.candidates)."""
    from udlms.client import resync

    try:
        return resync.candidates(a.cfg.settings(getattr(a.lib, "Settings", None)))
    except Exception:  # noqa: BLE001 - settings incomplete: the usual places
        return ("0.0.43.1.1.255", "0.0.43.1.0.255")


def _configured(a, stream, _p):
    """The address config.json names, tried first with its own baud and time-out (the scan
    after it uses short time-outs and the usual addresses only)."""
    from udlms.errors import LinkError

    cfg = getattr(a, "cfg", None)
    if cfg is None:
        return None
    v = cfg.values
    try:
        size, ph, logical = v["address_size"], v["server_physical"], v["server_logical"]
        if size != 1 and ph is None:
            ph = 17
        if size == 1:
            ph = None
        timeout = v["timeout_ms"]
    except (KeyError, TypeError):
        return None
    where = "configured server %d%s, address size %d, %s baud" % (
        logical, "" if ph is None else "/%d" % ph, size, v.get("baud"))
    try:
        link = _p.try_hdlc(stream, size, ph, logical, timeout)
    except LinkError as e:
        print("  %s: %s" % (where, e.message))
        return None
    except Exception as e:  # noqa: BLE001 - a bad setting: say so and scan
        print("  %s: %s" % (where, e))
        return None
    if link is None:
        print("  %s: no answer" % where)
        return None
    print("  %s: ANSWERED (UA)" % where)
    return _p.Found("hdlc", v.get("baud"), size, logical, ph, link)


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
    a = current()
    ok = True
    st = a.store
    if st.known:
        print("store:  OK  %s, counter next %d" % (st.describe(), st.value))
    elif getattr(st, "missing", False):  # a fresh board: read from the meter at first use
        print("store:  OK  %s, counter missing: read from the meter at first use"
              % st.describe())
    else:
        ok = False
        print("store:  FAIL %s" % st.problem)
    try:
        from udlms.crypto import aes

        key = bytes(range(16))
        pt = bytes((i * 0x11) & 0xFF for i in range(16))
        out = bytearray(16)
        aes.new(key).encrypt_block(pt, out)
        good = bytes(out).hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"  # FIPS-197 C.1
        print("aes:    %s  backend %s" % ("OK" if good else "FAIL", aes.backends()[0]))
        ok = ok and good
    except Exception as e:  # noqa: BLE001
        ok = False
        print("aes:    FAIL %s" % (e,))
    print("config: %s" % ("OK" if a.cfg.ok else "FAIL " + a.cfg.errors[0]))
    ok = ok and a.cfg.ok
    good, text = a.probe()
    print("probe:  %s  %s" % ("OK" if good else "FAIL", text))
    ok = ok and good
    print("PASS" if ok else "FAIL")
    return ok
