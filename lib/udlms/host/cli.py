"""The ``udlms`` host command line: decode, enter-token, get, resync, probe, sim.

Host only (CPython): argparse, json and pyserial are imported inside functions so the
module still imports on MicroPython. One rule: no Python traceback reaches the user; every
failure is a named error with its exit code (``EXIT_*``, DESIGN.md §3), and ``--json``
prints exactly one JSON object (``decode``: one per frame), errors included.
Settings are all checked before any byte goes out (``check_settings``).
"""

EXIT_ACCEPTED = 0
EXIT_REFUSED = 1
EXIT_INPUT = 2
EXIT_LINK = 3
EXIT_AUTH = 4
EXIT_UNKNOWN = 5
EXIT_INTERRUPTED = 130

EPILOG = """exit status:
  0    done (enter-token: the meter accepted the token)
  1    the meter refused the token (or the request)
  2    bad input or setting: nothing was sent
  3    no answer or link failure before the token went out
  4    association or security failure (keys, system title, invocation counter)
  5    the token went out and no verdict came back: the journal says `unknown`;
       read the meter's token_status before entering it again
  130  interrupted (Ctrl-C); the journal is settled (`unknown` if the token went out)"""

# every setting a profile may hold (flag names with "_"), and the subcommands using it
_LINK = ("port", "baud", "server_logical", "server_physical", "serial_number",
         "address_size", "timeout", "transport", "mode_e", "iec_address", "echo", "trace")
_SESSION = ("client", "retries", "max_info", "window", "max_pdu", "conformance")
_SECURITY = ("mechanism", "password", "ek", "ak", "system_title", "ctos",
             "invocation_counter", "counter_file", "frame_counter")
_TOKEN = ("encoding", "journal", "gateway")
_KNOWN = _LINK + _SESSION + _SECURITY + _TOKEN + ("wrapper",)


class _Interrupted(Exception):
    pass


_SIGINT = [False]  # set by the Ctrl-C handler: links stop at once (no release, no DISC)


class _Guard:
    """A stream that fails at once after Ctrl-C, so that tearing the session down (RLRQ,
    DISC) does not wait out timeouts on a line the user has given up on."""

    def __init__(self, stream):
        self.stream = stream

    def _check(self):
        if _SIGINT[0]:
            from udlms.errors import LinkError

            raise LinkError("interrupted", "interrupted")

    def write(self, b):
        self._check()
        return self.stream.write(b)

    def readinto(self, buf):
        self._check()
        return self.stream.readinto(buf)

    def close(self):
        self.stream.close()

    def __getattr__(self, name):
        return getattr(self.stream, name)


def physical_from_serial(serial):
    """The HDLC physical (lower) address many meters derive from their serial number:
    SN % 10000 + 1000, used with 4-byte server addresses."""
    return int(serial) % 10000 + 1000


# -- settings: read, checked before any I/O --------------------------------------------------
def _bad(text):
    from udlms.errors import ConfigError

    return ConfigError(text, "config")


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


# -- output -----------------------------------------------------------------------------
class Output:
    """Where a command's words go: the result on stdout (one JSON object with --json),
    -v text on stdout, or on stderr when --json is set. A closed stdout (``| head``) ends
    the output quietly; the work (journal, counters) is done before anything is written."""

    def __init__(self, json_mode=False, verbose=False):
        import sys

        self.json = json_mode
        self.verbose = verbose
        self.out = sys.stdout
        self.info = sys.stderr if json_mode else sys.stdout
        self.closed = False

    def _write(self, f, text):
        if self.closed:
            return
        try:
            f.write(text)
            f.flush()
        except BrokenPipeError:
            self.closed = True
            _silence_stdout()
        except (OSError, ValueError):
            self.closed = True

    def line(self, text):
        """Human words (suppressed with --json, except -v which goes to stderr)."""
        if not self.json:
            self._write(self.out, text + "\n")

    def verbose_line(self, text):
        if self.verbose:
            self._write(self.info, text + "\n")

    def obj(self, obj):
        import json

        self._write(self.out, json.dumps(obj) + "\n")


