"""``python -m udlms`` (with lib/ on the path) runs the host CLI."""

from udlms.cli import main

main()
