"""What a tokenpad action does around its sessions, loaded for each part and forgotten after
it, so that none of it is held while a session runs (its peak) nor while the app idles
(issue 26); one module rather than four (each module loaded interns its dotted name and its
path for good):

- the two ends of a token delivery (:mod:`tokenpad.deliver`): before the session, validate,
  journal as pending and build the session's settings (:func:`prepare`); after it, settle
  the journal and say the outcome (:func:`outcome`): ACCEPTED, REJECTED: ... (Green Book
  4.7: Token Gateway IC 115 token_status), or ``udlms.results.explain`` for failures;
- what a session takes from config.json (``Config.settings`` and ``Config.context``);
- the store's writes (:class:`tokenpad.store.Store` delegates to these): the invocation
  counter's reserve-ahead (Green Book 9.2.7.3: a ceiling is persisted before any value
  below it is handed out), resync, the remembered token forms and the journal; every write
  is one whole record (``Store`` docstring), so a power cut keeps the old record or the new;
- the invocation counter from the meter (issue 24): its frame counter found where the meter
  publishes it (the object remembered for this meter first, then the usual places), and the
  one resync after the meter refused our AARQ over the counter.
"""

import json


# -- config.json -> the session's settings ------------------------------------------------
def settings(cfg, cls, k):
    """``Config.settings``: the validated values -> udlms.client.session.Settings (or
    ``cls``) with the caller's overrides ``k`` applied; raises ConfigError naming every
    bad field."""
    if cfg.errors:
        from udlms.errors import ConfigError

        raise ConfigError("%s has %d problem(s): %s" % (cfg.source, len(cfg.errors),
                          "; ".join(cfg.errors)), "config")
    if cls is None:
        from udlms.client.session import Settings as cls

    v = cfg.values
    kw = {"client": v["client"], "server_logical": v["server_logical"],
          "server_physical": v["server_physical"], "address_size": v["address_size"],
          "mechanism": {"hls-gmac": 5, "lls": 1, "none": 0}[v["mode"]],
          "encoding": v["encoding"], "timeout_ms": v["timeout_ms"], "retries": v["retries"],
          "max_info_tx": v["max_info"], "max_info_rx": v["max_info"],
          "gateway": v["gateway"], "frame_counter": v["frame_counter"]}
    if v["mode"] == "hls-gmac":
        kw["ek"] = v["ek"]
        kw["ak"] = v["ak"]
        kw["system_title"] = v["system_title"]
    if v["mode"] == "lls":
        kw["password"] = v["password"]
    kw.update(k)
    return cls(**kw)


def context(v):
    """``Config.context`` of the values ``v``: 4 bytes of SHA-256 over the security
    context, as 8 hex digits."""
    from udlms.port import sha256

    text = "|".join(str(v[k]) for k in ("mode", "ek", "ak", "system_title", "password",
                                         "client", "server_logical", "server_physical",
                                         "address_size", "gateway"))
    return sha256(text.upper().encode()).digest()[:4].hex()


# -- the store's writes -------------------------------------------------------------------
def save(st, ceiling, journal, n, forms=None):
    """Write the one record: counter ceiling, next journal id ``n``, journal, forms,
    frame-counter objects."""
    d = {"c": ceiling, "n": n, "j": journal}
    forms = st.forms if forms is None else forms
    if forms:
        d["e"] = forms
    if st.fcs:
        d["f"] = st.fcs
    st.medium.save(json.dumps(d).encode())


def next_value(st):
    """A never-used invocation counter value (reserves ahead on the medium first)."""
    if st._next is None or st._next > 0xFFFFFFFF:
        from udlms.errors import SecurityError  # only to refuse: not held while idle

        if st._next is None:
            raise SecurityError("invocation counter " + ("corrupt: run tp.resync()" if
                                st.damaged else "missing: read it from the meter"),
                                "counter-unavailable")
        raise SecurityError("invocation counter exhausted: the keys must be changed",
                            "counter-unavailable")
    if st._next >= st._ceiling:
        new = min(st._next + st.step, 0x100000000)
        save(st, new, st.journal, st._id)  # persist before use
        st._ceiling = new
    v = st._next
    st._next += 1
    return v


