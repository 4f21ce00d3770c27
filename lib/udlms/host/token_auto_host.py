"""Host side of token encoding ``auto`` (issue 20; CPython only, used by ``udlms
enter-token``): the form each meter accepted is kept in the host's counter store
(:mod:`udlms.host.counters`) as a fact about that meter, under the security context its
invocation counters are keyed by (:func:`udlms.host.counters.context_key`) and the meter's
system title from the AARE (else its HDLC address, :func:`udlms.host.counters.meter_key`);
each wrong-form answer (type-unmatched, object-class-inconsistent, format-failure) is
journaled before the next form goes out. The sequence
itself is :func:`udlms.client.token_auto.enter`.
"""

FACT = "token_encoding"


def meter(settings, server_title=None):
    """The store key of the meter these settings reach (see the module)."""
    from udlms.host import counters

    s = settings
    if s.ek is not None and s.system_title is not None:
        ctx = counters.context_key(s.ek, s.system_title)
    else:  # no ciphering, no security context: the client SAP stands in
        ctx = "plain|client:%s" % s.client
    return counters.meter_key(ctx, server_title, s.server_logical, s.server_physical)


def recall(path, settings, server_title=None):
    """The form remembered for this meter in the store at ``path``, or None."""
    from udlms.host import counters
    from udlms.client import token_auto

    form = counters.CounterStore(path).recall(meter(settings, server_title), FACT)
    return form if form in token_auto.ORDER else None


def known_forms(path):
    """Every remembered form in the counter store at ``path`` ({meter key: form}), read
    before the session opens: nothing but the token's requests runs between the AARQ and
    the enter (a concurrent client's counters then have less room to overtake ours). A
    missing or unreadable file knows nothing (the counters report a damaged file)."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            meters = json.load(f).get("meters", {})
        return dict((k, v.get(FACT)) for k, v in meters.items()
                    if isinstance(v, dict) and v.get(FACT))
    except (OSError, ValueError, AttributeError):
        return {}


def enter(sess, digits, path, journal=None, known=None):
    """``enter`` with encoding auto over the open session ``sess``: the remembered form
    first, the next form on a wrong-form answer only (:func:`udlms.client.token_auto.wrong_form`);
    the accepted form is remembered.
    ``known`` is :func:`known_forms` read before the session (else the store is read
    now). Returns the TokenResult of :func:`udlms.client.token_auto.enter` with ``remembered``
    (the store now holds a form it did not hold before) and ``remember_error`` (why it
    could not be written, or None)."""
    from udlms.host import counters
    from udlms.client import token, token_auto
    from udlms.errors import DlmsError

    title = sess.sec.server_title if getattr(sess, "sec", None) is not None else None
    key = meter(sess.settings, title)
    store = counters.CounterStore(path)
    first = known.get(key) if known is not None else store.recall(key, FACT)

    def note(form, result):
        if result is not None and journal is not None:  # before the next form goes out
            journal.add(digits, "pending", attempt=len(sess.attempts), encoding=form,
                        result=_result_word(result))

    r = token_auto.enter(sess, digits, first if first in token_auto.ORDER else None, note,
                         token.enter_token)
    r.remembered = False
    r.remember_error = None
    if r.accepted and r.encoding != first:
        try:
            store.remember(key, FACT, r.encoding)
            r.remembered = True
        except (DlmsError, OSError) as e:  # the token is in; say the memory is not
            r.remember_error = getattr(e, "message", None) or str(e)
    return r


def _result_word(result):
    """An attempt's result for --json and the journal: ``type-unmatched``,
    ``object-class-inconsistent``, ``type-unmatched+format-failure``, ``unknown`` (None:
    the answer never came) or the outcome's kind."""
    if result is None:
        return "unknown"
    s = str(result)
    if s[:2] in ("12", "9", "9+"):
        return ("type-unmatched" if s[:2] == "12" else "object-class-inconsistent") + (
            "+format-failure" if "+" in s else "")
    return result


def attempts_json(attempts):
    """``[{"encoding": "ascii", "result": "type-unmatched"}, ...]`` for --json and the
    journal (see :func:`_result_word`)."""
    out = []
    for form, result in attempts or ():
        out.append({"encoding": form, "result": _result_word(result)})
    return out


def verdict(r):
    """``(suffix, message)`` as :func:`udlms.client.token_auto.verdict`, saying so when the form
    found could not be written to the store."""
    from udlms.client import token_auto

    suffix, message = token_auto.verdict(r)
    if getattr(r, "learned", False) and getattr(r, "remember_error", None):
        suffix = " (meter wants %s; not remembered: %s)" % (r.encoding.upper(),
                                                             r.remember_error)
    return suffix, message
