"""The ``udlms`` host command line: decode, enter-token, get, resync, probe, sim.

Host only (CPython): argparse, json and pyserial are imported inside ``main`` so the
module still imports on MicroPython. Exit status of ``enter-token``: 0 the meter accepted
the token; 1 the meter refused it; 2 bad input (nothing sent); 3 no answer / link
failure; 4 association or security failure; 5 outcome unknown.
"""

EXIT_ACCEPTED = 0
EXIT_REFUSED = 1
EXIT_INPUT = 2
EXIT_LINK = 3
EXIT_AUTH = 4
EXIT_UNKNOWN = 5

_CONN_KEYS = ("port", "baud", "client", "server_logical", "server_physical", "address_size",
              "ek", "ak", "system_title", "encoding", "ctos", "invocation_counter",
              "max_pdu", "conformance", "max_info", "timeout", "retries", "mechanism",
              "password", "frame_counter", "gateway", "counter_file", "window", "journal",
              "transport", "mode_e", "iec_address", "echo", "serial_number")


def _add_conn(p):
    g = p.add_argument_group("connection")
    g.add_argument("--profile", help="JSON file with any of these settings (flags override)")
    g.add_argument("--port", help="serial device, pty path or tcp://HOST:PORT")
    g.add_argument("--baud", type=int)
    g.add_argument("--client", type=int, help="client SAP (1 management, 16 public)")
    g.add_argument("--server-logical", type=int)
    g.add_argument("--server-physical", type=int)
    g.add_argument("--serial-number", type=int,
                   help="meter serial number: physical address = SN %% 10000 + 1000 with "
                   "4-byte addresses (the usual scheme), unless --server-physical is given")
    g.add_argument("--address-size", type=int, choices=(1, 2, 4))
    g.add_argument("--mechanism", type=int, choices=(0, 1, 5),
                   help="authentication: 0 none, 1 LLS (password), 5 HLS-GMAC")
    g.add_argument("--password", help="LLS password")
    g.add_argument("--ek", help="block cipher key EK (32 hex digits)")
    g.add_argument("--ak", help="authentication key AK (32 hex digits)")
    g.add_argument("--system-title", help="our system title (16 hex digits)")
    g.add_argument("--encoding", choices=("auto", "ascii", "bcd", "digits", "hex"),
                   help="how the meter wants the token octets (default auto: the form "
                   "remembered for this meter, else ascii, then the next on type-unmatched)")
    g.add_argument("--ctos", help="fixed client challenge (hex), for reproducible runs")
    g.add_argument("--invocation-counter", type=lambda s: int(s, 0),
                   help="invocation counter for the AARQ (then +1 per ciphered APDU)")
    g.add_argument("--counter-file", help="where the host keeps invocation counters "
                   "(default ~/.config/udlms/counters.json)")
    g.add_argument("--journal", help="token journal file (default next to the counter file)")
    g.add_argument("--max-pdu", type=int, help="client max receive PDU size (default 512)")
    g.add_argument("--conformance", type=lambda s: int(s, 16),
                   help="proposed conformance block, hex (default 001E1D)")
    g.add_argument("--max-info", type=int, help="HDLC max information field (default 128)")
    g.add_argument("--window", type=int)
    g.add_argument("--timeout", type=float, help="response timeout, seconds (default 3)")
    g.add_argument("--retries", type=int)
    g.add_argument("--frame-counter", help="frame counter object (default 0.0.43.1.1.255)")
    g.add_argument("--gateway", help="Token Gateway object (default 0.0.19.40.0.255)")
    g.add_argument("--trace", help="write every frame to this file as TX:/RX: hex lines")
    g.add_argument("--wrapper", dest="transport", action="store_const", const="wrapper",
                   help="IEC 62056-47 wrapper (TCP port 4059) instead of HDLC frames")
    g.add_argument("--mode-e", action="store_const", const=True,
                   help="IEC 62056-21 mode E sign-on at 300 baud 7E1 before HDLC (optical "
                   "probes); --baud then caps the baud rate acknowledged")
    g.add_argument("--iec-address", help="device address in the mode E sign-on /?ADDR!")
    g.add_argument("--echo", action="store_const", const=True,
                   help="drop the echo of our own bytes (half-duplex adapters)")
    g.add_argument("--json", action="store_true", help="print the result as JSON")
    g.add_argument("-v", "--verbose", action="store_true", help="print the decoded exchange")