def reserve(st, n=16):
    """Reserve ahead now, before a session (persisted before use), so that its first ``n``
    ``Store.next()`` calls hand out values the medium already has: this module and the
    record framing are not loaded while its frames go on (issue 26). A token session uses
    at most a dozen (AARQ, HLS pass 3, an ``enter`` per form, the status reads, RLRQ)."""
    v = st._next
    if v is not None and v <= 0xFFFFFFFF and st._ceiling - v < n:
        new = min(v + max(st.step, n), 0x100000000)
        save(st, new, st.journal, st._id)
        st._ceiling = new


def resync(st, v):
    """Move our counter past the meter's frame counter ``v`` (and past anything we used)."""
    new = int(v) + 1
    if st._next is not None and st._next > new:
        new = st._next
    save(st, new, st.journal, st._id)
    st._next = st._ceiling = new
    st.problem = None
    st.damaged = False
    return new


def remember(st, context, form):
    """Remember the form a meter accepted; True when that is news (it was written)."""
    if st.form(context) == form:
        return False
    forms = [e for e in st.forms if e[0] != context]
    forms = forms[len(forms) - st.FORMS + 1:] if len(forms) >= st.FORMS else forms
    forms.append([context, form])
    save(st, st._ceiling, st.journal, st._id, forms)
    st.forms = forms
    return True


def add(st, digits, note=""):
    """Journal a token as pending before it is sent; returns its id."""
    pend = [e for e in st.journal if e[2] == "pending"]
    if len(pend) >= st.MAX_PENDING:
        raise OSError("journal full of pending tokens: resolve them first (tp.status())")
    entry = [st._id, digits, "pending", note]
    journal = _trim(st, st.journal + [entry])
    save(st, st._ceiling, journal, st._id + 1)
    st.journal = journal
    st._id += 1
    return entry[0]


def settle(st, entry_id, state, note=""):
    """Record the outcome of a journaled token (``state``: pending, accepted, refused or
    unknown)."""
    s = ("pending", "accepted", "refused", "unknown")
    if state not in s:
        raise ValueError("state must be one of %s" % ", ".join(s))
    journal = []
    found = False
    for e in st.journal:
        if e[0] == entry_id:
            e = [e[0], e[1], state, note]
            found = True
        journal.append(e)
    if not found:
        raise KeyError(entry_id)
    journal = _trim(st, journal)
    save(st, st._ceiling, journal, st._id)
    st.journal = journal


def settled(st, entry_id, state, note):
    """An action's outcome into the journal entry when it changed; never raises (the outcome
    is shown even if the flash is full). Here, not an App method: only an action that has
    loaded this module settles, and the idle app does not hold it (issue 26)."""
    try:
        e = st.get(entry_id)
        if e is not None and (e[2] != state or e[3] != note):
            st.set(entry_id, state, note)
    except Exception:  # noqa: BLE001
        pass


def _trim(st, journal):
    """Keep every pending entry and the last ``KEEP`` finished ones."""
    done = [e for e in journal if e[2] != "pending"]
    drop = len(done) - st.KEEP
    if drop <= 0:
        return journal
    gone = set(e[0] for e in done[:drop])
    return [e for e in journal if e[0] not in gone]


# -- a token delivery's two ends (tokenpad.deliver) ---------------------------------------
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
    try:
        reserve(app.store)
    except Exception as e:  # noqa: BLE001 - journaled, not sent
        return app.say("STORE", "cannot reserve invocation counters (%s): not sent" % (e,))
    return digits, jid, settings, form


def failed(app, jid, e, state, attempts):
    """A delivery attempt that raised ``e``: journal entry ``jid`` goes to ``state``
    (pending when nothing was sent, else unknown), its note the error's kind after
    encoding auto's ``attempts`` (if any). -> True when the meter refused our AARQ over the
    invocation counter (udlms.client.resync.stale, imported only for the two kinds it may
    be): one resync and one more association may help."""
    note = getattr(e, "kind", None) or "error"
    if attempts:
        from udlms.client.token_auto import journal_note

        note = journal_note(attempts) + " " + note
    settled(app.store, jid, state, note)
    if getattr(e, "kind", None) in ("counter-stale", "association-rejected"):
        from udlms.client import resync

        return resync.stale(e)
    return False


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


# -- the invocation counter from the meter ------------------------------------------------
def counter_from_meter(app, stream, settings, text):
    """Read the meter's frame counter (public client, no keys) and move ours past it."""
    app.display.show("COUNTER", text)
    value = read_counter(app, stream, settings)[0]
    new = app.store.resync(value)
    reserve(app.store)  # the session that follows hands them out without writing
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
            reserve(app.store)
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
