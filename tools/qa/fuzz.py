"""Fuzz the decoders with a seeded mutation loop: only udlms's own errors may escape.

Targets: the HDLC ``Receiver`` (random chunking), ``axdr.decode``/``decode_typed``,
``apdu.parse_aare``, ``apdu.parse_response`` (+ ``parse_initiate_response``/``parse_rlre``),
``Security.unprotect``, ``decode.decode_text`` (``udlms decode``), ``push`` (one APDU through
the decoder's explainer: data-notification bodies, general-block-transfer, ciphered pushes,
with the real traffic's key) and ``mbus`` (M-Bus frames and HDLC/GBT push traces from real
meters, as hex lines split at random points). Inputs are mutations (bit flips, byte sets,
inserts of hostile length fields such as 82 FF FF / 84 FF FF FF FF, deletes, duplicates,
truncation, splices) of valid APDUs and frames from host_tests/golden/*.json and
../shared/data/real-traffic.json (when present), plus purely random bytes. Any exception
that is not an ``errors.DlmsError`` is a failure; a sample of inputs is run under tracemalloc and an
allocation peak over ``MAX_PEAK`` bytes (``udlms decode``: plus 32 bytes per input byte, it
keeps a whole trace's text) is a failure too.

    .venv/bin/python -m tools.qa.fuzz              # short run (about 50,000 inputs)
    .venv/bin/python -m tools.qa.fuzz --long       # >= 1,000,000 inputs (make fuzz)
    .venv/bin/python -m tools.qa.fuzz --target axdr --count 100000 --seed 5

host_tests/test_fuzz.py drives the same targets with hypothesis.
"""

import argparse
import binascii
import json
import os
import random
import sys
import time
import tracemalloc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.path.join(ROOT, "lib") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "lib"))

from udlms.cosem import apdu, axdr, obis  # noqa: E402
from udlms.link import hdlc  # noqa: E402
from udlms.crypto import security  # noqa: E402
from udlms.errors import DlmsError  # noqa: E402

MAX_PEAK = 64 * 1024
GOLDEN = os.path.join(ROOT, "host_tests", "golden")
HOSTILE_LENGTHS = (b"\x82\xff\xff", b"\x84\xff\xff\xff\xff", b"\x83\xff\xff\xff", b"\x80",
                   b"\xff", b"\x81\xff", b"\x7f", b"\x00")
INTERESTING = (0x00, 0x01, 0x7E, 0x7F, 0x80, 0x81, 0x82, 0x84, 0xFF, 0xA0, 0xE6, 0x09, 0x01,
               0x02, 0x13)

_SEC = json.load(open(os.path.join(GOLDEN, "security.json")))
# real meters' push traffic is data from other projects: it lives in ../shared/data only
REAL_TRAFFIC = os.path.join(os.path.dirname(ROOT), "shared", "data", "real-traffic.json")
_REAL = (json.load(open(REAL_TRAFFIC))["cases"] if os.path.isfile(REAL_TRAFFIC) else None)
# targets whose seeds all come from that data: not run without it
REAL_ONLY = ("push", "mbus")
_PUSH_EK = bytes.fromhex("101112131415161718191A1B1C1D1E1F")  # Tirol and L+G E570 examples
_EK = bytes.fromhex(_SEC["ek"])
_AK = bytes.fromhex(_SEC["ak"])
_CLIENT = bytes.fromhex(_SEC["client_title"])
_SERVER = bytes.fromhex(_SEC["server_title"])


# -- seeds ----------------------------------------------------------------------------------

def _vectors(name):
    return json.load(open(os.path.join(GOLDEN, name + ".json")))


def _frames():
    out = []
    for case in _vectors("session_gurux")["cases"].values():
        for line in case["frames"]:
            out.append(bytes.fromhex(line.split(":", 1)[1].replace(" ", "")))
    return out


def _ll_info(frames):
    """APDUs carried by golden frames (LLC stripped)."""
    out = []
    for f in frames:
        rx = hdlc.Receiver(1024)
        rx.feed(f)
        fr = rx.next()
        if fr is not None and len(fr.info) > 3 and fr.info[0] == 0xE6:
            out.append(bytes(fr.info[3:]))
    return out