def _settings_dict(args):
    import json

    d = {}
    if args.profile:
        with open(args.profile) as f:
            for k, v in json.load(f).items():
                d[k.replace("-", "_")] = v
    for k in _CONN_KEYS:
        v = getattr(args, k, None)
        if v is not None:
            d[k] = v
    return d


def physical_from_serial(serial):
    """The HDLC physical (lower) address many meters derive from their serial number:
    SN % 10000 + 1000, used with 4-byte server addresses."""
    return int(serial) % 10000 + 1000


def _session_settings(d):
    from udlms.session import Settings

    kw = {}
    for k in ("client", "server_logical", "server_physical", "address_size", "mechanism",
              "ek", "ak", "system_title", "encoding", "ctos", "max_pdu", "conformance",
              "retries", "window", "frame_counter", "gateway", "password", "transport"):
        if k in d:
            kw[k] = d[k]
    if d.get("serial_number") is not None and "server_physical" not in d:
        kw["server_physical"] = physical_from_serial(d["serial_number"])
        kw.setdefault("address_size", 4)
    if d.get("wrapper") is True:  # profile spelling {"wrapper": true}
        kw["transport"] = "wrapper"
    if str(d.get("port", "")).startswith("udp://"):  # only the wrapper runs over UDP
        kw["transport"] = "wrapper"
    if isinstance(kw.get("conformance"), str):
        kw["conformance"] = int(kw["conformance"], 16)
    if "max_info" in d:
        kw["max_info_tx"] = kw["max_info_rx"] = int(d["max_info"])
    if "timeout" in d:
        kw["timeout_ms"] = int(float(d["timeout"]) * 1000)
    kw.setdefault("encoding", "auto")  # issue 20: found from the meter's answers
    if "ek" not in kw and kw.get("mechanism", 5) == 5:
        kw["mechanism"] = 0 if kw.get("client") == 16 else 5
    if kw.get("client") == 16 and "mechanism" not in kw:
        kw["mechanism"] = 0
    return Settings(**kw)


