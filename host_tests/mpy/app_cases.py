"""The cases of host_tests/mpy/test_app.py (see its docstring); imported by it, in a heap
big enough for tokenpad and udlms."""

import gc
import sys

MICROPYTHON = sys.implementation.name == "micropython"

if MICROPYTHON and ".frozen" not in sys.path:
    sys.path.append(".frozen")  # asyncio is frozen into the unix port

from tokenpad import store  # noqa: E402, I001 - big modules first, while the heap is whole
from tokenpad import app as tapp  # noqa: E402
from tokenpad import display, keypad, settings, uart  # noqa: E402

import tpfakes  # noqa: E402
from mpytest import eq, main, test  # noqa: E402
from tpfakes import FakeLib, FakePin, FakeUart  # noqa: E402

EK = "000102030405060708090A0B0C0D0E0F"
AK = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
TOKEN = "17813034313191558529"
TOKEN2 = "05718854590197211241"
CONF = {"ek": EK, "ak": AK, "system_title": "4D4D4D0000000002", "server_physical": 17,
        "timeout_ms": 2000, "retries": 1}


def ram_store(mem=None):
    mem = mem if mem is not None else bytearray(b"\xff" * 2048)
    return store.Store(store.TwoSlot(store.NvmSlot(mem, 0, 1024),
                                     store.NvmSlot(mem, 1024, 1024))), mem


def make_app(mode="accept", conf=None, st=None, resync=True):
    cfg = settings.Config(dict(CONF) if conf is None else conf)
    if st is None:
        st, _ = ram_store()
        if resync:
            st.resync(1000)
    kp = tpfakes.FakeKeypad()
    disp = tpfakes.FakeDisplay(cols=21, rows=8)
    a = tapp.App(cfg, st, disp, [kp], lambda: object(), FakeLib(mode))
    return a, kp, disp


def run_keys(a, kp, text):
    kp.type(text)
    return a.step()


@test
def echo_in_groups_of_four():
    a, kp, disp = make_app()
    run_keys(a, kp, "1781303431319")
    eq(disp.last()[0], "1781 3034 3131 9")
    eq(a.entry, "1781303431319")


@test
def star_backspace_double_and_long_clear():
    a, kp, disp = make_app()
    run_keys(a, kp, "1234*")
    eq(a.entry, "123")
    run_keys(a, kp, "^")
    eq(a.entry, "")
    run_keys(a, kp, "5678!")
    eq(a.entry, "")
    run_keys(a, kp, "9" * 25)
    eq(len(a.entry), 20)


@test
def accepted_flow_and_journal():
    a, kp, disp = make_app("accept")
    out = run_keys(a, kp, "1781 3034 3131 9155 8529 #")
    eq(out[0], "ACCEPTED")
    for word in ("CONNECTING", "AUTH", "SENDING", "ACCEPTED"):
        assert disp.seen(word), word
    e = a.store.last()
    eq((e[1], e[2]), (TOKEN, "accepted"))
    eq(a.entry, "")
    eq(a.store.value, 1003)  # resync(1000) -> 1001; two values used


@test
def refused_and_type_unmatched():
    a, kp, disp = make_app("refuse")
    eq(run_keys(a, kp, TOKEN + "#")[0], "REJECTED")
    eq(a.store.last()[2], "refused")
    a.lib.mode = "type12"
    out = run_keys(a, kp, TOKEN2 + "#")
    eq(out[0], "REJECTED")
    assert "type-unmatched" in out[1], out


@test
def no_answer_stays_pending_then_resend():
    a, kp, disp = make_app("noanswer")
    out = run_keys(a, kp, TOKEN + "#")
    eq(out[0], "NO ANSWER")
    assert "probe" in out[1], out
    eq(a.store.last()[2], "pending")
    a.lib.mode = "accept"
    eq(run_keys(a, kp, "R")[0], "ACCEPTED")
    eq(len(a.store.journal), 1)
    eq(a.store.last()[2], "accepted")


@test
def lost_after_sending_is_unknown_then_confirmed():
    a, kp, disp = make_app("lost")
    eq(run_keys(a, kp, TOKEN + "#")[0], "NO ANSWER")
    eq(a.store.last()[2], "unknown")
    a.lib.mode = "accept"
    out = a.confirm()  # the fake meter reports execution-ok but not its last token
    assert out[0].startswith("METER"), out


