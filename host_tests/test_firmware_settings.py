"""tokenpad.settings_check checks a config without loading the library's token and OBIS
modules (issue 26): its copies must say what those modules say."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.join(ROOT, "firmware") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "firmware"))

from tokenpad import settings_check  # noqa: E402
from udlms.client import token  # noqa: E402
from udlms.cosem import obis  # noqa: E402


def test_encodings_are_the_librarys():
    assert settings_check.ENCODINGS == token.ENCODINGS


@pytest.mark.parametrize("x", [
    "0.0.19.40.0.255", "0-0:19.40.0*255", "0-0:19.40.0.255", "1.0.1.8.0", " 0.0.43.1.1.255 ",
    "0,0,19,40,0,255", "0.0.19.40.0.256", "0.0.19.40.0", "0.0.19.40", "0.0.19.40.0.255.1",
    "0.0.-1.40.0.255", "", "x", "0..19.40.0.255", "0.0.19.40.0.0x1", 5, None, [0, 0, 19],
    b"\x00\x00\x13\x28\x00\xff", b"\x00\x00", bytearray(6), "0.0.19.40.0.+5", "0.0.19.40.0. 5",
])
def test_obis_check_agrees_with_the_library(x):
    try:
        obis.obis(x)
        want = True
    except Exception:  # noqa: BLE001 - whatever it raises, the config check says "bad"
        want = False
    assert settings_check._obis_ok(x) is want


def test_config_errors_unchanged():
    from tokenpad import settings

    c = settings.Config({"ek": "00" * 16, "ak": "00" * 16, "system_title": "00" * 8,
                         "encoding": "ebcdic", "gateway": "0.0.19.40.0.256"})
    assert any(e.startswith("encoding: must be one of ascii, bcd, digits, hex or auto")
               for e in c.errors), c.errors
    assert any(e.startswith("gateway: not an OBIS code like 0.0.19.40.0.255")
               for e in c.errors), c.errors
    assert not any(e.startswith("frame_counter") for e in c.errors), c.errors
