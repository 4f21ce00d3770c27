"""Meters differ (issue 24, cases 1, 2, 4, 7) against the simulator in each mode, for the
library and the CLI: an AARQ refused with an exception-response (deciphering-error: AUTH
FAILED; invocation-counter-error: resync from the counter the meter names, once), the
frame counter found elsewhere and remembered, the secured release (and a refused one
only noted), a refused HLS pass 4 read as an association problem."""

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from udlms.host.sim import meter as meter_sim  # noqa: E402
from clirun import AK, EK, TITLE, TOKEN, run  # noqa: E402

from udlms.client import resync, session, token  # noqa: E402
from udlms.cosem import apdu  # noqa: E402
from udlms.crypto.security import MemoryCounter  # noqa: E402
from udlms.errors import AssociationError, SecurityError  # noqa: E402
from udlms.link import transport  # noqa: E402

BAD_AK = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDE00"


@pytest.fixture
def sim(tmp_path):
    """sim(**options) -> (meter, CLI connection flags); servers stopped at the end."""
    servers = []

    def start(**kw):
        meter = meter_sim.Meter(**kw)
        srv = meter_sim.TcpServer(meter, 0).start()
        servers.append(srv)
        conn = ["--port", "tcp://127.0.0.1:%d" % srv.port, "--ek", EK, "--ak", AK,
                "--system-title", TITLE, "--counter-file", str(tmp_path / "counters.json"),
                "--timeout", "1"]
        return meter, conn, srv.port

    yield start
    for s in servers:
        s.stop()


def lib_session(port, counter, **kw):
    s = session.Settings(ek=EK, ak=kw.pop("ak", AK), system_title=TITLE, timeout_ms=1000,
                         **kw)
    return session.Session(transport.TcpStream("127.0.0.1", port, 1000), s, counter)


# -- ExceptionResponse in cosem ----------------------------------------------------------
def test_exception_response_parsed_with_its_service_error_choice():
    r = apdu.parse_response(b"\xD8\x01\x05")
    assert (r.kind, r.state, r.service, r.data) == ("exception", 1, 5, None)
    r = apdu.parse_response(b"\xD8\x01\x06\x00\x00\x01\xF8")
    assert (r.state, r.service, int.from_bytes(bytes(r.data), "big")) == (1, 6, 504)


# -- case 1: AARQ refused with an exception-response ---------------------------------------
def test_lib_deciphering_error_is_auth_failed(sim):
    meter, conn, port = sim(refuse_aarq_with="exception")
    sess = lib_session(port, MemoryCounter(5), ak=BAD_AK)
    with pytest.raises(AssociationError) as e:
        sess.open()
    assert e.value.kind == "auth-failed" and e.value.code == 5
    assert "check EK/AK and system title" in e.value.message
    assert not resync.stale(e.value)


def test_lib_invocation_counter_error_names_the_expected_counter(sim):
    meter, conn, port = sim(refuse_aarq_with="exception", client_ic=503)
    sess = lib_session(port, MemoryCounter(10))
    with pytest.raises(SecurityError) as e:
        sess.open()
    assert e.value.kind == "counter-stale" and e.value.code == 504
    assert "expects 504" in e.value.message and resync.stale(e.value)


def test_cli_deciphering_error_exit_4(sim):
    meter, conn, port = sim(refuse_aarq_with="exception")
    conn[conn.index("--ak") + 1] = BAD_AK
    code, out = run(["enter-token", TOKEN, "--invocation-counter", "3"] + conn)
    assert code == 4, out
    assert out.startswith("AUTH FAILED") and "check EK/AK and system title" in out
    assert "LINK ERROR" not in out and meter.state.accepted == []


def test_cli_invocation_counter_error_resyncs_from_the_named_counter(sim, tmp_path):
    meter, conn, port = sim(refuse_aarq_with="exception", client_ic=503)
    json.dump({"format": 2, "contexts": {}, "meters": {}},
              open(str(tmp_path / "counters.json"), "w"))
    # the store starts low (a first resync read an older frame counter)
    from udlms.host import counters

    st = counters.CounterStore(str(tmp_path / "counters.json"))
    ctx = counters.context_key(bytes.fromhex(EK), bytes.fromhex(TITLE))
    st.advance(ctx, 7)
    code, out = run(["enter-token", TOKEN, "-v"] + conn)
    assert code == 0, out
    assert "\nACCEPTED" in out
    assert "refused our invocation counter 7 (exception-response invocation-counter-error)" \
        " and expects 504: trying once more from invocation counter 504" in out
    aarqs = [ic for what, _, ic in meter.state.seen_ic if what == "apdu"]
    assert aarqs[0] == 7 and aarqs[1] == 504  # the refused one, then the one it named
    assert len(set(ic for what, _, ic in meter.state.seen_ic if what == "apdu")) == \
        len([1 for what, _, _ in meter.state.seen_ic if what == "apdu"])  # none twice
    assert st.peek(ctx) > max(aarqs)


