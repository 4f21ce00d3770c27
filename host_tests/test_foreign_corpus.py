"""``udlms decode`` on the foreign corpus (issue 24 case 8): the 30 real frames and traces
in ``../shared/data/foreign/cases.json`` (sources, keys and expected facts there, nothing of
it written by this project) must decode as their sources state. Each case has its checks
below; a case in the file without checks here fails, so the table cannot fall behind.
Without ``../shared/data`` every case is skipped with the reason "not run: no
../shared/data" (never counted as passed)."""

import json
import os
import re

import pytest

from udlms.host.decode import main as decode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOREIGN = os.path.join(ROOT, "..", "shared", "data", "foreign", "cases.json")
NO_DATA = "not run: no ../shared/data"
CASES = json.load(open(FOREIGN)) if os.path.exists(FOREIGN) else []
IDS = [c["id"] for c in CASES] or ["(no ../shared/data)"]
OBIS = re.compile(r"^\d+\.\d+\.\d+\.\d+\.\d+\.\d+$")

# what each source states beyond its "values" (which are checked for every case that has
# them): texts the decoder must print, the error it must report, or None for no error
CHECKS = {
    "dlmsparser-lg-e450-gbt-enc": {"texts": ["tag verifies", "invocation counter 1539018",
                                             "4C475A677370B177", "SC 30"]},
    "dlmsparser-lg-e450-2-gbt-enc": {"texts": ["tag verifies"]},
    "dlmsparser-kamstrup-omnipower-enc": {"texts": ["tag verifies", "17784996"],
                                          "count": 33},
    "dlmsparser-iskra-am550-segmented": {"texts": ["APDU of 340 bytes reassembled"],
                                         "count": 16},
    "dlmsparser-kaifa-ma304h3e": {"texts": ["data-notification", "MA304H3E", "FCS ok"]},
    "dlmsparser-norway-aidon-1phase": {"count": 9},
    "dlmsparser-norway-aidon-3phase": {"count": 27},
    "dlmsparser-lg-zmf100-bad-fcs": {"error": "bad-fcs", "texts": ["FCS WRONG"],
                                     "values": False},
    "dlmsparser-salzburg-kaifa-apdu": {"texts": ["2022-11-12 16:54:00"]},
    "dlmsparser-sagemcom-xt211-apdu": {"with_obis": 22, "texts": ["not A-XDR"]},
    "dlmsparser-energomera-apdu": {"obis": ["0.0.25.9.0.255", "0.0.96.5.134.255",
                                            "0.0.42.0.0.255", "0.0.96.1.0.255",
                                            "0.0.97.98.0.255", "0.0.97.98.10.255",
                                            "0.0.96.5.135.255"],
                                   "texts": ["0.0.25.9.0.255 [class 40 attr 2]"]},
    "dlmsparser-netz-noe-mbus-enc": {"texts": ["SC 20", "checksum ok"]},
    "tirol-kfm-mbus-enc": {"plaintext": True, "texts": ["security suite 1"]},
    "tirol-kfm-apdu-enc": {"plaintext": True},
    "scs-lg-e450-gbt-plain": {"with_obis": 16, "texts": ["LGZ1030655933512",
                                                         "2021-07-06 14:58:18",
                                                         "block transfer restarts"]},
    "scs-lg-e450-gbt-enc": {"with_obis": 16},
    "scs-lg-e570-gbt-enc": {"texts": ["LGZ1030769231253", "1.0.1.7.0.255", "1.0.31.7.0.255",
                                      "1.0.13.7.0.255"]},
    "scs-lg-e450-gbt-plain-2026": {"obis_values": {"1.0.1.7.0.255": 28, "1.0.2.7.0.255": 0,
                                                   "1.1.1.8.0.255": 482939}},
    "amstomqtt-kaifa-kfm001-list1": {"texts": ["2017-09-12 23:18:42", "1320"]},
    "dlmscosem-ggc-datanotification": {"texts": ["tag verifies", "2F19229199164103",
                                                 "data-notification"]},
    "dlmscosem-aare-accepted": {"texts": ["result 0 accepted", "001E1D", "1224", "0007",
                                          "N(S)=0 N(R)=1", "client SAP 16"]},
    "dlmscosem-aarq-public": {"texts": ["AARQ", "001E1D", "65535", "physical 17"]},
    "dlmscosem-kaifa-ma304h4-1": {"texts": ["data-notification"]},
    "dlmscosem-kaifa-ma304h4-2": {"texts": ["data-notification"]},
    "gurux-java-pr22-aare-rejected": {"texts": ["rejected-permanent",
                                                "authentication-failure"]},
    "dlmscosem-issue95-ua": {"texts": ["UA", "physical 2836", "client SAP 1"]},
    "dlmscosem-issue95-aarq-lls": {"texts": ["75746966AB5CEB79", "20525F"]},
    "dlmscosem-issue62-snrm": {"texts": ["SNRM", "client SAP 19", "logical 16 physical 1"]},
    "gurux-forum-10430-set-request": {"texts": ["set-request-normal", "class 22",
                                                "0.0.15.0.0.255", "attribute 4",
                                                "100A27FF", "07E10406FF"]},
    "gurux-forum-28751-non-dlms": {"texts": ["not DLMS", "NEXERRORNO-1"]},
}


