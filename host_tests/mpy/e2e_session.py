"""MicroPython lane, end to end: a whole token session run by the library inside the
MicroPython unix port against udlms.host.sim over TCP (the lane runner starts the
simulator and passes its address in SIM_URL). Prints the peak heap. The lane also runs it
in the 32-bit WebAssembly port against the simulator's pty (mpytest.sim_stream).

Steps: token accepted; the same token refused (token_status 6); a wrong encoding refused
with type-unmatched (12). The invocation counter continues across the three sessions.
"""

import gc
import sys

from mpytest import eq, main, sim_stream, test
from udlms.crypto.security import MemoryCounter

_peak = [0]


def mark():
    gc.collect()
    try:
        used = gc.mem_alloc()
    except AttributeError:  # CPython
        return
    if used > _peak[0]:
        _peak[0] = used


_counter = MemoryCounter(1000)
EK = b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
AK = b"\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf"


def deliver(digits, encoding):
    from udlms.client import session, token

    mark()
    s = session.Settings(ek=EK, ak=AK, system_title=b"MPY\x00\x00\x00\x00\x01",
                         encoding=encoding, timeout_ms=2000)
    stream = sim_stream(2000)
    try:
        sess = session.Session(stream, s, _counter)
        sess.open()
        mark()
        try:
            r = token.enter_token(sess, digits)
            mark()
        finally:
            sess.close()
    finally:
        stream.close()
    mark()
    return r


@test
def token_accepted():
    r = deliver("17813034313191558529", "ascii")
    eq(r.accepted, True, "accepted")
    eq(r.status_code, 3)


@test
def same_token_refused():
    r = deliver("17813034313191558529", "ascii")
    eq(r.accepted, False)
    eq(r.status_code, 6)


@test
def wrong_encoding_type_unmatched():
    r = deliver("05718854590197211241", "bcd")
    eq(r.accepted, False)
    eq(r.action_result, 12)
    if "type-unmatched" not in r.message:
        raise AssertionError(r.message)


def report():
    if sys.implementation.name == "micropython":
        print("peak heap: %d bytes used of %d (after gc, at the session's steps)"
              % (_peak[0], gc.mem_alloc() + gc.mem_free()))


if __name__ == "__main__":
    try:
        main()
    finally:
        report()