# -- case 2: the frame counter elsewhere ---------------------------------------------------
def test_lib_finds_the_frame_counter_elsewhere(sim):
    meter, conn, port = sim(frame_counter_at="0.0.43.1.0.255", client_ic=77)
    s = session.Settings(ek=EK, ak=AK, system_title=TITLE, timeout_ms=1000)
    assert resync.candidates(s) == ["0.0.43.1.1.255", "0.0.43.1.0.255"]
    assert resync.candidates(s, "0.0.43.1.9.255")[0] == "0.0.43.1.9.255"
    stream = transport.TcpStream("127.0.0.1", port, 1000)
    try:
        assert resync.find_frame_counter(stream, s) == (77, "0.0.43.1.0.255")
    finally:
        stream.close()


def test_board_counter_integer_decode_agrees_with_axdr():
    """A board reads the frame counter with resync._int, not axdr: the same integer for
    every integer type, None for the other types, "malformed" for an integer cut short."""
    from udlms.cosem import axdr
    from udlms.errors import DlmsError

    for tag in range(256):
        for tail in (b"", b"\x80", bytes(range(0x81, 0x8A))):
            data = bytes((tag,)) + tail
            try:
                v = axdr.decode(data)[0]
            except DlmsError as e:
                v = e.kind
            try:
                w = resync._int(data)
            except DlmsError as e:
                w = e.kind
            if isinstance(v, int) and not isinstance(v, bool):
                assert w == v and type(w) is int, (data, v, w)
            elif v not in ("malformed", "unexpected"):  # a string, structure, null, ...
                assert w is None, (data, v, w)
            else:  # cut short or unknown: malformed, or (a container's) not an integer
                assert w in (None, "malformed"), (data, v, w)
    with pytest.raises(DlmsError):
        resync._int(b"")


def test_lib_no_frame_counter_names_what_was_tried(sim):
    meter, conn, port = sim(frame_counter_at="0.0.43.1.5.255")
    s = session.Settings(ek=EK, ak=AK, system_title=TITLE, timeout_ms=1000)
    stream = transport.TcpStream("127.0.0.1", port, 1000)
    try:
        with pytest.raises(SecurityError) as e:
            resync.find_frame_counter(stream, s)
    finally:
        stream.close()
    m = e.value.message
    assert m.startswith("could not read the meter's frame counter (tried 0.0.43.1.1.255: "
                        "read-write-denied (3); 0.0.43.1.0.255: read-write-denied (3))"), m


def test_cli_resync_finds_remembers_and_shows_the_object(sim, tmp_path):
    meter, conn, port = sim(frame_counter_at="0.0.43.1.0.255", client_ic=40)
    code, out = run(["resync"] + conn)
    assert code == 0, out
    assert "meter frame counter 40 at 0.0.43.1.0.255; our next invocation counter 41" in out
    from udlms.host import counters

    data = json.load(open(str(tmp_path / "counters.json")))
    ctx = counters.context_key(bytes.fromhex(EK), bytes.fromhex(TITLE))
    assert data["meters"] == {counters.meter_key(ctx, None, 1, 17):
                              {"frame_counter": "0.0.43.1.0.255"}}
    # remembered: the next resync asks that object first (one GET, no refusal)

    seen = []
    orig = session.Session.get

    def spy(self, cid, obis, attr):
        seen.append(obis)
        return orig(self, cid, obis, attr)

    session.Session.get = spy
    try:
        code, out = run(["resync", "--json"] + conn)
    finally:
        session.Session.get = orig
    assert code == 0 and seen == ["0.0.43.1.0.255"], (out, seen)
    assert json.loads(out)["frame_counter_object"] == "0.0.43.1.0.255"
    # enter-token (same key, title, meter) at first contact asks it first too
    data = json.load(open(str(tmp_path / "counters.json")))
    data["contexts"] = {}
    json.dump(data, open(str(tmp_path / "counters.json"), "w"))
    seen[:] = []
    session.Session.get = spy
    try:
        code, out = run(["enter-token", TOKEN, "-v"] + conn)
    finally:
        session.Session.get = orig
    assert code == 0, out
    assert seen[0] == "0.0.43.1.0.255" and "0.0.43.1.1.255" not in seen, seen