def seeds():
    """{target: [seed inputs]} from the golden data and the spec vectors."""
    frames = _frames()
    apdus = _ll_info(frames)
    reqs = [bytes.fromhex(v["hex"]) for v in _vectors("apdu_requests")["vectors"]]
    resps = [bytes.fromhex(v["hex"]) for v in _vectors("apdu_responses")["vectors"]]
    sec_resp = [bytes.fromhex(v["hex"]) for v in _SEC.get("responses", [])]
    sec_req = [bytes.fromhex(v["hex"]) for v in _SEC.get("requests", [])]
    aares = [a for a in apdus if a[:1] == b"\x61"] + [
        bytes.fromhex("6129A109060760857405080101A203020101A305A103020101BE10040E0800065F1F0400"
                      "001E1D04C80007")]
    axdr_seeds = [v["expect"]["data"] for v in _vectors("apdu_responses")["vectors"]
                  if v.get("expect", {}).get("data")]
    axdr_seeds = [bytes.fromhex(x) for x in axdr_seeds] + [
        b"\x02\x02\x16\x03\x04\x08\x00", b"\x09\x14" + b"1" * 20, b"\x01\x02\x11\x01\x12\x00\x02",
        b"\x0a\x03abc", b"\x04\x0c\xab\xc0", b"\x19" + bytes(12), b"\x17\x3f\x80\x00\x00",
        b"\x18" + bytes(8), b"\x14" + bytes(8), b"\x03\x01", b"\x00", b"\x0d\x12"]
    trace = []
    for case in _vectors("session_gurux")["cases"].values():
        trace.append("\n".join(case["frames"]).encode())
    out = {
        "hdlc": frames + [b"".join(frames[:4])],
        "axdr": axdr_seeds,
        "axdr_typed": axdr_seeds,
        "aare": aares,
        "response": resps + [a for a in apdus if a[:1] in (b"\xc4", b"\xc5", b"\xc7", b"\xd8")],
        "unprotect": sec_resp + [a for a in apdus if a[:1] in (b"\xcc", b"\xcd", b"\xcf",
                                                                b"\xdb", b"\x28")] + sec_req,
        "decode": trace + [b"\n".join(f.hex().encode() for f in frames[:6])] + [
            r.hex().encode() for r in reqs[:8]] + [
            "\n".join(c["trace"]).encode() for c in _REAL or ()],
    }
    if _REAL is not None:
        out["push"] = _push_apdus()
        out["mbus"] = [b"".join(bytes.fromhex(x) for x in c["trace"]) for c in _REAL]
    return out


def _push_apdus():
    """Whole APDUs the real push traces carry (reassembled, ciphered and deciphered), and
    their general-block-transfer blocks. Loads every decoder module first, so that a
    sampled allocation peak never counts a first import."""
    from udlms import results  # noqa: F401
    from udlms.client import token, token_info  # noqa: F401
    from udlms.cosem import obis  # noqa: F401
    from udlms.crypto import gcm  # noqa: F401
    from udlms.host.decode import main as decode
    from udlms.host.decode import (acse as _a, cipher as _c, gbt as _g,  # noqa: F401
                                   hdlc as _h, line as _li, mbus as _m, notify as _n,
                                   obis as _o, xdlms as _x)

    out = []
    for c in _REAL:
        for o in decode.decode_text("\n".join(c["trace"]), ek=_PUSH_EK):
            a = o["apdu"]
            while a is not None:
                if a.get("plain"):
                    out.append(bytes.fromhex(a["plain"]))
                a = a.get("decrypted") or a.get("reassembled")
            if o["hdlc"] and o["hex"]:
                f = bytes.fromhex(o["hex"])
                i = f.find(b"\xe0", 8)
                if 0 < i < 12:
                    out.append(f[i:-3])
                elif f[9:13] == b"\xe6\xe7\x00\x0f" and not f[1] & 8:
                    out.append(f[12:-3])  # a whole data-notification in one frame
        if c["trace"][0][:8] == "E6E7000F":
            out.append(bytes.fromhex(c["trace"][0][6:]))
    return out


# -- targets ----------------------------------------------------------------------------------

def t_hdlc(data, rnd=None):
    """Feed in random chunks (sizes from ``rnd``) and drain every frame."""
    rx = hdlc.Receiver(128 + 16)
    mv = memoryview(data)
    pos = 0
    k = 0
    while pos < len(mv):
        n = 1 + (rnd.randrange(64) if rnd is not None else (data[pos] & 31))
        taken = rx.feed(mv[pos:pos + n])
        pos += taken
        while True:
            f = rx.next()
            if f is None:
                break
            k += 1
            bytes(f.info), bytes(f.dst), bytes(f.src)
        if not taken:
            rx.drop_partial()
    rx.drop_partial()
    return k


def t_axdr(data, rnd=None):
    pos = 0
    while pos < len(data):
        _, pos = axdr.decode(data, pos)


