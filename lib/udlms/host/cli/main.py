"""The ``udlms`` host command line: decode, enter-token, get, resync, probe, sim.

Host only (CPython). One rule: no Python traceback reaches the user; every failure is a
named error with its exit code (``EXIT_*`` in :mod:`udlms.host.cli.base`, DESIGN.md §3),
and ``--json`` prints exactly one JSON object (``decode``: one per frame), errors included.
Settings are all checked before any byte goes out (:mod:`udlms.host.cli.settings`).

This module is the parser and the entry points; the commands are :mod:`udlms.host.cli.token`
(enter-token) and :mod:`udlms.host.cli.commands` (get, resync, decode, probe), over
:mod:`udlms.host.cli.run` (links, sessions, counters), :mod:`udlms.host.journal` and
:mod:`udlms.host.cli.base` (exit codes, output, Ctrl-C).
"""

from udlms.host.cli.base import (EPILOG, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_LINK, Output,
                                 _SIGINT, _silence_stdout, physical_from_serial)  # noqa: F401
from udlms.host.cli.base import _interrupted


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
                   help="the meter's frame counter object read with the public client, "
                   "tried first (default 0.0.43.1.1.255); then 0.0.43.1.<client>.255, "
                   "0.0.43.1.0.255, 0.0.43.1.1.255, and the one that answered is remembered")


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
    s = cmd("sim", "run the simulated meter (udlms.host.sim; `udlms sim --help`)")
    s.add_argument("sim_args", nargs="*", help="the simulator's options")
    return p


def _run_sim(argv):
    from udlms.host.sim import meter as meter_sim

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
        fn = None  # each command's module is imported when it runs
        if args.cmd == "enter-token":
            from udlms.host.cli.token import cmd_enter_token as fn
        elif args.cmd in ("get", "resync", "probe", "decode"):
            from udlms.host.cli import commands as cli_cmds

            fn = getattr(cli_cmds, "cmd_" + args.cmd)
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
