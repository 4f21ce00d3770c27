"""udlms.crypto.security: Green Book suite-0 vectors (spec.md §4) byte for byte on every
AES backend, gurux-dlms golden APDUs (host_tests/golden/security.json), and the named error
kinds."""

import json
import os

import pytest

from udlms.crypto import aes, security
from udlms.errors import ApduError, ConfigError, SecurityError
from udlms.crypto.security import MemoryCounter, Security

H = bytes.fromhex
EK = H("000102030405060708090A0B0C0D0E0F")
AK = H("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
METER = H("4D4D4D0000BC614E")  # GB examples: server system title
CLIENT = H("4D4D4D0000000001")
GET = H("C0010000080000010000FF0200")
GB = {  # spec.md §4a, IC 01234567, title 4D4D4D0000BC614E
    0x30: "C81E3001234567411312FF935A47566827C467BC7D825C3BE4A77C3FCC056B6B",
    0x10: "C81E1001234567C0010000080000010000FF020006725D910F9221D263877516",
    0x20: "C8122001234567411312FF935A47566827C467BC",
}
BACKENDS = aes.backends()
GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "security.json")


def sec(title=CLIENT, ic=1, sc=0x30, backend=None, server=None):
    s = Security(EK, AK, title, MemoryCounter(ic), sc, backend=backend)
    s.server_title = server
    return s


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sc", [0x30, 0x10, 0x20])
def test_gb_glo_get(backend, sc):
    s = sec(METER, 0x01234567, sc, backend)
    assert s.protect(GET).hex().upper() == GB[sc]
    r = sec(CLIENT, 1, sc, backend, server=METER)  # the receiving side
    assert bytes(r.unprotect(H(GB[sc]))) == GET
    assert r.server_ic == 0x01234567


@pytest.mark.parametrize("backend", BACKENDS)
def test_gb_initiate_request_dedicated_key(backend):
    plain = H("0101100011223344556677889 9AABBCCDDEEFF0000065F1F0400007E1F04B0".replace(" ", ""))
    out = sec(METER, 0x01234567, 0x30, backend).protect(plain, 0x21)
    assert out.hex().upper() == (
        "2130" "3001234567801302FF8A7874133D414CED25B42534D28DB0047720606B175BD52211BE"
        "6841DB204D39EE6FDB8E356855")


@pytest.mark.parametrize("backend", BACKENDS)
def test_gb_hls_gmac(backend):
    s = sec(CLIENT, 1, backend=backend, server=METER)
    assert s.f_stoc(b"P6wRJ21F").hex().upper() == "10000000011A52FE7DD3E72748973C1E28"
    assert s.counter.value == 2
    assert s.verify_ctos(b"K56iVagY", H("1001234567FE1466AFB3DBCD4F9389E2B7"))
    assert s.gmac_proof(b"K56iVagY", 0x01234567, METER).hex().upper() == \
        "1001234567FE1466AFB3DBCD4F9389E2B7"


@pytest.mark.parametrize("backend", BACKENDS)
def test_aarq_glo_initiate_request(backend):
    """spec.md §4d: the user-information of the HLS-GMAC AARQ, IC 0."""
    plain = H("01000000065F1F0400001E1D0200")
    out = sec(CLIENT, 0, backend=backend).protect(plain)
    assert out.hex().upper() == ("211F3000000000C0505B89E53A178DB31D8D5ECA7E"
                                 "57BA5324542E2BDDEC2710D3")


