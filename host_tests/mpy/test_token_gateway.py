"""MicroPython lane: the board's Token Gateway client reads token_status after the meter
fails the enter action (issue 18): the verdict and its words come from token_status when
the gateway's last token is ours, with the action result beside; else the action's reason.
Its own script: the session modules enter_token loads need a fresh 64 KB heap."""
# lane-heap: 80k  (needs 56-60k from source: 64k sat on the edge; figures: make bench)


from mpytest import eq, main, test

from udlms.client import token

T = "05718854590197211241"


class _Answer:
    def __init__(self, result):
        self.result = result


class _Gateway:
    """A session whose meter fails the enter action with ``action`` and keeps ``status``
    in token_status for the token ``last`` (issue 18: the board reads token_status too)."""

    class settings:  # the Settings fields enter_token uses (Settings would load hdlc)
        encoding = "ascii"
        invoke = 0xC1
        gateway = token.GATEWAY_OBIS
        status_polls = 1
        status_poll_ms = 0

    def __init__(self, action, status, last):
        self.action, self.status, self.last = action, status, last
        self.token_sent = False

    def request(self, req):
        return _Answer(self.action)

    def get(self, cid, obis, attr):
        if attr == token.TOKEN:
            return self.last
        return bytes((2, 2, 0x16, self.status, 4, 8, 0x40))


def _unload():
    """Drop the session's modules, as the app does once the session is closed, so that
    the words (results) fit in 64 KB."""
    import gc
    import sys

    from udlms.port import forget

    for k in sorted(sys.modules, reverse=True):  # a package's modules before the package
        if k.startswith("udlms.") and k not in ("udlms.errors", "udlms.port",
                                                "udlms.client", "udlms.client.token"):
            forget(k)
    gc.collect()


@test
def failed_enter_reads_token_status():
    ours = token.octet_string(T)
    r = token.enter_token(_Gateway(250, 6, ours), T)
    earlier = token.octet_string("17813034313191558529")
    r2 = token.enter_token(_Gateway(12, 6, earlier), T)
    _unload()
    eq((r.accepted, r.status_code, r.action_result, r.status_ours), (False, 6, 250, True))
    eq(r.kind, "refused")
    eq("already used" in r.message and "other-reason (250)" in r.message, True)
    # token_status of an earlier token: the action's reason stands
    eq((r2.accepted, r2.status_ours, r2.action_result), (False, False, 12))
    eq(r2.kind, "type-unmatched")
    eq(r2.message.startswith("meter says type-unmatched (12)"), True)


main()