def t_axdr_typed(data, rnd=None):
    pos = 0
    while pos < len(data):
        tag, v, pos = axdr.decode_typed(data, pos)
        obis.typed_text(tag, v)


def t_aare(data, rnd=None):
    a = apdu.parse_aare(data)
    if a.user_info is not None:
        try:
            apdu.parse_initiate_response(a.user_info)
        except DlmsError:
            pass
    repr(a)


def t_response(data, rnd=None):
    r = apdu.parse_response(data)
    repr(r)
    try:
        apdu.parse_rlre(data)
    except DlmsError:
        pass
    try:
        apdu.parse_initiate_response(data)
    except DlmsError:
        pass
    if r.data is not None and r.block is None:
        try:
            axdr.decode(r.data)
        except DlmsError:
            pass


def t_unprotect(data, rnd=None):
    s = security.Security(_EK, _AK, _CLIENT, security.MemoryCounter(1))
    s.server_title = _SERVER
    out = s.unprotect(data)
    try:
        apdu.parse_response(out)
    except DlmsError:
        pass


def t_decode(data, rnd=None):
    from udlms.host.decode import main as decode

    text = data.decode("latin-1")
    for o in decode.decode_text(text, ek=_EK, ak=_AK, client_title=_CLIENT,
                                server_title=_SERVER):
        o["text"]
    for _ in decode.explain_text(text):
        pass


