"""tokenpad's actions that ask the meter something rather than deliver a token (the ``C``
check, ``tp.resync()``, the probe): loaded when one runs, so the app idle does not hold them.
Each takes the :class:`tokenpad.app.App` and returns what its method returns."""

from udlms.errors import DlmsError


def _settings(app):
    """The udlms Settings of ``app``'s config (with the library's Settings class)."""
    return app.cfg.settings(getattr(app.lib, "Settings", None))


def confirm(app):
    """Read the meter's last token and token_status; settle matching journal entries."""
    from udlms import results
    from udlms.client import token_info

    if not app.cfg.ok:
        return app.say("SETTINGS", "; ".join(app.cfg.errors))
    app.display.show("CHECKING")
    stream = sess = None
    try:
        # the session for the check, built here rather than by an App method the idle app
        # would hold (issue 26): a missing counter is read from the meter first, as for a
        # token; the stream is closed below if that fails
        lib = app.lib
        settings = _settings(app)
        stream = app.open_stream()
        if app._counter_missing():  # read where the meter publishes it; corrupt: fails closed
            from tokenpad import verdict
            from udlms.port import forget

            verdict.counter_from_meter(app, stream, settings, "reading meter (first use)")
            verdict = None
            forget("tokenpad.verdict")  # not held while the check's session runs
        sess = lib.Session(stream, settings, app.store)
        sess.open()
        code, _ = app.lib.read_token_status(sess)
        last = None
        try:
            last = _meter_token(app, sess)
        except DlmsError:
            pass
    except Exception as e:  # noqa: BLE001
        text = results.explain(e)
        i = text.find(": ")
        return app.say(text[:i], text[i + 2:]) if i > 0 else app.say(text)
    finally:
        if sess is not None:
            sess.close()
        if stream is not None and hasattr(stream, "close"):
            stream.close()
    from udlms.client import token_status
    from tokenpad.verdict import settled as settle  # the journal's writes, after the session

    name, msg = token_status.text(code)
    settled = 0
    for e in app.store.unresolved():
        if last is not None and e[1] == last:
            if code == 3:
                settle(app.store, e[0], "accepted", name)
                settled += 1
            elif 4 <= code <= 7:
                settle(app.store, e[0], "refused", name)
                settled += 1
    label = "METER: " + name
    if last is not None:
        msg = "last token %s: %s" % (token_info.format(last), msg)
    if settled:
        msg += " (journal updated)"
    return app.say(label, msg)

def _meter_token(app, sess):
    from udlms.cosem import axdr
    from udlms.client import token, token_info

    raw = sess.get(token.CLASS_ID, app.cfg["gateway"], token.TOKEN)
    value, _ = axdr.decode(raw)
    got = token_info.decode_token_bytes(bytes(value)) if value else None
    return got[0] if got else None

def resync(app):
    """Read the meter's frame counter (public client) and move our counter past it."""
    from udlms import results

    if not app.cfg.ok:
        return app.say("SETTINGS", "; ".join(app.cfg.errors))
    app.display.show("RESYNC", "reading meter")
    stream = None
    try:
        stream = app.open_stream()
        from tokenpad import verdict
        from udlms.port import forget

        value, obis = verdict.read_counter(app, stream, _settings(app))
        verdict = None
        forget("tokenpad.verdict")
        new = app.store.resync(value)
    except Exception as e:  # noqa: BLE001
        text = results.explain(e)
        i = text.find(": ")
        return app.say(text[:i], text[i + 2:]) if i > 0 else app.say(text)
    finally:
        if stream is not None and hasattr(stream, "close"):
            stream.close()
    return app.say("RESYNCED", "meter %d%s, ours now %d"
                   % (value, " at " + obis if obis else "", new))

def probe(app):
    """Is a meter answering on the port? HDLC SNRM/UA then DISC (no association)."""
    from udlms.link import hdlc
    from udlms import results

    if not app.cfg.ok:
        return False, "settings incomplete: " + app.cfg.errors[0]
    s = _settings(app)
    stream = None
    try:
        stream = app.open_stream()
        link = hdlc.Link(stream, client_sap=16, server_logical=s.server_logical,
                         server_physical=s.server_physical, address_size=s.address_size,
                         timeout_ms=min(s.timeout_ms, 1500), retries=1)
        link.connect()
        link.disconnect()
        return True, "meter answers on the port (HDLC UA)"
    except Exception as e:  # noqa: BLE001
        return False, results.explain(e)
    finally:
        if stream is not None and hasattr(stream, "close"):
            stream.close()

