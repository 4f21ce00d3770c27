"""The udlms command's ground: exit codes (DESIGN.md §3), the flag groups, Ctrl-C
handling, output (text or one JSON object), errors mapped to exit codes and words, the
frame tracer."""


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
    from udlms.host.decode import main as decode

    try:
        lines = list(decode.explain_text("\n".join(tracer.lines), ek=s.ek, ak=s.ak,
                                         client_title=s.system_title))
    except Exception as e:  # noqa: BLE001 - decoding is a courtesy
        lines = ["(could not decode the exchange: %s)" % e]
    for line in lines:
        out.verbose_line(line)


def _interrupted(out, result):
    result.update(ok=False, verdict="INTERRUPTED", result="interrupted",
                  message="interrupted", exit=EXIT_INTERRUPTED)
    if out.json:
        out.obj(result)
    else:
        out.line("INTERRUPTED")
    return EXIT_INTERRUPTED
