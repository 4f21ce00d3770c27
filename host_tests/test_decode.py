"""udlms decode: the trace decoder (spec.md §4 vectors, field-logger formats, bad input,
segment reassembly, deciphering, the CLI, and a whole gurux-client session)."""

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udlms.host.decode import main as decode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EK = "000102030405060708090A0B0C0D0E0F"
AK = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
CLIENT_ST = "4D4D4D0000000001"
SERVER_ST = "4D4D4D0000BC614E"

SNRM = "7EA008022303933E747E"
UA = "7EA01F03022373C371818012050180060180070400000001080400000001533B7E"
AARQ = ("7E A0 64 02 23 03 10 2E 14 E6 E6 00 60 55 A1 09 06 07 60 85 74 05 08 01 03 A6 0A 04 08"
        " 4D 4D 4D 00 00 00 00 01 8A 02 07 80 8B 07 60 85 74 05 08 02 05 AC 0A 80 08 4B 35 36 69"
        " 56 61 67 59 BE 23 04 21 21 1F 30 00 00 00 00 C0 50 5B 89 E5 3A 17 8D B3 1D 8D 5E CA 7E"
        " 57 BA 53 24 54 2E 2B DD EC 27 10 D3 31 1F 7E")
HLS = ("7EA04002230332BF5BE6E600CB3130000000021BD9313E587760BEEB56BD5C06DDEA677FC3114E5B63EC4E"
       "3647DE08979765A1864AC0DB498ED2B8DEB8C9C1E9327E")
ENTER = ("7EA043022303544340E6E600CB343000000003603876AB55312624402CAB4C405FAF24D834BE0FE174953D"
         "E60002F5E284BBA0FDA652664B9E82AA53AE8D760C0E3D3B9C7E")
SEG1 = "7EA827022321101BF9E6E600C301C100730000132800FF0101091430353731383835343539303A677E"
SEG2 = "7EA013022321129002313937323131323431D9987E"
GLO_GET = "C81E3001234567411312FF935A47566827C467BC7D825C3BE4A77C3FCC056B6B"


def one(text, **kw):
    objs = list(decode.decode_text(text, **kw))
    assert len(objs) == 1, objs
    return objs[0]


def keys(**kw):
    d = {"ek": EK, "ak": AK}
    d.update(kw)
    return d


def test_snrm_and_ua_from_spec():
    o = one("TX: " + SNRM)
    h = o["hdlc"]
    assert o["direction"] == "TX" and o["error"] is None and o["apdu"] is None
    assert h["format"] == 3 and h["length"] == 8 and h["segmented"] is False
    assert h["control"]["type"] == "SNRM" and h["fcs_ok"] is True and h["hcs_ok"] is None
    assert h["dst"]["upper"] == 1 and h["dst"]["lower"] == 17 and h["src"]["sap"] == 1
    o = one("RX: " + UA)
    h = o["hdlc"]
    assert h["control"]["type"] == "UA" and h["hcs_ok"] is True and h["fcs_ok"] is True
    assert h["params"] == {"max_info_tx": 128, "max_info_rx": 128, "window_tx": 1,
                           "window_rx": 1}
    assert o["hdlc"]["src"]["role"] == "server"


def test_aarq_fields_and_deciphered_initiate_request():
    o = one(AARQ, **keys())
    assert o["direction"] == "TX" and o["hdlc"]["llc"] == "E6 E6 00"
    a = o["apdu"]
    assert a["tag"] == 0x60 and a["name"] == "AARQ"
    assert a["mechanism"] == 5 and a["calling_title"] == CLIENT_ST
    assert a["ctos"] == "4B35366956616759" and "LN referencing with ciphering" in a["context"]
    ui = a["user_information"]
    assert ui["name"] == "glo-initiate-request" and ui["security_control"] == 0x30
    assert ui["invocation_counter"] == 0 and ui["tag_ok"] is True
    assert ui["plain"] == "01000000065F1F0400001E1D0200"
    assert a["conformance"] == "001E1D" and a["max_pdu"] == 512
    assert "HLS-GMAC" in o["text"] and "block-transfer-with-action" in o["text"]