def test_cli_first_token_reads_the_counter_elsewhere(sim):
    meter, conn, port = sim(frame_counter_at="0.0.43.1.0.255", client_ic=1200)
    code, out = run(["enter-token", TOKEN, "-v"] + conn)
    assert code == 0, out
    assert "frame counter is 1200 (at 0.0.43.1.0.255)" in out


def test_cli_no_frame_counter_anywhere(sim):
    meter, conn, port = sim(frame_counter_at="0.0.43.1.9.255")
    code, out = run(["resync"] + conn)
    assert code == 4, out
    assert "could not read the meter's frame counter (tried 0.0.43.1.1.255" in out
    assert "0.0.43.1.0.255" in out


def test_cli_probe_reports_the_frame_counter_object(sim):
    meter, conn, port = sim(frame_counter_at="0.0.43.1.0.255", client_ic=9)
    code, out = run(["probe", "--port", "tcp://127.0.0.1:%d" % port, "--timeout", "1"])
    assert code == 0, out
    assert "frame counter: 9 at 0.0.43.1.0.255" in out
    assert "--frame-counter 0.0.43.1.0.255" in out


# -- case 4: secured release -----------------------------------------------------------------
def test_lib_ciphered_association_releases_with_ciphered_rlrq(sim):
    meter, conn, port = sim(release_needs_ciphered_rlrq=True)
    c = MemoryCounter(100)
    sess = lib_session(port, c)
    sess.open()
    assert token.enter_token(sess, TOKEN.replace(" ", "")).accepted
    sess.close()
    assert sess.release_note is None
    assert meter.state.releases == ["ciphered ic %d" % (c.value - 1)]


def test_lib_plain_rlrq_refused_is_a_note_not_an_error(sim):
    meter, conn, port = sim(release_needs_ciphered_rlrq=True)
    sess = lib_session(port, MemoryCounter(100))
    sess.open()
    assert token.enter_token(sess, TOKEN.replace(" ", "")).accepted
    sess._init = b""  # release as gurux-dlms (and udlms before issue 24) does: a plain RLRQ
    sess.close()  # never raises
    assert meter.state.releases == ["refused: plain RLRQ in a ciphered association"]
    assert "refused the release" in sess.release_note


def test_cli_release_refused_still_accepted_with_a_note(sim):
    meter, conn, port = sim(refuse_release=True)
    code, out = run(["enter-token", TOKEN, "-v"] + conn)
    assert code == 0, out
    assert "\nACCEPTED" in out
    assert "note: the meter refused the release (RLRE reason 1)" in out
    assert meter.state.releases[-1] == "refused: not-finished"
    from clirun import TOKEN2

    code, out = run(["enter-token", TOKEN2] + conn)  # without -v: the verdict alone
    assert code == 0 and out.startswith("ACCEPTED") and "release" not in out, out


def test_cli_ciphered_release_accepted_by_a_strict_meter(sim):
    meter, conn, port = sim(release_needs_ciphered_rlrq=True)
    code, out = run(["enter-token", TOKEN, "-v"] + conn)
    assert code == 0 and "refused the release" not in out, out
    assert meter.state.releases[-1].startswith("ciphered ic ")


def test_plain_association_release_unchanged(sim):
    meter, conn, port = sim(release_needs_ciphered_rlrq=True)
    code, out = run(["get", "0.0.42.0.0.255:1:2", "--client", "16"] + conn)
    assert code == 0, out
    assert meter.state.releases == ["plain"]


# -- case 7: HLS pass 4 refused ----------------------------------------------------------------
def test_lib_refused_hls_reply_is_an_association_problem(sim):
    meter, conn, port = sim(refuse_hls_reply=True)
    sess = lib_session(port, MemoryCounter(100))
    with pytest.raises(AssociationError) as e:
        sess.open()
    m = e.value.message
    assert e.value.kind == "auth-failed" and "other-reason" in m and "250" in m
    assert "token" not in m and "EK/AK" in m and "association" in m


