"""``udlms get``, ``resync``, ``decode`` and ``probe``."""

from udlms.host.cli.base import (EXIT_INPUT, EXIT_LINK, _Interrupted, _interrupted, _Tracer,
                                 _as_dlms, _bad, _exit_for, _label, _print_exchange)
from udlms.host.cli.settings import _settings_dict
from udlms.host.journal import _counter_path
from udlms.host.cli.run import _close, _conn_settings, _open


# -- get, resync --------------------------------------------------------------------------
def _parse_target(text):
    from udlms.cosem import obis

    parts = str(text).split(":")
    if len(parts) == 3:
        o, c, a = parts
    elif len(parts) == 4:  # 0-0:1.0.0.255:8:2
        o, c, a = parts[0] + ":" + parts[1], parts[2], parts[3]
    else:
        raise _bad("target must be OBIS:CLASS:ATTR, e.g. 0.0.1.0.0.255:8:2, got %r" % text)
    try:
        ln = obis.obis(o)
    except Exception:  # noqa: BLE001
        raise _bad("%r is not an OBIS code: write six numbers 0..255 like 0.0.1.0.0.255" % o)
    try:
        cid, attr = int(c), int(a)
    except ValueError:
        raise _bad("class and attribute must be numbers: OBIS:CLASS:ATTR, got %r" % text)
    if not 0 <= cid <= 0xFFFF or not 1 <= attr <= 127:
        raise _bad("class must be 0..65535 and attribute 1..127, got %d:%d" % (cid, attr))
    return ln, cid, attr


def _fail(out, result, e, sent=False):
    e = _as_dlms(e)
    code = _exit_for(e, sent)
    label = _label(e)
    result.update(ok=False, verdict=label, result=e.kind, message=e.message, code=e.code,
                  exit=code)
    if out.json:
        out.obj(result)
    else:
        out.line("%s: %s" % (label, e.message))
    return code


def cmd_get(args, out):
    from udlms.cosem import axdr, obis

    result = {"target": args.target}
    run = None
    try:
        try:
            ln, cid, attr = _parse_target(args.target)
            d, s, run = _conn_settings(args, "get", out)
            run.check_store()
            raw = run.session(lambda sess: sess.get(cid, ln, attr))
        finally:
            if run is not None:
                run.tracer.close()
                if out.verbose:
                    _print_exchange(run.tracer, run.s, out)
        end = len(raw)
        try:
            value, end = axdr.decode(raw)
            text = obis.value_text(value)
        except Exception as e:  # noqa: BLE001 - show the bytes we could not read
            text = "(undecodable A-XDR: %s) %s" % (e, raw.hex())
        if end < len(raw):  # meters differ (issue 24, case 5): the value is kept
            extra = bytes(raw[end:])
            run.notes.append("the meter sent %d bytes after the value (%s): kept the value, "
                             "ignored them" % (len(extra), extra.hex().upper()))
            result["trailing_bytes"] = extra.hex().upper()
            out.verbose_line("note: " + run.notes[-1])
        result.update(ok=True, value=text, raw=raw.hex(), exit=0,
                      notes=run.notes)
        if out.json:
            out.obj(result)
        else:
            out.line(text)
        return 0
    except (KeyboardInterrupt, _Interrupted):
        return _interrupted(out, result)
    except Exception as e:  # noqa: BLE001
        if run is not None:
            result["notes"] = run.notes
        return _fail(out, result, e)


