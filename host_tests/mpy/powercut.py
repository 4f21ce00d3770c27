"""Power-cut harness shared by the CPython and MicroPython store tests.

A medium counts its low-level writes in a ``Budget``; when the budget runs out the write
is torn (half applied) and ``PowerCut`` is raised, which stands for the board losing power.
``run_scenario`` then "reboots" (a new Store on the same bytes), checks the invariants and
carries on where the script stopped:

- no invocation counter value is ever handed out twice, across every boot;
- once resync() has returned the counter is never lost again (never unknown after boot);
- every token whose journal add() returned is still in the journal, with the state of the
  last set() that returned (or the one that was in flight at the cut).
"""


class PowerCut(Exception):
    pass


class Budget:
    """Counts writes; the write number ``cut_at`` (1-based), and every ``every`` after it
    when given, is torn and raises PowerCut."""

    def __init__(self, cut_at=None, every=None):
        self.cut_at = cut_at
        self.every = every
        self.count = 0
        self.cuts = 0

    def tick(self):
        """Returns True when this write must be torn (the caller then raises PowerCut)."""
        self.count += 1
        if self.cut_at is not None and self.count >= self.cut_at:
            self.cuts += 1
            if self.every:
                self.cut_at = self.count + self.every
            else:
                self.cut_at = None
            return True
        return False


TOKENS = ("17813034313191558529", "05718854590197211241", "35632826060789593280",
          "12345678901234567890", "00000000000000000001", "73786976294838206463")


def script():
    """The operations of one run: (name, argument)."""
    ops = [("resync", 1000)]
    for i, t in enumerate(TOKENS):
        ops.append(("add", t))
        ops.append(("next", None))
        ops.append(("next", None))
        ops.append(("set", "accepted" if i % 2 else "refused"))
        for _ in range(i * 7):  # cross reservation ceilings
            ops.append(("next", None))
    ops.append(("resync", 500))  # a lower meter value must not move us back
    ops.append(("next", None))
    return ops


def run_scenario(make_store, max_boots=400, lose_journal_ok=False, wiped=None):
    """Run ``script()`` against ``make_store()`` (called at every boot).

    Returns (boots, values handed out). Raises AssertionError on any broken invariant.
    ``lose_journal_ok``: the medium may lose everything (sector erase); then only the
    counter invariant (never repeat; unknown rather than reused) is checked; ``wiped()``
    (a count) tells when a cut fell inside a sector rewrite: from then on the same holds."""
    ops = script()
    values = []
    resynced = False
    ids = {}  # token -> journal id (add returned)
    done_state = {}  # id -> state of the last set() that returned
    inflight = {}  # id -> state being set at the cut
    current = {}  # token index -> id, for "set"
    last_add = None
    boots = 1
    store = make_store()
    i = 0
    while i < len(ops):
        name, arg = ops[i]
        try:
            if name == "resync":
                if store.known or not resynced or lose_journal_ok:
                    store.resync(arg if not values else max(arg, values[-1]))
                resynced = True
            elif name == "add":
                last_add = arg
                jid = store.add(arg)
                ids[arg] = jid
                current["id"] = jid
            elif name == "next":
                if not store.known:
                    if not lose_journal_ok:
                        raise AssertionError("counter unknown after it was resynced")
                    # fail closed: refuse; a technician resyncs from the meter
                    store.resync(values[-1] if values else 0)
                v = store.next()
                if values and v <= values[-1]:
                    raise AssertionError("counter repeated or went back: %d after %d"
                                         % (v, values[-1]))
                values.append(v)
            elif name == "set":
                jid = current["id"]
                if lose_journal_ok and store.get(jid) is None:
                    i += 1
                    continue
                inflight[jid] = arg
                store.set(jid, arg)
                done_state[jid] = arg
                inflight.pop(jid, None)
            i += 1
        except PowerCut:
            boots += 1
            if boots > max_boots:
                raise AssertionError("no progress after %d boots" % boots)
            if wiped is not None and wiped():
                lose_journal_ok = True
            store = make_store()
            _check(store, values, resynced, ids, done_state, inflight, last_add,
                   lose_journal_ok)
            if name == "add" and last_add not in ids:
                # the add did not return: the technician retypes the token (same op again)
                pass
    if not lose_journal_ok:
        _check(store, values, resynced, ids, done_state, inflight, None, False)
    if len(set(values)) != len(values):
        raise AssertionError("a counter value was used twice")
    return boots, values


def _check(store, values, resynced, ids, done_state, inflight, last_add, lose_ok):
    if store.known and values and store.value <= values[-1]:
        raise AssertionError("after boot the counter would repeat: next %d, used %d"
                             % (store.value, values[-1]))
    if lose_ok:
        return
    if resynced and not store.known:
        raise AssertionError("counter lost after a power cut: %s" % store.problem)
    for tok, jid in ids.items():
        e = store.get(jid)
        if e is None:
            raise AssertionError("journaled token %s (id %d) lost" % (tok, jid))
        if e[1] != tok:
            raise AssertionError("journal entry %d holds %s, expected %s" % (jid, e[1], tok))
        want = done_state.get(jid)
        ok = [want or "pending"]
        if jid in inflight:
            ok.append(inflight[jid])
        if e[2] not in ok:
            raise AssertionError("token id %d state %s, expected one of %s" % (jid, e[2], ok))


def count_writes(factory):
    """Writes one clean run makes (no cut); ``factory(budget)`` returns the boot function."""
    b = Budget()
    run_scenario(factory(b))
    return b.count
