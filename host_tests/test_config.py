"""config.json validation (firmware/tokenpad/settings.py): every bad field gets its own
plain message, the device refuses to send on a bad config, keys are masked."""

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in ("lib", "firmware"):
    if os.path.join(ROOT, p) not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, p))

from tokenpad import settings  # noqa: E402
from udlms.errors import ConfigError  # noqa: E402
from udlms.client.session import Settings  # noqa: E402

EK = "000102030405060708090A0B0C0D0E0F"
AK = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
GOOD = {"ek": EK, "ak": AK, "system_title": "4D4D4D0000000001", "server_physical": 17}


def test_example_config_is_valid():
    c = settings.load(os.path.join(ROOT, "firmware", "config.example.json"))
    assert c.ok, c.errors
    s = c.settings()
    assert isinstance(s, Settings)
    assert s.mechanism == 5 and s.ek == bytes.fromhex(EK) and s.server_physical == 17


def test_good_config_to_settings():
    c = settings.Config(dict(GOOD, encoding="bcd", baud=300, max_info=256, timeout_ms=500))
    s = c.settings()
    assert (s.encoding, s.max_info_tx, s.timeout_ms) == ("bcd", 256, 500)


@pytest.mark.parametrize("field, value, expect", [
    ("ek", "0011", "ek: needs exactly 32 hex digits, found 4"),
    ("ak", "G" * 32, "ak: only 0-9 and A-F are allowed (found '?')"),
    ("system_title", "4D4D4D00000000011", "system_title: needs exactly 16 hex digits, found 17"),
    ("system_title", None, "system_title: missing; needs 16 hex digits"),
    ("encoding", "ebcdic", "encoding: must be one of ascii, bcd, digits, hex"),
    ("baud", 9601, "baud: must be one of 300"),
    ("mode", "hls", "mode: must be one of hls-gmac, lls, none"),
    ("client", 0, "client: must be a whole number 1..127"),
    ("server_logical", "1", "server_logical: must be a whole number 0..16383"),
    ("server_physical", -1, "server_physical: must be a whole number 0..16383 or null"),
    ("address_size", 3, "address_size: must be 1, 2 or 4"),
    ("retries", 11, "retries: must be a whole number 0..10"),
    ("gateway", "0.0.19.40", "gateway: not an OBIS code"),
    ("ekk", EK, "ekk: unknown setting"),
])
def test_bad_field_message(field, value, expect):
    d = dict(GOOD)
    d[field] = value
    c = settings.Config(d)
    assert not c.ok
    assert any(e.startswith(expect) for e in c.errors), c.errors
    with pytest.raises(ConfigError) as e:
        c.settings()
    assert "problem" in e.value.message


def test_every_bad_field_reported_and_secret_not_echoed():
    c = settings.Config({"ek": "ZZ" + EK[2:], "ak": "00", "encoding": "x", "baud": 1})
    fields = sorted(e.split(":")[0] for e in c.errors)
    assert fields == ["ak", "baud", "ek", "encoding", "system_title"]
    assert all("ZZ" not in e for e in c.errors)


def test_lls_and_none_modes():
    assert not settings.Config({"mode": "lls"}).ok
    c = settings.Config({"mode": "lls", "password": "12345678"})
    assert c.ok and c.settings().mechanism == 1 and c.settings().password == b"12345678"
    c = settings.Config({"mode": "none", "client": 16})
    assert c.ok and c.settings().mechanism == 0 and c.settings().ek is None


def test_masked_hides_keys():
    text = "\n".join(settings.Config(dict(GOOD, password="secret")).masked())
    assert EK not in text and AK not in text and "secret" not in text
    assert "(set, hidden)" in text and "4D4D4D0000000001" in text


def test_missing_and_broken_files(tmp_path):
    c = settings.load(str(tmp_path / "config.json"))
    assert not c.ok and len(c.errors) == 1 and "not found" in c.errors[0]
    p = tmp_path / "config.json"
    p.write_text("{\"ek\": \"00\",}")
    c = settings.load(str(p))
    assert not c.ok and "not valid JSON" in c.errors[0]
    p.write_text(json.dumps(GOOD))
    assert settings.load(str(p)).ok
