"""The udlms command's settings: flags and profiles read into one dict and checked, each
with its range, before any I/O (exit 2, nothing sent); turned into session Settings."""

from udlms.host.cli.base import _KNOWN, _bad, physical_from_serial


def _int(d, k, lo, hi, flag=None, base=10):
    v = d[k]
    name = flag or "--" + k.replace("_", "-")
    if isinstance(v, bool):
        raise _bad("%s must be a number %d..%d, got %r" % (name, lo, hi, v))
    if not isinstance(v, int):
        try:
            v = int(str(v).strip(), base)
        except ValueError:
            raise _bad("%s must be a whole number %d..%d, got %r" % (name, lo, hi, v))
    if not lo <= v <= hi:
        raise _bad("%s must be %d..%d, got %d" % (name, lo, hi, v))
    d[k] = v
    return v


def _hexval(d, k, lo, hi):
    v = d[k]
    name = "--" + k.replace("_", "-")
    try:
        b = bytes.fromhex(str(v).replace(" ", "").replace(":", ""))
    except ValueError:
        raise _bad("%s is not hexadecimal: %r" % (name, v))
    if not lo <= len(b) <= hi:
        want = "%d hex digits" % (2 * lo) if lo == hi else "%d..%d bytes" % (lo, hi)
        raise _bad("%s wants %s, got %d bytes" % (name, want, len(b)))
    d[k] = b.hex().upper()
    return b


def _path_for_writing(d, k, create_dir):
    import os

    p = str(d[k])
    name = "--" + k.replace("_", "-")
    if not p:
        raise _bad("%s is empty" % name)
    if os.path.isdir(p):
        raise _bad("%s %s is a directory: give a file path" % (name, p))
    parent = os.path.dirname(os.path.abspath(p))
    if not create_dir and not os.path.isdir(parent):
        raise _bad("%s %s: the directory %s does not exist" % (name, p, parent))
    probe = parent
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise _bad("%s %s: %s is not a directory" % (name, p, probe))
    d[k] = p


def _obis_setting(d, k):
    from udlms.cosem import obis

    try:
        obis.obis(d[k])
    except Exception:  # noqa: BLE001 - named below
        raise _bad("--%s %r is not an OBIS code: write six numbers 0..255 like "
                   "0.0.19.40.0.255" % (k.replace("_", "-"), d[k]))


def check_settings(d, cmd):
    """Check and normalise every setting of ``cmd`` (ranges, formats, files) before any
    I/O: a ConfigError (exit 2) names the setting and its range."""
    from udlms.client import token

    if d.get("wrapper") is True:  # profile spelling {"wrapper": true}
        d["transport"] = "wrapper"
    d.pop("wrapper", None)
    port = d.get("port")
    if cmd != "decode":
        if not port:
            raise _bad("no --port given (serial device, pty path, tcp://HOST:PORT, or "
                       "udp://HOST:PORT for the wrapper)")
        port = str(port)
        for scheme in ("tcp://", "udp://"):
            if port.startswith(scheme):
                host, _, num = port[len(scheme):].rpartition(":")
                if not host or not num.isdigit() or not 1 <= int(num) <= 65535:
                    raise _bad("--port must look like %sHOST:PORT with PORT 1..65535, not %s"
                               % (scheme, port))
        if port.startswith("udp://"):
            d["transport"] = "wrapper"
    if d.get("transport", "hdlc") not in ("hdlc", "wrapper"):
        raise _bad("transport must be hdlc or wrapper, got %r" % d["transport"])
    wrapper = d.get("transport") == "wrapper"
    if "baud" in d:
        _int(d, "baud", 50, 4000000)
    size = _int(d, "address_size", 1, 4) if "address_size" in d else None
    if size is not None and size not in (1, 2, 4):
        raise _bad("--address-size must be 1, 2 or 4, got %d" % size)
    if "serial_number" in d:
        _int(d, "serial_number", 0, 0xFFFFFFFF)
        if "server_physical" not in d:
            d["server_physical"] = physical_from_serial(d["serial_number"])
            size = d["address_size"] = size or 4
    size = size or (4 if cmd == "probe" else 2)  # probe tries every size when not given
    top = 0x3FFF if size == 4 else 0x7F
    if "server_logical" in d:
        _int(d, "server_logical", 0, 0xFFFF if wrapper else top)
    if "server_physical" in d:
        if _int(d, "server_physical", 0, 0x3FFF) > top:
            raise _bad("--server-physical must be 0..127 with %d-byte addresses, got %d (use "
                       "--address-size 4 for 0..16383)" % (size, d["server_physical"]))
    if "client" in d:
        _int(d, "client", 1, 0x7F)
    if "timeout" in d:
        v = d["timeout"]
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise _bad("--timeout must be seconds 0.05..600, got %r" % (v,))
        if not 0.05 <= v <= 600:
            raise _bad("--timeout must be seconds 0.05..600, got %s" % v)
        d["timeout"] = v
    for k, lo, hi in (("retries", 0, 10), ("max_info", 32, 2030), ("window", 1, 7),
                      ("max_pdu", 12, 65535)):
        if k in d:
            _int(d, k, lo, hi)
    if "conformance" in d:
        _int(d, "conformance", 1, 0xFFFFFF, "--conformance (hex)", base=16)
    if "mechanism" in d:
        m = _int(d, "mechanism", 0, 5)
        if m not in (0, 1, 5):
            raise _bad("--mechanism must be 0 (none), 1 (LLS) or 5 (HLS-GMAC), got %d" % m)
    for k, n in (("ek", 16), ("ak", 16), ("system_title", 8)):
        if d.get(k) not in (None, ""):
            _hexval(d, k, n, n)
        else:
            d.pop(k, None)
    if "ctos" in d:
        _hexval(d, "ctos", 8, 64)
    if "invocation_counter" in d:
        _int(d, "invocation_counter", 0, 0xFFFFFFFF, base=0)
    if "encoding" in d and d["encoding"] not in token.ENCODINGS + ("auto",):
        raise _bad("--encoding must be one of %s or auto, got %r"
                   % ("/".join(token.ENCODINGS), d["encoding"]))
    for k in ("gateway", "frame_counter"):
        if k in d:
            _obis_setting(d, k)
    if "iec_address" in d:
        a = str(d["iec_address"])
        if len(a) > 32 or any(not 32 < ord(c) < 127 or c in "/?!" for c in a):
            raise _bad("--iec-address must be up to 32 printable characters without / ? !")
    if "password" in d and not 1 <= len(str(d["password"])) <= 255:
        raise _bad("--password must be 1..255 characters")
    for k, create in (("counter_file", True), ("journal", True), ("trace", False)):
        if d.get(k) is not None:
            _path_for_writing(d, k, create)
    return d