def cmd_resync(args, out):
    from udlms.host import counters
    from udlms.client import resync

    result = {}
    run = None
    try:
        try:
            d, s, run = _conn_settings(args, "resync", out)
            store = ctx = nxt = None
            if s.ek is not None and s.system_title is not None:
                store = counters.CounterStore(_counter_path(d))
                ctx = counters.context_key(s.ek, s.system_title)
                try:
                    store.peek(ctx)
                except Exception as e:  # noqa: BLE001 - a damaged file: rebuilt from the meter
                    if getattr(e, "kind", None) != "counter-file":
                        raise
                    aside = store.rebuild()
                    if aside is None:
                        raise
                    run.note("the counter file was damaged (%s): kept as %s, starting a new "
                             "one" % (e.message, aside))
            else:
                run.note("no --ek/--system-title: the meter's frame counter is only shown; "
                         "give both to store our next invocation counter for them")
            first = store.recall(run.meter_key(ctx), "frame_counter") if store else None
            stream = _open(d)
            try:
                value, obis = resync.find_frame_counter(stream, s, first, trace=run.tracer)
            finally:
                _close(stream)
            if store is not None:
                nxt = store.remember_meter(ctx, value)
                try:  # only a hint for next time
                    store.remember(run.meter_key(ctx), "frame_counter", obis)
                except Exception as e:  # noqa: BLE001
                    run.note("where the frame counter answered was not remembered: %s"
                             % (e,))
        finally:
            if run is not None:
                run.tracer.close()
                if out.verbose:
                    _print_exchange(run.tracer, run.s, out)
        result.update(ok=True, meter_frame_counter=value, frame_counter_object=obis,
                      next_invocation_counter=nxt,
                      context=ctx, counter_file=store.path if store else None,
                      notes=run.notes, exit=0)
        if out.json:
            out.obj(result)
        elif nxt is None:
            out.line("meter frame counter %d at %s (not stored)" % (value, obis))
        else:
            out.line("meter frame counter %d at %s; our next invocation counter %d"
                     % (value, obis, nxt))
            for n in run.notes:
                out.line("  note: " + n)
        return 0
    except (KeyboardInterrupt, _Interrupted):
        return _interrupted(out, result)
    except Exception as e:  # noqa: BLE001
        if run is not None:
            result["notes"] = run.notes
        return _fail(out, result, e)


# -- decode ---------------------------------------------------------------------------------
def cmd_decode(args, out):
    """Explain a hex trace: readable text, or with --json one JSON object per frame."""
    import sys

    from udlms.host.decode import main as decode

    def refuse(msg):
        if out.json:
            out.obj({"ok": False, "verdict": "BAD INPUT", "error": msg, "exit": EXIT_INPUT})
        else:
            out.line("BAD INPUT: " + msg)
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
                return refuse("%s wants %d hex digits" % (flag, 2 * size))
            keys[name] = b
    name = args.file
    try:
        if name in (None, "-"):
            if name is None and sys.stdin.isatty():
                return refuse("give a trace file, or pipe one in (`udlms decode -` reads the "
                              "terminal until Ctrl-D)")
            raw = sys.stdin.buffer.read()
            name = "standard input"
        else:
            with open(name, "rb") as f:
                raw = f.read()
    except IsADirectoryError:
        return refuse("%s is a directory, not a trace file" % name)
    except OSError as e:
        return refuse("cannot read %s: %s" % (name, e.strerror or e))
    if not raw.strip():
        return refuse("%s is empty: nothing to decode" % name)
    sample = raw[:4096]
    odd = sum(1 for b in sample if b < 9 or 13 < b < 32 or b == 127)
    if b"\x00" in sample or odd * 20 > len(sample):
        return refuse("%s is binary data, not a text trace: decode reads hex lines such as "
                      "`TX: 7E A0 ...`" % name)
    text = raw.decode("utf-8", errors="replace")
    kw = dict(ek=keys.get("ek"), ak=keys.get("ak"), client_title=keys.get("system_title"),
              server_title=keys.get("server_title"))
    objs = list(decode.decode_text(text, **kw))
    if not any(o.get("error_kind") != "no-data" for o in objs):
        return refuse("%s holds no hex bytes: decode reads hex lines such as `TX: 7E A0 ...`"
                      % name)
    if out.json:
        for obj in objs:
            out.obj(obj)
    else:
        for line in decode.explain_text(text, **kw):
            out.line(line)
    return 0


