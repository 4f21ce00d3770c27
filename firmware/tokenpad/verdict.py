"""The two ends of a token delivery (:mod:`tokenpad.deliver`), each loaded for its part so
that neither is held while the session runs (its peak, issue 26): before it, validate,
journal as pending and build the session's settings; after it, settle the journal and say
the outcome: ACCEPTED, REJECTED: ... (Green Book 4.7: Token Gateway IC 115 token_status),
or ``udlms.results.explain`` for failures; encoding ``auto``'s verdict from
:mod:`udlms.client.token_auto`."""


def prepare(app, text, jid, encoding):
    """-> (digits, jid, settings, remembered form) for the session; or the (label, message)
    said when the token is not sent: a bad token or setting, or a journal that cannot take
    it."""
    from udlms.client import token
    from udlms.errors import TokenError

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
    # encoding auto: the form remembered for this meter goes first (None: ascii first)
    form = app.store.form(app.cfg.context()) if settings.encoding == "auto" else None
    return digits, jid, settings, form


def outcome(app, jid, r, auto, f, err):
    """Settle journal entry ``jid`` and say how it went: ``r`` the TokenResult (or None),
    ``auto`` whether encoding auto chose the form, ``f`` a (label, message) already
    decided, ``err`` (exception, second association) for a failure: its words are
    ``udlms.results.explain``'s (loaded only then), and on a second association the meter
    that still refuses the counter is named. Returns (label, message)."""
    if err is not None:
        from udlms import results

        text = results.explain(err[0])
        if err[1]:
            text += ("; still refused after the counter was resynchronised: "
                     "check EK/AK and the system title")
        i = text.find(": ")
        f = (text,) if i < 0 else (text[:i], text[i + 2:])
    if f is not None:  # shown once the link is released: keys work again from here
        return app.say(*f)
    from tokenpad.store_write import settled

    if auto:  # settle, say, and remember the form the meter took (said once)
        from udlms.client import token_auto

        suffix, message = token_auto.verdict(r)
        if r.accepted:
            try:
                app.store.remember(app.cfg.context(), r.encoding)
            except Exception as e:  # noqa: BLE001 - the token is in; say what was lost
                suffix = " (meter wants %s; not remembered: %s)" % (r.encoding.upper(), e)
        label = "ACCEPTED" if r.accepted else "UNKNOWN" if r.kind == "unknown" else "REJECTED"
        settled(app.store, jid, "refused" if label == "REJECTED" else label.lower(),
                token_auto.journal_note(r.attempts))
        return app.say(label + suffix, message)
    if r.accepted:
        settled(app.store, jid, "accepted", r.status_name or "")
        return app.say("ACCEPTED", r.message)
    if r.kind == "unknown":
        settled(app.store, jid, "unknown", r.status_name or "")
        return app.say("UNKNOWN", r.message)
    settled(app.store, jid, "refused", r.status_name or r.kind)
    return app.say("REJECTED", r.message)