def test_glo_action_after_aarq_uses_trace_title_and_shows_token():
    objs = list(decode.decode_text("\n".join([AARQ, HLS, ENTER]), **keys()))
    assert [o["error"] for o in objs] == [None, None, None]
    hls = objs[1]["apdu"]
    assert hls["name"] == "glo-action-request" and hls["invocation_counter"] == 2
    assert hls["plain"].startswith("C301C1000F0000280000FF0101091110000000011A52FE7D")
    assert hls["decrypted"]["hls"]["proof"] == "f(StoC)"
    assert hls["decrypted"]["hls"]["invocation_counter"] == 1
    ent = objs[2]["apdu"]["decrypted"]
    assert ent["class_id"] == 115 and ent["method"] == 1 and ent["obis"] == "0.0.19.40.0.255"
    assert ent["token"] == {"digits": "05718854590197211241", "encoding": "ascii"}
    assert "0571 8854 5901 9721 1241 (ascii encoding" in objs[2]["text"]


def test_gb_glo_get_request_all_security_controls():
    t = "\n".join([GLO_GET,
                   "C81E1001234567C0010000080000010000FF020006725D910F9221D263877516",
                   "C8122001234567411312FF935A47566827C467BC"])
    objs = list(decode.decode_text(t, **keys(client_title=SERVER_ST)))
    for o, sc in zip(objs, (0x30, 0x10, 0x20)):
        a = o["apdu"]
        assert o["hdlc"] is None and a["tag"] == 0xC8 and a["security_control"] == sc
        assert a["invocation_counter"] == 0x01234567
        assert a["plain"] == "C0010000080000010000FF0200"
        assert a["decrypted"]["class_id"] == 8 and a["decrypted"]["attribute"] == 2
    assert [o["apdu"]["tag_ok"] for o in objs] == [True, True, None]


def test_wrong_key_says_tag_does_not_verify():
    o = one(GLO_GET, ek="00" * 16, ak=AK, client_title=SERVER_ST)
    assert o["apdu"]["tag_ok"] is False and o["apdu"]["plain"] is None
    assert "tag does not verify: wrong key or corrupted frame" in o["text"]
    assert o["error_kind"] == "auth-tag"


def test_ciphered_without_keys_shows_header_only():
    o = one(HLS)
    a = o["apdu"]
    assert a["security_control"] == 0x30 and a["invocation_counter"] == 2
    assert a["plain"] is None and o["error"] is None and "--ek" in o["text"]


@pytest.mark.parametrize("line", [
    "7E A0 7 3 21 93 F 1 7E",
    "7EA00703219 30F017E".replace(" ", ""),
    "7ea00703219 30f017e".replace(" ", ""),
    "TX: 7E A0 07 03 21 93 0F 01 7E",
    "[TX] 7E A0 07 03 21 93 0F 01 7E",
    "-> 7E A0 07 03 21 93 0F 01 7E",
    "> 7EA00703219 30F017E".replace("9 3", "93"),
    "2024-01-01 12:00:00.123 TX: 7E A0 07 03 21 93 0F 01 7E",
    "TX:\t09:30:41\t7E A0 07 03 21 93 0F 01 7E",
    "TX:7EA0070321930F017E",
    "0x7E,0xA0,0x07,0x03,0x21,0x93,0x0F,0x01,0x7E",
    "7e:a0:07:03:21:93:0f:01:7e",
    "7E A0 07 03 21 93 0F 01 7E   # SNRM to the public client",
])
def test_input_formats(line):
    o = one(line)
    h = o["hdlc"]
    assert o["error"] is None, o
    assert h["control"]["type"] == "SNRM" and h["fcs_ok"] is True and h["length"] == 7
    assert o["direction"] == "TX"


@pytest.mark.parametrize("line,direction", [
    ("RX: 7EA008030223735FF57E", "RX"), ("<- 7EA008030223735FF57E", "RX"),
    ("< 7EA008030223735FF57E", "RX"), ("[RX] 7EA008030223735FF57E", "RX"),
    ("7EA008030223735FF57E", "RX"), ("7EA0080223033126F27E", "TX")])
def test_direction_from_prefix_or_addresses(line, direction):
    assert one(line)["direction"] == direction


def test_several_frames_on_one_line_and_shared_flag():
    objs = list(decode.decode_text("7EA0080223033126F27E7EA0080223035332B27E"))
    assert [o["hdlc"]["control"]["type"] for o in objs] == ["RR", "DISC"]
    objs = list(decode.decode_text("7EA0080223033126F27EA0080223035332B27E"))  # shared 7E
    assert [o["hdlc"]["control"]["type"] for o in objs] == ["RR", "DISC"]
    assert all(o["hdlc"]["fcs_ok"] for o in objs)