def _silence_stdout():
    """After EPIPE: point fd 1 at /dev/null so the interpreter's final flush is quiet."""
    import os
    import sys

    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError):
        pass


def _unprocessed(e):
    """An exception-response deciphering-error (5) or invocation-counter-error (6): the
    meter threw our ciphered request away unprocessed (another client used a newer
    counter meanwhile, or the keys are wrong)."""
    from udlms.errors import ServiceError

    return isinstance(e, ServiceError) and e.kind == "exception" and e.code in (5, 6)


def _exit_for(e, sent=False):
    from udlms import errors

    if isinstance(e, (errors.TokenError, errors.ConfigError)):
        return EXIT_INPUT
    if _unprocessed(e):
        return EXIT_AUTH
    if isinstance(e, errors.ServiceError):
        return EXIT_REFUSED
    if sent:
        return EXIT_UNKNOWN
    if isinstance(e, (errors.LinkError, errors.FrameError, errors.ApduError)):
        return EXIT_LINK
    if isinstance(e, (errors.SecurityError, errors.AssociationError)):
        return EXIT_AUTH
    return EXIT_LINK


def _label(e):
    from udlms import errors

    if isinstance(e, errors.NoAnswer):
        return "NO ANSWER"
    if isinstance(e, errors.TokenError):
        return "BAD TOKEN"
    if isinstance(e, errors.ConfigError):
        return "BAD SETTING"
    if isinstance(e, errors.SecurityError) and e.kind in ("counter-unavailable",
                                                         "counter-exhausted"):
        return "COUNTER"
    if isinstance(e, (errors.SecurityError, errors.AssociationError)):
        return "AUTH FAILED"
    if _unprocessed(e):
        return "AUTH FAILED"
    if isinstance(e, errors.ServiceError):
        return "REFUSED"
    if isinstance(e, (errors.LinkError, errors.FrameError, errors.ApduError)):
        return "LINK ERROR"
    return "ERROR"


def _as_dlms(e):
    """Any exception from a link (pyserial, OSError, ...) as a named LinkError."""
    from udlms.errors import DlmsError, LinkError

    if isinstance(e, DlmsError):
        return e
    return LinkError("the link failed (%s: %s)" % (type(e).__name__, e), "link-lost")


class _Tracer:
    """Every frame as ``TX: 7E A0 ...`` lines: kept for -v, and written to --trace."""

    def __init__(self, path):
        self.f = None
        if path:
            try:
                self.f = open(path, "w", encoding="ascii")
            except OSError as e:
                raise _bad("--trace %s cannot be written: %s" % (path, e.strerror or e))
        self.lines = []

    def __call__(self, direction, frame):
        line = "%s: %s" % (direction, " ".join("%02X" % b for b in bytes(frame)))
        self.lines.append(line)
        if self.f:
            try:
                self.f.write(line + "\n")
                self.f.flush()
            except OSError:
                pass

    def close(self):
        if self.f:
            try:
                self.f.close()
            except OSError:
                pass
            self.f = None


def _print_exchange(tracer, s, out):
    from udlms.host import decode

    try:
        lines = list(decode.explain_text("\n".join(tracer.lines), ek=s.ek, ak=s.ak,
                                         client_title=s.system_title))
    except Exception as e:  # noqa: BLE001 - decoding is a courtesy
        lines = ["(could not decode the exchange: %s)" % e]
    for line in lines:
        out.verbose_line(line)


# -- files ------------------------------------------------------------------------------
def _config_dir():
    import os

    return os.path.join(os.path.expanduser("~"), ".config", "udlms")


def _counter_path(d):
    import os

    return d.get("counter_file") or os.path.join(_config_dir(), "counters.json")


def _journal_path(d):
    import os

    return d.get("journal") or os.path.join(os.path.dirname(os.path.abspath(
        _counter_path(d))), "journal.jsonl")


