"""Board lane check for token encoding auto (issue 20), called by tools/board/lane.py:
tokenpad on the emulated Pico (the official MicroPython firmware, rp2040js), with the
example config.json (``"encoding": "auto"``), moved to a simulated meter that wants BCD.
A token typed on the keypad is accepted after the meter's type-unmatched answers to ascii
and digits, in one association, and the display says it once (``ACCEPTED (meter wants
BCD; remembered)``, wrapped on the 16x2 LCD); the next token goes in one attempt, in the
form the board's store remembered: ``tp.history()`` notes ``ascii:12 digits:12
bcd:accepted``, then ``bcd:accepted``.
"""

TOKENS = ("12345678901234567890", "40188725093276465042")


def check_auto_encoding(b, url):
    """``b`` runs main.py with a counter stored; its UART0 goes to a meter that wants BCD
    (started here) and back to ``url`` afterwards."""
    from tools.common import start_sim

    sim, url_bcd = start_sim("--encoding", "bcd")
    try:
        b.uart(0, url_bcd)
        b.display(clear=True)
        b.keys(TOKENS[0] + "#")
        first = b.wait_lcd("BCD;", 300)
        frames = b.display()["frames"]
        assert any("ACCEPTED (meter" in ln for f in frames for ln in f), frames
        b.display(clear=True)
        b.keys(TOKENS[1] + "#")
        second = b.wait_lcd("ACCEPTED", 300)
        frames = b.display()["frames"]
        assert not any("BCD;" in ln for f in frames for ln in f), frames  # said once
        b.wait_repl()
        hist = b.exec("import tokenpad as tp\ntp.history()\n")
    finally:
        sim.terminate()
        sim.wait(5)
        b.uart(0, url)
    assert "1234 5678 9012 3456 7890 ACCEPTED (ascii:12 digits:12 bcd:accepted)" in hist, hist
    assert "4018 8725 0932 7646 5042 ACCEPTED (bcd:accepted)" in hist, hist
    return "first token: %s; the next in one attempt: %s" % (" / ".join(first),
                                                              " / ".join(second))
