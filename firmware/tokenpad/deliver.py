"""tokenpad delivery (loaded on ``#``, ``R`` or ``tp.enter`` and forgotten after it, issue 26):
validate -> journal as pending -> CONNECTING -> AUTH -> SENDING -> outcome -> journal
accepted/refused/unknown, over the library's session (Green Book 4.7: Token Gateway IC 115,
method 1 enter; encoding ``auto`` in :mod:`udlms.client.token_auto`)."""

from udlms.errors import TokenError


class Udlms:
    """The library names the app uses, each module imported when first asked for:
    session (Session, Settings), token (enter_token, read_token_status), resync."""

    def __getattr__(self, name):
        if name in ("Session", "Settings"):
            from udlms.client import session as m
        elif name in ("read_frame_counter", "find_frame_counter"):
            from udlms.client import resync as m
        else:
            from udlms.client import token as m
        return getattr(m, name)


def _why(e, s):
    """(label, message) for a failure (``udlms.results.explain``, loaded only then); on a
    second association the meter that still refuses the counter is named (``s``)."""
    from udlms import results

    text = results.explain(e)
    if s:
        text += ("; still refused after the counter was resynchronised: "
                 "check EK/AK and the system title")
    i = text.find(": ")
    return (text,) if i < 0 else (text[:i], text[i + 2:])


def enter(app, text, jid=None, encoding=None):
    """Validate, journal, deliver one token; returns (label, message). ``encoding``
    overrides the config's for this token (one of udlms.client.token.ENCODINGS or "auto")."""
    from udlms.client import token

    try:
        digits = token.parse(text)
    except TokenError as e:
        return app.say("BAD TOKEN", e.message)
    if not app.cfg.ok:
        return app.say("SETTINGS", "; ".join(app.cfg.errors))
    if encoding is not None and encoding not in token.ENCODINGS and encoding != "auto":
        return app.say("SETTINGS", "encoding: must be one of %s or auto, got %s: not "
                        "sent" % (", ".join(token.ENCODINGS), encoding))
    if jid is None:
        try:
            jid = app.store.add(digits)
        except Exception as e:  # noqa: BLE001 - never send what we could not journal
            return app.say("STORE", "cannot journal the token (%s): not sent" % (e,))
    settings = app.cfg.settings(getattr(app.lib, "Settings", None))
    if encoding is not None:
        settings.encoding = encoding
    auto = settings.encoding == "auto"
    lib = app.lib

    # "1781 3034 3131 9155 8529" (as udlms.client.token_info.format, not loaded here)
    g = " ".join(digits[i:i + 4] for i in range(0, len(digits), 4))

    def trace(d, f):  # the meter's first answer: connected, now AUTH
        if d == "RX" and app.phase == "CONNECTING":
            app.phase = "AUTH"
            app.display.show("AUTH")

    for attempt in (1, 2):  # a second one only after a counter resync (nothing sent)
        app.phase = "CONNECTING"
        app.display.show("CONNECTING", g)
        sent = False
        stream = sess = fail = stale = err = None
        try:
            stream = app.open_stream()
            if app._counter_missing():  # read where the meter publishes it; corrupt: fails closed
                from tokenpad import counter  # forgotten with the action

                counter.counter_from_meter(app, stream, settings, "reading meter (first use)")
            sess = lib.Session(stream, settings, app.store, trace=trace)
            sess.open()
            app.phase = "SENDING"
            app.display.show("SENDING", g)
            sent = True
            if auto:  # the remembered form first, the next only on "not this form"
                from udlms.client import token_auto

                def note(f, r, s=sess):  # (form, its result or None before it goes out)
                    if r is not None:  # journaled before the next form goes out
                        app.store.settled(jid, "pending", token_auto.journal_note(s.attempts))
                    elif len(s.attempts) > 1:
                        app.display.show("SENDING", "%s as %s" % (g, f))

                r = token_auto.enter(sess, digits, app.store.form(app.cfg.context()), note,
                                     lib.enter_token)
            else:
                r = lib.enter_token(sess, digits, settings.encoding)
        except Exception as e:  # noqa: BLE001 - every failure becomes a plain outcome
            note = getattr(e, "kind", None) or "error"
            if auto and getattr(sess, "attempts", None):
                from udlms.client.token_auto import journal_note

                note = journal_note(sess.attempts) + " " + note
            app.store.settled(jid, "unknown" if sent else "pending", note)
            # the meter refused our AARQ over the invocation counter?
            # (udlms.client.resync.stale, imported only for the two kinds it may be)
            st = False
            if getattr(e, "kind", None) in ("counter-stale", "association-rejected"):
                from udlms.client import resync

                st = resync.stale(e)
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
        if err is not None:
            sess = stream = None
            fail = _why(*err)
        if stale is None:
            break
        from tokenpad import counter  # forgotten with the action (app._lean)

        fail = counter.resync_after(app, stale, settings)  # never reuses a counter
        if fail is not None:
            break
    if fail is not None:  # shown once the link is released: keys work again from here
        return app.say(*fail)
    if auto:  # settle, say, and remember the form the meter took (said once)
        from udlms.client import token_auto

        suffix, message = token_auto.verdict(r)
        if r.accepted:
            try:
                app.store.remember(app.cfg.context(), r.encoding)
            except Exception as e:  # noqa: BLE001 - the token is in; say what was lost
                suffix = " (meter wants %s; not remembered: %s)" % (r.encoding.upper(), e)
        label = "ACCEPTED" if r.accepted else "UNKNOWN" if r.kind == "unknown" else "REJECTED"
        app.store.settled(jid, "refused" if label == "REJECTED" else label.lower(),
                          token_auto.journal_note(r.attempts))
        return app.say(label + suffix, message)
    if r.accepted:
        app.store.settled(jid, "accepted", r.status_name or "")
        return app.say("ACCEPTED", r.message)
    if r.kind == "unknown":
        app.store.settled(jid, "unknown", r.status_name or "")
        return app.say("UNKNOWN", r.message)
    app.store.settled(jid, "refused", r.status_name or r.kind)
    return app.say("REJECTED", r.message)
