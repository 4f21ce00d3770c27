"""`make bench`: ``python -m tools.bench`` runs main.py."""

import sys

from tools.bench.main import main

sys.exit(main())
