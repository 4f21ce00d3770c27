"""The REPL helpers ``tp.probe()`` and ``tp.selftest()`` (:mod:`tokenpad.repl` loads this
module for the call only, issue 26): how a meter answers (IEC 62056-21 mode E or direct
HDLC, IEC 62056-46; baud, address size), its logical device name and frame counter; the
store, the AES known answer (FIPS-197 C.1), the settings and the meter port. Each takes
the app and prints a line per step."""


def probe(a):
    """Find how the meter answers (mode E or direct HDLC, baud, address size) with the
    public client, then read its logical device name and frame counter. Never sends a
    token. Prints one line per attempt and the settings to put in config.json."""
    from udlms.client import probe as _p
    from udlms.errors import DlmsError

    stream = a.open_stream()
    serial = hasattr(stream, "configure")  # a UART that can switch baud and parity
    try:
        found = _configured(a, stream, _p)
        if found is None:
            found = _p.probe(stream, serial=serial, mode_e=serial, report=print)
        if found is None:
            print("NOTHING ANSWERED: check the probe, its position and the wiring")
            return None
        try:
            _p.identify(stream, found, frame_counters=_frame_counters(a))
        except DlmsError as e:
            print("answered, but reading its name failed: %s" % e.message)
        print("FOUND: %r; name %s, frame counter %s" % (
            found, found.ldn, "%s at %s" % (found.frame_counter, found.frame_counter_obis)
            if found.frame_counter is not None else "not readable (tried %s)"
            % ", ".join(found.frame_counter_tried)))
        print("config.json: %s" % (found.settings(),))
        return found
    finally:
        if hasattr(stream, "close"):
            stream.close()


def _frame_counters(a):
    """Where to look for the frame counter: config.json's object, the client's, then the
    usual places (udlms.client.resync.candidates)."""
    from udlms.client import resync

    try:
        return resync.candidates(a.cfg.settings(getattr(a.lib, "Settings", None)))
    except Exception:  # noqa: BLE001 - settings incomplete: the usual places
        return ("0.0.43.1.1.255", "0.0.43.1.0.255")


def _configured(a, stream, _p):
    """The address config.json names, tried first with its own baud and time-out (the scan
    after it uses short time-outs and the usual addresses only)."""
    from udlms.errors import LinkError

    cfg = getattr(a, "cfg", None)
    if cfg is None:
        return None
    v = cfg.values
    try:
        size, ph, logical = v["address_size"], v["server_physical"], v["server_logical"]
        if size != 1 and ph is None:
            ph = 17
        if size == 1:
            ph = None
        timeout = v["timeout_ms"]
    except (KeyError, TypeError):
        return None
    where = "configured server %d%s, address size %d, %s baud" % (
        logical, "" if ph is None else "/%d" % ph, size, v.get("baud"))
    try:
        link = _p.try_hdlc(stream, size, ph, logical, timeout)
    except LinkError as e:
        print("  %s: %s" % (where, e.message))
        return None
    except Exception as e:  # noqa: BLE001 - a bad setting: say so and scan
        print("  %s: %s" % (where, e))
        return None
    if link is None:
        print("  %s: no answer" % where)
        return None
    print("  %s: ANSWERED (UA)" % where)
    return _p.Found("hdlc", v.get("baud"), size, logical, ph, link)


def selftest(a):
    """Store, AES backend and the meter port; one line each, then PASS or FAIL."""
    ok = True
    st = a.store
    if st.known:
        print("store:  OK  %s, counter next %d" % (st.describe(), st.value))
    elif getattr(st, "missing", False):  # a fresh board: read from the meter at first use
        print("store:  OK  %s, counter missing: read from the meter at first use"
              % st.describe())
    else:
        ok = False
        print("store:  FAIL %s" % st.problem)
    try:
        from udlms.crypto import aes

        key = bytes(range(16))
        pt = bytes((i * 0x11) & 0xFF for i in range(16))
        out = bytearray(16)
        aes.new(key).encrypt_block(pt, out)
        good = bytes(out).hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"  # FIPS-197 C.1
        print("aes:    %s  backend %s" % ("OK" if good else "FAIL", aes.backends()[0]))
        ok = ok and good
    except Exception as e:  # noqa: BLE001
        ok = False
        print("aes:    FAIL %s" % (e,))
    print("config: %s" % ("OK" if a.cfg.ok else "FAIL " + a.cfg.errors[0]))
    ok = ok and a.cfg.ok
    good, text = a.probe()
    print("probe:  %s  %s" % ("OK" if good else "FAIL", text))
    ok = ok and good
    print("PASS" if ok else "FAIL")
    return ok