def t_push(data, rnd=None):
    """One APDU through the trace decoder's explainer (with the real traffic's key), then
    the same bytes cut into general-block-transfer blocks."""
    from udlms.host.decode import main as decode
    from udlms.host.decode import apdu as decode_apdu

    dec = decode.Decoder(ek=_PUSH_EK)
    decode_apdu.explain(dec, data, "RX")
    cut = 1 + (rnd.randrange(len(data)) if rnd is not None and data else len(data) // 2)
    parts = [data[:cut], data[cut:]]
    for i, part in enumerate(parts):
        last = 0x80 if i == len(parts) - 1 else 0
        block = bytes((0xE0, 0x40 | last, 0, i + 1, 0, 0)) + _len_bytes(len(part)) + part
        decode_apdu.explain(dec, block, "RX")
    dec.finish()


def _len_bytes(n):
    return bytes((n,)) if n < 0x80 else b"\x82" + n.to_bytes(2, "big")


def t_mbus(data, rnd=None):
    """Frames (M-Bus, HDLC) as hex, split over lines at random points like dumps do."""
    from udlms.host.decode import main as decode

    h = data.hex()
    lines = []
    pos = 0
    while pos < len(h):
        n = 2 * (1 + (rnd.randrange(80) if rnd is not None else 15))
        lines.append(h[pos:pos + n])
        pos += n
    for o in decode.decode_text("\n".join(lines), ek=_PUSH_EK):
        o["text"]
    for o in decode.decode_text(h, ek=_PUSH_EK):
        o["text"]


TARGETS = {
    "hdlc": t_hdlc, "axdr": t_axdr, "axdr_typed": t_axdr_typed, "aare": t_aare,
    "response": t_response, "unprotect": t_unprotect, "decode": t_decode,
    "push": t_push, "mbus": t_mbus,
}


def run_one(name, data, rnd=None):
    """Run one input: returns None, or a failure description (an exception that is not a
    DlmsError)."""
    try:
        TARGETS[name](data, rnd)
    except DlmsError:
        return None
    except Exception as e:  # noqa: BLE001 - exactly what we are hunting for
        return "%s: %s" % (type(e).__name__, e)
    return None


def peak_limit(name, data):
    """Decoders get MAX_PEAK whatever the input says; ``udlms decode`` reads a whole trace
    (text, many frames), so it may also use a bounded amount per input byte."""
    return MAX_PEAK + (32 * len(data) if name in ("decode", "mbus", "push") else 0)


def peak_of(name, data, rnd=None):
    """Allocation peak (bytes) of one input, under tracemalloc."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        run_one(name, data, rnd)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- mutation ----------------------------------------------------------------------------------

def mutate(rnd, data, pool):
    b = bytearray(data)
    for _ in range(1 + rnd.randrange(4)):
        op = rnd.randrange(10)
        n = len(b)
        if op == 0 and n:
            b[rnd.randrange(n)] ^= 1 << rnd.randrange(8)
        elif op == 1 and n:
            b[rnd.randrange(n)] = rnd.choice(INTERESTING)
        elif op == 2:
            p = rnd.randrange(n + 1)
            b[p:p] = rnd.choice(HOSTILE_LENGTHS)
        elif op == 3 and n:
            p = rnd.randrange(n)
            del b[p:p + 1 + rnd.randrange(8)]
        elif op == 4 and n:
            p = rnd.randrange(n)
            q = min(n, p + 1 + rnd.randrange(16))
            b[p:p] = b[p:q]
        elif op == 5 and n:
            del b[rnd.randrange(n):]
        elif op == 6:
            other = rnd.choice(pool)
            p = rnd.randrange(n + 1)
            q = rnd.randrange(len(other) + 1)
            b = b[:p] + bytearray(other[q:])
        elif op == 7:
            p = rnd.randrange(n + 1)
            b[p:p] = bytes(rnd.randrange(256) for _ in range(1 + rnd.randrange(6)))
        elif op == 8 and n:
            p = rnd.randrange(n)  # a length-looking byte right after a tag
            b[p] = rnd.choice((0x81, 0x82, 0x83, 0x84, 0xFF, 0x7F))
        elif op == 9 and n:
            p = rnd.randrange(n)
            b[p] = rnd.randrange(256)
    return bytes(b)


def random_input(rnd, name, pool):
    if rnd.randrange(20) == 0:
        return bytes(rnd.randrange(256) for _ in range(rnd.randrange(80)))
    data = mutate(rnd, rnd.choice(pool), pool)
    if name == "decode" and rnd.randrange(3) == 0:  # keep it looking like a trace
        data = b"RX: " + data.hex().encode()
    return data


def fuzz(name, count, seed=1, sample_every=997, log=None):
    """Run ``count`` inputs on one target; returns (tried, failures list, max_peak)."""
    rnd = random.Random("%s-%d" % (name, seed))
    pool = seeds()[name]
    failures = []
    max_peak = 0
    t0 = time.time()
    for i in range(count):
        data = random_input(rnd, name, pool)
        err = run_one(name, data, rnd)
        if err is None and sample_every and i % sample_every == 0:
            peak = peak_of(name, data, random.Random(i))
            max_peak = max(max_peak, peak)
            if peak > peak_limit(name, data):
                err = "allocation peak %d bytes" % peak
        if err is not None:
            failures.append((err, binascii.hexlify(data).decode()))
            if log:
                log("FAIL %s: %s\n  input %s" % (name, err, failures[-1][1][:400]))
            if len(failures) >= 20:
                break
        if log and i and i % 100000 == 0:
            log("  %s: %d inputs (%.0fs)" % (name, i, time.time() - t0))
    return i + 1 if count else 0, failures, max_peak


# share of the long run per target (the slow ones get fewer inputs)
LONG = {"hdlc": 200000, "axdr": 230000, "axdr_typed": 170000, "aare": 170000,
        "response": 170000, "unprotect": 60000, "decode": 40000, "push": 60000,
        "mbus": 40000}


def _work(args):
    name, count, seed = args
    t0 = time.time()
    tried, failures, peak = fuzz(name, count, seed)
    return name, tried, failures, peak, time.time() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--long", action="store_true", help="the >= 1,000,000-input run")
    p.add_argument("--target", action="append", choices=sorted(TARGETS))
    p.add_argument("--count", type=int, help="inputs per target")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = p.parse_args(argv)
    names = a.target or sorted(TARGETS)
    if _REAL is None:
        for n in REAL_ONLY:
            if n in names:
                print("%-11s not run: no ../shared/data (%s)" % (n, REAL_TRAFFIC), flush=True)
        names = [n for n in names if n not in REAL_ONLY]
    plan = []
    for n in names:
        c = a.count if a.count else (LONG[n] if a.long else LONG[n] // 20)
        plan.append((n, c, a.seed))
    t0 = time.time()
    total = 0
    bad = 0
    pool = None
    if a.jobs > 1:
        from multiprocessing import Pool

        pool = Pool(a.jobs)
        results = pool.imap_unordered(_work, plan, chunksize=1)
    else:
        results = (_work(x) for x in plan)
    for name, tried, failures, peak, dt in results:  # printed as each target finishes
        total += tried
        bad += len(failures)
        print("%-11s %9d inputs  %3d failures  max sampled alloc peak %6d B  (%.0fs)"
              % (name, tried, len(failures), peak, dt), flush=True)
        for err, hx in failures[:5]:
            print("    %s\n      input %s" % (err, hx[:300]), flush=True)
    if pool is not None:
        pool.close()
        pool.join()
    print("total       %9d inputs  %3d failures  (%.0fs wall)" % (total, bad, time.time() - t0))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