@test
def bad_token_not_journaled():
    a, kp, disp = make_app()
    out = run_keys(a, kp, "1781303431319155852#")
    eq(out[0], "BAD TOKEN")
    assert "found 19" in out[1], out
    eq(a.store.journal, [])
    eq(a.entry, "1781303431319155852")  # kept for correction
    eq(a.lib.sent, [])


@test
def fresh_board_reads_the_meter_counter_at_the_first_token():
    a, kp, disp = make_app(resync=False)
    out = a.boot()
    eq(out[0], "READY")
    assert "counter read from meter" in out[1], out
    out = run_keys(a, kp, TOKEN + "#")
    eq(out[0], "ACCEPTED")
    assert disp.seen("reading meter"), disp.frames
    assert disp.seen("from meter: 501"), disp.frames
    eq(a.store.last()[2], "accepted")
    assert a.store.value > 501, a.store.value


@test
def damaged_store_refuses_until_resync():
    st, mem = ram_store()
    st.resync(1000)
    for i in range(40, 60):  # both copies torn: the record no longer verifies
        mem[i] ^= 0xFF
        mem[1024 + i] ^= 0xFF
    a, kp, disp = make_app(st=store.Store(store.TwoSlot(store.NvmSlot(mem, 0, 1024),
                                                        store.NvmSlot(mem, 1024, 1024))))
    assert a.store.damaged
    eq(a.boot()[0], "COUNTER")
    out = run_keys(a, kp, TOKEN + "#")
    eq(out[0], "COUNTER")
    eq(a.store.last()[2], "pending")
    eq(a.lib.sent, [])
    eq(a.resync()[0], "RESYNCED")
    eq(a.store.value, 501)  # past the meter's frame counter (the fake's 500)
    eq(run_keys(a, kp, "R")[0], "ACCEPTED")


def _torn_store():
    """A store whose only record fails its check (both copies torn): corrupt, not missing."""
    st, mem = ram_store()
    st.resync(1000)
    for i in range(40, 60):
        mem[i] ^= 0xFF
        mem[1024 + i] ^= 0xFF
    return store.Store(store.TwoSlot(store.NvmSlot(mem, 0, 1024),
                                     store.NvmSlot(mem, 1024, 1024)))


def _read_counter_first(a, disp, out, label):
    eq(out[0], label, "%s" % (out,))
    eq(a.lib.counter_reads, 1, "frame counter reads")
    assert disp.seen("reading meter") and disp.seen("from meter: 501"), disp.frames
    assert a.store.known and a.store.value > 501, a.store.value


@test
def fresh_board_check_button_reads_the_meter_counter():
    a, kp, disp = make_app(resync=False)
    assert a.store.missing and not a.store.damaged
    assert "missing" in a.store.problem and "corrupt" not in a.store.problem, a.store.problem
    out = run_keys(a, kp, "R")  # nothing pending: the check (token_status) opens a session
    _read_counter_first(a, disp, out, "METER: execution-ok")


@test
def fresh_board_resend_button_reads_the_meter_counter():
    a, kp, disp = make_app(resync=False)
    a.store.add(TOKEN)  # journaled, never sent (power cut before the session)
    out = run_keys(a, kp, "R")
    _read_counter_first(a, disp, out, "ACCEPTED")
    eq(a.lib.sent, [TOKEN])
    eq(a.store.last()[2], "accepted")


@test
def fresh_board_repl_enter_and_status_read_the_meter_counter():
    import tokenpad as tp

    a, kp, disp = make_app(resync=False)
    tp.use(a)
    tp.status()  # says MISSING; reads nothing
    eq(a.lib.counter_reads, 0)
    tp.enter(TOKEN)
    _read_counter_first(a, disp, a.outcome, "ACCEPTED")
    a, kp, disp = make_app(resync=False)
    tp.use(a)
    tp.status(True)  # with the meter: the check reads the counter first
    _read_counter_first(a, disp, a.outcome, "METER: execution-ok")


