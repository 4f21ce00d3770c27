"""Token encoding ``auto``: find the form of the token a meter wants (issue 20).

A Token Gateway (IC 115, Blue Book §4.6.x) that answers ``enter`` with the action-result
type-unmatched (12, IEC 62056-5-3 Action-Result) did not execute the method: the
parameter had the wrong form, no token was processed. Trying the next form in the same
association is therefore safe, and the first form the meter executes is the one it wants.
Meters say "not this form" in other words too (issue 24): object-class-inconsistent (9)
(an independent server library's default build), and type-unmatched (12) with token_status
format-failure (4) for that very token. Those are wrong forms as well (:func:`wrong_form`).

``enter(session, digits, first)`` sends ``first`` (the form remembered for this meter,
else ``ascii``), and on a wrong form *only* the next one of ``ORDER``, each as a new ACTION request
(its own invocation counter, from the session's counter, and its own invoke-id). Any other
answer ends it exactly as a fixed encoding does: success, another action-result, a
token_status verdict, or an exception (no answer: the outcome is unknown, never a retry).
Loaded only when the encoding is ``auto``; the caller remembers what worked.
"""

ORDER = ("ascii", "digits", "bcd", "hex")


def order(first=None):
    """The forms to try: ``first`` (when it is one of ORDER), then the rest of ORDER."""
    if first not in ORDER:
        return ORDER
    out = (first,)
    for e in ORDER:  # (a loop: a generator is a code object of its own)
        if e != first:
            out += (e,)
    return out


def wrong_form(r):
    """The meter's "not this form" answer to one attempt, or None for a verdict: the
    action failed with type-unmatched (12) or object-class-inconsistent (9) and no
    token_status speaks of this token beside it (12 / 9), or token_status says
    format-failure (4) for it ("12+format-failure"). Any other token_status of this token
    is a verdict. Decided without loading the words (udlms.results)."""
    a = r.action_result
    if r.accepted or a not in (9, 12):
        return None
    if r.status_code is None or not getattr(r, "status_ours", True):
        return a
    if r.status_code == 4:
        return "%d+format-failure" % a
    return None


def enter(session, digits, first=None, note=None, enter_token=None):
    """Token Gateway ``enter`` in the form the meter wants -> the last TokenResult, with
    ``encoding`` (the form of the last attempt), ``attempts`` (``[[form, result], ...]``,
    result 12 for a type-unmatched answer, else the outcome's kind) and ``learned`` (True
    when the meter accepted a form found after a type-unmatched answer).

    ``note(form, result)`` is called for each attempt before it is sent (result None) and
    after each wrong-form answer (result: :func:`wrong_form`), so a journal can record
    every attempt.
    ``session.attempts`` holds the same list while it runs: after an exception its last
    entry (result None) is the form whose answer never came. ``enter_token`` is
    :func:`udlms.client.token.enter_token` (or a stand-in): the caller hands it over, so this
    module never imports token (token imports this one for ``auto``)."""
    s = session.settings
    base = getattr(s, "invoke", 0xC1)
    attempts = []
    session.attempts = attempts
    r = None
    try:
        for i, form in enumerate(order(first)):
            s.invoke = (base & 0xF0) | ((base + i) & 0x0F)  # a new invoke-id per attempt
            attempts.append([form, None])
            if note is not None:
                note(form, None)
            r = enter_token(session, digits, form)
            wrong = wrong_form(r)
            if wrong is None:
                attempts[-1][1] = "accepted" if r.accepted else (r.status_name or r.kind)
                break
            attempts[-1][1] = wrong
            if note is not None:
                note(form, wrong)
    finally:
        s.invoke = base
    r.encoding = form
    r.attempts = attempts
    r.learned = bool(r.accepted and len(attempts) > 1)
    return r


def verdict(r):
    """``(suffix, message)`` for the display, the REPL and the CLI: the suffix says once
    what was learned (`` (meter wants BCD; remembered)``); after wrong-form answers to
    every form the message says so, in the meter's words, instead of "check token
    encoding"."""
    if getattr(r, "learned", False):
        return " (meter wants %s; remembered)" % r.encoding.upper(), r.message
    tried = getattr(r, "attempts", ())
    if len(tried) == len(ORDER) and wrong_form(r) is not None:
        from udlms.client import token_status  # the words, loaded once the session is over

        return "", token_status.every_form(tried)
    return "", r.message


def journal_note(attempts):
    """``"ascii:12 digits:12 bcd:accepted"``: each attempt's form and result, short enough
    for a board's journal."""
    out = ""
    for a in attempts:
        out += " %s:%s" % (a[0], "unknown" if a[1] is None else a[1])
    return out[1:]
