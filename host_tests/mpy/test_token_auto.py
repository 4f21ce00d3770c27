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


# -- meters differ (issue 24, case 3): "not this form" in other words -------------------
def says(how):
    """A gateway that takes only bcd and says ``how`` to the other forms."""
    sent = []

    def enter_token(sess, digits, form):
        sent.append(form)
        if form == "bcd":
            return token.TokenResult(True, "accepted", 3)
        if how == 9:  # object-class-inconsistent; the gateway's last token is not ours
            return token.TokenResult(False, None, None, 9, False)
        if how == "4":  # type-unmatched, token_status format-failure for this very token
            return token.TokenResult(False, "refused", 4, 12)
        return token.TokenResult(False, "refused", 6, 12)  # a verdict beside the 12

    return enter_token, sent


@test
def other_words_for_a_wrong_form():
    enter, sent = says(9)
    r = token_auto.enter(Session(), T, None, None, enter)
    eq((r.accepted, r.encoding, sent), (True, "bcd", ["ascii", "digits", "bcd"]))
    eq(token_auto.journal_note(r.attempts), "ascii:9 digits:9 bcd:accepted")
    enter, sent = says("4")
    notes = []
    r = token_auto.enter(Session(), T, None, lambda f, x: notes.append((f, x)), enter)
    eq(r.accepted, True)
    eq(token_auto.journal_note(r.attempts),
       "ascii:12+format-failure digits:12+format-failure bcd:accepted")
    eq(notes[1], ("ascii", "12+format-failure"))
    enter, sent = says("6")  # validation-failure of this token: a verdict, no second form
    r = token_auto.enter(Session(), T, None, None, enter)
    eq((r.accepted, sent), (False, ["ascii"]))


@test
def every_form_wrong_in_the_meters_words():
    def enter_token(sess, digits, form):
        return token.TokenResult(False, None, None, 9, False)

    r = token_auto.enter(Session(), T, None, None, enter_token)
    msg = token_auto.verdict(r)[1]
    eq(msg.startswith("meter says object-class-inconsistent (9) to every token form"), True)


if __name__ == "__main__":
    main()
    print("heap: importing udlms.client.token_auto takes %d bytes" % _cost)
