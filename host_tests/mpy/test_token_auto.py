"""MicroPython lane (64 KB heap): encoding ``auto``'s sequence (udlms.client.token_auto) with a
stand-in gateway: the order of forms, a new invoke-id per attempt, stop at the first
answer that is not type-unmatched (12), an exception ends it with the form in flight
recorded, the words said once. Prints what importing token_auto costs in heap."""

import gc

from mpytest import eq, main, raises, test

from udlms.client import token
from udlms.errors import NoAnswer

gc.collect()
_before = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
from udlms.client import token_auto  # noqa: E402

gc.collect()
_cost = (gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0) - _before
T = "17813034313191558529"


class Settings:
    invoke = 0xC1


class Session:
    def __init__(self):
        self.settings = Settings()


def gateway(want, then="accept", lose_at=None):
    """enter_token stand-in for a meter wanting ``want``; records (form, invoke, octets)."""
    sent = []

    def enter_token(sess, digits, form):
        sent.append((form, sess.settings.invoke, token.encode(digits, form)))
        if len(sent) == lose_at:
            raise NoAnswer("no answer to the action request", "no-answer")
        if want != "any" and form != want:
            return token.TokenResult(False, None, action_result=12)
        if then == "refuse":
            return token.TokenResult(False, "refused", 6)
        if then == "other":
            return token.TokenResult(False, None, action_result=250)
        return token.TokenResult(True, "accepted", 3)

    return enter_token, sent


@test
def each_form_in_order_with_new_invoke_ids():
    for k, want in enumerate(token_auto.ORDER):
        enter, sent = gateway(want)
        s = Session()
        r = token_auto.enter(s, T, None, None, enter)
        eq([x[0] for x in sent], list(token_auto.ORDER[:k + 1]))
        eq([x[1] for x in sent], [0xC1, 0xC2, 0xC3, 0xC4][:k + 1])
        eq(s.settings.invoke, 0xC1)
        eq((r.accepted, r.encoding, r.learned), (True, want, k > 0))
        eq(token_auto.verdict(r)[0], " (meter wants %s; remembered)" % want.upper()
           if k else "")


@test
def remembered_form_first():
    enter, sent = gateway("hex")
    r = token_auto.enter(Session(), T, "hex", None, enter)
    eq([x[0] for x in sent], ["hex"])
    eq(r.learned, False)
    eq(token_auto.order("digits"), ("digits", "ascii", "bcd", "hex"))


@test
def refusals_end_it():
    for then in ("refuse", "other"):
        enter, sent = gateway("digits", then)
        r = token_auto.enter(Session(), T, None, None, enter)
        eq(len(sent), 2)
        eq((r.accepted, r.learned), (False, False))
    enter, sent = gateway("any")
    eq(token_auto.enter(Session(), T, None, None, enter).attempts, [["ascii", "accepted"]])


@test
def lost_answer_ends_it_unknown():
    enter, sent = gateway("bcd", lose_at=2)
    s = Session()
    notes = []
    raises(NoAnswer, token_auto.enter, s, T, None, lambda f, r: notes.append((f, r)), enter)
    eq(len(sent), 2)
    eq(s.attempts, [["ascii", 12], ["digits", None]])
    eq(notes, [("ascii", None), ("ascii", 12), ("digits", None)])
    eq(token_auto.journal_note(s.attempts), "ascii:12 digits:unknown")
    eq(s.settings.invoke, 0xC1)


@test
def every_form_refused():
    enter, sent = gateway("none")
    r = token_auto.enter(Session(), T, None, None, enter)
    eq(len(sent), 4)
    assert "every token form" in token_auto.verdict(r)[1], r.attempts


if __name__ == "__main__":
    main()
    print("heap: importing udlms.client.token_auto takes %d bytes" % _cost)
