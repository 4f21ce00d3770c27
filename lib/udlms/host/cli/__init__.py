"""The ``udlms`` command line (PC only): ``main`` (parser, entry points), ``base`` (exit
codes, output, Ctrl-C), ``settings``, ``run`` (links, sessions, counters), ``token``
(enter-token) and ``commands`` (get, resync, decode, probe). DESIGN.md §3."""