@test
def corrupt_counter_fails_closed_in_every_action():
    word = "invocation counter corrupt: run tp.resync()"
    for action in ("#", "R check", "R resend", "tp.enter"):
        a, kp, disp = make_app(st=_torn_store())
        assert a.store.damaged and not a.store.missing
        assert a.store.problem.startswith("invocation counter corrupt"), a.store.problem
        if action == "#":
            out = run_keys(a, kp, TOKEN + "#")
        elif action == "R check":
            out = run_keys(a, kp, "R")
        elif action == "R resend":
            a.store.add(TOKEN)
            out = run_keys(a, kp, "R")
        else:
            out = a.enter(TOKEN)
        eq(out, ("COUNTER", word), action)
        eq(a.lib.counter_reads, 0, action + ": never read over a corrupt counter")
        eq(a.lib.sent, [], action)
        assert not a.store.known, action


@test
def bad_settings_refuse_to_send():
    conf = dict(CONF)
    conf["ek"] = "0011"
    conf["encoding"] = "ebcdic"
    a, kp, disp = make_app(conf=conf)
    eq(a.boot()[0], "SETTINGS")
    out = run_keys(a, kp, TOKEN + "#")
    eq(out[0], "SETTINGS")
    assert "ek" in out[1] and "encoding" in out[1], out
    eq(a.lib.sent, [])


@test
def pending_shown_at_boot():
    st, mem = ram_store()
    st.resync(10)
    a, kp, disp = make_app("noanswer", st=st)
    run_keys(a, kp, TOKEN + "#")
    st2, _ = ram_store(mem)  # reboot on the same nvm
    b, kp2, disp2 = make_app(st=st2)
    out = b.boot()
    eq(out[0], "1 PENDING")
    assert "1781 3034" in out[1], out


@test
def asyncio_loop_runs_keys():
    try:
        import asyncio
    except ImportError:
        import uasyncio as asyncio
    a, kp, disp = make_app()
    kp.type(TOKEN + "#")
    asyncio.run(a.run(poll_ms=1, until=lambda: not kp.events))
    eq(a.outcome[0], "ACCEPTED")
    assert disp.frames[0][0] == "READY", disp.frames[0]


@test
def repl_helpers_print():
    import tokenpad as tp

    a, kp, disp = make_app()
    tp.use(a)
    tp.enter(TOKEN)
    tp.status()
    tp.history()
    tp.config()
    eq(a.store.last()[2], "accepted")
    text = "\n".join(a.cfg.masked())
    assert EK not in text and AK not in text and "hidden" in text


@test
def uart_rs485_direction():
    log = []
    de = FakePin(log=log)
    s = uart.UartStream(FakeUart(log), de, 1, 9600)
    eq(log, [0])
    s.write(b"\x7e\xa0\x07")
    eq(log, [0, 1, "w", 0])
    buf = bytearray(8)
    eq(s.readinto(buf), 2)
    eq(s.readinto(buf), 0)  # None (nothing yet) reads as 0


def _matrix(pressed):
    """A 4x4 ScanMatrix on fake pins (rows 0-3, columns 10-13) whose keys in ``pressed``
    ((row, column) pairs, changed by the test as it goes) read as held down."""
    pins = {}

    class Pin(FakePin):
        def __init__(self, n, mode=None, pull=None, value=None):
            super().__init__(n, mode, pull, value)
            pins[n] = self

        def value(self, v=None):
            if v is not None or self.n < 10:
                return FakePin.value(self, v)
            for r, c in pressed:
                if c == self.n - 10 and pins[r].v == 0:
                    return 0
            return 1

    return keypad.ScanMatrix([0, 1, 2, 3], [10, 11, 12, 13], debounce_ms=0, interval_ms=0,
                             pin=Pin)


@test
def matrix_scan_with_debounce():
    pressed = [(1, 2)]  # row 1, column 2 -> "6"
    m = _matrix(pressed)
    eq(m.poll(), None)  # the scan at construction is the baseline: "6" held then is no press
    eq(m.poll(), None)
    pressed.clear()
    eq(m.poll(), None)  # released: seen, not yet stable
    eq(m.poll(), None)  # stable release of a key never pressed since start: no event
    pressed.append((1, 2))
    eq(m.poll(), None)  # first sight of the change: not yet stable
    ev = m.poll()
    eq((ev[0], ev[1]), ("6", True))
    pressed.clear()
    m.poll()
    ev = m.poll()
    eq((ev[0], ev[1]), ("6", False))


