"""Board files (boards/*.json, deployed as /board.json): load and validate the wiring.

A board file is all a user edits to port tokenpad to their wiring. ``load(path)`` returns
the dict with defaults filled in, or raises ``ConfigError`` listing every problem, e.g.
``board.json: keypad.rows: needs 4 pins, found 3``. Pins are GPIO numbers on MicroPython
and ``board`` module names ("D5", "TX") on CircuitPython.
"""

RUNTIMES = ("micropython", "circuitpython")
DISPLAYS = ("console", "ssd1306", "hd44780")
KEYMAP = "123A456B789C*0#D"


def validate(b):
    """-> list of problems (empty when the board file is usable)."""
    if not isinstance(b, dict):
        return ["the board file must hold one JSON object {...}"]
    rt = b.get("runtime")
    errs = []
    used = {}

    # the checks are closures over errs/used, not methods of a checker object: no class,
    # method or attribute names interned at every boot (issue 26)
    def err(name, text):
        errs.append("%s: %s" % (name, text))

    def pin(v, name, required=True):
        if v is None:
            if required:
                err(name, "a pin is required")
            return
        if rt == "micropython":
            ok = isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 48
            want = "a GPIO number 0..48"
        else:
            ok = isinstance(v, str) and len(v) > 0 and (v[0].isalpha() or v[0] == "_")
            want = 'a board pin name such as "D5"'
        if not ok:
            err(name, "must be %s, got %r" % (want, v))
            return
        if v in used:
            err(name, "pin %s is already used by %s" % (v, used[v]))
        else:
            used[v] = name

    def number(v, low, high, name):
        if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
            err(name, "must be a whole number %d..%d, got %r" % (low, high, v))

    # "uart." + key, not "uart.tx" and the like: a short string constant is interned for good
    w_u = "uart."
    w_s = "store."
    stores = ("file", "nvm", "twofile")
    if rt not in RUNTIMES:
        err("runtime", "must be %s, got %r" % (" or ".join(RUNTIMES), rt))
    if not isinstance(b.get("name"), str):
        err("name", "a short text naming the board is required")
    u = b.get("uart")
    if not isinstance(u, dict):
        err("uart", "missing: {\"id\": .., \"tx\": .., \"rx\": .., \"baud\": ..}")
    else:
        if rt == "micropython":
            number(u.get("id"), 0, 5, w_u + "id")
        pin(u.get("tx"), w_u + "tx")
        pin(u.get("rx"), w_u + "rx")
        pin(u.get("rs485_de"), "uart.rs485_de", required=False)
        number(u.get("baud", 9600), 300, 115200, w_u + "baud")
        if u.get("de_active", 1) not in (0, 1):
            err("uart.de_active", "must be 1 (DE high while sending) or 0")
        number(u.get("rxbuf", 256), 64, 8192, w_u + "rxbuf")
    k = b.get("keypad")
    if not isinstance(k, dict):
        err("keypad", "missing: a 4x4 matrix {\"type\": \"matrix\", \"rows\": [...], "
              "\"cols\": [...]} or {\"type\": \"buttons\", \"pins\": {\"key\": pin}}")
    elif k.get("type", "matrix") == "matrix":
        for part in ("rows", "cols"):
            pins = k.get(part)
            if not isinstance(pins, list) or len(pins) != 4:
                err("keypad." + part, "needs 4 pins, found %s"
                      % (len(pins) if isinstance(pins, list) else "none"))
                continue
            for i, p in enumerate(pins):
                pin(p, "keypad.%s[%d]" % (part, i))
        keys = k.get("keys", KEYMAP)
        if not isinstance(keys, str) or len(keys) != 16:
            err("keypad.keys", "must be 16 characters, row by row, e.g. %s" % KEYMAP)
        elif "#" not in keys or "*" not in keys or any(str(d) not in keys for d in range(10)):
            err("keypad.keys", "must contain 0-9, * (backspace) and # (send)")
    elif k.get("type") == "buttons":
        pins = k.get("pins")
        if not isinstance(pins, dict) or not pins:
            err("keypad.pins", "must map each key character to a pin, e.g. {\"#\": 3}")
        else:
            for key in sorted(pins):
                if len(key) != 1:
                    err("keypad.pins", "key %r must be one character" % key)
                pin(pins[key], "keypad.pins[%s]" % key)
    elif k.get("type") != "console":  # console: keys typed at the REPL (a test hook)
        err("keypad.type", "must be \"matrix\", \"buttons\" or \"console\", got %r"
              % k.get("type"))
    r = b.get("resend")
    if r is not None:
        if not isinstance(r, dict):
            err("resend", "must be {\"pin\": .., \"active\": 0} or null")
        else:
            pin(r.get("pin"), "resend.pin")
            if r.get("active", 0) not in (0, 1):
                err("resend.active", "must be 0 (pressed pulls low) or 1")
    d = b.get("display", {"type": "console"})
    if not isinstance(d, dict) or d.get("type") not in DISPLAYS:
        err("display.type", "must be one of %s" % ", ".join(DISPLAYS))
    elif d["type"] != "console":
        i2c = d.get("i2c")
        if not isinstance(i2c, dict):
            err("display.i2c", "missing: {\"scl\": .., \"sda\": ..}")
        else:
            if rt == "micropython":
                number(i2c.get("id", 0), 0, 2, "display.i2c.id")
            pin(i2c.get("scl"), "display.i2c.scl")
            pin(i2c.get("sda"), "display.i2c.sda")
            number(i2c.get("freq", 100000), 10000, 1000000, "display.i2c.freq")
        number(d.get("address", 0x3C if d["type"] == "ssd1306" else 0x27), 8, 0x77,
              "display.address")
        if d["type"] == "ssd1306":
            number(d.get("width", 128), 32, 128, "display.width")
            if d.get("height", 64) not in (32, 64):
                err("display.height", "must be 32 or 64")
        else:
            number(d.get("cols", 16), 8, 40, "display.cols")
            number(d.get("rows", 2), 1, 4, "display.rows")
    s = b.get("store", {"type": "file"})
    if not isinstance(s, dict) or s.get("type") not in stores:
        err(w_s + "type", "must be one of %s" % ", ".join(stores))
    elif s["type"] == "nvm":
        if rt != "circuitpython":
            err(w_s + "type", "nvm is CircuitPython's microcontroller.nvm; use file on "
                  "MicroPython (littlefs)")
        number(s.get("offset", 0), 0, 65536, "store.offset")
        number(s.get("size", 4096), 256, 65536, w_s + "size")
    elif "path" in s and not (isinstance(s["path"], str) and s["path"].startswith("/")):
        err(w_s + "path", "must be an absolute path such as /tokenpad.dat")
    if b.get("write_enable") is not None:
        pin(b["write_enable"], "write_enable")
    return errs


