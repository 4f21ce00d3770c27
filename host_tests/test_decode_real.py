"""udlms decode on push traffic captured from real meters (../shared/data/real-traffic.json:
Landis+Gyr E450/E570/E360, Iskra AM550, Kaifa, Kamstrup, Aidon; each case names its public
source and the values that source states), plus the inconsistencies the decoder must flag:
block gaps and repeats, M-Bus checksums and segment gaps, tags that do not verify, and
payloads that are not DLMS at all."""

import json
import os
import subprocess
import sys

import pytest

from udlms.host.decode import main as decode
from udlms.crypto import gcm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# data taken from other projects lives in ../shared/data only; a clone without it says so
REAL_TRAFFIC = os.path.join(os.path.dirname(ROOT), "shared", "data", "real-traffic.json")
if not os.path.isfile(REAL_TRAFFIC):
    pytest.skip("not run: no ../shared/data (%s)" % REAL_TRAFFIC, allow_module_level=True)
DATA = json.load(open(REAL_TRAFFIC))
CASES = {c["id"]: c for c in DATA["cases"]}


def run(case, **kw):
    keys = dict(case.get("keys", {}))
    keys.update(kw)
    return list(decode.decode_text("\n".join(case["trace"]), **keys))


def chain(a):
    """An APDU dict and everything nested in it (deciphered, reassembled)."""
    while a is not None:
        yield a
        a = a.get("decrypted") or a.get("reassembled")


def notifications(objs):
    out = []
    for o in objs:
        for a in chain(o["apdu"]):
            if "notification" in a:
                out.append(a["notification"])
    return out


def by_obis(n):
    return {e["obis"]: e for e in n["values"] if e["obis"]}


def check_values(n, expect):
    vals = by_obis(n)
    for obis, want in expect.items():
        assert obis in vals, (obis, sorted(vals))
        got = vals[obis]["value"]
        if isinstance(want, float):
            assert got == pytest.approx(want), (obis, got, want)
        else:
            assert got == want, (obis, got, want)


def test_data_file_names_a_source_for_every_case():
    for c in DATA["cases"]:
        src = c["source"]
        assert src["repo"] and len(src["commit"]) == 40 and src["data"] and src["values"], c["id"]
        assert c["trace"] and c["make"], c["id"]


@pytest.mark.parametrize("cid", [c["id"] for c in DATA["cases"] if "values" in c["expect"]])
def test_real_push_decodes_to_the_stated_values(cid):
    case = CASES[cid]
    objs = run(case)
    assert [o["error"] for o in objs if o["error"]] == [], [o["text"] for o in objs]
    ns = notifications(objs)
    assert len(ns) == 1, [o["text"] for o in objs]
    n = ns[0]
    exp = case["expect"]
    check_values(n, exp["values"])
    text = "\n".join(o["text"] for o in objs)
    for t in exp.get("texts", ()):
        assert t in text
    for obis in exp.get("obis_present", ()):
        assert obis in by_obis(n), obis
    for obis, unit in exp.get("units", {}).items():
        assert by_obis(n)[obis]["unit"] == unit
    if "datetime_utc" in exp:
        assert n["datetime_utc"] == exp["datetime_utc"]
    if "datetime_starts" in exp:
        assert n["datetime"].startswith(exp["datetime_starts"])
    if "clock_starts" in exp:
        assert by_obis(n)["0.0.1.0.0.255"]["value"].startswith(exp["clock_starts"])
    if "clock_utc" in exp:
        assert "(%s)" % exp["clock_utc"] in by_obis(n)["0.0.1.0.0.255"]["value"]
    if "first_value" in exp:
        assert n["values"][0]["value"] == exp["first_value"] and n["values"][0]["obis"] is None
    if "shape" in exp:
        assert n["shape"] == exp["shape"]
    if "blocks" in exp:
        gbts = [a["gbt"] for o in objs for a in chain(o["apdu"]) if "gbt" in a]
        assert len(gbts) == exp["blocks"] and gbts[-1]["complete"] and gbts[-1]["last"]
    if "security_control" in exp:
        sc = [a["security_control"] for o in objs for a in chain(o["apdu"])
              if a.get("security_control") is not None]
        assert sc == [exp["security_control"]]
    if "plain" in exp:
        plain = [a["plain"] for o in objs for a in chain(o["apdu"]) if a.get("plain")]
        assert plain == [exp["plain"]]
    # every value carries the JSON contract's fields
    for e in n["values"]:
        assert set(("obis", "name", "value", "scaler", "unit")) <= set(e)
    json.dumps(objs)