@test
def key_pressed_before_the_first_poll_counts():
    """The baseline is taken when the keypad is built (before READY): a key pressed after
    that and before the app's first poll is a press, not a key "held at start" (a lost
    first digit when the app loop started late on a busy machine)."""
    pressed = []
    m = _matrix(pressed)
    pressed.append((0, 0))  # "1", down before the loop has polled once
    eq(m.poll(), None)  # first sight of the change: not yet stable
    ev = m.poll()
    eq((ev[0], ev[1]), ("1", True))


@test
def every_pin_reading_pressed_gives_no_phantom_keys():
    class Low(FakePin):  # an emulator without GPIO inputs: every input reads 0 (pressed)
        def value(self, v=None):
            return FakePin.value(self, v) if v is not None else 0

    m = keypad.ScanMatrix([0, 1, 2, 3], [10, 11, 12, 13], debounce_ms=0, interval_ms=0,
                          pin=Low)
    b = keypad.Button([4], "R", 0, debounce_ms=0, interval_ms=0, pin=Low)
    for _ in range(20):
        eq(m.poll(), None)
        eq(b.poll(), None)


@test
def console_keypad_hook():
    class Stream:
        def __init__(self, data):
            self.data = data

        def readinto(self, buf):
            if not self.data:
                return 0
            buf[0] = self.data[0]
            self.data = self.data[1:]
            return 1

    st = Stream(b"17 81x!R#\r\n")
    c = keypad.Console(st, lambda: bool(st.data))
    evs = []
    ev = c.poll()
    while ev is not None:
        evs.append(ev)
        ev = c.poll()
    eq([(k, p) for k, p, _ in evs], [("1", True), ("1", False), ("7", True), ("7", False),
                                      ("8", True), ("8", False), ("1", True), ("1", False),
                                      ("*", True), ("*", False), ("R", True), ("R", False),
                                      ("#", True), ("#", False)])
    eq(tapp._diff(evs[9][2], evs[8][2]), 1000)  # "!": a long press of * (clear)
    a, kp, disp = make_app()
    st = Stream(TOKEN.encode() + b"#")
    a.inputs = [keypad.Console(st, lambda: bool(st.data))]
    eq(a.step()[0], "ACCEPTED")
    eq(a.lib.sent, [TOKEN])


@test
def display_wrap():
    eq(display.wrap("REJECTED: meter says type-unmatched (12)", 16),
       ["REJECTED: meter", "says", "type-unmatched", "(12)"])
    d = tpfakes.FakeDisplay(cols=16, rows=2)
    d.show("1781 3034 3131 9155 8529")
    eq(d.last(), ("1781 3034 3131", "9155 8529"))
    d.tick(0)
    d.tick(5000)
    eq(len(d.frames), 1)  # it fits: no paging


@test
def small_display_pages_through_the_reason():
    d = tpfakes.FakeDisplay(cols=16, rows=2)
    d.show("REJECTED", "token refused: already used, expired or out of order")
    eq(d.last(), ("REJECTED", "token refused:"))
    d.tick(1000)
    d.tick(2000)
    eq(len(d.frames), 1)  # not before PAGE_MS
    seen = []
    for t in range(2500, 9000, 1500):
        d.tick(t)
        seen.append(d.last())
    eq(seen[:4], [("REJECTED", "already used,"), ("REJECTED", "expired or out"),
                  ("REJECTED", "of order"), ("REJECTED", "token refused:")])


# -- end to end against the simulator --------------------------------------------------------

# -- encoding auto (issue 20), with the fake library --------------------------------------
def auto_app(mode, then="accept", lose_at=None, conf=None, st=None):
    a, kp, disp = make_app(conf=conf, st=st)
    a._lib = FakeLib(mode, then, lose_at)
    return a, kp, disp


