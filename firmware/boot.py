"""tokenpad boot.py for both runtimes.

CircuitPython: :mod:`tokenpad.cpboot` decides who may write the CIRCUITPY drive (the
computer, unless the board's ``write_enable`` pin is held low at reset); boot_out.txt says
what was decided.
MicroPython: littlefs is always writable; nothing to do (and nothing compiled here interns
names the app does not use, issue 26).
"""

import sys

if sys.implementation.name == "circuitpython":
    try:
        from tokenpad import cpboot
    except ImportError as e:  # not deployed: nothing to decide
        print("boot: tokenpad not installed (%s)" % (e,))
    else:
        cpboot.run()