class FileCounter:
    """Host invocation counter, persisted with reserve-ahead and an atomic rename.

    ``next()`` never returns a value twice, not even across crashes: a ceiling is written
    before values below it are used, and a restart resumes at the ceiling.
    """

    STEP = 64

    def __init__(self, path, key, start=None):
        self.path = path
        self.key = key
        data = self._load()
        entry = data.get(key)
        if start is not None:
            self._next = start
        elif entry is not None:
            self._next = int(entry)
        else:
            self._next = None
        self._ceiling = self._next if self._next is not None else 0

    def _load(self):
        import json

        try:
            with open(self.path) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}
        except ValueError:
            from udlms.errors import SecurityError

            raise SecurityError("counter file %s is corrupt: run `udlms resync` to read the "
                                "meter's frame counter" % self.path, "counter-unavailable")

    def _store(self, ceiling):
        import json
        import os

        data = self._load()
        data[self.key] = ceiling
        d = os.path.dirname(self.path)
        if d:
            os.makedirs(d, exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    @property
    def known(self):
        return self._next is not None

    def resync(self, meter_value):
        self._next = max(self._next or 0, meter_value + 1)
        self._ceiling = self._next
        self._store(self._next)

    @property
    def value(self):
        return self._next

    def next(self):
        if self._next is None:
            from udlms.errors import SecurityError

            raise SecurityError("no invocation counter stored for this meter: run `udlms "
                                "resync`", "counter-unavailable")
        if self._next >= self._ceiling:
            self._ceiling = self._next + self.STEP
            self._store(self._ceiling)
        v = self._next
        if v > 0xFFFFFFFF:
            from udlms.errors import SecurityError

            raise SecurityError("invocation counter exhausted: the key must be changed",
                                "counter-unavailable")
        self._next += 1
        return v


def _counter_path(d):
    import os

    return d.get("counter_file") or os.path.join(os.path.expanduser("~"), ".config", "udlms",
                                                 "counters.json")


def _counter_key(d, s):
    return "%s|%s|%s/%s" % ((s.system_title or b"").hex(), d.get("port", ""),
                            s.server_logical, s.server_physical)


class _Tracer:
    def __init__(self, path, verbose, out):
        self.f = open(path, "w") if path else None
        self.verbose = verbose
        self.out = out
        self.lines = []

    def __call__(self, direction, frame):
        line = "%s: %s" % (direction, " ".join("%02X" % b for b in bytes(frame)))
        self.lines.append(line)
        if self.f:
            self.f.write(line + "\n")
            self.f.flush()

    def close(self):
        if self.f:
            self.f.close()


def _open(d, s):
    from udlms import transport

    port = d.get("port")
    if not port:
        from udlms.errors import ConfigError

        raise ConfigError("no --port given (serial device, pty path, tcp://HOST:PORT or "
                          "udp://HOST:PORT for the wrapper)",
                          "config")
    stream = transport.open_stream(port, int(d.get("baud") or 9600))
    if d.get("echo"):
        from udlms.uart import EchoDrop

        stream = EchoDrop(stream)
    if d.get("mode_e"):
        from udlms import iec21

        try:
            iec21.sign_on(stream, address=d.get("iec_address") or "",
                          max_baud=int(d["baud"]) if d.get("baud") else None)
        except BaseException:
            stream.close()
            raise
    return stream


def _exit_for(e):
    from udlms import errors

    if isinstance(e, (errors.TokenError, errors.ConfigError)):
        return EXIT_INPUT
    if isinstance(e, (errors.LinkError, errors.FrameError)):
        return EXIT_LINK
    if isinstance(e, (errors.SecurityError, errors.AssociationError)):
        return EXIT_AUTH
    return EXIT_UNKNOWN


def _label(e):
    from udlms import errors

    if isinstance(e, errors.NoAnswer):
        return "NO ANSWER"
    if isinstance(e, (errors.TokenError,)):
        return "BAD TOKEN"
    if isinstance(e, errors.ConfigError):
        return "BAD SETTING"
    if isinstance(e, (errors.SecurityError, errors.AssociationError)):
        return "AUTH FAILED"
    if isinstance(e, (errors.LinkError, errors.FrameError)):
        return "LINK ERROR"
    return "ERROR"


def _print_exchange(tracer, d, s, out):
    from udlms import decode

    text = "\n".join(tracer.lines)
    for line in decode.explain_text(text, ek=s.ek, ak=s.ak, client_title=s.system_title):
        out.write(line + "\n")


class Journal:
    """Host token journal: one JSON line per event, appended and fsync'ed. A token is
    written as ``pending`` before the first byte is sent and gets its final state after
    (accepted / refused / unknown), so a crash never loses a typed token."""

    def __init__(self, path):
        self.path = path

    def add(self, digits, state, **extra):
        import json
        import os
        import time

        d = os.path.dirname(self.path)
        if d:
            os.makedirs(d, exist_ok=True)
        rec = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "token": digits, "state": state}
        rec.update(extra)
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def entries(self):
        """Latest state per token, in the order tokens were first journaled."""
        import json

        out = {}
        try:
            with open(self.path) as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue  # a line cut by power loss: the previous state stands
                    out.setdefault(rec["token"], {}).update(rec)
        except FileNotFoundError:
            pass
        return list(out.values())


def _journal_path(d):
    import os

    return d.get("journal") or os.path.join(os.path.dirname(_counter_path(d)), "journal.jsonl")


def _counter_for(d, s):
    """The invocation counter for HLS-GMAC: fixed by --invocation-counter, else the host's
    counter file, resynchronised from the meter's frame counter on first use."""
    if s.mechanism != 5:
        return None
    from udlms import resync
    from udlms.security import MemoryCounter

    if "invocation_counter" in d:
        return MemoryCounter(int(d["invocation_counter"]))
    counter = FileCounter(_counter_path(d), _counter_key(d, s))
    if not counter.known:
        stream = _open(d, s)
        try:
            counter.resync(resync.read_frame_counter(stream, s))
        finally:
            stream.close()
    return counter


def _auto_fields(sess, r=None):
    """--json and journal fields of encoding auto (issue 20): the form of the last attempt,
    whether it was learned now, every attempt; the fixed encoding otherwise."""
    attempts = getattr(sess, "attempts", None)
    if attempts is None:
        enc = sess.settings.encoding if sess is not None else None
        return {"encoding": None if enc == "auto" else enc, "learned": False}
    from udlms import token_auto_host

    learned = bool(getattr(r, "learned", False)) and not getattr(r, "remember_error", None)
    return {"encoding": attempts[-1][0], "learned": learned,
            "attempts": token_auto_host.attempts_json(attempts)}


def _auto_words(r):
    if getattr(r, "attempts", None) is None:
        return "", r.message
    from udlms import token_auto_host

    return token_auto_host.verdict(r)


