"""``udlms enter-token``: validate, journal, deliver and explain one token (a token the
journal marks unknown or pending is first looked for on the meter; encoding auto)."""

from udlms.host.cli.base import (EXIT_ACCEPTED, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_REFUSED,
                                 EXIT_UNKNOWN, _Interrupted, _as_dlms, _exit_for, _label,
                                 _print_exchange, _unprocessed)
from udlms.host.journal import Journal, _counter_path, _journal_path
from udlms.host.cli.run import _conn_settings, _interrupt_guard


# -- enter-token ------------------------------------------------------------------------
class _Found:
    """What the gateway showed for a token the journal marked `unknown` (a TokenResult's
    fields)."""

    action_result = 0
    status_ours = True

    def __init__(self, accepted, kind, status_code, message):
        self.accepted = accepted
        self.kind = kind
        self.status_code = status_code
        self.message = message

    @property
    def status_name(self):
        from udlms.client.token_status import text as status_text

        return None if self.status_code is None else status_text(self.status_code)[0]


def _check_gateway(sess, digits, data):
    """The journal said `unknown`: read the gateway's last token (attribute 2) and
    token_status (6), the soak's rule. Returns a _Found verdict, or None when the meter's
    last token is another one (ours never reached it: safe to enter)."""
    from udlms.client import token
    from udlms.errors import ServiceError
    from udlms.client.token_status import text as status_text

    s = sess.settings
    again = "not entered again (--force enters it anyway)"
    try:
        last = sess.get(token.CLASS_ID, s.gateway, token.TOKEN)
    except ServiceError as e:
        return _Found(False, "unknown", None, "cannot read the gateway's last token (%s): %s"
                      % (e.message, again))
    if last != data and not _holds(last, digits):
        return None
    try:
        code = token.status_code(sess.get(token.CLASS_ID, s.gateway, token.TOKEN_STATUS))
    except ServiceError as e:
        return _Found(False, "unknown", None, "the meter holds this token but its "
                      "token_status is not readable (%s): %s" % (e.message, again))
    name, msg = status_text(code)
    if 3 <= code <= 7:
        return _Found(code == 3, "accepted" if code == 3 else "refused", code,
                      "%s (found on the meter: the token was not entered again)" % msg)
    return _Found(False, "unknown", code, "the meter holds this token, not finished with it "
                  "(%s): %s" % (name, again))


def _auto_fields(sess, r=None):
    """--json and journal fields of the token form (issue 20): ``encoding`` (the form of
    the last attempt), ``learned`` (found now and remembered) and, with auto, ``attempts``
    (each form and its result)."""
    attempts = getattr(sess, "attempts", None)
    if attempts is None:
        enc = sess.settings.encoding if sess is not None else None
        return {"encoding": None if enc == "auto" else enc, "learned": False}
    from udlms.host import token_auto_host

    error = getattr(r, "remember_error", None)
    out = {"encoding": attempts[-1][0], "learned": bool(getattr(r, "learned", False))
           and not error, "attempts": token_auto_host.attempts_json(attempts)}
    if error:
        out["remember_error"] = error  # found, but the store could not keep it
    return out


def _auto_words(r):
    """(label suffix, message): `` (meter wants BCD; remembered)`` once, with auto."""
    if getattr(r, "attempts", None) is None:
        return "", r.message
    from udlms.host import token_auto_host

    return token_auto_host.verdict(r)


def _holds(last, digits):
    """The gateway's last token (A-XDR octet-string) is this token in whatever form it went
    in (encoding auto may have sent it as bcd, digits or hex)."""
    from udlms.client import token_info

    raw = bytes(last)
    if len(raw) < 2 or raw[0] != 0x09 or raw[1] != len(raw) - 2:
        return False
    got = token_info.decode_token_bytes(raw[2:])
    return got is not None and got[0] == digits


