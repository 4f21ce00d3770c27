"""``python -m udlms`` (with lib/ on the path) runs the host CLI."""

from udlms.host.cli import main

main()