def test_at_least_five_makes_decode_encrypted_ones_included():
    makes = set()
    encrypted = set()
    for c in DATA["cases"]:
        if "values" not in c["expect"]:
            continue
        objs = run(c)
        if any(o["error"] for o in objs) or len(notifications(objs)) != 1:
            continue
        makes.add(c["make"])
        if c.get("keys"):
            encrypted.add(c["make"])
    assert len(makes) >= 5, makes
    assert {"Kaifa", "Landis+Gyr"} <= encrypted


def test_stated_values_are_what_the_decoder_prints():
    """Where the source states a scaled value and the meter sends scaler and unit, the
    decoder's value is the source's; the JSON keeps scaler and unit beside it."""
    n = notifications(run(CASES["aidon_se_llc"]))[0]
    v = by_obis(n)
    assert (v["1.0.51.7.0.255"]["value"], v["1.0.51.7.0.255"]["scaler"],
            v["1.0.51.7.0.255"]["unit"]) == (7.5, -1, "A")
    assert v["1.0.1.8.0.255"]["name"] == "active energy import +A"
    assert v["1.0.52.7.0.255"]["name"] == "voltage L2"
    stated = CASES["aidon_se_llc"]["stated"]
    for obis in ("1.0.1.7.0.255", "1.0.3.7.0.255", "1.0.51.7.0.255", "1.0.32.7.0.255",
                 "1.0.1.8.0.255", "1.0.3.8.0.255"):
        assert v[obis]["value"] == pytest.approx(stated[obis])


def test_l_g_e450_stated_values_follow_from_the_registers_scalers():
    """The E450 push has no scaler_unit; the source applies the registers' scalers (voltage
    0, current -2): raw 9 is its 0.09 A."""
    case = CASES["lg_e450_gbt_plain"]
    v = by_obis(notifications(run(case))[0])
    assert v["1.0.31.7.0.255"]["value"] * 0.01 == pytest.approx(case["stated"]["CURRENT_L1"])
    assert v["1.0.32.7.0.255"]["value"] == case["stated"]["VOLTAGE_L1"]
    assert v["1.0.31.7.0.255"]["scaler"] is None


def test_block_repeated_and_gap_are_flagged():
    objs = run(CASES["lg_e450_gbt_repeat_and_gap"])
    gbts = [(o, a["gbt"]) for o in objs for a in chain(o["apdu"]) if "gbt" in a]
    repeats = [g["block"] for o, g in gbts if g["repeat"]]
    assert repeats == [2]
    rep = [o for o, g in gbts if g["repeat"]][0]
    assert any("block 2 repeated" in w for w in rep["warnings"])
    gaps = [o for o in objs if o["error_kind"] == "gap"]
    assert gaps and "block 3 missing" in gaps[0]["error"]
    assert notifications(objs) == []
    assert any(o["error_kind"] == "incomplete" for o in objs)  # block 3 comes after the end


def test_last_block_alone_is_a_gap():
    objs = run(CASES["lg_e450_last_block_alone"])
    assert objs[0]["error_kind"] == "gap"
    assert "blocks 1..3 missing" in objs[0]["error"]
    assert "never came" in "\n".join(o["text"] for o in objs)
    assert notifications(objs) == []


