"""Port layer: the only module that knows MicroPython vs CircuitPython vs CPython.

Gives the rest of udlms monotonic ticks, sleeping, random bytes, SHA-256 and the dropping
of modules a phase no longer needs. The AES block primitive lives in :mod:`udlms.crypto.aes`
(also a port module).
"""

import sys

try:
    from micropython import const  # noqa: F401  (re-exported for library modules)
except ImportError:  # CPython

    def const(x):
        return x


# _FULL: 0 in the device build (tools/build/msgtable.py), which MicroPython and CircuitPython
# run (code loaded from .mpy files lives in the heap: see forget); 1 on CPython
_FULL = const(1)

import time  # noqa: E402

if hasattr(time, "ticks_ms"):  # MicroPython
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    sleep_ms = time.sleep_ms
else:  # CPython, CircuitPython (supervisor ticks are an option); one set of functions, not
    # one a runtime: MicroPython holds the code of every branch of a module (issue 26)

    def ticks_ms():
        ns = getattr(time, "monotonic_ns", None)  # very old CircuitPython: none
        return ns() // 1000000 if ns else int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def sleep_ms(ms):
        time.sleep(ms / 1000)


def forget(name):
    """MicroPython and CircuitPython: drop a module that only one phase of a session needs
    (``udlms.cosem.acse`` once the association stands) so its code leaves the heap at the next
    collection; a later import loads it again. A no-op on CPython (one module object)."""
    if name in sys.modules:
        forget_since(None, name)


def loaded():
    """The names in sys.modules now: pass them to :func:`forget_since` after a phase."""
    if _FULL:
        return ()
    return list(sys.modules)


def forget_since(before, prefixes=("udlms.",)):
    """MicroPython and CircuitPython: forget every module named with one of ``prefixes``
    imported since ``before = loaded()`` (a whole session path once the session is over),
    then collect: code loaded from .mpy files lives in the heap, so what a phase loaded
    leaves with it. A no-op on CPython. (``before`` None: ``prefixes`` is the one name to
    forget, for :func:`forget`.)"""
    if _FULL:
        return
    for name in list(sys.modules):
        hit = name == prefixes  # (a tuple of prefixes: False)
        if before is not None and name not in before:
            for p in prefixes:  # str.startswith takes no tuple before MicroPython 1.25
                if name.startswith(p):  # (the ESP32 v1.23 image)
                    hit = True
                    break
        if hit:
            del sys.modules[name]
            pkg, _, short = name.rpartition(".")
            try:  # and from its package (none loaded, or a module dict that cannot shrink)
                delattr(sys.modules[pkg], short)
            except Exception:  # noqa: BLE001, S110 - KeyError, AttributeError, TypeError
                pass
    import gc

    gc.collect()


def random_bytes(n):
    """n bytes from the best random source the runtime has (os.urandom, then random)."""
    try:
        import os

        return os.urandom(n)
    except (ImportError, AttributeError, NotImplementedError):
        import random

        b = bytearray(n)  # a loop, not a generator: no code object of its own (issue 26)
        for i in range(n):
            b[i] = random.getrandbits(8)
        return bytes(b)


def sha256(data=b""):
    """A SHA-256 object with update()/digest() on every runtime."""
    import hashlib

    f = getattr(hashlib, "sha256", None)
    if f is not None:
        return f(data)
    return hashlib.new("sha256", data)  # CircuitPython
