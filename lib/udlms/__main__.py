"""``python -m udlms`` (with lib/ on the path) runs the host CLI."""

try:
    from udlms.host.cli.main import main
except KeyboardInterrupt:  # Ctrl-C while Python was still starting: nothing was sent
    raise SystemExit(130)

main()