def test_missing_last_block_is_flagged_at_the_end_of_the_trace():
    case = CASES["lg_e450_gbt_plain"]
    objs = list(decode.decode_text("\n".join(case["trace"][:-1])))
    assert objs[-1]["error_kind"] == "incomplete"
    assert "last block never came" in objs[-1]["error"]
    assert "end of trace" in objs[-1]["text"]


def test_encrypted_gbt_with_the_wrong_key_says_so():
    case = CASES["lg_e570_gbt_encrypted"]
    objs = run(case, ek="00" * 16)
    # encryption only: there is no tag, so a wrong key gives bytes that are not an APDU
    assert notifications(objs) == []
    assert objs[-1]["error_kind"] == "decipher" and "wrong key" in objs[-1]["error"]
    objs = run(CASES["lg_e450_gbt_encrypted_ek_only"])
    a = [a for a in chain(objs[-1]["apdu"]) if a.get("security_control")][0]
    assert a["tag_ok"] is None and "tag not checked" in objs[-1]["text"]


def test_mbus_checksum_and_segment_gap_flagged():
    f1, f2 = CASES["kaifa_tinetz_mbus_suite1"]["trace"]
    bad = f1[:-4] + "%02X" % ((int(f1[-4:-2], 16) + 1) & 0xFF) + "16"
    objs = list(decode.decode_text(bad + "\n" + f2, ek="101112131415161718191A1B1C1D1E1F"))
    assert objs[0]["error_kind"] == "bad-checksum" and objs[0]["mbus"]["checksum_ok"] is False
    assert objs[1]["error_kind"] == "gap" and notifications(objs) == []
    objs = list(decode.decode_text(f2))
    assert objs[0]["error_kind"] == "gap" and "segment 0" in objs[0]["error"].replace("0..0", "0")
    objs = list(decode.decode_text(f1))
    assert objs[-1]["error_kind"] == "incomplete"


def test_mbus_frame_split_over_dump_lines_is_joined():
    """The Tirol document prints 16 bytes a line: the frames are joined again."""
    case = CASES["kaifa_tinetz_mbus_suite1"]
    whole = "".join(case["trace"])
    lines = "\n".join(whole[i:i + 32] for i in range(0, len(whole), 32))
    objs = list(decode.decode_text(lines, ek=case["keys"]["ek"]))
    assert [o["error"] for o in objs] == [None, None]
    assert len(notifications(objs)) == 1


def _general_glo(sc, plain, ek, ak, title=b"KFM\x10\x10\x00\x00\x23", ic=7):
    iv = title + ic.to_bytes(4, "big")
    g = gcm.new(ek)
    if sc & 0x30 == 0x30:
        ct, tag = g.encrypt(iv, plain, bytes((sc,)) + ak)
        body = ct + tag
    elif sc & 0x20:
        body = g.encrypt(iv, plain)[0]
    else:
        body = plain + g.gmac(iv, bytes((sc,)) + ak + plain)
    content = bytes((sc,)) + ic.to_bytes(4, "big") + body
    return (b"\xdb\x08" + title + b"\x82" + len(content).to_bytes(2, "big") + content).hex()


EK = bytes(range(16))
AK = bytes(range(16, 32))
PLAIN = bytes.fromhex(CASES["kaifa_tinetz_mbus_suite1"]["expect"]["plain"])


@pytest.mark.parametrize("sc", [0x31, 0x30, 0x11, 0x21, 0x20])
def test_suites_0_and_1_with_and_without_authentication(sc):
    o = list(decode.decode_text(_general_glo(sc, PLAIN, EK, AK), ek=EK.hex(), ak=AK.hex()))[0]
    a = o["apdu"]
    assert o["error"] is None and a["security_control"] == sc
    assert a["tag_ok"] is (True if sc & 0x10 else None)
    assert a["plain"] == PLAIN.hex().upper()
    assert a["decrypted"]["notification"]["values"][3]["value"] == 230.8
    if sc & 0x10:
        o = list(decode.decode_text(_general_glo(sc, PLAIN, EK, AK), ek=EK.hex(),
                                    ak="00" * 16))[0]
        assert o["error_kind"] == "auth-tag" and o["apdu"]["tag_ok"] is False
        assert "tag does not verify" in o["text"]


