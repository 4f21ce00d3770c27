"""The simulated prepayment meter (PC only; ``udlms sim``, ``python -m udlms.host.sim``):
``data`` (A-XDR encoders, OBIS codes, Options, MeterState), ``association`` (one
association and the objects), ``hdlc`` (the HDLC side, IEC 62056-46), ``transport`` (TCP,
pty, mode E, wrapper) and ``meter`` (the command line, offering all their names)."""
