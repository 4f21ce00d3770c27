"""Soak: many token sessions through a faulty line; nothing lost, nothing doubled.

Every session takes a fresh random valid STS token (20 digits, value < 2^66), journals it
as ``pending`` in the tokenpad store (firmware/tokenpad/store.py, on an in-memory medium)
BEFORE anything is sent, and runs connect -> AARQ/HLS -> enter -> token_status through
tools/qa/faultlink.FaultLink to udlms.host.sim (in memory, simulated time: fast and the same
for the same seed). The outcome is journaled as accepted / refused, or ``unknown`` when the
line died after the enter may have reached the meter (``pending`` stays when it never went
out). An unresolved token is never re-sent blindly: the next session first reads the
gateway's token (attribute 2) and token_status (attribute 6); only a token the meter shows
it never received is entered again. The invocation counter is the store's (persisted,
reserve-ahead); the store is re-opened from its medium every ``--reboot-every`` sessions
as a power cycle would.

At the end: sessions, accepted, refused, named errors by kind, tokens entered twice,
counters reused and journal mismatches (the last three must be 0; exit status 1 if not).

    .venv/bin/python -m tools.qa.soak --sessions 1000 [--seed 1] [--timeout-ms 200]
"""

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for _p in (os.path.join(ROOT, "lib"), os.path.join(ROOT, "firmware")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from tools.qa import faultlink  # noqa: E402
from udlms.host.sim import meter as meter_sim  # noqa: E402

from udlms.cosem import axdr  # noqa: E402
from udlms.client import session  # noqa: E402
from udlms.client import token_status  # noqa: E402
from udlms.client import token as tok  # noqa: E402
from udlms.errors import DlmsError  # noqa: E402

CLIENT_TITLE = "4D4D4D0000000001"


# -- the journal and counter store ------------------------------------------------------

class MemMedium:
    """The store's medium kept in RAM (the packed record, as a flash file would hold it)."""

    def __init__(self):
        self.data = None
        self.seq = 0
        self.saves = 0

    def describe(self):
        return "memory"

    def load(self):
        from tokenpad import media

        if self.data is None:
            return None
        r = media.unpack(self.data)
        if r is None:
            raise media.CorruptError("memory record fails its checksum")
        self.seq = r[0]
        return r[1]

    def save(self, payload):
        from tokenpad import media

        self.seq += 1
        self.data = media.pack(self.seq, payload)
        self.saves += 1


def open_store(medium, shadow):
    """The tokenpad store on ``medium``. It keeps only the last few finished entries (its
    record is small), so every add/set is also copied into ``shadow`` {id: [digits, state]}
    for the check against the simulator at the end."""
    from tokenpad import store

    class ShadowedStore(store.Store):
        def add(self, digits, note=""):
            i = store.Store.add(self, digits, note)
            shadow[i] = [digits, "pending"]
            return i

        def set(self, entry_id, state, note=""):
            store.Store.set(self, entry_id, state, note)
            shadow[entry_id][1] = state

    return ShadowedStore(medium)


# -- the simulator, watched ----------------------------------------------------------------

class Watch:
    """What the meter saw: every invocation counter per client (reuse is counted)."""

    def __init__(self):
        self.seen = {}
        self.reused = 0
        self.reused_list = []

    def ic(self, client, ic):
        s = self.seen.setdefault(client, set())
        if ic in s:
            self.reused += 1
            self.reused_list.append((client, ic))
        s.add(ic)


class WatchedAssociation(meter_sim.Association):
    watch = None

    def decipher(self, capdu):
        try:
            plain = meter_sim.Association.decipher(self, capdu)
        except ValueError as e:
            if str(e) == "ic":  # authentic (tag verified) but stale: still a use of that IC
                n, pos = meter_sim._ber_len(capdu, 1)
                self.watch.ic(self.client, int.from_bytes(bytes(capdu[pos + 1:pos + 5]), "big"))
            raise
        self.watch.ic(self.client, self.last_ic)
        return plain

    def hls(self, data):
        res, ret = meter_sim.Association.hls(self, data)
        if res == 0 or (data is not None and len(data) >= 2 + 17):
            proof = bytes(data[2:2 + data[1]])
            ic = int.from_bytes(proof[1:5], "big")
            if res == 0 or proof[5:] == self._gmac(self.client_title, ic, self.stoc):
                self.watch.ic(("hls", self.client), ic)
        return res, ret


class WatchedServer(meter_sim.HdlcServer):
    def apdu(self, req):
        if req and req[0] == 0x60:
            self.assoc = WatchedAssociation(self.meter, self.client)
            return self.assoc.aarq(req)
        return meter_sim.HdlcServer.apdu(self, req)


def random_token(rng):
    """A fresh valid token: 20 digits with value < 2^66."""
    v = ((rng.u32() << 34) | (rng.u32() << 2) | (rng.u32() & 3)) % (1 << 66)
    return "%020d" % v


# -- the soak ------------------------------------------------------------------------------

class Soak:
    def __init__(self, seed=1, timeout_ms=200, inter_char_ms=50, retries=3, corrupt=0.01,
                 loss=0.01, byte_rates=False, delay=0.02, dup=0.005, cut=0.005, inject=0.005,
                 outage=0.002, reboot_every=97, log=None):
        self.log = log
        self.clock = faultlink.SimClock()
        rates = dict(dup=dup, cut=cut, inject=inject, outage=outage, delay=delay,
                     delay_max_ms=2 * timeout_ms, outage_ms=3 * timeout_ms, latency_ms=3)
        if byte_rates:
            rates.update(byte_corrupt=corrupt, byte_loss=loss)
        else:
            rates.update(corrupt=corrupt, loss=loss)
        self.faults = faultlink.Faults(**rates)
        self.meter = meter_sim.Meter()
        self.watch = Watch()
        WatchedAssociation.watch = self.watch
        self.link = faultlink.FaultLink(self.clock, seed, self.faults, peer_inter_char_ms=100)
        self.server = WatchedServer(self.meter, self.link.peer_write)
        self.link.attach(self.server)
        self.rng = faultlink.Rng(seed ^ 0x5A5A)
        self.settings = session.Settings(
            ek="000102030405060708090A0B0C0D0E0F", ak="D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF",
            system_title=CLIENT_TITLE, timeout_ms=timeout_ms, inter_char_ms=inter_char_ms,
            retries=retries, status_poll_ms=timeout_ms)
        self.medium = MemMedium()
        self.shadow = {}
        self.store = open_store(self.medium, self.shadow)
        self.store.resync(0)  # first use: the meter has seen no counter from us
        self.reboot_every = reboot_every
        self.errors = {}
        self.unnamed = []
        self.tokens = 0
        self.sessions = 0
        self.resolve_sessions = 0
        self.resent_after_check = 0
        self.unknown_seen = 0

    # -- one association ----------------------------------------------------------------
    def _session(self):
        self.sessions += 1
        self.link.drain()  # the UART is flushed before a session, as the firmware does
        return session.Session(self.link, self.settings, self.store)

    def _error(self, e):
        if isinstance(e, DlmsError):
            self.errors[e.kind] = self.errors.get(e.kind, 0) + 1
        else:
            self.unnamed.append("%s: %s" % (type(e).__name__, e))
            self.errors["UNNAMED " + type(e).__name__] = self.errors.get(
                "UNNAMED " + type(e).__name__, 0) + 1

    def _enter(self, sess, entry_id, digits):
        """enter + token_status inside an open session; journals the outcome."""
        st = self.store
        try:
            r = tok.enter_token(sess, digits)
        except Exception as e:  # noqa: BLE001 - every failure is counted by its kind
            self._error(e)
            if sess.token_sent:
                self.unknown_seen += 1
                st.set(entry_id, "unknown", "line failed after the enter: %s"
                       % getattr(e, "kind", type(e).__name__))
            return False
        if r.kind == "unknown":
            self.unknown_seen += 1
            st.set(entry_id, "unknown", r.message)
        else:
            st.set(entry_id, "accepted" if r.accepted else "refused", r.message)
        return True

    def _opened(self):
        """A session opened through the faulty line, or None (the error is counted)."""
        sess = self._session()
        try:
            sess.open()
        except Exception as e:  # noqa: BLE001
            self._error(e)
            return None
        return sess

    def token_session(self, digits):
        st = self.store
        entry_id = st.add(digits)  # journaled BEFORE anything is sent
        sess = self._opened()
        if sess is None:
            return
        try:
            self._enter(sess, entry_id, digits)
        finally:
            sess.close()

    def resolve_session(self):
        """Settle the unresolved journal entry by reading the gateway (never a blind
        re-send): attribute 2 holds the last token the meter received, 6 its status."""
        self.resolve_sessions += 1
        entry = self.store.unresolved()[0]
        entry_id, digits = entry[0], entry[1]
        sess = self._opened()
        if sess is None:
            return
        try:
            try:
                last, _ = axdr.decode(sess.get(tok.CLASS_ID, sess.settings.gateway,
                                               tok.TOKEN))
                code = None
                if bytes(last) == tok.encode(digits, self.settings.encoding):
                    code, _ = tok.read_token_status(sess)
            except Exception as e:  # noqa: BLE001
                self._error(e)
                return
            if code is None:
                # the meter never received it: now (and only now) it is safe to send again
                self.resent_after_check += 1
                self.store.set(entry_id, "pending", "not received by the meter: entering again")
                self._enter(sess, entry_id, digits)
            elif code == 8:
                return  # still processing: ask again later
            else:
                name, msg = token_status.text(code)
                self.store.set(entry_id, "accepted" if code in (0, 1, 2, 3) else "refused",
                               "resolved by token_status: " + msg)
        finally:
            sess.close()

    def run(self, n):
        t0 = time.time()
        with self.clock:
            while self.tokens < n or self.store.unresolved():
                if self.store.unresolved():
                    if self.resolve_sessions > 20 * n + 50:
                        break  # give up: reported as journal mismatches
                    self.resolve_session()
                else:
                    self.tokens += 1
                    self.token_session(random_token(self.rng))
                    if self.reboot_every and self.tokens % self.reboot_every == 0:
                        # power cycle: the store resumes at its persisted ceiling
                        self.store = open_store(self.medium, self.shadow)
                self.clock.advance(1000)  # quiet time between sessions
                if self.log and self.sessions % 100 == 0:
                    self.log("  %d sessions, %d tokens (%.0fs)" % (self.sessions, self.tokens,
                                                                  time.time() - t0))
        self.elapsed = time.time() - t0
        return self.report()

    # -- the verdict ---------------------------------------------------------------------
    def report(self):
        ms = self.meter.state
        journal = [[i, d, st] for i, (d, st) in sorted(self.shadow.items())]
        accepted = [e for e in journal if e[2] == "accepted"]
        refused = [e for e in journal if e[2] == "refused"]
        twice = sorted(d for d, k in ms.enters.items() if k > 1)
        mism = []
        seen = set()
        for e in journal:
            digits, state = e[1], e[2]
            seen.add(digits)
            truth = ("accepted" if digits in ms.accepted else
                     "refused" if ms.enters.get(digits, 0) else "never-received")
            # "pending" is the true state of a token the meter never received (the line
            # never let it through): it was not delivered and the journal says so
            if state != truth and not (state == "pending" and truth == "never-received"):
                mism.append((e[0], digits, state, truth))
        # what the store itself holds (as read back after the last power cycle) must agree
        kept = open_store(self.medium, {}).journal
        for e in kept:
            if self.shadow.get(e[0]) != [e[1], e[2]]:
                mism.append((e[0], e[1], "store says " + e[2], "shadow %r" % (
                    self.shadow.get(e[0]),)))
        for d in ms.accepted:
            if d not in seen:
                mism.append((None, d, "missing from journal", "accepted"))
        if len(journal) != self.tokens:
            mism.append((None, None, "journal has %d entries" % len(journal),
                         "%d tokens" % self.tokens))
        return {
            "tokens": self.tokens, "sessions": self.sessions,
            "resolve_sessions": self.resolve_sessions, "accepted": len(accepted),
            "refused": len(refused), "errors": dict(self.errors),
            "unknown_seen": self.unknown_seen, "resent_after_check": self.resent_after_check,
            "entered_twice": len(twice), "twice_list": twice,
            "counters_reused": self.watch.reused, "reused_list": self.watch.reused_list,
            "journal_mismatches": len(mism), "mismatch_list": mism,
            "unnamed": list(self.unnamed), "faults": self.link.stats,
            "counter_next": self.store.value, "store_saves": self.medium.saves,
            "sim_ms": self.clock.now, "elapsed_s": self.elapsed,
            "meter_refused_ic": ms.refused_ic,
            "unresolved": len(self.store.unresolved()),
        }


def format_report(r):
    lines = [
        "sessions:            %d token sessions (fresh tokens) + %d resolve sessions = %d"
        % (r["tokens"], r["resolve_sessions"], r["sessions"]),
        "accepted:            %d" % r["accepted"],
        "refused:             %d" % r["refused"],
        "outcome unknown:     %d times (%d left unresolved; resolved by reading the gateway: "
        "%d found not received and entered again)" % (r["unknown_seen"], r["unresolved"],
                                                      r["resent_after_check"]),
        "named errors:        %d" % sum(r["errors"].values()),
    ]
    for k in sorted(r["errors"]):
        lines.append("  %-24s %d" % (k, r["errors"][k]))
    lines += [
        "faults injected:     " + ", ".join("%s %d" % (k, v) for k, v in sorted(
            r["faults"].items())),
        "tokens entered twice: %d" % r["entered_twice"],
        "counters reused:      %d" % r["counters_reused"],
        "journal mismatches:   %d" % r["journal_mismatches"],
        "unnamed exceptions:   %d" % len(r["unnamed"]),
        "(%d simulated s, %.1f s wall, invocation counter now %s, %d store writes, meter "
        "refused %d stale counters)" % (r["sim_ms"] // 1000, r["elapsed_s"], r["counter_next"],
                                        r["store_saves"], r["meter_refused_ic"]),
    ]
    for m in r["mismatch_list"][:10]:
        lines.append("  mismatch: %r" % (m,))
    for u in r["unnamed"][:10]:
        lines.append("  unnamed: %s" % u)
    return "\n".join(lines)


def ok(r):
    return not (r["entered_twice"] or r["counters_reused"] or r["journal_mismatches"]
                or r["unnamed"])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sessions", type=int, default=1000, help="token sessions (fresh tokens)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout-ms", type=int, default=200, help="response timeout")
    p.add_argument("--inter-char-ms", type=int, default=50)
    p.add_argument("--retries", type=int, default=3)
    p.add_argument("--corrupt", type=float, default=0.01, help="chance a frame has a bit flipped")
    p.add_argument("--loss", type=float, default=0.01, help="chance a frame loses a byte")
    p.add_argument("--byte-rates", action="store_true",
                   help="--corrupt/--loss are per byte instead of per frame")
    p.add_argument("--delay", type=float, default=0.02,
                   help="chance a frame is late by up to 2x the response timeout")
    p.add_argument("--dup", type=float, default=0.005)
    p.add_argument("--cut", type=float, default=0.005)
    p.add_argument("--inject", type=float, default=0.005)
    p.add_argument("--outage", type=float, default=0.002)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    log = None if a.quiet else (lambda s: print(s, flush=True))
    s = Soak(a.seed, a.timeout_ms, a.inter_char_ms, a.retries, a.corrupt, a.loss, a.byte_rates,
             a.delay, a.dup, a.cut, a.inject, a.outage, log=log)
    print("soak: %d sessions, seed %d, timeout %d ms, %s (%s)" % (
        a.sessions, a.seed, a.timeout_ms, s.faults,
        "per byte" if a.byte_rates else "corrupt/loss per frame"), flush=True)
    r = s.run(a.sessions)
    print(format_report(r))
    if not ok(r):
        print("SOAK FAILED")
        return 1
    print("SOAK OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