def test_reference_session_actions():
    """spec.md §4e: the gurux session's HLS action (IC 2) and token enter (IC 3): we
    decipher them as the meter would, and re-cipher them byte for byte."""
    hls = H("CB3130000000021BD9313E587760BEEB56BD5C06DDEA677FC3114E5B63EC4E3647DE0897"
            "9765A1864AC0DB498ED2B8DEB8C9C1E9327E"[:-6])
    enter = H("CB343000000003603876AB55312624402CAB4C405FAF24D834BE0FE174953DE60002F5E284"
              "BBA0FDA652664B9E82AA53AE8D760C0E3D3B9C7E"[:-6])
    meter = sec(METER, 1, server=CLIENT)
    p = bytes(meter.unprotect(hls))
    assert p[:16] == H("C301C1000F0000280000FF0101091110") and p[16:20] == H("00000001")
    p2 = bytes(meter.unprotect(enter))
    assert p2[:15] == H("C301C100730000132800FF01010914") and p2[15:].isdigit()
    assert sec(CLIENT, 2).protect(p) == hls
    assert sec(CLIENT, 3).protect(p2) == enter


def _golden():
    with open(GOLDEN) as f:
        return json.load(f)


def test_golden_requests_byte_for_byte():
    g = _golden()
    assert g["requests"]
    for r in g["requests"]:
        s = Security(H(g["ek"]), H(g["ak"]), H(g["client_title"]), MemoryCounter(r["ic"]),
                     r["sc"])
        assert s.protect(H(r["plain"])).hex().upper() == r["hex"], r["name"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_golden_responses_decipher(backend):
    g = _golden()
    assert g["responses"]
    for r in g["responses"]:
        s = Security(H(g["ek"]), H(g["ak"]), H(g["client_title"]), MemoryCounter(1), r["sc"],
                     backend=backend)
        s.server_title = H(g["server_title"])
        assert bytes(s.unprotect(H(r["hex"]))).hex().upper() == r["plain"], r["name"]
        assert s.server_ic == r["ic"]


def test_general_glo_roundtrip():
    s = sec(CLIENT, 7)
    d = s.protect_general(GET)
    assert d[:10] == b"\xDB\x08" + CLIENT and d[10] == 5 + len(GET) + 12
    assert d[11:16] == H("3000000007")
    tag, title, sc, ic, payload = security.parse_ciphered(d)
    assert (tag, title, sc, ic, len(payload)) == (0xDB, CLIENT, 0x30, 7, len(GET) + 12)
    m = sec(METER, 1, server=None)
    assert bytes(m.unprotect(d)) == GET  # title taken from the APDU
    body = bytes(payload)
    assert security.general_glo(CLIENT, H("3000000007") + body) == d
    m2 = sec(METER, 1, server=CLIENT)
    no_title = security.general_glo(b"", H("3000000007") + body)  # Pietro Fiorentini style
    assert bytes(m2.unprotect(no_title)) == GET
    m3 = sec(METER, 1, server=METER)
    with pytest.raises(SecurityError) as e:
        m3.unprotect(d)
    assert e.value.kind == "system-title"


def test_long_apdu_length_forms():
    for n in (100, 200, 400):
        plain = b"\xC4" + bytes(n - 1)
        c = sec(CLIENT, 5).protect(plain)
        assert bytes(sec(METER, server=CLIENT).unprotect(c)) == plain
        d = sec(CLIENT, 5).protect_general(plain)  # general-glo: 0x81 / 0x82 length forms
        assert bytes(sec(METER, server=CLIENT).unprotect(d)) == plain
        assert security.general_glo(CLIENT, d[-(5 + n + 12):]) == d  # body: SH ‖ C ‖ T


# --- named errors -------------------------------------------------------------------------
def _err(f, *a):
    with pytest.raises(SecurityError) as e:
        f(*a)
    return e.value


def test_tampered_tag_and_data():
    c = bytearray(H(GB[0x30]))
    c[-1] ^= 1
    e = _err(sec(server=METER).unprotect, bytes(c))
    assert e.kind == "auth-tag"
    c = bytearray(H(GB[0x30]))
    c[8] ^= 0x40
    assert _err(sec(server=METER).unprotect, bytes(c)).kind == "auth-tag"
    c = bytearray(H(GB[0x10]))
    c[10] ^= 1  # auth-only: the clear APDU is covered by the tag
    assert _err(sec(sc=0x10, server=METER).unprotect, bytes(c)).kind == "auth-tag"


def test_wrong_key():
    s = Security(EK, bytes(16), CLIENT, MemoryCounter(1))
    s.server_title = METER
    e = _err(s.unprotect, H(GB[0x30]))
    assert e.kind == "auth-tag" and "check" in e.message and "EK/AK" in e.message
    s = Security(bytes(16), AK, CLIENT, MemoryCounter(1))
    s.server_title = METER
    assert _err(s.unprotect, H(GB[0x30])).kind == "auth-tag"


def test_replayed_ic():
    r = sec(server=METER)
    r.unprotect(H(GB[0x30]))
    e = _err(r.unprotect, H(GB[0x30]))
    assert e.kind == "replay"
    older = sec(METER, 0x01234566).protect(GET)
    assert _err(r.unprotect, older).kind == "replay"
    newer = sec(METER, 0x01234568).protect(GET)
    assert bytes(r.unprotect(newer)) == GET


def test_forged_frame_does_not_advance_ic():
    r = sec(server=METER)
    c = bytearray(sec(METER, 1000).protect(GET))
    c[-1] ^= 1
    _err(r.unprotect, bytes(c))
    assert r.server_ic is None
    assert bytes(r.unprotect(H(GB[0x30]))) == GET


def test_wrong_meter_proof():
    s = sec(server=METER)
    e = _err(s.verify_ctos, b"K56iVagX", H("1001234567FE1466AFB3DBCD4F9389E2B7"))
    assert e.kind == "meter-proof"
    assert _err(s.verify_ctos, b"K56iVagY", H("1001234567FE1466AFB3DBCD4F9389E2B6")).kind \
        == "meter-proof"
    assert _err(s.verify_ctos, b"K56iVagY", H("11")).kind == "meter-proof"
    t = Security(EK, bytes(16), CLIENT, MemoryCounter(1))
    t.server_title = METER
    assert _err(t.verify_ctos, b"K56iVagY", H("1001234567FE1466AFB3DBCD4F9389E2B7")).kind \
        == "meter-proof"


def test_distinct_kinds():
    kinds = set()
    c = bytearray(H(GB[0x30]))
    c[-1] ^= 1
    kinds.add(_err(sec(server=METER).unprotect, bytes(c)).kind)
    r = sec(server=METER)
    r.unprotect(H(GB[0x30]))
    kinds.add(_err(r.unprotect, H(GB[0x30])).kind)
    kinds.add(_err(sec(server=METER).verify_ctos, b"x" * 8, bytes(17)).kind)
    kinds.add(_err(sec(server=METER).unprotect, H("C81E31" + GB[0x30][6:])).kind)
    assert kinds == {"auth-tag", "replay", "meter-proof", "security-control"}


@pytest.mark.parametrize("sc_in", [0x31, 0x33, 0xB0, 0x70, 0x00])
def test_unknown_security_control(sc_in):
    c = H("C81E%02X" % sc_in + GB[0x30][6:])
    assert _err(sec(server=METER).unprotect, c).kind == "security-control"


def test_downgrade_refused():
    assert _err(sec(server=METER).unprotect, H(GB[0x20])).kind == "security-control"
    assert _err(sec(server=METER).unprotect, H(GB[0x10])).kind == "security-control"
    assert bytes(sec(sc=0x10, server=METER).unprotect(H(GB[0x30]))) == GET


def test_not_ciphered_and_malformed():
    assert _err(sec(server=METER).unprotect, H("C401C10000")).kind == "security-control"
    for bad in ("C81F" + GB[0x30][4:], "C81D" + GB[0x30][4:], "C803300000", "C8"):
        with pytest.raises(ApduError):
            sec(server=METER).unprotect(H(bad))
    with pytest.raises(ApduError):
        sec(server=METER).unprotect(H("C8053000000005"))  # no room for the tag


def test_no_server_title():
    assert _err(sec().unprotect, H(GB[0x30])).kind == "system-title"


def test_outgoing_counter():
    class Stuck:
        def next(self):
            return 5

    s = Security(EK, AK, CLIENT, Stuck())
    s.protect(GET)
    assert _err(s.protect, GET).kind == "counter-unavailable"  # never reuse an IC
    c = MemoryCounter(0xFFFFFFFF)
    s = Security(EK, AK, CLIENT, c)
    assert s.protect(GET)[3:7] == H("FFFFFFFF")
    assert _err(s.protect, GET).kind == "counter-unavailable"
    assert _err(Security, EK, AK, CLIENT, None).kind == "counter-unavailable"
    c = MemoryCounter(10)
    assert (c.value, c.next(), c.next(), c.value) == (10, 10, 11, 12)
    with pytest.raises(ConfigError):
        MemoryCounter(-1)


def test_config_errors():
    for args, kind in (((bytes(15), AK, CLIENT), "key"), ((EK, None, CLIENT), "key"),
                       ((EK, AK, CLIENT[:7]), "system-title")):
        with pytest.raises(ConfigError) as e:
            Security(*args, MemoryCounter(1))
        assert e.value.kind == kind
    with pytest.raises(ConfigError) as e:
        Security(EK, AK, CLIENT, MemoryCounter(1), sc=0x31)
    assert e.value.kind == "security-control"


def test_tag_maps():
    pairs = {0xC0: 0xC8, 0xC1: 0xC9, 0xC3: 0xCB, 0xC4: 0xCC, 0xC5: 0xCD, 0xC7: 0xCF,
             0x01: 0x21, 0x08: 0x28}
    ded = {0xC0: 0xD0, 0xC1: 0xD1, 0xC3: 0xD3, 0xC4: 0xD4, 0xC5: 0xD5, 0xC7: 0xD7}
    s = sec()
    for p, g in pairs.items():
        assert security.glo_tag(p) == g == s.glo_tag(p)
        assert security.plain_tag(g) == p == s.plain_tag(g)
        assert security.is_ciphered(g) and not security.is_ciphered(p)
    for p, d in ded.items():
        assert security.glo_tag(p, True) == d and security.plain_tag(d) == p
    assert security.glo_tag(0x01, True) == 0x21
    assert security.is_ciphered(0xDB) and not security.is_ciphered(0xD8)
    with pytest.raises(ApduError):
        security.glo_tag(0xD8)
    with pytest.raises(ApduError):
        security.plain_tag(0xC0)
    assert s.protect(H("C701C10000"))[0] == 0xCF


def test_dedicated_key():
    ded = bytes(range(16, 32))
    s = sec()
    s.set_dedicated_key(ded)
    c = s.protect(GET)
    assert c[0] == 0xD0
    m = sec(METER, server=CLIENT)
    assert _err(m.unprotect, c).kind == "security-control"
    m.set_dedicated_key(ded)
    assert bytes(m.unprotect(c)) == GET
    assert s.protect(H("01000000065F1F0400001E1D0200"))[0] == 0x21  # initiate stays glo


def test_keys_never_shown():
    s = sec(server=METER)
    text = repr(s) + str(s) + repr(s.counter)
    msgs = []
    for f, a in ((s.unprotect, (H("C81E30" + GB[0x30][6:-2] + "00"),)),
                 (s.verify_ctos, (b"x" * 8, bytes(17))),
                 (Security, (EK, AK, b"", MemoryCounter(1)))):
        try:
            f(*a)
        except Exception as e:  # noqa: BLE001
            msgs.append(str(e) + repr(e))
    text += "".join(msgs)
    for key in (EK, AK):
        assert key.hex() not in text.lower() and key.hex().upper() not in text
        assert repr(key) not in text


def test_new_challenge():
    a, b = security.new_challenge(8), security.new_challenge(8)
    assert len(a) == 8 and a != b
    assert len(security.new_challenge()) == 16
    with pytest.raises(ConfigError):
        security.new_challenge(4)
