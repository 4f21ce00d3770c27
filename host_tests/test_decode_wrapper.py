"""Traces of wrapper sessions (issue 24, case 6): ``--trace`` of an IEC 62056-47 wrapper
session writes each frame with its 8-byte header, and ``udlms decode FILE`` and ``-v``
recognise those frames as they do HDLC frames: version, wPorts, length, and the APDU they
carry (deciphered with --ek/--ak). A length field that says more than the line holds is
an error naming both; bytes beyond it are a warning; several frames may share a line."""

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host_tests"))

from udlms.host.sim import meter as meter_sim  # noqa: E402
from clirun import EK, AK, TITLE, TOKEN, run  # noqa: E402

from udlms.host.decode import main as decode  # noqa: E402
from udlms.link import wrapper  # noqa: E402

KEYS = ["--ek", EK, "--ak", AK, "--system-title", TITLE]


@pytest.fixture
def wsim(tmp_path):
    meter = meter_sim.Meter()
    srv = meter_sim.WrapperServer(meter, 0).start()
    yield meter, ["--port", "tcp://127.0.0.1:%d" % srv.port, "--wrapper", "--counter-file",
                  str(tmp_path / "c.json"), "--journal", str(tmp_path / "j.jsonl")] + KEYS
    srv.stop()


def test_trace_of_a_wrapper_session_decodes(wsim, tmp_path):
    meter, conn = wsim
    trace = tmp_path / "t.txt"
    code, out = run(["enter-token", TOKEN, "--trace", str(trace)] + conn)
    assert code == 0 and out.startswith("ACCEPTED"), out
    lines = trace.read_text().splitlines()
    assert lines[0].startswith("TX: 00 01 00 10 00 01 ")  # the frame counter, public client
    assert "TX: 00 01 00 01 00 01 " in trace.read_text()  # then the management client
    code, out = run(["decode", str(trace)] + KEYS)
    assert code == 0, out
    assert "not an HDLC frame" not in out and "ERROR" not in out, out
    assert "line 1 TX: wrapper (IEC 62056-47) version 1, client wPort 16 (public " \
           "client) -> server wPort 1, length " in out, out
    assert "TX: wrapper (IEC 62056-47) version 1, client wPort 1 (management client) -> " \
           "server wPort 1, length " in out, out
    assert "RX: wrapper (IEC 62056-47) version 1, server wPort 1 -> client wPort 1" in out
    for t in ("AARQ (association request)", "AARE (association response): result 0",
              "tag verifies", "HLS pass 4 f(CtoS)", "token 1781 3034 3131 9155 8529",
              "token_status 3 execution-ok", "RLRE (release response)"):
        assert t in out, (t, out)
    code, out = run(["decode", str(trace), "--json"] + KEYS)
    objs = json.loads(out) if out.lstrip().startswith("[") else [
        json.loads(x) for x in out.splitlines() if x.strip()]
    frames = [o for o in objs if o.get("wrapper")]
    assert len(frames) == len(trace.read_text().splitlines())
    w = frames[0]["wrapper"]
    assert (w["version"], w["source"], w["destination"]) == (1, 16, 1)
    assert w["length"] == w["length_present"] == len(bytes.fromhex(frames[0]["hex"])) - 8
    assert frames[0]["hdlc"] is None and frames[0]["apdu"]["name"].startswith("AARQ")


def test_verbose_session_over_the_wrapper_shows_decoded_frames(wsim):
    meter, conn = wsim
    code, out = run(["enter-token", TOKEN, "-v"] + conn)
    assert code == 0, out
    assert "wrapper (IEC 62056-47) version 1" in out, out
    assert "not an HDLC frame" not in out and "token 1781 3034 3131 9155 8529" in out, out


def frames_of(text, **keys):
    return list(decode.decode_text(text, **keys))


def test_public_client_frame_as_the_issue_shows_it():
    aarq = bytes.fromhex("601DA109060760857405080101BE10040E01000000065F1F040000181DFFFF")
    f = frames_of("TX: " + wrapper.frame(16, 1, aarq).hex(" "))
    assert len(f) == 1 and f[0]["error"] is None, f[0]["text"]
    assert f[0]["text"].startswith("line 1 TX: wrapper (IEC 62056-47) version 1, client "
                                   "wPort 16 (public client) -> server wPort 1, length 31")
    assert "AARQ (association request): LN referencing, no ciphering" in f[0]["text"]


def test_truncated_frame_names_both_lengths():
    full = wrapper.frame(1, 1, bytes.fromhex("C001C100080000010000FF0200"))
    f = frames_of("TX: " + full[:-4].hex(" "))
    assert f[0]["error_kind"] == "truncated", f[0]["text"]
    assert "length field says 13 bytes of APDU, the line holds 9" in f[0]["error"]
    assert f[0]["wrapper"]["length_present"] == 9
    f = frames_of("00 01 00 01 00 01 00 05")  # the header alone
    assert f[0]["error_kind"] == "truncated" and "holds 0" in f[0]["error"]


def test_bytes_beyond_the_length_field_are_a_warning():
    full = wrapper.frame(1, 1, bytes.fromhex("C001C100080000010000FF0200"))
    f = frames_of("TX: " + (full + b"\xAA\xBB\xCC").hex(" "))
    assert len(f) == 1 and f[0]["error"] is None
    assert f[0]["warnings"] == ["3 bytes after the wrapper frame (its length field says "
                                "13): AABBCC"], f[0]["warnings"]
    assert "get-request-normal" in f[0]["text"] and "warning: 3 bytes" in f[0]["text"]


def test_two_frames_on_one_line_and_an_empty_one():
    a = wrapper.frame(1, 1, bytes.fromhex("C001C100080000010000FF0200"))
    b = wrapper.frame(1, 1, bytes.fromhex("C401C1000906") + b"abcdef")
    f = frames_of((a + b).hex())
    assert [o["direction"] for o in f] == ["TX", "RX"], [o["text"] for o in f]
    assert "get-response-normal" in f[1]["text"], f[1]["text"]
    assert "abcdef" in f[1]["text"] or "616263646566" in f[1]["text"], f[1]["text"]
    f = frames_of("RX: 00 01 00 01 00 10 00 00")
    assert f[0]["error"] is None and "no APDU (length 0)" in f[0]["text"]


def test_ciphered_wrapper_frame_needs_the_keys():
    from udlms.crypto.security import Security, MemoryCounter

    sec = Security(bytes.fromhex(EK), bytes.fromhex(AK), bytes.fromhex(TITLE),
                   MemoryCounter(41))
    apdu = sec.protect(bytes.fromhex("C001C100080000010000FF0200"), 0xC8)
    line = "TX: " + wrapper.frame(1, 1, apdu).hex(" ")
    f = frames_of(line, ek=EK, ak=AK, client_title=TITLE)
    assert "tag verifies" in f[0]["text"] and "class 8 clock" in f[0]["text"], f[0]["text"]
    f = frames_of(line)
    assert "glo-get-request" in f[0]["text"] and "class 8 clock" not in f[0]["text"]


def test_not_quite_a_wrapper_header_says_what_one_looks_like():
    for line in ("00 02 00 01 00 01 00 02 62 00", "00 01 00 01 00"):
        f = frames_of(line)
        assert f[0]["error_kind"] == "not-dlms", f[0]["text"]
        assert "wrapper frame would start 00 01 (version 1)" in f[0]["error"], f[0]["error"]