def test_cli_refused_hls_reply_exit_4_without_token_words(sim):
    meter, conn, port = sim(refuse_hls_reply=True)
    code, out = run(["enter-token", TOKEN] + conn)
    assert code == 4, out
    assert out.startswith("AUTH FAILED") and "check the token" not in out
    assert "EK/AK" in out and meter.state.enter_calls == 0


# -- tokenpad's probe (firmware on CPython; the MicroPython lane runs the app cases) ------------
class _ProbeApp:
    def __init__(self, port, cfg=None):
        self.port = port
        if cfg is not None:
            sys.path.insert(0, os.path.join(ROOT, "firmware"))
            from tokenpad import settings

            self.cfg = settings.Config(cfg)

    class lib:  # the app's library (tokenpad.deliver): its Settings class is udlms's
        Settings = session.Settings

    def open_stream(self):
        return transport.TcpStream("127.0.0.1", self.port, 2000)


@pytest.mark.parametrize("at, cfg", [
    ("0.0.43.1.0.255", None),  # the usual places
    ("0.0.43.1.7.255", {"ek": EK, "ak": AK, "system_title": TITLE,
                        "frame_counter": "0.0.43.1.7.255"}),  # config.json names it
])
def test_tp_probe_reports_the_frame_counter_object(sim, capsys, at, cfg):
    sys.path.insert(0, os.path.join(ROOT, "firmware"))
    from tokenpad import repl

    meter, conn, port = sim(frame_counter_at=at, client_ic=9)
    repl.use(_ProbeApp(port, cfg))
    try:
        found = repl.probe()
    finally:
        repl.use(None)
    out = capsys.readouterr().out
    assert found.frame_counter == 9 and found.frame_counter_obis == at, out
    assert "frame counter 9 at %s" % at in out
    assert found.settings()["frame_counter"] == at


def test_tp_probe_frame_counter_not_found_names_what_was_tried(sim, capsys):
    sys.path.insert(0, os.path.join(ROOT, "firmware"))
    from tokenpad import repl

    meter, conn, port = sim(frame_counter_at="0.0.43.1.7.255")
    repl.use(_ProbeApp(port))
    try:
        found = repl.probe()
    finally:
        repl.use(None)
    out = capsys.readouterr().out
    assert found.frame_counter is None
    assert "not readable (tried 0.0.43.1.1.255, 0.0.43.1.0.255)" in out


def test_rlre_with_short_lengths_is_a_release_with_a_note():
    # an RLRE as an independent server stack sent it (2026-12-07): reason normal, then a
    # user-information whose BER lengths are shorter than the glo-initiateResponse inside
    from udlms import results

    rlre = bytes.fromhex("6324800100BE220421281F300000000BF83FE819711DB487EA721F8F048F354AB1"
                         "D55FD88F2C02280E0A")
    from udlms.errors import ApduError

    with pytest.raises(ApduError):
        apdu.parse_rlre(rlre)
    note = results.release_refused(rlre)
    assert note.startswith("the meter released the association (reason normal) but its RLRE "
                           "is malformed (RLRE field BE claims 34 bytes"), note


def test_tokenpad_store_keeps_frame_counter_objects_beside_forms():
    sys.path.insert(0, os.path.join(ROOT, "firmware"))
    from tokenpad import store
    from tokenpad.verdict import frame_counter

    mem = bytearray(b"\xff" * 2048)

    def boot():
        return store.Store(store.TwoSlot(store.NvmSlot(mem, 0, 1024),
                                         store.NvmSlot(mem, 1024, 1024)))

    st = boot()
    st.resync(10)
    assert st.remember("m1", "bcd")
    assert frame_counter(st, "m1") is None
    assert frame_counter(st, "m1", "0.0.43.1.0.255") == "0.0.43.1.0.255"
    before = bytes(mem)
    frame_counter(st, "m1", "0.0.43.1.0.255")  # no news: nothing written
    assert bytes(mem) == before
    for i in range(2, 7):  # the last FORMS (4) meters are kept
        frame_counter(st, "m%d" % i, "0.0.43.1.%d.255" % i)
    st = boot()  # power cycle
    assert st.form("m1") == "bcd" and st.value >= 11
    assert frame_counter(st, "m1") is None and frame_counter(st, "m6") == "0.0.43.1.6.255"
    assert [e[0] for e in st.fcs] == ["m3", "m4", "m5", "m6"]