def cmd_enter_token(args, out):
    from udlms import errors
    from udlms.client import token, token_info

    result = {"token": None, "accepted": False}
    run = None
    digits = journal = None
    jstate = None
    sent = False
    try:
        try:
            digits = token.parse(args.token)
            result["token"] = token_info.format(digits)
            d, s, run = _conn_settings(args, "enter-token", out)
            run.check_store()
            journal = Journal(_journal_path(d))
            previous = journal.state(digits)
            data = token.octet_string(digits, s.encoding if s.encoding != "auto" else "ascii")
            journal.add(digits, "pending", port=d.get("port"))
            jstate = "pending"
            # `pending`: an earlier run ended (killed, power lost) without a verdict
            check = previous in ("unknown", "pending") and not args.force
            if check:
                run.note("the journal says this token's outcome is %s: reading the "
                         "gateway's token and token_status first (--force skips this)"
                         % ("unknown" if previous == "unknown" else
                            "unknown (pending: an earlier run ended without a verdict)"))

            if s.encoding == "auto":  # forms remembered per meter, read before the AARQ
                from udlms.host import token_auto_host

                known = token_auto_host.known_forms(_counter_path(d))

            def work(sess):
                if check:
                    found = _check_gateway(sess, digits, data)
                    if found is not None:
                        return found, "checked"
                    run.note("the meter's last token is another one: this token never "
                             "reached it; entering it now")
                if s.encoding == "auto":  # issue 20: the form found and remembered per meter
                    r = token_auto_host.enter(sess, digits, _counter_path(d), journal, known)
                else:
                    r = token.enter_token(sess, digits, s.encoding)
                return r, "entered"

            r, how = run.session(work)
            sent = how == "entered"
        except BaseException as e:
            sent = run is not None and getattr(getattr(run, "sess", None), "token_sent", False)
            if jstate == "pending":
                if isinstance(e, (KeyboardInterrupt, _Interrupted)):
                    _interrupt_guard()
                state = "unknown" if sent else "not-sent"
                if isinstance(e, errors.ServiceError) and sent and not _unprocessed(e):
                    state = "refused"
                auto = _auto_fields(getattr(run, "sess", None))
                result.update(auto)
                try:
                    journal.add(digits, state, error=getattr(e, "kind", type(e).__name__),
                                **auto)
                    jstate = state
                except Exception as je:  # noqa: BLE001 - the first failure is the story
                    run.note("could not record `%s` in the journal: %s" % (state, je))
            raise
        if r.accepted:
            label, code = "ACCEPTED", EXIT_ACCEPTED
            jstate = "accepted"
        elif r.kind == "unknown":
            label, code = "UNKNOWN", EXIT_UNKNOWN
            jstate = "unknown"
        else:
            label, code = "REJECTED", EXIT_REFUSED
            jstate = "refused"
        auto = _auto_fields(run.sess if how == "entered" else None, r)
        try:
            journal.add(digits, jstate, status=r.status_code, action_result=r.action_result,
                        message=r.message, **auto)
        except Exception as e:  # noqa: BLE001 - the meter's verdict is still the result
            run.note("could not record the verdict in the journal: %s" % e)
        suffix, message = _auto_words(r)
        text = "%s%s: %s" % (label, suffix, message)
        if r.status_code is not None:
            text += " [token_status %d %s%s]" % (r.status_code, r.status_name,
                                                 "" if r.status_ours
                                                 else ", about an earlier token")
        result.update(accepted=r.accepted, status_code=r.status_code,
                      status_name=r.status_name, message=r.message, result=r.kind,
                      action_result=r.action_result, status_ours=r.status_ours,
                      checked_first=how == "checked", **auto)
    except (KeyboardInterrupt, _Interrupted):
        label, code = "INTERRUPTED", EXIT_INTERRUPTED
        msg = ("interrupted after the token went out: the meter may have taken it; read its "
               "token_status before entering it again" if sent else
               "interrupted before the token was sent" if jstate else "interrupted")
        text = "%s: %s" % (label, msg)
        result.update(result="interrupted", message=msg)
    except Exception as e:  # noqa: BLE001 - every failure is named
        e = _as_dlms(e)
        code = _exit_for(e, sent)
        label = _label(e)
        msg = e.message
        if sent and code == EXIT_UNKNOWN:
            label = "UNKNOWN"
            msg += ("; the token may have reached the meter: read its token_status before "
                    "entering it again")
        elif code == EXIT_INPUT:
            msg += " (nothing was sent)" if "nothing was sent" not in msg else ""
        elif _unprocessed(e):
            msg += (": the meter threw the request away unprocessed (another client may "
                    "have used a newer invocation counter meanwhile): run it again")
        text = "%s: %s" % (label, msg)
        result.update(accepted=False, result=e.kind, message=msg, code=e.code)
    finally:
        if run is not None:
            run.tracer.close()
    if run is not None and out.verbose and run.tracer.lines:
        _print_exchange(run.tracer, run.s, out)
    result.update(verdict=label, exit=code, journal=jstate,
                  notes=run.notes if run is not None else [])
    if out.json:
        out.obj(result)
    else:
        out.line(text)
        for n in (run.notes if run is not None else []):
            if not out.verbose:
                out.line("  note: " + n)
    return code
