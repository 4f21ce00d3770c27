"""Tiny test harness for the MicroPython lane (micropython-lib style: plain scripts).

Usage in a test script::

    from mpytest import test, main
    @test
    def roundtrip():
        assert ...
    main()

Prints one line per test and a closing ``N passed, N failed`` line; exits 1 on failure.
The same scripts run unchanged under CPython (the lane runner does both).
"""

import sys

_tests = []


def test(f):
    _tests.append(f)
    return f


def eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s: %r != %r" % (what, a, b))


def raises(exc, f, *args, **kw):
    try:
        f(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("did not raise %s" % exc.__name__)


def sim_address():
    """(host, port) of the simulator the lane runner started (SIM_URL=tcp://HOST:PORT)."""
    import os

    url = os.getenv("SIM_URL") if hasattr(os, "getenv") else None
    if not url:
        raise AssertionError("SIM_URL not set: run through tools/run_tests.py")
    host, port = url[6:].split(":")
    return host, int(port)


class JsSerial:
    """The simulator's pty in the WebAssembly port: tools/wasm/run.mjs --serial offers it
    as js.globalThis.udlmsSerial (hex strings both ways)."""

    def __init__(self):
        import binascii

        import js

        port = js.globalThis.udlmsSerial
        self._write = port.write  # one proxy each, made once: not one per poll
        self._read = port.read
        self._hex = binascii.hexlify  # no import statement per poll either
        self._unhex = binascii.unhexlify

    def write(self, b):
        self._write(self._hex(b).decode())
        return len(b)

    def readinto(self, buf):
        h = self._read(len(buf))
        if not h:
            return 0
        data = self._unhex(h)
        n = len(data)
        buf[:n] = data
        return n

    def close(self):
        pass


def sim_stream(timeout_ms):
    """A stream to the simulator the lane runner started: TCP (SIM_URL), or its pty in
    the WebAssembly port."""
    if sys.platform == "webassembly":
        return JsSerial()
    from udlms import transport

    host, port = sim_address()
    return transport.TcpStream(host, port, timeout_ms)


def main():
    passed = failed = 0
    for f in _tests:
        try:
            f()
            passed += 1
            print("PASS", f.__name__)
        except Exception as e:  # noqa: BLE001
            failed += 1
            print("FAIL", f.__name__, repr(e))
            try:
                sys.print_exception(e)
            except AttributeError:
                import traceback

                traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed))
    if failed or not passed:
        sys.exit(1)
