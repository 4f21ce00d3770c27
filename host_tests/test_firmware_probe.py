"""tp.probe() on the board: finds how the simulated meter answers and reads its name and
frame counter with the public client; never sends a token."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "firmware"))

from udlms.host.sim import meter as meter_sim  # noqa: E402
from tokenpad import repl  # noqa: E402

from udlms.link import transport  # noqa: E402


class _App:
    def __init__(self, port, cfg=None):
        self.port = port
        if cfg is not None:
            from tokenpad import settings

            self.cfg = settings.Config(cfg)

    def open_stream(self):
        return transport.TcpStream("127.0.0.1", self.port, 2000)


def test_tp_probe_finds_a_4_byte_address_meter(capsys):
    meter = meter_sim.Meter(address_size=4, server_physical=17)
    srv = meter_sim.TcpServer(meter, 0).start()
    try:
        repl.use(_App(srv.port))
        found = repl.probe()
    finally:
        repl.use(None)
        srv.stop()
    out = capsys.readouterr().out
    assert found is not None and found.address_size == 4 and found.server_physical == 17
    assert found.ldn == "UDLMSSIM0000001"
    assert "FOUND" in out and "config.json" in out
    assert meter.state.enters == {}  # no token was sent


def test_tp_probe_reports_nothing(capsys):
    srv = meter_sim.TcpServer(meter_sim.Meter(server_logical=5), 0).start()
    try:
        repl.use(_App(srv.port))
        assert repl.probe() is None
    finally:
        repl.use(None)
        srv.stop()
    assert "NOTHING ANSWERED" in capsys.readouterr().out


def test_tp_probe_tries_the_configured_address_first(capsys):
    # an address the scan never tries (logical 5, physical 300): found because config.json
    # names it, and tried before any of the usual ones
    meter = meter_sim.Meter(address_size=4, server_logical=5, server_physical=300)
    srv = meter_sim.TcpServer(meter, 0).start()
    try:
        repl.use(_App(srv.port, {"mode": "none", "server_logical": 5, "server_physical": 300,
                                 "address_size": 4, "timeout_ms": 2000}))
        found = repl.probe()
    finally:
        repl.use(None)
        srv.stop()
    out = capsys.readouterr().out
    assert found is not None and (found.server_logical, found.server_physical) == (5, 300)
    first = out.strip().splitlines()[0]
    assert "configured server 5/300, address size 4" in first and "ANSWERED" in first, out
    assert meter.state.enters == {}