@test
def auto_finds_bcd_says_it_once_and_remembers():
    st, mem = ram_store()
    st.resync(1000)
    a, kp, disp = auto_app("want:bcd", st=st)
    eq(a.cfg["encoding"], "auto")  # the default for a new config.json
    out = run_keys(a, kp, TOKEN + "#")
    eq(out[0], "ACCEPTED (meter wants BCD; remembered)", "%s" % (out,))
    eq(a.lib.forms, ["ascii", "digits", "bcd"])
    assert disp.seen("ACCEPTED (meter wants") and disp.seen("BCD; remembered)"), disp.frames
    assert disp.seen("as digits") and disp.seen("as bcd"), disp.frames
    eq(a.store.last()[2:], ["accepted", "ascii:12 digits:12 bcd:accepted"])
    eq(a.store.form(a.cfg.context()), "bcd")
    out = run_keys(a, kp, TOKEN2 + "#")  # the next token goes in one attempt, said plainly
    eq(out[0], "ACCEPTED")
    eq(a.lib.forms[3:], ["bcd"])
    eq(a.store.last()[3], "bcd:accepted")
    st2, _ = ram_store(mem)  # a power cycle keeps the memory
    eq(st2.form(a.cfg.context()), "bcd")
    c = dict(CONF)
    c["system_title"] = "4D4D4D0000000003"  # another meter's security context
    b, kp2, _ = auto_app("want:bcd", conf=c, st=st2)
    eq(st2.form(b.cfg.context()), None)
    eq(run_keys(b, kp2, TOKEN + "#")[0], "ACCEPTED (meter wants BCD; remembered)")
    eq(b.lib.forms, ["ascii", "digits", "bcd"])


@test
def auto_each_form_and_a_meter_taking_all():
    for want in ("ascii", "digits", "bcd", "hex"):
        a, kp, disp = auto_app("want:" + want)
        out = run_keys(a, kp, TOKEN + "#")
        order = ["ascii", "digits", "bcd", "hex"]
        eq(a.lib.forms, order[:order.index(want) + 1])
        eq(out[0], "ACCEPTED" if want == "ascii" else
           "ACCEPTED (meter wants %s; remembered)" % want.upper())
        eq(a.store.form(a.cfg.context()), want)
    a, kp, disp = auto_app("accept")  # a meter that takes every form
    eq(run_keys(a, kp, TOKEN + "#")[0], "ACCEPTED")
    eq(a.lib.forms, ["ascii"])


@test
def auto_stops_at_a_real_refusal():
    for then, label in (("refuse", "REJECTED"), ("other", "REJECTED")):
        a, kp, disp = auto_app("want:digits", then)
        out = run_keys(a, kp, TOKEN + "#")
        eq(out[0], label, "%s" % (out,))
        eq(a.lib.forms, ["ascii", "digits"])  # never bcd after a refusal
        eq(a.store.last()[2], "refused")
        assert a.store.last()[3].startswith("ascii:12 digits:"), a.store.last()
        eq(a.store.form(a.cfg.context()), None)  # only an accepted form is remembered


@test
def auto_lost_answer_mid_sequence_is_unknown():
    a, kp, disp = auto_app("want:hex", lose_at=2)
    out = run_keys(a, kp, TOKEN + "#")
    eq(out[0], "NO ANSWER", "%s" % (out,))
    eq(a.lib.forms, ["ascii", "digits"])  # stop: no third form after no answer
    eq(a.store.last()[2:], ["unknown", "ascii:12 digits:unknown no-answer"])
    eq(a.store.form(a.cfg.context()), None)


@test
def fixed_encoding_and_repl_override():
    import tokenpad as tp

    c = dict(CONF)
    c["encoding"] = "ascii"
    a, kp, disp = auto_app("want:bcd", conf=c)
    out = run_keys(a, kp, TOKEN + "#")  # a fixed encoding: today's single attempt
    eq(out[0], "REJECTED")
    assert "type-unmatched (12)" in out[1], out
    eq(a.lib.forms, ["ascii"])
    eq(a.store.forms, [])
    tp.use(a)
    tp.enter(TOKEN, encoding="auto")
    eq(a.outcome[0], "ACCEPTED (meter wants BCD; remembered)")
    tp.enter(TOKEN2, encoding="bcd")
    eq(a.outcome[0], "ACCEPTED")
    eq(a.lib.forms, ["ascii", "ascii", "digits", "bcd", "bcd"])
    eq(a.enter(TOKEN2, encoding="ebcdic")[0], "SETTINGS")
    eq(len(a.lib.forms), 5)