def cmd_enter_token(args, out):
    import json

    from udlms import errors, session, token

    d = _settings_dict(args)
    result = {"token": None, "accepted": False}
    tracer = None
    try:
        digits = token.parse(args.token)
        result["token"] = token.format(digits)
        s = _session_settings(d)
        counter = _counter_for(d, s)
        tracer = _Tracer(getattr(args, "trace", None), args.verbose, out)
        journal = Journal(_journal_path(d))
        journal.add(digits, "pending", port=d.get("port"))
        stream = sess = None
        try:
            stream = _open(d, s)
            sess = session.Session(stream, s, counter, trace=tracer)
            with sess:
                if s.encoding == "auto":  # issue 20: the form found and remembered per meter
                    from udlms import token_auto_host

                    r = token_auto_host.enter(sess, digits, _counter_path(d), journal)
                else:
                    r = token.enter_token(sess, digits, s.encoding)
        except errors.DlmsError as e:
            # once the enter request went out, the meter may have taken the token: say so
            # (resolve by reading token_status), never guess and never re-send blindly
            sent = sess is not None and sess.token_sent
            auto = _auto_fields(sess)
            journal.add(digits, "unknown" if sent else "not-sent", error=e.kind, **auto)
            result.update(auto)
            if sent:
                e.args = (e.message + "; the token may have reached the meter: read its "
                          "token_status before entering it again",)
            raise
        finally:
            if stream is not None:
                stream.close()
        auto = _auto_fields(sess, r)
        journal.add(digits, "accepted" if r.accepted else r.kind if r.kind == "unknown"
                    else "refused", status=r.status_code, message=r.message, **auto)
        result.update(accepted=r.accepted, status_code=r.status_code,
                      status_name=r.status_name, message=r.message, result=r.kind,
                      action_result=r.action_result, **auto)
        suffix, message = _auto_words(r)
        if r.accepted:
            label, code = "ACCEPTED", EXIT_ACCEPTED
        elif r.kind == "unknown":
            label, code = "UNKNOWN", EXIT_UNKNOWN
        else:
            label, code = "REJECTED", EXIT_REFUSED
        text = "%s%s: %s" % (label, suffix, message)
        if r.status_code is not None:
            text += " [token_status %d %s]" % (r.status_code, r.status_name)
    except errors.DlmsError as e:
        code = _exit_for(e)
        label = _label(e)
        text = "%s: %s" % (label, e.message)
        result.update(accepted=False, result=e.kind, message=e.message, code=e.code)
    finally:
        if tracer:
            tracer.close()
    if args.verbose and tracer:
        try:
            _print_exchange(tracer, d, _session_settings(d), out)
        except Exception as e:  # noqa: BLE001 - decoding is a courtesy
            out.write("(could not decode the exchange: %s)\n" % e)
    result["verdict"] = label
    if args.json:
        out.write(json.dumps(result) + "\n")
    else:
        out.write(text + "\n")
    return code


def _parse_target(text):
    from udlms import cosem

    parts = text.split(":")
    if len(parts) == 3:
        o, c, a = parts
    elif len(parts) == 4:  # 0-0:1.0.0.255:8:2
        o, c, a = parts[0] + ":" + parts[1], parts[2], parts[3]
    else:
        from udlms.errors import ConfigError

        raise ConfigError("target must be OBIS:CLASS:ATTR, e.g. 0.0.1.0.0.255:8:2", "config")
    return cosem.obis(o), int(c), int(a)


def cmd_get(args, out):
    import json

    from udlms import axdr, errors, session

    d = _settings_dict(args)
    tracer = None
    try:
        obis, cid, attr = _parse_target(args.target)
        s = _session_settings(d)
        counter = _counter_for(d, s)
        tracer = _Tracer(getattr(args, "trace", None), args.verbose, out)
        stream = _open(d, s)
        try:
            with session.Session(stream, s, counter, trace=tracer) as sess:
                raw = sess.get(cid, obis, attr)
        finally:
            stream.close()
        value, _ = axdr.decode(raw)
        text = axdr.to_text(value)
        if args.json:
            out.write(json.dumps({"value": text, "raw": raw.hex()}) + "\n")
        else:
            out.write(text + "\n")
        return 0
    except errors.DlmsError as e:
        out.write("%s: %s\n" % (_label(e), e.message))
        return _exit_for(e) if not isinstance(e, errors.ServiceError) else EXIT_REFUSED
    finally:
        if tracer:
            tracer.close()