def _fail(text):
    """Raise ConfigError (kind "board"); udlms.errors is imported only to raise, so a good
    board file interns none of its names at startup (issue 26)."""
    from udlms.errors import ConfigError

    raise ConfigError(text, "board")


def check(b, source="board.json"):
    """Validate a parsed board dict; raise ConfigError naming every problem."""
    errs = validate(b)
    if errs:
        _fail("%s has %d problem(s): %s" % (source, len(errs), "; ".join(errs)))
    # the defaults filled in here, not by a function of its own (one name less, issue 26)
    b = dict(b)
    u = dict(b["uart"])
    u.setdefault("rs485_de", None)
    u.setdefault("de_active", 1)
    u.setdefault("baud", 9600)
    b["uart"] = u
    k = dict(b["keypad"])
    k.setdefault("type", "matrix")
    k.setdefault("keys", KEYMAP)
    b["keypad"] = k
    b.setdefault("resend", None)
    b.setdefault("display", {"type": "console"})
    b.setdefault("store", {"type": "file", "path": "/tokenpad.dat"})
    return b


def load(path="board.json"):
    import json

    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        _fail("%s not found: deploy one of boards/*.json as %s" % (path, path))
    try:
        b = json.loads(text)
    except ValueError as e:
        _fail("%s is not valid JSON (%s)" % (path, e))
    return check(b, path)