@test
def auto_form_not_remembered_is_said():
    a, kp, disp = auto_app("want:hex")

    def full(context, form):
        raise OSError("flash full")

    a.store.remember = full
    out = run_keys(a, kp, TOKEN + "#")
    eq(out[0], "ACCEPTED (meter wants HEX; not remembered: flash full)", "%s" % (out,))
    eq(a.store.last()[2], "accepted")


@test
def auto_every_form_refused():
    a, kp, disp = auto_app("type12")
    out = run_keys(a, kp, TOKEN + "#")
    eq(out[0], "REJECTED")
    assert "every token form (ascii, digits, bcd, hex)" in out[1], out
    eq(a.lib.forms, ["ascii", "digits", "bcd", "hex"])


_peak = [0]


def _mark():
    gc.collect()
    if MICROPYTHON:
        _peak[0] = max(_peak[0], gc.mem_alloc())


def e2e_app(conf=None, dead=False):

    c = dict(CONF)
    c.update(conf or {})
    st = _E2E.get("store")
    if st is None:
        st, _ = ram_store()
        _E2E["store"] = st
    kp = tpfakes.FakeKeypad()
    disp = tpfakes.FakeDisplay(cols=21, rows=8)
    url = tpfakes.sim_url()

    def open_stream():
        _mark()
        if dead:
            return uart.UartStream(tpfakes.DeadUart(), FakePin(), 1, 9600)
        return tpfakes.BridgedStream(tpfakes.SocketUart(url), FakePin(), 1, 9600)

    a = tapp.App(settings.Config(c), st, disp, [kp], open_stream)  # the real library
    return a, kp, disp


_E2E = {}


def e2e_resync_then_accepted():
    a, kp, disp = e2e_app()
    out = a.resync()
    eq(out[0], "RESYNCED", "%s" % (out,))
    out = run_keys(a, kp, "1781 3034 3131 9155 8529 #")
    _mark()
    eq(out[0], "ACCEPTED", "%s" % (out,))
    for word in ("CONNECTING", "AUTH", "SENDING", "ACCEPTED"):
        assert disp.seen(word), (word, disp.frames)
    eq(a.store.last()[2], "accepted")


def e2e_same_token_refused():
    a, kp, disp = e2e_app()
    out = run_keys(a, kp, TOKEN + "#")
    eq(out[0], "REJECTED", "%s" % (out,))
    assert "already used" in out[1], out
    eq(a.store.last()[2], "refused")


def e2e_wrong_encoding_refused():
    a, kp, disp = e2e_app({"encoding": "bcd"})
    out = run_keys(a, kp, TOKEN2 + "#")
    eq(out[0], "REJECTED", "%s" % (out,))
    assert "type-unmatched" in out[1], out


def e2e_unplugged_probe_no_answer():
    a, kp, disp = e2e_app({"timeout_ms": 300, "retries": 0}, dead=True)
    out = run_keys(a, kp, "0571 8854 5901 9721 1241 #")
    eq(out[0], "NO ANSWER", "%s" % (out,))
    assert disp.seen("NO ANSWER")
    eq(a.store.last()[2], "pending")


def e2e_resend_pending_then_check_status():
    a, kp, disp = e2e_app()
    out = run_keys(a, kp, "R")  # the token left pending by the unplugged probe
    eq(out[0], "ACCEPTED", "%s" % (out,))
    eq(a.store.pending(), [])
    out = run_keys(a, kp, "R")  # nothing pending: ask the meter
    eq(out[0], "METER: execution-ok", "%s" % (out,))
    assert "0571 8854 5901 9721 1241" in out[1], out


for _f in (e2e_resync_then_accepted, e2e_same_token_refused, e2e_wrong_encoding_refused,
           e2e_unplugged_probe_no_answer, e2e_resend_pending_then_check_status):
    test(_f)


def run():
    try:
        main()
    finally:
        if "pidfile" in tpfakes._sim:
            tpfakes.stop_sim()
        if MICROPYTHON:
            print("end-to-end peak heap: %d bytes used (after gc) of %d" % (
                _peak[0], gc.mem_alloc() + gc.mem_free()))