def cmd_resync(args, out):
    from udlms import errors, resync

    d = _settings_dict(args)
    try:
        s = _session_settings(d)
        stream = _open(d, s)
        try:
            value = resync.read_frame_counter(stream, s)
        finally:
            stream.close()
        c = FileCounter(_counter_path(d), _counter_key(d, s))
        c.resync(value)
        out.write("meter frame counter %d; our next invocation counter %d\n" % (value, c.value))
        return 0
    except errors.DlmsError as e:
        out.write("%s: %s\n" % (_label(e), e.message))
        return _exit_for(e)


def cmd_decode(args, out):
    """Explain a hex trace: readable text, or with --json one JSON object per frame."""
    import sys

    from udlms import decode

    try:
        if args.file in (None, "-"):
            text = sys.stdin.read()
        else:
            with open(args.file, encoding="utf-8", errors="replace") as f:
                text = f.read()
    except OSError as e:
        out.write("BAD SETTING: cannot read %s: %s\n" % (args.file, e.strerror or e))
        return EXIT_INPUT
    keys = {}
    for name, flag, size in (("ek", "--ek", 16), ("ak", "--ak", 16),
                             ("system_title", "--system-title", 8),
                             ("server_title", "--server-title", 8)):
        v = getattr(args, name, None)
        if v:
            try:
                b = bytes.fromhex(v.replace(" ", "").replace(":", ""))
            except ValueError:
                b = None
            if b is None or len(b) != size:
                out.write("BAD SETTING: %s wants %d hex digits\n" % (flag, 2 * size))
                return EXIT_INPUT
            keys[name] = b
    kw = dict(ek=keys.get("ek"), ak=keys.get("ak"), client_title=keys.get("system_title"),
              server_title=keys.get("server_title"))
    if args.json:
        import json

        for obj in decode.decode_text(text, **kw):
            out.write(json.dumps(obj) + "\n")
    else:
        for line in decode.explain_text(text, **kw):
            out.write(line + "\n")
    return 0


def cmd_probe(args, out):
    """Find the meter's connection settings with the public client; never sends a token."""
    import json

    from udlms import errors, probe, transport

    d = _settings_dict(args)
    port = d.get("port")
    if not port:
        out.write("BAD SETTING: no --port given (serial device, pty path or tcp://HOST:PORT)\n")
        return EXIT_INPUT
    tcp = port.startswith("tcp://")
    timeout_ms = int(float(d["timeout"]) * 1000) if "timeout" in d else 300
    bauds = tuple(int(b) for b in args.bauds.split(",")) if args.bauds else (
        (int(d["baud"]),) if d.get("baud") else probe.BAUDS)
    sizes = (int(d["address_size"]),) if d.get("address_size") else probe.SIZES
    phys = (int(d["server_physical"]),) if d.get("server_physical") is not None else (
        probe.PHYSICALS)
    logical = int(d.get("server_logical") or 1)
    only_wrapper = d.get("transport") == "wrapper"
    lines = []

    def report(text):
        lines.append(text)
        if not args.json:
            out.write(text + "\n")
            out.flush()

    tracer = _Tracer(getattr(args, "trace", None), False, out)
    found = None
    stream = None
    try:
        if not args.json:
            out.write("probing %s (public client %d)...\n" % (port, probe.PUBLIC))
        try:
            if not only_wrapper:
                stream = transport.open_stream(port, bauds[0], timeout_ms=max(timeout_ms, 1000))
                if d.get("echo"):
                    from udlms.uart import EchoDrop

                    stream = EchoDrop(stream)
                try:
                    found = probe.probe(stream, serial=not tcp, bauds=bauds, sizes=sizes,
                                        physicals=phys, logical=logical,
                                        mode_e=not tcp and not args.no_mode_e,
                                        direct=not d.get("mode_e"), timeout_ms=timeout_ms,
                                        iec_address=d.get("iec_address") or "",
                                        report=report, trace=tracer)
                except errors.LinkError as e:
                    if e.kind != "link-lost":
                        raise
                    report("  HDLC: %s (not HDLC frames?)" % e.message)
            if found is None and tcp:
                if stream is not None:
                    stream.close()
                stream = transport.open_stream(port, timeout_ms=max(timeout_ms, 1000))
                found = probe.probe_wrapper(stream, logical, max(timeout_ms, 1000), report,
                                            tracer)
            if found is not None:
                probe.identify(stream, found, trace=tracer)
        finally:
            if stream is not None:
                stream.close()
    except errors.DlmsError as e:
        report("%s: %s" % (_label(e), e.message))
    finally:
        tracer.close()
    result = {"found": found is not None, "attempts": lines}
    if found is None:
        text = ("NOTHING ANSWERED: check the cable/optical head, the port and that the meter "
                "is powered; try --timeout 1 or --server-physical N")
        code = EXIT_LINK
    else:
        flags = []
        st = found.settings()
        if st.get("mode_e"):
            flags.append("--mode-e")
        if st.get("transport") == "wrapper":
            flags.append("--wrapper")
        for k in ("baud", "server_logical", "server_physical", "address_size"):
            if k in st:
                flags.append("--%s %s" % (k.replace("_", "-"), st[k]))
        how = {"mode-e": "mode E sign-on, then HDLC", "hdlc": "direct HDLC",
               "wrapper": "IEC 62056-47 wrapper"}[found.mode]
        text = "FOUND: %s%s, server %s" % (
            how, " at %d baud" % found.baud if found.baud else "",
            found.server_logical if found.server_physical is None
            else "%d/%d" % (found.server_logical, found.server_physical))
        if found.address_size:
            text += " (address size %d)" % found.address_size
        if found.ident is not None:
            text += "; identification %s %s" % (found.ident.manufacturer, found.ident.ident)
        text += "\n  logical device name: %s" % (found.ldn if found.ldn is not None
                                                 else "(not readable)")
        text += "\n  frame counter: %s" % (found.frame_counter if found.frame_counter
                                           is not None else "(not readable)")
        text += "\n  use: " + " ".join(flags)
        result.update(settings=st, mode=found.mode, ldn=found.ldn if isinstance(
            found.ldn, (str, type(None))) else found.ldn.hex(),
            frame_counter=found.frame_counter)
        if found.ident is not None:
            result["identification"] = found.ident.manufacturer + found.ident.baud_char + \
                found.ident.ident
        code = 0
    if args.json:
        out.write(json.dumps(result) + "\n")
    else:
        out.write(text + "\n")
    return code


