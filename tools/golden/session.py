"""Regenerate host_tests/golden/session_gurux.json: a whole token session run by the
unmodified gurux-dlms client against udlms.host.sim with every random input fixed.

Our client, given the same --ctos / --system-title / --invocation-counter and the same
simulator options, must send the same frames byte for byte (host_tests/test_golden_session.py).
The simulator is deterministic for fixed --stoc and --server-ic, so the meter's frames are
part of the golden data too.

    .venv/bin/python -m tools.golden.session
"""

import json
import os

from tools.golden.gurux_client import GuruxSession
from udlms.host.sim import meter as meter_sim

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


CASES = {
    # name: (client settings, simulator options, token bytes)
    "hls_gmac_ascii": (
        dict(ek="000102030405060708090A0B0C0D0E0F", ak="D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF",
             system_title="4D4D4D0000000001", ctos="4B35366956616759", invocation_counter=0,
             server_logical=1, server_physical=17, address_size=2),
        dict(stoc="00112233445566778899AABBCCDDEEFF", server_ic=0x01234567,
             system_title="4D4D4D0000BC614E", encoding="ascii"),
        b"17813034313191558529",
    ),
    "hls_gmac_other_keys_4byte_address": (
        dict(ek="11223344556677881122334455667788", ak="A1A2A3A4A5A6A7A8A9AAABACADAEAFA0",
             system_title="5A5A5A0102030405", ctos="0102030405060708090A0B0C0D0E0F10",
             invocation_counter=1000, server_logical=1, server_physical=256, address_size=4),
        dict(stoc="F0E1D2C3B4A5968778695A4B3C2D1E0F", server_ic=77,
             system_title="4D4D4D00FFEEDDCC", encoding="ascii", address_size=4,
             server_physical=256, ek="11223344556677881122334455667788",
             ak="A1A2A3A4A5A6A7A8A9AAABACADAEAFA0"),
        b"05718854590197211241",
    ),
}


def run_case(client, sim_opts, token):
    meter = meter_sim.Meter(**sim_opts)
    srv = meter_sim.TcpServer(meter, 0).start()
    try:
        g = GuruxSession(
            "127.0.0.1", srv.port, client=1, server_logical=client["server_logical"],
            server_physical=client["server_physical"], address_size=client["address_size"],
            ek=bytes.fromhex(client["ek"]), ak=bytes.fromhex(client["ak"]),
            system_title=bytes.fromhex(client["system_title"]),
            ctos=bytes.fromhex(client["ctos"]), invocation_counter=client["invocation_counter"],
            conformance=0x001E1D, max_pdu=512)
        g.connect()
        g.enter(token)
        status = int(g.read_status().statusCode)
        g.close()
    finally:
        srv.stop()
    return {"client": client, "sim": sim_opts, "token": token.decode(), "status": status,
            "frames": g.trace_lines()}


def main():
    out = {"generator": "gurux-dlms %s client vs udlms.host.sim (tools/golden/session.py)"
           % _gurux_version(), "cases": {}}
    for name, (client, sim_opts, token) in CASES.items():
        out["cases"][name] = run_case(client, sim_opts, token)
        print("%s: %d frames, token_status %d" % (name, len(out["cases"][name]["frames"]),
                                                   out["cases"][name]["status"]))
    path = os.path.join(ROOT, "host_tests", "golden", "session_gurux.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote " + os.path.relpath(path, ROOT))


def _gurux_version():
    try:
        from importlib.metadata import version

        return version("gurux-dlms")
    except Exception:  # noqa: BLE001
        return "?"


if __name__ == "__main__":
    main()
