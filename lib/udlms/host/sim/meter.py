"""Simulated prepayment meter: a DLMS/COSEM server with a Token Gateway (IC 115).

Speaks HDLC (IEC 62056-46) over TCP (``--tcp PORT``, HDLC frames over TCP as simulators
do) or over a pseudo-terminal (``--pty``, prints the device path). Built on udlms's HDLC
framer; the security suite 0 side (AES-GCM, HLS-GMAC) uses pyca ``cryptography`` so the
client's and the server's crypto are independent implementations. The simulator is proven
by the unmodified gurux-dlms client completing a token session against it
(host_tests/test_sim_gurux.py). gurux's own server classes are not used (see
../shared/reference/gurux-server-defects.md).

Clients:
  SAP 16  public client: LN without ciphering, no authentication; may read the frame
          counter 0.0.43.1.1.255, the clock and the logical device name.
  SAP 1   management client: LN with ciphering, HLS-GMAC (mechanism 5), security suite 0,
          glo-ciphering (authenticated and encrypted, SC 0x30); when the AARQ proposes
          general-protection (conformance bit 1, as dlms-cosem does) it is negotiated and
          general-glo-ciphering (DB) requests are accepted too and answered with DB
          (host_tests/test_sim_dlms_cosem.py).
Objects: Association LN 0.0.40.0.0.255 (15), frame counter 0.0.43.1.1.255 (1) (elsewhere
with ``--frame-counter-at``), logical
device name 0.0.42.0.0.255 (1), Clock 0.0.1.0.0.255 (8), Disconnect Control
0.0.96.3.10.255 (70), Token Gateway 0.0.19.40.0.255 (115).

The Token Gateway accepts a token only in its configured encoding (anything else is
action-result type-unmatched, 12; ``--encoding any`` takes every form), refuses a token
it already accepted (token_status 6, validation failure) and reports token_status {code,
bits}. The meter remembers the last invocation counter per client and refuses a repeated
or lower one: an AARQ with a stale counter is rejected, a stale glo-APDU gets
exception-response D8 01 06 <expected>.

Meters differ (issue 24): ``--refuse-aarq-with exception`` answers a refused ciphered AARQ
with an exception-response instead of an AARE; ``--frame-counter-at OBIS`` publishes the
counter elsewhere; ``--release-needs-ciphered-rlrq`` refuses a plain RLRQ in a ciphered
association, ``--refuse-release`` every RLRQ; ``--refuse-hls-reply`` refuses HLS pass 3.
A ciphered RLRQ is always checked (glo-initiateRequest, fresh counter).

The simulator is split by job (udlms.host.sim): data (A-XDR encoders, OBIS codes, Options,
MeterState), association (one association and the objects), hdlc (the HDLC side), transport
(TCP, pty, mode E, wrapper); this module is the command line and offers all their names.
Run it as ``udlms sim`` or ``python -m udlms.host.sim``.
"""

import argparse
import sys
import time

from udlms.client import token as tok
from udlms.host.sim.association import Association, fault  # noqa: F401
from udlms.host.sim.data import (  # noqa: F401 - offered for the tests and tools
    ASSOCIATION, CLOCK, FRAME_COUNTER, GATEWAY, LDN, MeterState, Options, _ber_fields, _ber_len,
    array, bitstring, boolean, datetime_now, enum, obis_bytes, octets, structure, u32)
from udlms.host.sim.hdlc import ApduServer, HdlcServer, Meter  # noqa: F401
from udlms.host.sim.transport import (  # noqa: F401
    _BAUDS, ModeE, PtyServer, TcpServer, UdpWrapperServer, WrapperConnection, WrapperServer,
    _Server, line_settings)