def build_parser():
    import argparse

    p = argparse.ArgumentParser(prog="udlms", description="DLMS/COSEM client: deliver STS "
                                "tokens to a meter's Token Gateway and explain what happened")
    sub = p.add_subparsers(dest="cmd")
    e = sub.add_parser("enter-token", help="enter a 20-digit token into the meter")
    e.add_argument("token", help="20 digits; spaces and dashes allowed")
    _add_conn(e)
    g = sub.add_parser("get", help="read OBIS:CLASS:ATTR, e.g. 0.0.1.0.0.255:8:2")
    g.add_argument("target")
    _add_conn(g)
    r = sub.add_parser("resync", help="read the meter's frame counter (public client) and "
                       "move our invocation counter past it")
    _add_conn(r)
    d = sub.add_parser("decode", help="explain a hex trace (one frame per line)")
    d.add_argument("file", nargs="?", help="trace file, or - for stdin")
    d.add_argument("--ek")
    d.add_argument("--ak")
    d.add_argument("--system-title", help="client system title, if not in the trace's AARQ")
    d.add_argument("--server-title", help="meter system title, if not in the trace's AARE")
    d.add_argument("--json", action="store_true", help="one JSON object per frame")
    pr = sub.add_parser("probe", help="find the meter's mode, baud rate and address with the "
                        "public client, then read its name and frame counter (sends no token)")
    _add_conn(pr)
    pr.add_argument("--bauds", help="comma-separated baud rates to try (default "
                    "9600,19200,115200)")
    pr.add_argument("--no-mode-e", action="store_true", help="do not try the mode E sign-on")
    s = sub.add_parser("sim", help="run the simulated meter (tools/meter_sim.py)")
    s.add_argument("sim_args", nargs="*")
    return p


def main(argv=None):
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "sim":  # pass every flag through to the simulator
        here = __import__("os").path
        tools = here.join(here.dirname(here.dirname(here.dirname(here.abspath(__file__)))),
                          "tools")
        sys.path.insert(0, tools)
        import meter_sim

        meter_sim.main(argv[1:])
        return 0
    p = build_parser()
    args = p.parse_args(argv)
    out = sys.stdout
    if args.cmd == "enter-token":
        code = cmd_enter_token(args, out)
    elif args.cmd == "get":
        code = cmd_get(args, out)
    elif args.cmd == "resync":
        code = cmd_resync(args, out)
    elif args.cmd == "probe":
        code = cmd_probe(args, out)
    elif args.cmd == "decode":
        try:
            code = cmd_decode(args, out)
        except BrokenPipeError:  # `udlms decode trace | head`: the reader has had enough
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            code = 0
    else:
        p.print_help()
        code = EXIT_INPUT
    sys.exit(code)