def test_corrupted_fcs_and_hcs_flagged():
    b = bytearray.fromhex(HLS)
    b[-2] ^= 0x01  # FCS
    o = one(b.hex())
    assert o["hdlc"]["fcs_ok"] is False and o["hdlc"]["hcs_ok"] is True
    assert o["error_kind"] == "bad-fcs" and "frame check sequence" in o["error"]
    b = bytearray.fromhex(HLS)
    b[20] ^= 0x40  # inside the information field
    assert one(b.hex())["hdlc"]["fcs_ok"] is False
    b = bytearray.fromhex(HLS)
    b[6] ^= 0x02  # control: both HCS and FCS fail
    o = one(b.hex())
    assert o["hdlc"]["hcs_ok"] is False and o["hdlc"]["fcs_ok"] is False


def test_truncated_frame():
    o = one(AARQ[:90])
    assert o["error_kind"] == "truncated" and "cut short" in o["error"]
    assert o["hdlc"]["length"] == 100 and o["hdlc"]["fcs_ok"] is None
    o = one("7E A0 37 02 23 03")
    assert o["error_kind"] == "truncated"


@pytest.mark.parametrize("line,kind", [
    ("hello world", "no-data"), ("7E A0 0G 02 23", "bad-hex"), ("7EA008022303933E747", "bad-hex"),
    ("FF 00 12 34 56", "not-dlms"), ("TX:", "no-data"), ("7E A0 03 02 23 03 93 7E", "bad-length"),
    ("7E B0 08 02 23 03 93 3E 74 7E", "bad-format")])
def test_bad_lines_give_error_objects(line, kind):
    o = one(line)
    assert o["error_kind"] == kind and o["error"], o
    assert "line" in o and "apdu" in o and "hdlc" in o


def test_blank_and_comment_lines_are_skipped():
    assert list(decode.decode_text("\n# a comment\n   \n// another\n")) == []


def test_segmented_frames_reassembled():
    objs = list(decode.decode_text(SEG1 + "\n" + SEG2))
    first, last = objs
    assert first["hdlc"]["segmented"] is True and first["apdu"] is None
    assert first["segment"]["more"] is True
    assert last["hdlc"]["segmented"] is False
    a = last["apdu"]
    assert a["name"] == "action-request" and a["class_id"] == 115
    assert a["token"] == {"digits": "05718854590197211241", "encoding": "ascii"}


def test_segments_per_direction_with_interleaved_rr():
    rr = "7EA0080321113FC07E"  # any RR from the meter in between
    objs = list(decode.decode_text("\n".join(["TX: " + SEG1, "RX: " + rr, "TX: " + SEG2])))
    assert objs[2]["apdu"]["class_id"] == 115


@pytest.mark.parametrize("apdu,words", [
    ("C701C10C00", ["type-unmatched", "token encoding"]),
    ("C701C100010009111001234567FE1466AFB3DBCD4F9389E2B7", ["f(CtoS)"]),
    ("C401C10002021603040800", ["structure"]),
    ("D8010600000010", ["invocation-counter-error"]),
    ("0E060006", ["deciphering-error"]),
    ("6203800100", ["RLRQ", "normal"]),
    ("C101C100730000132800FF0200091430353731383835343539303139373231313234310000",
     ["set-request-normal"]),
    ("C002C100000001", ["get-request-next", "block 1"]),
    ("E6E600C001C100010000600100FF0200", ["get-request-normal", "0.0.96.1.0.255"]),
])
def test_bare_apdus(apdu, words):
    o = one(apdu)
    assert o["hdlc"] is None and o["apdu"] is not None
    for w in words:
        assert w in o["text"], o["text"]


def test_hls_pass_4_verified_from_gb_vectors():
    # CtoS from the AARQ, the HLS action (pending invoke-id), server title from the flag:
    # f(CtoS) of spec.md §4c verifies
    resp = "RX: C701C100010009111001234567FE1466AFB3DBCD4F9389E2B7"
    objs = list(decode.decode_text("\n".join([AARQ, HLS, resp]), **keys(server_title=SERVER_ST)))
    h = objs[2]["apdu"]["hls"]
    assert h["proof"] == "f(CtoS)" and h["verified"] is True
    assert h["invocation_counter"] == 0x01234567 and "verifies" in objs[2]["text"]
    objs = list(decode.decode_text("\n".join([AARQ, HLS, resp]),
                                   **keys(server_title="4D4D4D0000000099")))
    assert objs[2]["apdu"]["hls"]["verified"] is False


