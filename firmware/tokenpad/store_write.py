"""The store's writes (:class:`tokenpad.store.Store` delegates to these): the invocation
counter's reserve-ahead (Green Book 9.2.7.3: a ceiling is persisted before any value below
it is handed out), resync, the remembered token forms and the journal. Loaded by the action
that writes and forgotten with it (``tokenpad.app._lean``): the idle app holds only what it
reads (issue 26). Every write is one whole record (``Store`` docstring), so a power cut
keeps the old record or the new one.
"""

import json

STATES = ("pending", "accepted", "refused", "unknown")  # a journal entry's state


def save(st, ceiling, journal, next_id, forms=None):
    """Write the one record: counter ceiling, next journal id, journal, forms, frame-counter
    objects."""
    d = {"c": ceiling, "n": next_id, "j": journal}
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


def resync(st, meter_value):
    """Move our counter past the meter's frame counter (and past anything we used)."""
    new = int(meter_value) + 1
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
    journal = trim(st, st.journal + [entry])
    save(st, st._ceiling, journal, st._id + 1)
    st.journal = journal
    st._id += 1
    return entry[0]


def settle(st, entry_id, state, note=""):
    """Record the outcome of a journaled token."""
    if state not in STATES:
        raise ValueError("state must be one of %s" % ", ".join(STATES))
    journal = []
    found = False
    for e in st.journal:
        if e[0] == entry_id:
            e = [e[0], e[1], state, note]
            found = True
        journal.append(e)
    if not found:
        raise KeyError(entry_id)
    journal = trim(st, journal)
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


def trim(st, journal):
    """Keep every pending entry and the last ``KEEP`` finished ones."""
    done = [e for e in journal if e[2] != "pending"]
    drop = len(done) - st.KEEP
    if drop <= 0:
        return journal
    gone = set(e[0] for e in done[:drop])
    return [e for e in journal if e[0] not in gone]
