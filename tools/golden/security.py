"""Regenerate host_tests/golden/security.json from gurux-dlms (the independent peer).

gurux-dlms (PyPI, GPL) is *used* here, never copied: its GXDLMSSecureClient ciphers a
glo-get and a glo-action request for fixed keys, system titles and invocation counter, and
its GXDLMSChippering ciphers meter responses (as a server would) that our client must
decipher and verify. host_tests/test_security.py compares our bytes with these.

    .venv/bin/python -m tools.golden.security
"""

import json
import os

from gurux_dlms import GXByteBuffer
from gurux_dlms.AesGcmParameter import AesGcmParameter
from gurux_dlms.enums import Authentication, DataType, InterfaceType, Security
from gurux_dlms.GXDLMSChippering import GXDLMSChippering
from gurux_dlms.objects import GXDLMSClock, GXDLMSTokenGateway
from gurux_dlms.secure import GXDLMSSecureClient

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "host_tests", "golden", "security.json")
EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
CLIENT_TITLE = bytes.fromhex("4D4D4D0000BC614E")
SERVER_TITLE = bytes.fromhex("4D4D4D0000000001")
IC = 1
TOKEN = b"05718854590197211241"
SECURITY = {0x30: Security.AUTHENTICATION_ENCRYPTION, 0x10: Security.AUTHENTICATION,
            0x20: Security.ENCRYPTION}


def hx(b):
    return bytes(b).hex().upper()


def client(sc, ic):
    c = GXDLMSSecureClient(True, 1, 1, Authentication.HIGH_GMAC, None, InterfaceType.WRAPPER)
    ci = c.ciphering
    ci.security = SECURITY[sc]
    ci.systemTitle = CLIENT_TITLE
    ci.blockCipherKey = EK
    ci.authenticationKey = AK
    ci.invocationCounter = ic
    return c


def apdu(msgs):
    """Strip the 8-byte WRAPPER header gurux puts in front of the APDU."""
    assert len(msgs) == 1, msgs
    return bytes(msgs[0])[8:]


def plain_client():
    from gurux_dlms import GXDLMSClient

    return GXDLMSClient(True, 1, 1, Authentication.NONE, None, InterfaceType.WRAPPER)


def requests():
    out = []
    for sc in (0x30, 0x10, 0x20):
        c = client(sc, IC)
        p = plain_client()
        clk = GXDLMSClock()
        out.append({"name": "glo_get_clock_sc%02x" % sc, "sc": sc, "ic": IC,
                    "plain": hx(apdu(p.read(clk, 2))), "hex": hx(apdu(c.read(clk, 2)))})
        c = client(sc, IC)
        g = GXDLMSTokenGateway()
        out.append({"name": "glo_action_enter_sc%02x" % sc, "sc": sc, "ic": IC,
                    "plain": hx(apdu(p.method(g, 1, TOKEN, DataType.OCTET_STRING))),
                    "hex": hx(apdu(c.method(g, 1, TOKEN, DataType.OCTET_STRING)))})
    return out


def server_cipher(tag, sc, ic, plain, general=False):
    """Cipher a response the way a gurux server does (sender title = the meter's)."""
    p = AesGcmParameter(tag, SERVER_TITLE, EK, AK)
    p.security = SECURITY[sc]
    p.invocationCounter = ic
    return GXDLMSChippering.encryptAesGcm(p, GXByteBuffer(plain).array())


RESPONSES = [
    ("glo_get_response_status", 0xCC, 0x30, 5, "C401C1000202160304 0800"),
    ("glo_action_response_ok", 0xCF, 0x30, 6, "C701C10000"),
    ("glo_action_response_hls", 0xCF, 0x30, 7,
     "C701C10001000911 1001234567FE1466AFB3DBCD4F9389E2B7"),
    ("glo_get_response_auth_only", 0xCC, 0x10, 8, "C401C1000202160304 0800"),
    ("glo_get_response_enc_only", 0xCC, 0x20, 9, "C401C1000202160304 0800"),
    ("general_glo_get_response", 0xDB, 0x30, 10, "C401C1000202160304 0800"),
]


def responses():
    out = []
    for name, tag, sc, ic, plain in RESPONSES:
        plain = bytes.fromhex(plain.replace(" ", ""))
        out.append({"name": name, "sc": sc, "ic": ic, "plain": hx(plain),
                    "hex": hx(server_cipher(tag, sc, ic, plain))})
    return out


def main():
    data = {
        "generator": "gurux-dlms GXDLMSSecureClient / GXDLMSChippering (gen_security.py)",
        "ek": hx(EK), "ak": hx(AK), "client_title": hx(CLIENT_TITLE),
        "server_title": hx(SERVER_TITLE),
        "requests": requests(),
        "responses": responses(),
    }
    with open(OUT, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    print("wrote", os.path.relpath(OUT))


if __name__ == "__main__":
    main()