def test_json_shape_has_the_contract_fields():
    o = one(HLS, **keys(client_title=CLIENT_ST))
    for k in ("direction", "hdlc", "apdu"):
        assert k in o
    for k in ("format", "length", "dst", "src", "control", "hcs_ok", "fcs_ok", "segmented"):
        assert k in o["hdlc"]
    for k in ("tag", "name", "security_control", "invocation_counter", "plain"):
        assert k in o["apdu"]
    json.dumps(o)


def _cli(args, stdin=None):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "lib"))
    return subprocess.run([sys.executable, "-m", "udlms", "decode"] + args, input=stdin,
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)


def test_cli_json_one_object_per_frame(tmp_path):
    f = tmp_path / "trace.txt"
    f.write_text("\n".join(["TX: " + SNRM, "RX: " + UA, "TX: " + AARQ, "TX: " + HLS,
                            "garbage here", "TX: " + SEG1, "TX: " + SEG2]) + "\n")
    p = _cli([str(f), "--json", "--ek", EK, "--ak", AK])
    assert p.returncode == 0, p.stderr
    objs = [json.loads(x) for x in p.stdout.splitlines()]
    assert len(objs) == 7
    assert [o["direction"] for o in objs] == ["TX", "RX", "TX", "TX", None, "TX", "TX"]
    assert objs[3]["apdu"]["plain"].startswith("C301C1000F")
    assert objs[4]["error"] and objs[4]["hdlc"] is None
    assert objs[6]["apdu"]["token"]["digits"] == "05718854590197211241"
    p = _cli([str(f)])
    assert p.returncode == 0 and "SNRM" in p.stdout and "AARQ" in p.stdout
    p = _cli(["-"], stdin=SNRM + "\n")
    assert p.returncode == 0 and "SNRM" in p.stdout
    p = _cli([str(f), "--ek", "1234"])
    assert p.returncode == 2 and "--ek" in p.stdout


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80), st.sampled_from(["", "TX: ", "7E", "7EA0", "C8", "60"]))
def test_random_input_never_crashes(data, head):
    line = head + data.hex()
    for o in decode.decode_text(line + "\n" + " ".join("%X" % b for b in data),
                                ek=EK, ak=AK, client_title=CLIENT_ST):
        assert o["error_kind"] != "internal", o
        json.dumps(o)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 97), st.integers(1, 255))
def test_flipped_byte_in_a_real_frame_never_crashes(pos, x):
    b = bytearray.fromhex(AARQ.replace(" ", ""))
    b[pos % len(b)] ^= x
    for o in decode.decode_text(b.hex(), **keys()):
        assert o["error_kind"] != "internal", o


def test_whole_gurux_session_through_the_simulator():
    pytest.importorskip("gurux_dlms")
    try:
        from udlms.host.sim import meter as meter_sim
        from tools.golden.gurux_client import GuruxSession
    except ImportError as e:  # pragma: no cover - simulator not ready
        pytest.skip("simulator not available: %s" % e)
    meter = meter_sim.Meter()
    srv = meter_sim.TcpServer(meter, 0).start()
    try:
        g = GuruxSession("127.0.0.1", srv.port, ek=bytes.fromhex(EK), ak=bytes.fromhex(AK),
                         system_title=bytes.fromhex(CLIENT_ST), ctos=b"K56iVagY",
                         invocation_counter=0)
        g.connect()
        g.enter(b"17813034313191558529")
        g.read_status()
        g.close()
    finally:
        srv.stop()
    trace = "\n".join("%s: %s" % (d, " ".join("%02X" % b for b in f)) for d, f in g.frames)
    objs = list(decode.decode_text(trace, ek=EK, ak=AK))  # titles from the AARQ/AARE
    assert len(objs) == len(g.frames)
    assert all(o["error"] is None and o["hdlc"]["fcs_ok"] for o in objs)
    names = [o["apdu"]["name"] for o in objs if o["apdu"]]
    assert names[:2] == ["AARQ", "AARE"] and names[-2:] == ["RLRQ", "RLRE"]
    plain = [o["apdu"].get("decrypted") for o in objs if o["apdu"] and o["apdu"]["plain"]]
    hls = [p["hls"] for p in plain if p.get("hls")]
    assert [h["proof"] for h in hls] == ["f(StoC)", "f(CtoS)"]
    assert all(h["verified"] for h in hls)
    tok = [p["token"] for p in plain if p.get("token")]
    assert tok == [{"digits": "17813034313191558529", "encoding": "ascii"}]
    status = [p["token_status"] for p in plain if p.get("token_status")]
    assert status[0]["code"] == 3
