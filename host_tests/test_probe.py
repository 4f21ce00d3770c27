"""`udlms probe` finds the simulator's settings from a cold start, quickly, and never sends a
token."""

import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "lib"))

from udlms.host.sim import meter as meter_sim  # noqa: E402
from test_golden_session import udlms  # noqa: E402


def _probe(port, *extra):
    t = time.time()
    r = udlms(["probe", "--port", port, "--json"] + list(extra))
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout.splitlines()[-1]), time.time() - t


def _no_token(meter):
    assert meter.state.enters == {} and meter.state.accepted == []


def test_direct_hdlc_address_size_4_on_a_pty():
    meter = meter_sim.Meter(address_size=4)
    srv = meter_sim.PtyServer(meter).start()
    try:
        res, dt = _probe(srv.path)
    finally:
        srv.stop()
    assert res["settings"] == {"server_logical": 1, "server_physical": 17, "address_size": 4,
                               "baud": 9600}
    assert res["mode"] == "hdlc" and res["ldn"] == "UDLMSSIM0000001"
    assert res["frame_counter"] == 0
    assert dt < 20
    _no_token(meter)


def test_mode_e_at_19200_and_printed_summary():
    meter = meter_sim.Meter()
    front = meter_sim.ModeE(19200)
    srv = meter_sim.PtyServer(meter, mode_e=front).start()
    try:
        t = time.time()
        r = udlms(["probe", "--port", srv.path])
        dt = time.time() - t
    finally:
        srv.stop()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "FOUND: mode E sign-on, then HDLC at 19200 baud, server 1/17" in r.stdout
    assert "logical device name: UDLMSSIM0000001" in r.stdout
    assert "use: --mode-e --baud 19200" in r.stdout
    assert ("switch", 19200, 8, "N") in front.log
    assert dt < 20
    _no_token(meter)


def test_physical_256_needs_four_byte_addresses_over_tcp():
    meter = meter_sim.Meter(address_size=4, server_physical=256)
    srv = meter_sim.TcpServer(meter, 0).start()
    try:
        res, dt = _probe("tcp://127.0.0.1:%d" % srv.port, "--server-physical", "256")
    finally:
        srv.stop()
    assert res["settings"] == {"server_logical": 1, "server_physical": 256, "address_size": 4}
    assert any("address size 1: no answer" in a for a in res["attempts"])
    assert dt < 10
    _no_token(meter)


def test_wrapper_found_after_hdlc_fails():
    meter = meter_sim.Meter()
    srv = meter_sim.WrapperServer(meter, 0).start()
    try:
        res, dt = _probe("tcp://127.0.0.1:%d" % srv.port)
    finally:
        srv.stop()
    assert res["mode"] == "wrapper" and res["settings"]["transport"] == "wrapper"
    assert res["ldn"] == "UDLMSSIM0000001"
    _no_token(meter)


def test_nothing_answers(tmp_path):
    import pty

    master, slave = pty.openpty()
    try:
        r = udlms(["probe", "--port", os.ttyname(slave), "--bauds", "9600", "--address-size",
                   "2", "--server-physical", "17"])
    finally:
        os.close(master)
        os.close(slave)
    assert r.returncode == 3
    assert "NOTHING ANSWERED" in r.stdout
