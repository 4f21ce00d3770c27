"""make bench: the figures in bench.json (DESIGN.md §3); ``python -m tools.bench``."""
