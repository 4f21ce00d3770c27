"""``python -m udlms.host.sim``: the simulated meter (same flags as ``udlms sim``)."""

import sys

from udlms.host.sim.meter import main

sys.exit(main())
