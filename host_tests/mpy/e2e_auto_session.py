"""MicroPython lane, end to end, library only: encoding ``auto`` over the real udlms session
against a simulated meter that wants ``hex`` (the last form: four attempts in one
association), started here (udlms.host.sim over TCP) and stopped by its process id.
Prints the peak heap of a fixed-encoding session and of the four-attempt auto session
(udlms.client.token_auto loaded in it) above the same baseline (after gc, at the session's
steps), so the cost of auto on the device path is measured where the lane runs: the same
heap as e2e_session.py.
"""

import gc
import sys

from mpytest import eq, main, test
from simproc import start_sim, stop_sim
from udlms.crypto.security import MemoryCounter

MICROPYTHON = sys.implementation.name == "micropython"
EK = b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
AK = b"\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf"
_sim = {}
_counter = MemoryCounter(1000)
_peak = {}


def mark(name):
    gc.collect()
    if MICROPYTHON:
        _peak[name] = max(_peak.get(name, 0), gc.mem_alloc())


def deliver(digits, encoding, name, first=None):
    from udlms.client import session, token
    from udlms.link import transport

    if "url" not in _sim:
        _sim["url"], _sim["pid"] = start_sim("--encoding hex", "_auto")
    host, port = _sim["url"][6:].split(":")
    mark(name)
    s = session.Settings(ek=EK, ak=AK, system_title=b"MPY\x00\x00\x00\x00\x02",
                         encoding=encoding, timeout_ms=2000)
    stream = transport.TcpStream(host, int(port), 2000)
    try:
        sess = session.Session(stream, s, _counter)
        sess.open()
        mark(name)
        try:
            if encoding == "auto":  # loaded only now, as on a board
                from udlms.client import token_auto

                r = token_auto.enter(sess, digits, first, None, token.enter_token)
            else:
                r = token.enter_token(sess, digits)
            mark(name)
        finally:
            sess.close()
    finally:
        stream.close()
    mark(name)
    return r


@test
def fixed_encoding_one_attempt():
    deliver("17813034313191558529", "ascii", "warm-up")  # the session's modules load here
    r = deliver("17813034313191558529", "ascii", "fixed")
    eq((r.accepted, r.action_result), (False, 12))
    eq(hasattr(r, "attempts"), False)


@test
def auto_finds_hex_in_four_attempts():
    r = deliver("05718854590197211241", "auto", "auto")
    eq(r.accepted, True)
    eq([a[0] for a in r.attempts], ["ascii", "digits", "bcd", "hex"])
    eq(r.learned, True)


@test
def auto_remembered_goes_in_one():
    r = deliver("59728710742563948820", "auto", "remembered", "hex")
    eq(r.attempts, [["hex", "accepted"]])


if __name__ == "__main__":
    try:
        main()
    finally:
        if "pid" in _sim:
            stop_sim(_sim["pid"])
        if MICROPYTHON and "fixed" in _peak and "auto" in _peak:
            base = _peak["warm-up"]
            print("peak heap: fixed-encoding session %d bytes, auto session of four attempts "
                  "%d bytes, above the warm-up session's peak %d (heap %d)"
                  % (_peak["fixed"] - base, _peak["auto"] - base, base,
                     gc.mem_alloc() + gc.mem_free()))