# -- probe ------------------------------------------------------------------------------------
def cmd_probe(args, out):
    """Find the meter's connection settings with the public client; never sends a token."""
    from udlms import errors
    from udlms.client import probe
    from udlms.host import ports

    result = {"found": False, "attempts": []}
    tracer = None
    try:
        d = _settings_dict(args, "probe")
        bauds = None
        if args.bauds:
            try:
                bauds = tuple(int(b) for b in args.bauds.split(","))
            except ValueError:
                raise _bad("--bauds must be comma-separated numbers, got %r" % args.bauds)
            if not all(50 <= b <= 4000000 for b in bauds):
                raise _bad("--bauds must each be 50..4000000")
        tracer = _Tracer(d.get("trace"))
    except Exception as e:  # noqa: BLE001
        return _fail(out, result, e)
    port = d["port"]
    tcp = port.startswith("tcp://")
    timeout_ms = int(d["timeout"] * 1000) if "timeout" in d else 300
    bauds = bauds or ((int(d["baud"]),) if d.get("baud") else probe.BAUDS)
    sizes = (int(d["address_size"]),) if d.get("address_size") else probe.SIZES
    phys = (int(d["server_physical"]),) if d.get("server_physical") is not None else (
        probe.PHYSICALS)
    logical = int(d.get("server_logical") or 1)
    only_wrapper = d.get("transport") == "wrapper"
    lines = result["attempts"]

    def report(text):
        lines.append(text)
        out.line(text)

    found = None
    stream = None
    try:
        out.line("probing %s (public client %d)..." % (port, probe.PUBLIC))
        try:
            if not only_wrapper:
                stream = ports.open_stream(port, bauds[0], timeout_ms=max(timeout_ms, 1000))
                if d.get("echo"):
                    from udlms.link.uart import EchoDrop

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
                _close(stream)
                stream = ports.open_stream(port, timeout_ms=max(timeout_ms, 1000))
                found = probe.probe_wrapper(stream, logical, max(timeout_ms, 1000), report,
                                            tracer)
            if found is not None:
                probe.identify(stream, found, trace=tracer)
        finally:
            _close(stream)
    except (KeyboardInterrupt, _Interrupted):
        tracer.close()
        return _interrupted(out, result)
    except Exception as e:  # noqa: BLE001
        e = _as_dlms(e)
        report("%s: %s" % (_label(e), e.message))
    finally:
        tracer.close()
    if out.verbose and tracer.lines:
        from udlms.client.session import Settings

        _print_exchange(tracer, Settings(), out)
    if found is None:
        text = ("NOTHING ANSWERED: check the cable/optical head, the port and that the meter "
                "is powered; try --timeout 1 or --server-physical N")
        code = EXIT_LINK
        result.update(verdict="NOTHING ANSWERED", message=text)
    else:
        flags = []
        st = found.settings()
        if st.get("mode_e"):
            flags.append("--mode-e")
        if st.get("transport") == "wrapper":
            flags.append("--wrapper")
        for k in ("baud", "server_logical", "server_physical", "address_size",
                  "frame_counter"):
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
        text += "\n  frame counter: %s" % ("%d at %s" % (found.frame_counter,
                                                        found.frame_counter_obis)
                                           if found.frame_counter is not None
                                           else "(not readable: tried %s)"
                                           % ", ".join(found.frame_counter_tried))
        text += "\n  use: " + " ".join(flags)
        result.update(found=True, verdict="FOUND", settings=st, mode=found.mode,
                      ldn=found.ldn if isinstance(found.ldn, (str, type(None)))
                      else found.ldn.hex(), frame_counter=found.frame_counter,
                      frame_counter_object=found.frame_counter_obis)
        if found.ident is not None:
            result["identification"] = found.ident.manufacturer + found.ident.baud_char + \
                found.ident.ident
        code = 0
    result["exit"] = code
    if out.json:
        out.obj(result)
    else:
        out.line(text)
    return code
