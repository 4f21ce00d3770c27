"""What the CLI tests share: the simulator's keys and titles, sample tokens, and ``run``, the
``udlms`` command in this process."""

import io
import sys

from udlms.host.cli import main as cli

EK = "000102030405060708090A0B0C0D0E0F"
AK = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
TITLE = "4D4D4D0000000001"
TOKEN = "1781 3034 3131 9155 8529"
TOKEN2 = "0571 8854 5901 9721 1241"


def run(argv):
    """The CLI in this process: (exit status, stdout)."""
    out = io.StringIO()
    old = sys.stdout
    sys.stdout = out
    try:
        cli.main(argv)
        code = 0
    except SystemExit as e:
        code = e.code
    finally:
        sys.stdout = old
    return code, out.getvalue()