def _settings_dict(args, cmd):
    import json

    d = {}
    profile = getattr(args, "profile", None)
    if profile:
        try:
            with open(profile, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            raise _bad("--profile %s: no such file" % profile)
        except IsADirectoryError:
            raise _bad("--profile %s is a directory" % profile)
        except OSError as e:
            raise _bad("--profile %s cannot be read: %s" % (profile, e.strerror or e))
        except ValueError as e:
            raise _bad("--profile %s is not valid JSON (%s)" % (profile, e))
        if not isinstance(data, dict):
            raise _bad("--profile %s must hold a JSON object of settings, found %s"
                       % (profile, type(data).__name__))
        for k, v in data.items():
            key = str(k).replace("-", "_")
            if key not in _KNOWN:
                raise _bad("--profile %s: unknown setting %r" % (profile, k))
            if v is not None:
                d[key] = v
    for k in _KNOWN:
        v = getattr(args, k, None)
        if v is not None:
            d[k] = v
    return check_settings(d, cmd)


def _session_settings(d, cmd=None):
    from udlms.client.session import Settings

    kw = {}
    for k in ("client", "server_logical", "server_physical", "address_size", "mechanism",
              "ek", "ak", "system_title", "encoding", "ctos", "max_pdu", "conformance",
              "retries", "window", "frame_counter", "gateway", "password", "transport"):
        if k in d:
            kw[k] = d[k]
    if "max_info" in d:
        kw["max_info_tx"] = kw["max_info_rx"] = d["max_info"]
    if "timeout" in d:
        kw["timeout_ms"] = int(d["timeout"] * 1000)
    if "mechanism" not in kw:
        kw["mechanism"] = 0 if kw.get("client") == 16 or cmd == "resync" else 5
    kw.setdefault("encoding", "auto")  # issue 20: found from the meter's answers
    s = Settings(**kw)
    if s.mechanism == 5:
        missing = [f for f, v in (("--ek", s.ek), ("--ak", s.ak),
                                  ("--system-title", s.system_title)) if v is None]
        if missing:
            raise _bad("HLS-GMAC (mechanism 5, the management client's default) needs "
                       "--ek, --ak and --system-title: %s missing (nothing was sent; the "
                       "public client is --client 16)" % ", ".join(missing))
    if s.mechanism == 1 and not s.password:
        raise _bad("LLS (mechanism 1) needs --password")
    return s