def open_store(spec, root=""):
    """Build a :class:`tokenpad.store.Store` from a board's ``store`` section (here, not in
    the store: only building the app needs it, issue 26).

    ``{"type": "file", "path": "/tokenpad.dat"}`` (littlefs, host) or ``{"type": "nvm",
    "offset": 0, "size": 4096}`` (CircuitPython: a log of records in the nvm region) or
    ``{"type": "twofile", "path": "/tokenpad"}`` (two files ``.a``/``.b`` on FAT)."""
    from tokenpad.store import FileMedium, Store

    kind = spec.get("type", "file")
    if kind == "file":
        return Store(FileMedium(root + spec.get("path", "/tokenpad.dat")))
    if kind == "nvm":
        import microcontroller

        nvm = microcontroller.nvm
        off = spec.get("offset", 0)
        size = min(spec.get("size", len(nvm) - off), len(nvm) - off)
        from tokenpad.nvmlog import NvmLog

        return Store(NvmLog(nvm, off, size))
    if kind == "twofile":
        from tokenpad.twoslot import FileSlot, TwoSlot

        p = root + spec.get("path", "/tokenpad")
        return Store(TwoSlot(FileSlot(p + ".a"), FileSlot(p + ".b")))
    raise ValueError("unknown store type %r" % (kind,))


def build(board_path="board.json", config_path="config.json", with_inputs=False):
    """An App from the board and config files: its display (the console when none is
    configured, or when it fails to start), its key sources when ``with_inputs`` (the keypad,
    matrix or buttons, and the resend button), its store; main.py's start and ``tp.build``.
    Loaded only to build (issue 26: one function, and a board's other parts named by their
    module, not imported by dotted name: fewer names interned for good at every boot)."""
    from tokenpad import app as _a
    from tokenpad import settings as _c

    b = load(board_path)
    cfg = _c.load(config_path)
    st = open_store(b["store"])
    cp = b["runtime"] == "circuitpython"
    disp = None
    d = b.get("display") or {"type": "console"}
    t = d.get("type", "console")
    if t != "console":  # -- the display (tokenpad.display, tokenpad.ssd1306)
        try:
            i = d["i2c"]
            if cp:
                import board
                import busio

                i2c = busio.I2C(getattr(board, i["scl"]), getattr(board, i["sda"]),
                                frequency=i.get("freq", 100000))
            else:
                from machine import I2C, Pin

                i2c = I2C(i.get("id", 0), scl=Pin(i["scl"]), sda=Pin(i["sda"]),
                          freq=i.get("freq", 100000))
            if t == "ssd1306":
                from tokenpad import ssd1306

                disp = ssd1306.Ssd1306(i2c, d.get("address", 0x3C), d.get("width", 128),
                                       d.get("height", 64))
            else:
                from tokenpad import display

                disp = display.Hd44780(i2c, d.get("address", 0x27), d.get("cols", 16),
                                       d.get("rows", 2))
        except Exception as e:  # noqa: BLE001 - no display is no reason not to work
            print("display: %s (using the console)" % (e,))
    if disp is None:
        from tokenpad import console

        disp = console.Console()
    inputs = []
    k = b["keypad"]
    if with_inputs:  # -- the key sources (tokenpad.keypad; tokenpad.keypad_ext; keyhook)
        if cp:  # the core scans: no pin scanning code loaded (issue 26)
            import board

            from tokenpad import keypad_ext as kp

            def p(name):
                return getattr(board, name)
        else:
            if k.get("type") != "console" or b.get("resend"):
                from tokenpad import keypad as kp

            def p(name):
                return name
        if k.get("type") == "console":  # test hook: keys typed on the REPL
            from tokenpad import keyhook

            inputs.append(keyhook.Console())
        elif k.get("type", "matrix") == "matrix":
            rows = [p(x) for x in k["rows"]]
            cols = [p(x) for x in k["cols"]]
            keys = k.get("keys", KEYMAP)
            inputs.append(kp.KeyMatrix(rows, cols, keys) if cp else kp.ScanMatrix(rows, cols, keys))
        else:
            names = sorted(k["pins"])
            pins = [p(k["pins"][n]) for n in names]
            keys = "".join(names)
            inputs.append(kp.KeyMatrix(keys=keys, pins=pins) if cp else kp.Button(pins, keys))
        r = b.get("resend")
        if r:
            act = r.get("active", 0)
            inputs.append(kp.KeyMatrix(keys="R", pins=[p(r["pin"])], active=act)  # resend: "R"
                          if cp else kp.Button([r["pin"]], "R", act))
    a = _a.App(cfg, st, disp, inputs)  # its meter port: App.port, from a.board (uart)
    a.baud = cfg["baud"] if cfg.ok else b["uart"]["baud"]
    u = b["uart"]
    if "rxbuf" not in u:  # one whole frame the meter may send (window 1): info + framing
        u["rxbuf"] = max(256, (cfg["max_info"] if cfg.ok else 128) + 32)
    a.board = {"runtime": b["runtime"], "uart": u}  # what App.port needs, no more
    return a
