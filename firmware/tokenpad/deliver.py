"""tokenpad delivery (loaded on ``#``, ``R`` or ``tp.enter`` and forgotten after it, issue 26):
validate -> journal as pending -> CONNECTING -> AUTH -> SENDING -> outcome -> journal
accepted/refused/unknown, over the library's session (Green Book 4.7: Token Gateway IC 115,
method 1 enter; encoding ``auto`` in :mod:`udlms.client.token_auto`). The two ends, before
and after the session, are :mod:`tokenpad.verdict`'s (with the store's writes and the
counter read from the meter): loaded for each and not held while the session runs (its
peak, issue 26)."""


def __getattr__(name):
    """This module is the app's ``lib`` (``App.lib``): the library names the app uses, each
    module imported when first asked for: session (Session, Settings), token (enter_token,
    read_token_status), resync (a module's ``__getattr__``: no class to hold while a session
    runs, issue 26)."""
    if name in ("Session", "Settings"):
        from udlms.client import session as m
    elif name in ("read_frame_counter", "find_frame_counter"):
        from udlms.client import resync as m
    elif name.startswith("__"):  # (CPython, a debugger: __path__, __spec__, ...)
        raise AttributeError(name)
    else:
        from udlms.client import token as m
    return getattr(m, name)


def _v(name, *a):
    """:mod:`tokenpad.verdict`'s ``name``, loaded for this call only, with the record
    framing it loaded to write (issue 26)."""
    from udlms.port import forget_since, loaded

    b = loaded()
    try:
        from tokenpad import verdict

        return getattr(verdict, name)(*a)
    finally:
        verdict = None
        forget_since(b, ("tokenpad.verdict", "tokenpad.media"))


def enter(app, text, jid=None, encoding=None):
    """Validate, journal, deliver one token; returns (label, message). ``encoding``
    overrides the config's for this token (one of udlms.client.token.ENCODINGS or "auto")."""
    p = _v("prepare", app, text, jid, encoding)
    if len(p) == 2:  # (label, message): not sent
        return p
    digits, jid, settings, form = p
    auto = settings.encoding == "auto"
    lib = app.lib

    # "1781 3034 3131 9155 8529" (as udlms.client.token_info.format, not loaded here)
    g = " ".join(digits[i:i + 4] for i in range(0, len(digits), 4))

    def trace(d, f):  # the meter's first answer: connected, now AUTH
        if d == "RX" and app.phase == "CONNECTING":
            app.phase = "AUTH"
            app.display.show("AUTH")

    r = None
    for attempt in (1, 2):  # a second one only after a counter resync (nothing sent)
        app.phase = "CONNECTING"
        app.display.show("CONNECTING", g)
        sent = False
        stream = sess = fail = stale = err = None
        try:
            stream = app.open_stream()
            if app._counter_missing():  # read where the meter publishes it; corrupt: fails closed
                _v("counter_from_meter", app, stream, settings, "reading meter (first use)")
            sess = lib.Session(stream, settings, app.store, trace=trace)
            sess.open()
            app.phase = "SENDING"
            app.display.show("SENDING", g)
            sent = True
            if auto:  # the remembered form first, the next only on "not this form"
                from udlms.client import token_auto

                def note(f, r, s=sess):  # (form, its result or None before it goes out)
                    if r is not None:  # journaled before the next form goes out
                        _v("settled", app.store, jid, "pending",
                           token_auto.journal_note(s.attempts))
                    elif len(s.attempts) > 1:
                        app.display.show("SENDING", "%s as %s" % (g, f))

                r = token_auto.enter(sess, digits, form, note, lib.enter_token)
            else:
                r = lib.enter_token(sess, digits, settings.encoding)
        except Exception as e:  # noqa: BLE001 - every failure becomes a plain outcome
            # journaled; the meter refused our AARQ over the invocation counter?
            st = _v("failed", app, jid, e, "unknown" if sent else "pending",
                    auto and getattr(sess, "attempts", None))
            if attempt == 1 and not sent and st:
                stale = e
            else:  # its words once the session is closed and dropped
                err = (e, attempt == 2 and st)
        finally:
            app.phase = None
            if sess is not None:
                sess.close()
            if stream is not None and hasattr(stream, "close"):
                stream.close()
        if stale is None:
            break
        fail = _v("resync_after", app, stale, settings)  # never reuses a counter
        if fail is not None:
            break
    sess = stream = note = None  # the session's objects go before its verdict's code comes
    return _v("outcome", app, jid, r, auto, fail, err)