class Journal:
    """Host token journal: one JSON line per event, appended and fsync'ed (file 0600).
    A token is written as ``pending`` before the first byte is sent and gets its final
    state after (accepted / refused / not-sent / unknown), so a crash never loses a token."""

    def __init__(self, path):
        self.path = path

    def add(self, digits, state, **extra):
        import json
        import os
        import time

        d = os.path.dirname(os.path.abspath(self.path))
        rec = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "token": digits, "state": state}
        rec.update(extra)
        try:
            os.makedirs(d, 0o700, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                try:
                    os.fchmod(fd, 0o600)  # a journal made by an older udlms was 0644
                except (AttributeError, OSError):  # not ours, or no fchmod (Windows)
                    pass
                os.write(fd, (json.dumps(rec) + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            raise _bad("cannot write the journal %s: %s" % (self.path, e.strerror or e))

    def entries(self):
        """Latest state per token, in the order tokens were first journaled."""
        import json

        out = {}
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                        out.setdefault(rec["token"], {}).update(rec)
                    except (ValueError, KeyError, TypeError, AttributeError):
                        continue  # a line cut by power loss: the previous state stands
        except FileNotFoundError:
            pass
        except OSError as e:
            raise _bad("cannot read the journal %s: %s" % (self.path, e.strerror or e))
        return list(out.values())

    def state(self, digits):
        for e in self.entries():
            if e.get("token") == digits:
                return e.get("state")
        return None


# -- links and sessions -----------------------------------------------------------------
def _open(d):
    from udlms.host import ports

    timeout_ms = int(d.get("timeout", 3) * 1000)
    stream = _Guard(ports.open_stream(d["port"], int(d.get("baud") or 9600), timeout_ms))
    try:
        if d.get("echo"):
            from udlms.link.uart import EchoDrop

            stream = EchoDrop(stream)
        if d.get("mode_e"):
            from udlms.link import iec21

            iec21.sign_on(stream, address=d.get("iec_address") or "",
                          max_baud=int(d["baud"]) if d.get("baud") else None)
    except BaseException:
        stream.close()
        raise
    return stream


def _close(x):
    if x is not None:
        try:
            x.close()
        except Exception:  # noqa: BLE001 - teardown never hides the result
            pass


def _deciphering_refusal(e):
    """The meter refused our AARQ because it could not decipher it: a stale invocation
    counter (or wrong keys)."""
    from udlms.errors import AssociationError

    return isinstance(e, AssociationError) and "decipher" in e.message


class Run:
    """One command's connection: settings, trace, counter store and what was said."""

    def __init__(self, d, s, out, tracer):
        from udlms.host import counters

        self.d = d
        self.s = s
        self.out = out
        self.tracer = tracer
        self.notes = []
        self.store = self.ctx = None
        self.counter = None
        if s.mechanism == 5:
            self.store = counters.CounterStore(_counter_path(d))
            self.ctx = counters.context_key(s.ek, s.system_title)

    def note(self, text):
        self.notes.append(text)
        self.out.verbose_line("note: " + text)

    def check_store(self):
        """Read and check the counter file now (a bad file is exit 2, nothing sent)."""
        if self.store is not None:
            self.store.peek(self.ctx)

    def resync(self, why):
        """Read the meter's frame counter with the public client; move ours past it."""
        from udlms.client import resync

        stream = _open(self.d)
        try:
            value = resync.read_frame_counter(stream, self.s, trace=self.tracer)
        finally:
            _close(stream)
        nxt = self.store.remember_meter(self.ctx, value)
        self.note("%s: the meter's frame counter is %d, our next invocation counter %d"
                  % (why, value, nxt))
        return value, nxt

    def new_counter(self):
        from udlms.crypto.security import MemoryCounter

        if self.store is None:
            return None
        if "invocation_counter" in self.d:
            n = self.d["invocation_counter"]
            nxt = self.store.peek(self.ctx)
            if nxt is not None and n < nxt:
                self.note("invocation counter %d is below the stored %d for this key and "
                          "system title: the meter may refuse it" % (n, nxt))
            # keep the store past every value this session may use
            self.store.advance(self.ctx, min(n + 64, 1 << 32))
            return MemoryCounter(n)
        if self.store.peek(self.ctx) is None:
            self.resync("first contact with this key and system title")
            if self.store.migrated is not None:
                self.note("old port-keyed counter entry migrated (%d)" % self.store.migrated)
        return self.store.counter(self.ctx)

    def settle_counter(self, counter):
        from udlms.crypto.security import MemoryCounter

        if isinstance(counter, MemoryCounter) and self.store is not None:
            try:
                self.store.advance(self.ctx, min(counter.value, 1 << 32))
            except Exception:  # noqa: BLE001 - reported on the next run
                pass

    def session(self, work):
        """Open a session, run ``work(sess)``; on a deciphering-error of our AARQ (stale
        counter) resynchronise through the public client and try once more, saying so."""
        from udlms.client import session

        for attempt in (1, 2):
            counter = self.new_counter()
            stream = sess = None
            try:
                stream = _open(self.d)
                self.sess = sess = session.Session(stream, self.s, counter, trace=self.tracer)
                sess.open()
                try:
                    return work(sess)
                finally:
                    sess.close()
            except Exception as e:  # noqa: BLE001 - named here or by the caller
                if (attempt == 1 and self.store is not None and _deciphering_refusal(e)
                        and "invocation_counter" not in self.d
                        and not (sess is not None and sess.token_sent)):
                    ic = counter.first if hasattr(counter, "first") else None
                    self.note("the meter could not decipher our AARQ (invocation counter %s): "
                              "resynchronising from its frame counter and trying once more"
                              % ic)
                    _close(stream)
                    stream = None
                    self.resync("resync")
                    continue
                if attempt == 2 and _deciphering_refusal(e):
                    e.args = (e.message + "; it was still refused after the invocation "
                              "counter was resynchronised: check EK/AK and the system title",)
                raise
            finally:
                self.settle_counter(counter)
                _close(stream)


def _conn_settings(args, cmd, out):
    d = _settings_dict(args, cmd)
    s = _session_settings(d, cmd)
    tracer = _Tracer(d.get("trace"))
    return d, s, Run(d, s, out, tracer)


def _interrupt_guard():
    """After the first Ctrl-C: ignore more while the journal is settled."""
    import signal

    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):  # not the main thread
        pass


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
        try:
            value, _ = axdr.decode(raw)
            text = obis.value_text(value)
        except Exception as e:  # noqa: BLE001 - show the bytes we could not read
            text = "(undecodable A-XDR: %s) %s" % (e, raw.hex())
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


def _interrupted(out, result):
    result.update(ok=False, verdict="INTERRUPTED", result="interrupted",
                  message="interrupted", exit=EXIT_INTERRUPTED)
    if out.json:
        out.obj(result)
    else:
        out.line("INTERRUPTED")
    return EXIT_INTERRUPTED


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
            stream = _open(d)
            try:
                value = resync.read_frame_counter(stream, s, trace=run.tracer)
            finally:
                _close(stream)
            if store is not None:
                nxt = store.remember_meter(ctx, value)
        finally:
            if run is not None:
                run.tracer.close()
                if out.verbose:
                    _print_exchange(run.tracer, run.s, out)
        result.update(ok=True, meter_frame_counter=value, next_invocation_counter=nxt,
                      context=ctx, counter_file=store.path if store else None,
                      notes=run.notes, exit=0)
        if out.json:
            out.obj(result)
        elif nxt is None:
            out.line("meter frame counter %d (not stored)" % value)
        else:
            out.line("meter frame counter %d; our next invocation counter %d" % (value, nxt))
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

    from udlms.host import decode

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
        result.update(found=True, verdict="FOUND", settings=st, mode=found.mode,
                      ldn=found.ldn if isinstance(found.ldn, (str, type(None)))
                      else found.ldn.hex(), frame_counter=found.frame_counter)
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


# -- the parser -------------------------------------------------------------------------
class _ArgError(Exception):
    pass


def _parser_class():
    import argparse

    class Parser(argparse.ArgumentParser):
        """argparse that raises instead of printing and exiting, so the error can be
        given as JSON when --json is on the command line."""

        def error(self, message):
            raise _ArgError("%s: %s" % (self.prog, message))

    return Parser


def _add_link(p, cmd):
    g = p.add_argument_group("link")
    g.add_argument("--profile", metavar="FILE",
                   help="JSON object with any of these settings, named like the flags "
                   "(flags win)")
    g.add_argument("--port", help="serial device (/dev/ttyUSB0), pty path, tcp://HOST:PORT "
                   "(HDLC over TCP) or udp://HOST:PORT (wrapper over UDP)")
    g.add_argument("--baud", metavar="N", help="serial baud rate, 50..4000000 (default 9600)")
    g.add_argument("--server-logical", metavar="N",
                   help="meter logical device address (default 1): 0..127, 0..16383 with "
                   "4-byte addresses")
    g.add_argument("--server-physical", metavar="N",
                   help="meter physical address (default 17): 0..127, 0..16383 with 4-byte "
                   "addresses")
    g.add_argument("--serial-number", metavar="SN",
                   help="meter serial number: physical address = SN %% 10000 + 1000 with "
                   "4-byte addresses (the usual scheme), unless --server-physical is given")
    g.add_argument("--address-size", metavar="1|2|4", help="HDLC server address size in "
                   "bytes (default 2)")
    if cmd == "probe":
        g.add_argument("--timeout", metavar="S",
                       help="response timeout per try, seconds 0.05..600 (default 0.3)")
    else:
        g.add_argument("--timeout", metavar="S",
                       help="response timeout, seconds 0.05..600 (default 3)")
    g.add_argument("--wrapper", dest="transport", action="store_const", const="wrapper",
                   help="IEC 62056-47 wrapper (TCP/UDP port 4059) instead of HDLC frames")
    g.add_argument("--mode-e", action="store_const", const=True,
                   help="IEC 62056-21 mode E sign-on at 300 baud 7E1 before HDLC (optical "
                   "probes); --baud then caps the baud rate acknowledged")
    g.add_argument("--iec-address", metavar="ADDR",
                   help="device address in the mode E sign-on /?ADDR! (up to 32 characters)")
    g.add_argument("--echo", action="store_const", const=True,
                   help="drop the echo of our own bytes (half-duplex adapters)")
    g.add_argument("--trace", metavar="FILE",
                   help="write every frame to FILE as TX:/RX: hex lines (udlms decode "
                   "reads them)")
    g.add_argument("--json", action="store_true",
                   help="print the result as one JSON object (errors too); -v text goes to "
                   "stderr")


def _add_session(p, cmd):
    g = p.add_argument_group("association")
    if cmd != "resync":
        g.add_argument("--client", metavar="SAP",
                       help="client SAP 1..127 (default 1, management; 16 is the public "
                       "client without security)")
    g.add_argument("--retries", metavar="N", help="HDLC retries per frame, 0..10 (default 3)")
    g.add_argument("--max-info", metavar="N", help="HDLC max information field, 32..2030 "
                   "(default 128)")
    g.add_argument("--window", metavar="N", help="HDLC window size, 1..7 (default 1)")
    g.add_argument("--max-pdu", metavar="N", help="client max receive PDU size, 12..65535 "
                   "(default 512)")
    g.add_argument("--conformance", metavar="HEX",
                   help="proposed conformance block, hex up to FFFFFF (default 001E1D)")
    g.add_argument("-v", "--verbose", action="store_true",
                   help="print the decoded exchange (every session, the counter resync "
                   "included) and notes")


def _add_security(p, cmd):
    g = p.add_argument_group("security")
    if cmd != "resync":
        g.add_argument("--mechanism", metavar="0|1|5",
                       help="authentication: 0 none, 1 LLS (password), 5 HLS-GMAC (default "
                       "for the management client)")
        g.add_argument("--password", help="LLS password (mechanism 1)")
    g.add_argument("--ek", metavar="HEX", help="block cipher key EK (32 hex digits)")
    g.add_argument("--ak", metavar="HEX", help="authentication key AK (32 hex digits)")
    g.add_argument("--system-title", metavar="HEX",
                   help="our (client) system title (16 hex digits)")
    if cmd != "resync":
        g.add_argument("--ctos", metavar="HEX",
                       help="fixed client challenge, 8..64 bytes in hex (reproducible runs)")
        g.add_argument("--invocation-counter", metavar="N",
                       help="invocation counter of the AARQ, 0..4294967295 (then +1 per "
                       "ciphered APDU; reproducible runs); the counter file moves past it")
    g.add_argument("--counter-file", metavar="FILE",
                   help="where the host keeps invocation counters, one per key and system "
                   "title (default ~/.config/udlms/counters.json)")
    g.add_argument("--frame-counter", metavar="OBIS",
                   help="the meter's frame counter object read with the public client "
                   "(default 0.0.43.1.1.255)")


def build_parser():
    import argparse

    from udlms import __version__

    Parser = _parser_class()
    fmt = argparse.RawDescriptionHelpFormatter
    p = Parser(prog="udlms", description="DLMS/COSEM client: deliver STS tokens to a meter's "
               "Token Gateway and explain what happened", epilog=EPILOG, formatter_class=fmt)
    p.add_argument("--version", action="version", version="udlms %s" % __version__)
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=Parser)

    def cmd(name, help_text):
        return sub.add_parser(name, help=help_text, description=help_text, epilog=EPILOG,
                              formatter_class=fmt)

    e = cmd("enter-token", "enter a 20-digit token into the meter's Token Gateway")
    e.add_argument("token", help="20 digits; spaces and dashes allowed (quote it)")
    _add_link(e, "enter-token")
    _add_session(e, "enter-token")
    _add_security(e, "enter-token")
    t = e.add_argument_group("token")
    t.add_argument("--encoding", choices=("auto", "ascii", "bcd", "digits", "hex"),
                   help="how the meter wants the token octets (default auto: the form "
                   "remembered for this meter, else ascii, then the next form only on "
                   "type-unmatched (12), in the same association)")
    t.add_argument("--gateway", metavar="OBIS",
                   help="Token Gateway object (default 0.0.19.40.0.255)")
    t.add_argument("--journal", metavar="FILE",
                   help="token journal (default journal.jsonl next to the counter file)")
    t.add_argument("--force", action="store_true",
                   help="enter a token the journal marks `unknown` without first reading "
                   "the gateway's token and token_status")
    g = cmd("get", "read one attribute, OBIS:CLASS:ATTR, e.g. 0.0.1.0.0.255:8:2")
    g.add_argument("target", help="OBIS:CLASS:ATTR, e.g. 0.0.19.40.0.255:115:6")
    _add_link(g, "get")
    _add_session(g, "get")
    _add_security(g, "get")
    r = cmd("resync", "read the meter's frame counter (public client) and move our "
            "invocation counter for this key and system title past it")
    _add_link(r, "resync")
    _add_session(r, "resync")
    _add_security(r, "resync")
    d = cmd("decode", "explain a hex trace (one frame per line), decrypting with --ek/--ak")
    d.add_argument("file", nargs="?", help="trace file, or - for standard input")
    d.add_argument("--ek", metavar="HEX", help="block cipher key EK, to decipher")
    d.add_argument("--ak", metavar="HEX", help="authentication key AK, to check tags")
    d.add_argument("--system-title", metavar="HEX",
                   help="client system title, if not in the trace's AARQ")
    d.add_argument("--server-title", metavar="HEX",
                   help="meter system title, if not in the trace's AARE")
    d.add_argument("--json", action="store_true", help="one JSON object per frame")
    pr = cmd("probe", "find the meter's mode, baud rate and address with the public client, "
             "then read its name and frame counter (sends no token)")
    _add_link(pr, "probe")
    pr.add_argument("--bauds", metavar="LIST", help="comma-separated baud rates to try "
                    "(default 9600,19200,115200)")
    pr.add_argument("--no-mode-e", action="store_true", help="do not try the mode E sign-on")
    pr.add_argument("-v", "--verbose", action="store_true",
                    help="print the decoded exchange of every attempt")
    s = cmd("sim", "run the simulated meter (tools/meter_sim.py; `udlms sim --help`)")
    s.add_argument("sim_args", nargs="*", help="the simulator's options")
    return p


def _run_sim(argv):
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))  # lib/udlms/host
    tools = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(here))), "tools")
    if not os.path.exists(os.path.join(tools, "meter_sim.py")):
        sys.stderr.write("udlms sim: the simulator (tools/meter_sim.py) is not installed "
                         "with this copy of udlms\n")
        return EXIT_INPUT
    sys.path.insert(0, tools)
    import meter_sim

    try:
        return meter_sim.main(argv, prog="udlms sim") or 0
    except SystemExit as e:  # argparse: --help (0) or a bad option (2)
        return e.code if isinstance(e.code, int) else EXIT_INPUT