def _port(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a port number" % text)
    if not 0 <= v <= 65535:
        raise argparse.ArgumentTypeError("port %d is outside 0..65535 (0: any free port)" % v)
    return v


def _hexbytes(n):
    def parse(text):
        try:
            b = bytes.fromhex(text)
        except ValueError:
            raise argparse.ArgumentTypeError("%r is not hexadecimal" % text)
        if len(b) != n:
            raise argparse.ArgumentTypeError("wants %d hex digits, got %d" % (2 * n, len(text)))
        return text
    return parse


def _obis(text):
    parts = text.replace("-", ".").replace(":", ".").split(".")
    try:
        ok = len(parts) == 6 and all(0 <= int(x) <= 255 for x in parts)
    except ValueError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError("%r is not an OBIS code A.B.C.D.E.F (0..255 each)"
                                         % text)
    return text


def build_parser(prog="meter_sim"):
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__.split("\n")[0],
        epilog="exit status: 0 stopped with Ctrl-C, 2 bad option, 3 cannot listen / open the "
        "pty")
    p.add_argument("--tcp", type=_port, metavar="PORT",
                   help="serve HDLC over TCP on PORT (0: any free port)")
    p.add_argument("--pty", action="store_true", help="serve HDLC over a pseudo-terminal")
    p.add_argument("--pty-link", help="also create this symlink to the pty")
    p.add_argument("--mode-e", action="store_true",
                   help="pty needs the IEC 62056-21 mode E sign-on (300 7E1) before HDLC")
    p.add_argument("--mode-e-baud", type=int, default=9600, choices=_BAUDS,
                   help="baud rate the identification announces (default 9600)")
    p.add_argument("--wrapper", type=_port, metavar="PORT",
                   help="serve the IEC 62056-47 wrapper over TCP on PORT (4059 on meters)")
    p.add_argument("--wrapper-udp", type=_port, metavar="PORT",
                   help="serve the IEC 62056-47 wrapper over UDP on PORT")
    p.add_argument("--server-logical", type=int, default=1,
                   help="logical device address (default 1)")
    p.add_argument("--server-physical", type=int, default=17,
                   help="physical address (default 17)")
    p.add_argument("--address-size", type=int, default=2, choices=(1, 2, 4),
                   help="HDLC server address size in bytes (default 2)")
    p.add_argument("--ek", default="000102030405060708090A0B0C0D0E0F", type=_hexbytes(16),
                   help="block cipher key EK (32 hex digits)")
    p.add_argument("--ak", default="D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF", type=_hexbytes(16),
                   help="authentication key AK (32 hex digits)")
    p.add_argument("--system-title", default="4D4D4D0000BC614E", type=_hexbytes(8),
                   help="the meter's system title (16 hex digits)")
    p.add_argument("--stoc", help="fixed server challenge (hex) for reproducible traces")
    p.add_argument("--encoding", default="ascii", choices=tok.ENCODINGS + ("any",),
                   help="the token octets the gateway takes (default ascii; any: every form)")
    p.add_argument("--refusal", default="status", choices=("status", "action"),
                   help="how a token is refused: action success and the verdict in "
                   "token_status (default), or the action fails with other-reason (250) and "
                   "token_status says why")
    p.add_argument("--no-token-status", action="store_true",
                   help="token_status (attribute 6) is not readable (read-write-denied)")
    p.add_argument("--fault", choices=("silent-after-aarq", "silent-after-enter",
                                       "die-after-aarq", "die-after-enter"),
                   help="for tests: stop answering, or end the process, when the management "
                   "client's AARQ / the token's enter request arrives")
    p.add_argument("--max-info", type=int, default=128,
                   help="largest HDLC information field (default 128)")
    p.add_argument("--max-pdu", type=int, default=1024, help="server max PDU size")
    p.add_argument("--server-ic", type=lambda s: int(s, 0), default=0x01234567,
                   help="the meter's own invocation counter to start from")
    p.add_argument("--client-ic", type=lambda s: int(s, 0), default=None,
                   help="last invocation counter already seen from client 1")
    p.add_argument("--baud", type=int, help="throttle output to this baud rate")
    p.add_argument("--log", action="store_true", help="print every frame")
    p.add_argument("--lose-enter", type=int, metavar="N",
                   help="lose the answer to the Nth enter request (HDLC: silent until the "
                   "next SNRM), a line that dies mid-session")
    # -- meters differ (issue 24, cases 3 and 5) --
    p.add_argument("--wrong-form", default="type-unmatched",
                   choices=("type-unmatched", "object-class-inconsistent", "format-failure"),
                   help="how enter refuses a token in a form the gateway does not take: "
                   "type-unmatched (12, default); object-class-inconsistent (9, the stored "
                   "token cleared); format-failure (12 and token_status format-failure (4) "
                   "for that token)")
    p.add_argument("--store-any-token", action="store_true",
                   help="enter stores any octet string, answers success and leaves "
                   "token_status at format-ok (0)")
    p.add_argument("--trailing-bytes", type=int, default=0, metavar="N",
                   help="every GET answer carries N bytes after its value")
    # -- meters differ (issue 24, cases 1, 2, 4, 7) --
    p.add_argument("--refuse-aarq-with", default="aare", choices=("aare", "exception"),
                   help="how a ciphered AARQ is refused: an AARE saying deciphering-error "
                   "(default), or an exception-response: D8 01 05 (deciphering-error: "
                   "wrong keys) or D8 01 06 <u32> (invocation-counter-error naming the "
                   "counter the meter expects)")
    p.add_argument("--frame-counter-at", default="0.0.43.1.1.255", metavar="OBIS", type=_obis,
                   help="where the public client reads the client's last invocation "
                   "counter (default 0.0.43.1.1.255); other 0.0.43.1.x.255 are "
                   "read-write-denied (3)")
    p.add_argument("--release-needs-ciphered-rlrq", action="store_true",
                   help="refuse a plain RLRQ in a ciphered association (exception-response "
                   "D8 01 01); the RLRQ must carry the ciphered InitiateRequest with a "
                   "fresh invocation counter (checked always when present)")
    p.add_argument("--refuse-release", action="store_true",
                   help="answer every RLRQ with RLRE reason not-finished (1); the "
                   "association ends with the DISC")
    p.add_argument("--refuse-hls-reply", action="store_true",
                   help="refuse every HLS pass 3 reply f(StoC) with other-reason (250), "
                   "as a meter that computes it with another counter")
    return p