def _case(cid):
    if not CASES:
        pytest.skip(NO_DATA)
    return [c for c in CASES if c["id"] == cid][0]


def _decode(case):
    keys = case.get("keys") or {}
    lines = case.get("frames") or [case["hex"]]
    return list(decode.decode_text("\n".join(lines), ek=keys.get("ek") or None,
                                   ak=keys.get("ak") or None))


def _chain(a):
    while a is not None:
        yield a
        a = a.get("decrypted") or a.get("reassembled")


def _values(objs):
    out = []
    for o in objs:
        for a in _chain(o["apdu"]):
            if "notification" in a:
                out.append(a["notification"])
    return out


def _apdu_hex(objs):
    return "".join(a.get("plain") or "" for o in objs for a in _chain(o["apdu"])) + "".join(
        o["hex"] or "" for o in objs)


def _number(text):
    m = re.match(r"^-?\d+(\.\d+)?", text)
    return float(m.group(0)) if m else None


def _matches(entry, want):
    got = entry["value"]
    if isinstance(want, int):
        return got == want or (isinstance(got, float) and got == pytest.approx(want))
    if re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", want):
        return want[:19] in entry["text"]
    if re.match(r"^\d+(\.\d+)? \(raw", want) or re.match(r"^\d+\.\d+$", want):
        return isinstance(got, (int, float)) and got == pytest.approx(_number(want))
    return str(got) == want or want in entry["text"]


def _check_value(notes, objs, key, want):
    entries = [e for n in notes for e in n["values"]]
    obis = key.split()[0]
    if key == "date_time":
        assert any(n["datetime"] and want in n["datetime"] or n["datetime_hex"] == want
                   for n in notes), key
        return
    assert OBIS.match(obis), key
    named = [e for e in entries if e["obis"] == obis]
    if named:
        assert any(_matches(e, want) for e in named), (key, want, named)
        return
    # the source names an object the bytes do not carry (a bare value it maps by rule):
    # the OBIS code must really be absent and the value present without one
    code = "".join("%02X" % int(x) for x in obis.split("."))
    assert code not in _apdu_hex(objs), (key, "OBIS in the bytes but not decoded")
    assert any(e["obis"] is None and _matches(e, want) for e in entries), (key, want)


def test_every_case_has_checks():
    if not CASES:
        pytest.skip(NO_DATA)
    assert len(CASES) == 30
    assert sorted(c["id"] for c in CASES) == sorted(CHECKS)


@pytest.mark.parametrize("cid", IDS)
def test_case_decodes_as_its_source_states(cid):
    case = _case(cid)
    want = CHECKS[cid]
    objs = _decode(case)
    assert objs, cid
    text = "\n".join(o["text"] for o in objs)
    assert "internal decoder error" not in text
    errors = [o["error_kind"] for o in objs if o["error"]]
    assert errors == ([want["error"]] if want.get("error") else []), (errors, text)
    for t in want.get("texts", ()):
        assert t in text, (t, text)
    notes = _values(objs)
    vals = case["expect"].get("values")
    if vals and want.get("values", True):
        assert notes, text
        for key, v in vals.items():
            if key == "active_power_W":
                assert any(e["value"] == v for n in notes for e in n["values"]), text
            else:
                _check_value(notes, objs, key, v)
    with_obis = [e for n in notes for e in n.get("values", ()) if e["obis"]]
    if "count" in want:
        assert sum(len(n["values"]) for n in notes) == want["count"], text
    if "with_obis" in want:
        assert len(with_obis) >= want["with_obis"], text
        assert len(with_obis) == want["with_obis"] or cid.startswith("scs"), text
    for obis in want.get("obis", ()):
        assert obis in [e["obis"] for e in with_obis], (obis, text)
    for obis, v in want.get("obis_values", {}).items():
        assert any(e["obis"] == obis and e["value"] == v for e in with_obis), (obis, text)
    if want.get("plaintext"):
        plain = case["expect"]["plaintext_hex"]
        assert any(a.get("plain") == plain for o in objs for a in _chain(o["apdu"])), text