def run(argv):
    """The whole command; returns the exit status and never raises (except SystemExit
    from --help/--version)."""

    json_mode = "--json" in argv
    if argv and argv[0] == "sim":  # every flag goes to the simulator
        try:
            return _run_sim(argv[1:])
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
    out = Output(json_mode)
    import signal

    def on_sigint(signum, frame):
        _SIGINT[0] = True
        raise KeyboardInterrupt

    _SIGINT[0] = False
    try:
        old = signal.signal(signal.SIGINT, on_sigint)
    except (ValueError, OSError):  # not the main thread
        old = None
    try:
        return _run(argv, out, json_mode)
    finally:
        if old is not None:
            try:
                signal.signal(signal.SIGINT, old)
            except (ValueError, OSError):
                pass


def _run(argv, out, json_mode):
    import sys

    try:
        p = build_parser()
        try:
            args = p.parse_args(argv)
        except _ArgError as e:
            if json_mode:
                out.obj({"ok": False, "verdict": "BAD SETTING", "result": "config",
                         "message": str(e), "exit": EXIT_INPUT})
            else:
                sys.stderr.write("%s\n(udlms %s --help lists the options)\n"
                                 % (e, argv[0] if argv and not argv[0].startswith("-")
                                    else ""))
            return EXIT_INPUT
        out = Output(getattr(args, "json", False), getattr(args, "verbose", False))
        fn = {"enter-token": cmd_enter_token, "get": cmd_get, "resync": cmd_resync,
              "probe": cmd_probe, "decode": cmd_decode}.get(args.cmd)
        if fn is None:
            if json_mode:
                out.obj({"ok": False, "verdict": "BAD SETTING", "result": "config",
                         "message": "no command given: enter-token, get, resync, decode, "
                         "probe or sim", "exit": EXIT_INPUT})
            else:
                p.print_help()
            return EXIT_INPUT
        return fn(args, out)
    except KeyboardInterrupt:
        return _interrupted(out, {})
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_INPUT
    except Exception as e:  # noqa: BLE001 - the last net: named, never a traceback
        msg = "unexpected %s: %s (please report this)" % (type(e).__name__, e)
        if out.json:
            out.obj({"ok": False, "verdict": "ERROR", "message": msg, "exit": EXIT_LINK})
        else:
            sys.stderr.write("ERROR: %s\n" % msg)
        return EXIT_LINK


def main(argv=None):
    import sys

    argv = sys.argv[1:] if argv is None else list(argv)
    code = run(argv)
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError, ValueError):
        _silence_stdout()
    sys.exit(code)