def options_from_args(a):
    return Options(server_logical=a.server_logical, server_physical=a.server_physical,
                   address_size=a.address_size, ek=a.ek, ak=a.ak, system_title=a.system_title,
                   stoc=a.stoc, encoding=a.encoding, max_info=a.max_info, max_pdu=a.max_pdu,
                   server_ic=a.server_ic, client_ic=a.client_ic, log=a.log,
                   refusal=a.refusal, status_readable=not a.no_token_status, fault=a.fault,
                   lose_enter=a.lose_enter,
                   # meters differ (issue 24, cases 3 and 5)
                   wrong_form=a.wrong_form, store_any_token=a.store_any_token,
                   trailing_bytes=a.trailing_bytes,
                   # meters differ (issue 24, cases 1, 2, 4, 7)
                   refuse_aarq_with=a.refuse_aarq_with, frame_counter_at=a.frame_counter_at,
                   release_needs_ciphered_rlrq=a.release_needs_ciphered_rlrq,
                   refuse_release=a.refuse_release, refuse_hls_reply=a.refuse_hls_reply)


def main(argv=None, prog="meter_sim"):
    """Run the simulator until Ctrl-C; returns the exit status (errors are named)."""
    a = build_parser(prog).parse_args(argv)
    try:
        meter = Meter(options_from_args(a))
    except Exception as e:  # noqa: BLE001 - a bad combination of options
        print("%s: bad option: %s" % (prog, e), file=sys.stderr)
        return 2
    servers = []
    try:
        try:
            if a.tcp is not None:
                s = TcpServer(meter, a.tcp, baud=a.baud).start()
                servers.append(s)
                print("meter_sim: HDLC over TCP on tcp://127.0.0.1:%d" % s.port, flush=True)
            if a.wrapper is not None:
                s = WrapperServer(meter, a.wrapper).start()
                servers.append(s)
                print("meter_sim: wrapper (IEC 62056-47) on tcp://127.0.0.1:%d" % s.port,
                      flush=True)
            if a.wrapper_udp is not None:
                s = UdpWrapperServer(meter, a.wrapper_udp).start()
                servers.append(s)
                print("meter_sim: wrapper (IEC 62056-47) on udp://127.0.0.1:%d" % s.port,
                      flush=True)
            if a.pty or a.mode_e or (a.tcp is None and a.wrapper is None
                                     and a.wrapper_udp is None):
                mode_e = ModeE(a.mode_e_baud) if a.mode_e else None
                s = PtyServer(meter, baud=a.baud, link=a.pty_link, mode_e=mode_e).start()
                servers.append(s)
                print("meter_sim: %s on pty %s" % ("mode E sign-on, then HDLC at %d baud"
                                                   % a.mode_e_baud if mode_e else "HDLC",
                                                   s.path), flush=True)
        except OSError as e:
            print("%s: cannot start: %s%s" % (prog, e.strerror or e, " (%s)" % e.filename
                                              if getattr(e, "filename", None) else ""),
                  file=sys.stderr)
            return 3
        print("meter_sim: server %d/%d (size %d), token encoding %s"
              % (a.server_logical, a.server_physical, a.address_size, a.encoding), flush=True)
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # our stdout was closed: nobody listens any more
        return 0
    finally:
        for s in servers:
            s.stop()
    st = meter.state
    try:
        print("meter_sim: accepted %d token(s), refused stale counters %d"
              % (len(st.accepted), st.refused_ic))
    except (BrokenPipeError, ValueError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
