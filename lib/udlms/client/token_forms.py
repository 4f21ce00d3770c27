"""Encoding ``auto`` in words (issue 24): what a meter said to each wrong token form, for
the verdict shown once the session is over. Kept apart from :mod:`udlms.client.token_auto`
so the search itself stays small while a session holds the heap."""


def words(result):
    """A wrong-form result (:func:`udlms.client.token_auto.wrong_form`) in words:
    ``type-unmatched (12)``, ``object-class-inconsistent (9)``, ``type-unmatched (12) with
    token_status format-failure (4)``."""
    s = str(result)
    a = "type-unmatched (12)" if s[:2] == "12" else "object-class-inconsistent (9)"
    return a + (" with token_status format-failure (4)" if "+" in s else "")


def every_form(tried):
    """The message after a wrong-form answer to every form: the meter's own words, once
    when it said the same to each (IEC 62056-5-3 Action-Result, Blue Book IC 115)."""
    said = []
    for a in tried:
        if a[1] not in said:
            said.append(a[1])
    forms = ", ".join(a[0] for a in tried)
    if len(said) == 1:
        how = "%s to every token form (%s)" % (words(said[0]), forms)
    else:
        how = "every token form is the wrong one (%s)" % ", ".join(
            "%s: %s" % (a[0], words(a[1])) for a in tried)
    return ("meter says %s: check the Token Gateway object and the meter's token format"
            % how)
