"""The invocation counter from the meter (issue 24): its frame counter found where the meter
publishes it (the object remembered for this meter first, then the usual places) and the
one resync after the meter refused our AARQ over the counter. Loaded only for those
moments and forgotten after them, so the app idle does not hold it."""


def counter_from_meter(app, stream, settings, why):
    """Read the meter's frame counter (public client, no keys) and move ours past it."""
    app.display.show("COUNTER", why)
    value = read_counter(app, stream, settings)[0]
    new = app.store.resync(value)
    app.display.show("COUNTER", "from meter: %d" % new)
    if app.phase is not None:  # a token: back to its own phases
        app.phase = "CONNECTING"
    return new


def read_counter(app, stream, settings):
    """The meter's frame counter -> (value, OBIS text or None): the object that answered
    last time first, then the usual places (udlms.client.resync.find_frame_counter); the
    one that answered is remembered in the store for this meter (issue 24)."""
    find = getattr(app.lib, "find_frame_counter", None)
    if find is None:  # a library (or test double) with the single-object read only
        return app.lib.read_frame_counter(stream, settings), None
    ctx = app.cfg.context()
    try:
        value, obis = find(stream, settings, frame_counter(app.store, ctx))
    finally:  # a one-off phase: its code leaves the heap (MicroPython)
        find = None
        from udlms.port import forget

        forget("udlms.client.resync")
    try:
        frame_counter(app.store, ctx, obis)
    except Exception:  # noqa: BLE001 - only a hint for next time
        pass
    return value, obis


def resync_after(app, e, settings):
    """The meter refused our AARQ over the invocation counter: move ours to the one it
    names (exception-response invocation-counter-error) or past its frame counter; the
    store only moves up. Returns None to try once more, or the (label, message) to show."""
    from udlms import results

    stream = None
    try:
        if getattr(e, "kind", None) == "counter-stale" and e.code:
            new = app.store.resync(e.code - 1)
            app.display.show("COUNTER", "meter wants %d: retrying" % new)
            return None
        stream = app.open_stream()
        counter_from_meter(app, stream, settings, "refused: reading meter")
        return None
    except Exception as x:  # noqa: BLE001
        text = results.explain(x)
        i = text.find(": ")
        return (text,) if i < 0 else (text[:i], text[i + 2:])
    finally:
        if stream is not None and hasattr(stream, "close"):
            stream.close()


def frame_counter(store, context, obis=None):
    """Where this meter's frame counter answered last (None: unknown), from the store's
    ``fcs``; given ``obis``, remember it there (written only when news, in the same record
    as the counter and the journal, the last ``Store.FORMS`` meters)."""
    old = store.fcs
    try:
        for e in old:
            if e[0] == context and (obis is None or e[1] == obis):
                return e[1]
        old = [e for e in old if e[0] != context]
    except (TypeError, IndexError, KeyError):  # not a list of pairs: start afresh
        old = []
    if obis is None:
        return None
    store.fcs = old[1 - store.FORMS:] + [[context, obis]]
    try:
        store._save(store.ceiling, store.journal, store._id)
    except Exception:  # noqa: BLE001 - only a hint: the old record stays, and the old list
        store.fcs = old
        raise
    return obis