def test_deciphered_dsmr_telegram_is_called_what_it_is():
    telegram = b"/Ene5\\T210-D ESMR5.0\r\n\r\n1-3:0.2.8(50)\r\n1-0:1.8.1(001581.123*kWh)\r\n!"
    o = list(decode.decode_text(_general_glo(0x30, telegram, EK, AK), ek=EK.hex(),
                                ak=AK.hex()))[0]
    inner = o["apdu"]["decrypted"]
    assert inner["name"] == "not DLMS" and "DSMR" in inner["not_dlms"]
    assert "not DLMS: a DSMR" in o["text"] and "/Ene5" in o["text"]


def test_ascii_text_in_an_hdlc_frame_is_not_an_apdu():
    from udlms.link import hdlc

    info = b"\xe6\xe7\x00" + b"No access: port locked"  # 'N' = 4E would be a ded- tag
    f = hdlc.frame(b"\x03", b"\x02\x23", 0x13, info)
    o = list(decode.decode_text(f.hex()))[0]
    assert o["apdu"]["name"] == "not DLMS"
    assert "not DLMS: ASCII text 'No access: port locked'" in o["text"]
    assert "confirmed-service-error" not in o["text"]
    assert o["not_dlms"].startswith("ASCII text")


def test_cli_json_and_text_for_an_mbus_push(tmp_path):
    case = CASES["kaifa_tinetz_mbus_suite1"]
    p = tmp_path / "tirol.txt"
    p.write_text("\n".join(case["trace"]) + "\n")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "lib"))
    cmd = [sys.executable, "-m", "udlms", "decode", str(p), "--ek", case["keys"]["ek"]]
    r = subprocess.run(cmd + ["--json"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    objs = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert objs[0]["mbus"]["ci"] == "00" and objs[1]["mbus"]["segment"]["last"] is True
    n = objs[1]["apdu"]["decrypted"]["notification"]
    e = by_obis(n)["1.0.1.8.0.255"]
    assert (e["name"], e["value"], e["scaler"], e["unit"]) == (
        "active energy import +A", 9108, 0, "Wh")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert "1.0.1.8.0.255 active energy import +A: 9.108 kWh" in r.stdout
    assert "M-Bus long frame" in r.stdout and "checksum ok" in r.stdout


def _gbt_line(num, data, last=False, ack=0):
    return (bytes((0xE0, (0x80 if last else 0) | 0x40, num >> 8, num & 0xFF, ack >> 8, ack & 0xFF,
                   len(data))) + data).hex()


def test_gbt_blocks_out_of_order_acks_and_restart():
    plain = PLAIN
    parts = [plain[:100], plain[100:200], plain[200:]]
    ok = [_gbt_line(1, parts[0]), _gbt_line(2, parts[1]), _gbt_line(3, parts[2], True)]
    objs = list(decode.decode_text("\n".join(ok)))
    assert [o["error"] for o in objs] == [None] * 3
    assert len(notifications(objs)) == 1
    # an acknowledgement-only block (no data) from the other side is explained, not collected
    ack = "RX: " + _gbt_line(0, b"", ack=2)
    objs = list(decode.decode_text("\n".join(["TX: " + ok[0], ack, "TX: " + ok[1],
                                              "TX: " + ok[2]])))
    assert "acknowledgement only" in objs[1]["text"] and len(notifications(objs)) == 1
    # 1, 3, 2: a gap, then a late block; nothing is reassembled
    objs = list(decode.decode_text("\n".join([ok[0], ok[2], ok[1]])))
    assert objs[1]["error_kind"] == "gap" and notifications(objs) == []
    # a restart at block 1 drops the earlier blocks with a warning, then completes
    objs = list(decode.decode_text("\n".join([ok[0], ok[1]] + ok)))
    assert any("restarts at block 1" in w for w in objs[2]["warnings"])
    assert len(notifications(objs)) == 1 and objs[-1]["error"] is None


def test_event_notification_and_pushed_scaler_unit():
    o = list(decode.decode_text("C2 01 0C 07E80101010A0000FF800000 0003 0100010800FF 02 "
                                "06 00001234"))[0]
    a = o["apdu"]
    assert o["error"] is None and a["service"] == "event-notification"
    assert a["obis"] == "1.0.1.8.0.255" and a["event"]["value"]["value"] == 0x1234
    assert "at 2024-01-01 10:00:00" in o["text"]
    # a push object list with a register's value (attr 2) and its scaler_unit (attr 3)
    desc = "".join("02041200%02X0906%s0F%02X120000" % (cid, ob, attr) for cid, ob, attr in (
        (40, "0000190900FF", 2), (3, "0100010800FF", 2), (3, "0100010800FF", 3)))
    body = "0203" + "0103" + desc + "0600433D0A" + "02020F00161E"
    o = list(decode.decode_text("0F 00000001 00 " + body))[0]
    n = o["apdu"]["notification"]
    e, su = [v for v in n["values"] if v["obis"] == "1.0.1.8.0.255"]
    assert (e["value"], e["scaler"], e["unit"], e["attribute"]) == (0x433D0A, 0, "Wh", 2)
    assert (su["type"], su["scaler"], su["unit"], su["attribute"]) == ("scaler_unit", 0, "Wh", 3)
    assert "active energy import +A [class 3 attr 2]: 4406.538 kWh" in o["text"]


def test_cut_mbus_frame_is_not_joined_with_an_unrelated_line():
    f1 = CASES["kaifa_tinetz_mbus_suite1"]["trace"][0]
    objs = list(decode.decode_text(f1[:40] + "\n" + "C0 01 C1 00 08 00 00 01 00 00 FF 02 00"))
    assert objs[0]["error_kind"] == "truncated" and objs[0]["mbus"]["type"] == "long"
    assert objs[1]["apdu"]["service"] == "get-request-normal" and objs[1]["line"] == 2


def _dump(frames, width=16):
    """Frames as a serial monitor prints them: `width` bytes a line, frames run on."""
    b = bytes.fromhex("".join(frames))
    return "\n".join(" ".join("%02X" % x for x in b[i:i + width])
                     for i in range(0, len(b), width))


def test_hdlc_push_printed_16_bytes_a_line_decodes_the_same():
    case = CASES["lg_e450_gbt_plain"]
    whole = run(case)
    dumped = list(decode.decode_text(_dump(case["trace"])))
    assert [o["error"] for o in dumped] == [None] * len(case["trace"])
    assert notifications(dumped)[0]["values"] == notifications(whole)[0]["values"]
    assert [o["hex"] for o in dumped] == [o["hex"] for o in whole]


def test_cut_hdlc_frame_is_not_joined_with_an_unrelated_line():
    f = CASES["lg_e360_hdlc"]["trace"][0]
    objs = list(decode.decode_text(f[:80] + "\nC0 01 C1 00 08 00 00 01 00 00 FF 02 00\n"
                                   + f[:80]))
    assert [o["error_kind"] for o in objs] == ["truncated", None, "truncated"]
    assert objs[1]["apdu"]["service"] == "get-request-normal"
    assert [o["line"] for o in objs] == [1, 2, 3]


def test_kaifa_list1_value_without_obis_and_tagged_datetime():
    case = CASES["kaifa_no_list1_hdlc"]
    objs = run(case)
    assert [o["error"] for o in objs] == [None] and objs[0]["hdlc"]["fcs_ok"] is True
    n = notifications(objs)[0]
    assert [e["value"] for e in n["values"]] == case["expect"]["raw_values"]
    assert n["values"][0]["obis"] is None and n["shape"] == "values without OBIS codes"
    assert n["datetime"].startswith(case["expect"]["datetime_starts"])
